"""runtime/dicts.apy's dict under CPython against CPython's dict (sets: test_sets.py).

Random operation sequences on a Python dict and a runtime dict (int, str,
float, tuple and object keys) give the same results, exceptions and
messages, the same items in the same order, and the same table size (read
from sys.getsizeof, so growth, presizing, copy and clear follow CPython).
Loops that change the dict while iterating it yield the same keys and raise
the same RuntimeError at the same step. Item order does not depend on hashes,
so str keys need no PYTHONHASHSEED=0 here.
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rtobjects as R
from rtobjects import FLOAT, INT, STR, D, M

INT64_MIN, INT64_MAX = R.INT64_MIN, R.INT64_MAX


@pytest.fixture(autouse=True)
def _runtime_in_arena():
    with R.installed():
        yield


TUPLE_KIND = R.tuple_kind(INT, INT)
DICT_KEYS = {
    INT: st.one_of(st.integers(-6, 12), st.sampled_from([INT64_MIN, INT64_MAX, 2**61 - 1, -1, -2])),
    STR: st.sampled_from(["", "a", "b", "ab", "é", "😀", "k1", "k2", "k3", "k4", "k5", "k6", "k7"]),
    FLOAT: st.sampled_from([0.0, -0.0, 1.0, 1.5, -2.0, float("inf"), float("nan")]).map(R.canon_float),
    TUPLE_KIND: st.tuples(st.integers(0, 4), st.integers(0, 3)),
    R.OBJ: st.sampled_from(R.KEY_OBJECTS),
}
dict_values = st.integers(-100, 100)


def dict_ops(key):
    items = st.lists(st.tuples(key, dict_values), max_size=14)
    return st.lists(st.one_of(
        st.tuples(st.just("set"), key, dict_values),
        st.tuples(st.just("set"), key, dict_values),
        st.tuples(st.just("get"), key),
        st.tuples(st.just("getdefault"), key, dict_values),
        st.tuples(st.just("del"), key),
        st.tuples(st.just("contains"), key),
        st.tuples(st.just("setdefault"), key, dict_values),
        st.tuples(st.just("pop"), key),
        st.tuples(st.just("popdefault"), key, dict_values),
        st.tuples(st.just("popitem")),
        st.tuples(st.just("update"), items),
        st.tuples(st.just("update_self")),
        st.tuples(st.just("clear")),
        st.tuples(st.just("copy")),
        st.tuples(st.just("eq"), items),
        st.tuples(st.just("views")),
        st.tuples(st.just("valuein"), dict_values),
    ), max_size=40)


DICT_OPS = {k: dict_ops(v) for k, v in DICT_KEYS.items()}


def dict_table_size(pyd: dict, unicode: bool = False) -> int:
    """The index size of a CPython dict, from sys.getsizeof (0: no table of its own).
    unicode: the dict has only ever held str keys (CPython's entries are smaller)."""
    base = sys.getsizeof({})
    total = sys.getsizeof(pyd)
    if total == base:
        return 0
    es = 16 if unicode else 24
    for log2 in range(3, 31):
        size = 1 << log2
        index_bytes = size * (1 if log2 < 8 else 2 if log2 < 16 else 4)
        if base + 32 + index_bytes + (2 * size // 3) * es == total:
            return size
    raise AssertionError(f"no table size gives sys.getsizeof {total}")


def runtime_table_size(d: int) -> int:
    return 0 if M.load64(d + 40) == 0 else M.load64(d + 32) + 1


def build_dict(kk, items):
    """A Python dict and a runtime dict made by the same insertions."""
    pyd = {}
    for k, v in items:
        pyd[k] = v
    return pyd, R.make_dict(kk, INT, items)


def run_dict_op(kk, d, pyd: dict, op):
    name = op[0]
    k = R.to_slot(kk, op[1]) if len(op) > 1 and name not in ("update", "eq", "valuein") else 0
    if name == "set":
        return R.outcome(D.dict_setitem, d, k, op[2], kk, INT), R.py_outcome(lambda: pyd.__setitem__(op[1], op[2]))
    if name == "get":
        return R.outcome(D.dict_getitem, d, k, kk, repr(op[1])), R.py_outcome(lambda: pyd[op[1]])
    if name == "getdefault":
        return R.outcome(D.dict_get, d, k, kk, op[2]), R.py_outcome(lambda: pyd.get(op[1], op[2]))
    if name == "del":
        return R.outcome(D.dict_delitem, d, k, kk, repr(op[1])), R.py_outcome(lambda: pyd.__delitem__(op[1]))
    if name == "contains":
        return R.outcome(D.dict_contains, d, k, kk), R.py_outcome(lambda: op[1] in pyd)
    if name == "setdefault":
        return R.outcome(D.dict_setdefault, d, k, op[2], kk, INT), R.py_outcome(lambda: pyd.setdefault(op[1], op[2]))
    if name == "pop":
        return R.outcome(D.dict_pop, d, k, kk, repr(op[1])), R.py_outcome(lambda: pyd.pop(op[1]))
    if name == "popdefault":
        return R.outcome(D.dict_pop_default, d, k, op[2], kk), R.py_outcome(lambda: pyd.pop(op[1], op[2]))
    if name == "popitem":
        got = R.outcome(D.dict_popitem, d, kk, INT)
        if got[0] == "ok":
            got = ("ok", R.from_slot(R.tuple_kind(kk, INT), got[1]))
        return got, R.py_outcome(pyd.popitem)
    if name == "update":
        other_py, other = build_dict(kk, op[1])
        return R.outcome(D.dict_update, d, other, kk, INT), R.py_outcome(lambda: pyd.update(other_py))
    if name == "update_self":
        return R.outcome(D.dict_update, d, d, kk, INT), R.py_outcome(lambda: pyd.update(pyd))
    if name == "clear":
        return R.outcome(D.dict_clear, d), R.py_outcome(pyd.clear)
    if name == "copy":
        c = D.dict_copy(d, kk, INT)
        R.check_dict(c, kk, INT)
        pyc = pyd.copy()
        return (("ok", (R.read_dict(kk, INT, c), runtime_table_size(c))),
                ("ok", (list(pyc.items()), dict_table_size(pyc, kk == STR))))
    if name == "eq":
        other_py, other = build_dict(kk, op[1])
        return (("ok", (D.dict_eq(d, other, kk, INT), D.dict_eq(other, d, kk, INT))),
                ("ok", (pyd == other_py, other_py == pyd)))
    if name == "views":
        keys, values, items = D.dict_keys_list(d, kk), D.dict_values_list(d, INT), D.dict_items_list(d, kk, INT)
        for lst, kind in ((keys, kk), (values, INT), (items, R.tuple_kind(kk, INT))):
            R.check_list(lst, kind)
        got = (R.read_list(kk, keys), R.read_list(INT, values), R.read_list(R.tuple_kind(kk, INT), items))
        return ("ok", got), ("ok", (list(pyd), list(pyd.values()), list(pyd.items())))
    if name == "valuein":
        return R.outcome(D.dict_values_contains, d, op[1], INT), R.py_outcome(lambda: op[1] in pyd.values())
    raise AssertionError(name)


@R.many(1500)
@given(st.data())
def test_dict_operations_match_cpython(data):
    R.fresh()
    kk = data.draw(st.sampled_from([INT, INT, STR, FLOAT, TUPLE_KIND, R.OBJ]))
    pyd, d = build_dict(kk, data.draw(st.lists(st.tuples(DICT_KEYS[kk], dict_values), max_size=12)))
    for op in data.draw(DICT_OPS[kk]):
        got, want = run_dict_op(kk, d, pyd, op)
        assert got == want, f"{op}: runtime {got}, CPython {want}"
        R.check_dict(d, kk, INT)
        assert R.read_dict(kk, INT, d) == list(pyd.items()), f"after {op}"
        assert M.load64(d + 8) == len(pyd)
        assert runtime_table_size(d) == dict_table_size(pyd, kk == STR), f"table size after {op}"


@R.many(400)
@given(st.lists(st.tuples(st.integers(-50, 50), dict_values), max_size=15))
def test_presized_displays(items):
    """A display of n <= 15 items is presized like CPython's BUILD_MAP n."""
    R.fresh()
    d = D.dict_new_presized(len(items), INT, INT)
    for k, v in items:
        D.dict_setitem(d, k, v, INT, INT)
    pyd = eval("{" + ", ".join(f"{k}: {v}" for k, v in items) + "}")
    assert R.read_dict(INT, INT, d) == list(pyd.items())
    assert runtime_table_size(d) == dict_table_size(pyd)
    R.check_dict(d, INT, INT)


@R.many(150)
@given(st.lists(st.tuples(st.integers(-500, 500), dict_values), max_size=250),
       st.lists(st.integers(-500, 500), max_size=100))
def test_growth_and_copies_of_big_dicts(items, deleted):
    R.fresh()
    pyd, d = build_dict(INT, items)
    for k in deleted:
        pyd.pop(k, None)
        D.dict_pop_default(d, k, 0, INT)
    assert runtime_table_size(d) == dict_table_size(pyd)
    c = D.dict_copy(d, INT, INT)
    pyc = pyd.copy()
    assert (R.read_dict(INT, INT, c), runtime_table_size(c)) == (list(pyc.items()), dict_table_size(pyc))
    e = D.dict_new()
    D.dict_update(e, d, INT, INT)
    pye = {}
    pye.update(pyd)
    assert (R.read_dict(INT, INT, e), runtime_table_size(e)) == (list(pye.items()), dict_table_size(pye))
    R.check_dict(c, INT, INT)
    R.check_dict(e, INT, INT)


def test_str_keyed_dict_buffers_hold_pointers():
    d = R.make_dict(STR, INT, [("a", 1)])
    R.check_dict(d, STR, INT)
    assert M.load64(M.load64(d + 48)) == R.TAG_RAW | R.HAS_PTRS
    d2 = R.make_dict(INT, INT, [(1, 1)])
    assert M.load64(M.load64(d2 + 48)) == R.TAG_RAW


# --------------------------------------------------------------------------- iteration while changing

loop_actions = st.lists(st.one_of(
    st.just(("none",)),
    st.tuples(st.just("set"), st.integers(0, 30)),
    st.tuples(st.just("del"), st.integers(0, 30)),
    st.tuples(st.just("delset"), st.integers(0, 30), st.integers(0, 30)),
    st.just(("popitem",)),
), max_size=20)


def py_loop(pyd: dict, actions) -> tuple[list, object]:
    seen = []
    try:
        for i, k in enumerate(pyd):
            seen.append(k)
            act = actions[i] if i < len(actions) else ("none",)
            apply_py(pyd, act)
    except RuntimeError as e:
        return seen, str(e)
    return seen, None


def apply_py(pyd, act):
    if act[0] == "set":
        pyd[act[1]] = 0
    elif act[0] == "del":
        pyd.pop(act[1], None)
    elif act[0] == "delset":
        if act[1] in pyd:
            del pyd[act[1]]
            pyd[act[2]] = 0
    elif act[0] == "popitem" and pyd:
        pyd.popitem()


def runtime_loop(d: int, actions) -> tuple[list, object]:
    """The loop the compiler emits: dict_next with (pos, start_len, seen)."""
    seen = []
    start_len = M.load64(d + 8)
    pos = 0
    try:
        for _ in range(10 * start_len + 10):  # a bound, should the runtime never end the loop
            ix = D.dict_next(d, pos, start_len, len(seen))
            if ix < 0:
                break
            pos = ix + 1
            seen.append(D.dict_entry_key(d, ix))
            act = actions[len(seen) - 1] if len(seen) - 1 < len(actions) else ("none",)
            if act[0] == "set":
                D.dict_setitem(d, act[1], 0, INT, INT)
            elif act[0] == "del":
                D.dict_pop_default(d, act[1], 0, INT)
            elif act[0] == "delset":
                if D.dict_contains(d, act[1], INT):
                    D.dict_delitem(d, act[1], INT, repr(act[1]))
                    D.dict_setitem(d, act[2], 0, INT, INT)
            elif act[0] == "popitem" and M.load64(d + 8) > 0:
                D.dict_popitem(d, INT, INT)
        else:
            raise AssertionError("dict_next never returned -1")
    except RuntimeError as e:
        return seen, str(e)
    return seen, None


@R.many(800)
@given(st.lists(st.integers(0, 30), max_size=12), st.lists(st.integers(0, 30), max_size=6), loop_actions)
def test_changing_a_dict_while_iterating_it(keys, deleted, actions):
    R.fresh()
    pyd, d = build_dict(INT, [(k, 0) for k in keys])
    for k in deleted:  # leave holes, so that later insertions may compact the table
        pyd.pop(k, None)
        D.dict_pop_default(d, k, 0, INT)
    assert runtime_loop(d, actions) == py_loop(pyd, actions)
    assert R.read_dict(INT, INT, d) == list(pyd.items())
    assert runtime_table_size(d) == dict_table_size(pyd)


