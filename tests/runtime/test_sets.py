"""runtime/dicts.apy's set under CPython against CPython's set, iteration order included.

Random operation sequences (add, discard, remove, pop, clear, copy, the
operators and methods with sets, lists, tuples and dicts as the other operand,
subset tests, comparisons) give the same results and leave every set iterating
in exactly CPython's order, with CPython's table size (from sys.getsizeof).
The model runs the same operations on a real set (`set_model`, self-contained):
in this process for sets of ints, floats, tuples and objects, in a CPython child
started with PYTHONHASHSEED=0 for sets of strs (the runtime hashes strs as
CPython does under that seed).
"""

from __future__ import annotations

import inspect
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rtobjects as R
from rtobjects import FLOAT, INT, STR, D, M

INT64_MIN, INT64_MAX = R.INT64_MIN, R.INT64_MAX
TUPLE_KIND = R.tuple_kind(INT, INT)


@pytest.fixture(autouse=True)
def _runtime_in_arena():
    with R.installed():
        yield


@pytest.fixture(scope="module")
def seed0():
    child = R.SeedZero()
    yield child
    child.close()



def set_model(initial, ops):
    """The set operations on CPython's set: a trace of (outcome, elements in order,
    sys.getsizeof). Self-contained: it also runs in the PYTHONHASHSEED=0 child."""
    import sys

    def build(how, values):
        if how == "set":
            o = set()
            for v in values:
                o.add(v)
            return o
        if how == "dict":
            return {v: 0 for v in values}
        return list(values) if how == "list" else tuple(values)

    s = set()
    for v in initial:
        s.add(v)
    trace = []
    for op in ops:
        name = op[0]
        other = None
        if len(op) == 3:
            other = s if op[1] == "self" else build(op[1], op[2])
        try:
            if name == "add":
                r = s.add(op[1])
            elif name == "discard":
                r = s.discard(op[1])
            elif name == "remove":
                r = s.remove(op[1])
            elif name == "pop":
                r = s.pop()
            elif name == "contains":
                r = op[1] in s
            elif name == "clear":
                r = s.clear()
            elif name == "copy":
                r = list(s.copy())
            elif name in ("update", "intersection_update", "difference_update",
                          "symmetric_difference_update"):
                r = getattr(s, name)(other)
            elif name in ("union", "intersection", "difference", "symmetric_difference"):
                res = getattr(s, name)(other)
                r = (list(res), sys.getsizeof(res))
            elif name in ("issubset", "issuperset", "isdisjoint"):
                r = getattr(s, name)(other)
            elif name == "compare":
                r = (s == other, s != other, s < other, s <= other, s > other, s >= other)
            else:
                raise AssertionError(name)
            out = ("ok", r)
        except KeyError as e:
            out = ("KeyError", repr(e.args[0]))
        trace.append((out, list(s), sys.getsizeof(s)))
    return trace


SET_SIZE = sys.getsizeof(set())


def runtime_set_size(s: int) -> int:
    mask = M.load64(s + 24)
    return SET_SIZE + (0 if mask == 7 else 16 * (mask + 1))


def runtime_other(kind, s, how, values):
    if how == "self":
        return s
    if how == "set":
        return R.make_set(kind, values)
    if how == "dict":
        return R.make_dict(kind, INT, [(v, 0) for v in values])
    if how == "list":
        return R.make_list(kind, values)
    return R.make_tuple(R.tuple_kind(kind), tuple(values))


def set_runtime(kind, initial, ops):
    """The same trace from the runtime's set functions."""
    s = R.make_set(kind, initial)
    trace = []
    for op in ops:
        name = op[0]
        other = runtime_other(kind, s, op[1], op[2]) if len(op) == 3 else 0
        x = R.to_slot(kind, op[1]) if len(op) == 2 else 0
        if name == "add":
            out = R.outcome(D.set_add, s, x, kind)
        elif name == "discard":
            out = R.outcome(D.set_discard, s, x, kind)
            out = ("ok", None) if out[0] == "ok" else out
        elif name == "remove":
            out = R.outcome(D.set_remove, s, x, kind, repr(op[1]))
        elif name == "pop":
            out = R.outcome(D.set_pop, s)
            out = ("ok", R.from_slot(kind, out[1])) if out[0] == "ok" else out
        elif name == "contains":
            out = R.outcome(D.set_contains, s, x, kind)
        elif name == "clear":
            out = R.outcome(D.set_clear, s)
        elif name == "copy":
            c = D.set_copy(s, kind)
            R.check_set(c, kind)
            out = ("ok", R.read_set(kind, c))
        elif name in ("update", "intersection_update", "difference_update", "symmetric_difference_update"):
            out = R.outcome(getattr(D, "set_" + name), s, other, kind)
        elif name in ("union", "intersection", "difference", "symmetric_difference"):
            res = getattr(D, "set_" + name)(s, other, kind)
            R.check_set(res, kind)
            out = ("ok", (R.read_set(kind, res), runtime_set_size(res)))
        elif name in ("issubset", "issuperset", "isdisjoint"):
            out = R.outcome(getattr(D, "set_" + name), s, other, kind)
        elif name == "compare":
            out = ("ok", tuple(D.set_richcompare(s, other, kind, o) for o in (2, 3, 0, 1, 4, 5)))
        else:
            raise AssertionError(name)
        R.check_set(s, kind)
        trace.append((out, R.read_set(kind, s), runtime_set_size(s)))
    return trace


def set_ops(elem):
    values = st.lists(elem, max_size=12)
    others = st.one_of(st.tuples(st.sampled_from(["set", "set", "list", "tuple", "dict"]), values),
                       st.just(("self", [])))
    with_other = st.sampled_from(["update", "intersection_update", "difference_update",
                                  "symmetric_difference_update", "union", "intersection", "difference",
                                  "symmetric_difference", "issubset", "issuperset", "isdisjoint"])
    return st.lists(st.one_of(
        st.tuples(st.just("add"), elem),
        st.tuples(st.just("add"), elem),
        st.tuples(st.just("discard"), elem),
        st.tuples(st.just("remove"), elem),
        st.tuples(st.just("contains"), elem),
        st.just(("pop",)),
        st.just(("clear",)),
        st.just(("copy",)),
        st.builds(lambda n, o: (n, o[0], o[1]), with_other, others),
        st.builds(lambda o: ("compare", "set" if o[0] != "self" else "self", o[1]), others),
    ), max_size=30)


set_ints = st.one_of(st.integers(-8, 40), st.integers(-8, 8).map(lambda k: k * 8),
                     st.sampled_from([INT64_MIN, INT64_MAX, 2**61 - 1, 2**61, -1, -2]))
SET_OPS = {INT: set_ops(set_ints), TUPLE_KIND: set_ops(st.tuples(st.integers(0, 5), st.integers(0, 3))),
           R.OBJ: set_ops(st.sampled_from(R.KEY_OBJECTS)),
           FLOAT: set_ops(st.sampled_from([0.0, 1.0, -2.5, 8.0, 16.0, 0.5, 1e300]).map(R.canon_float))}
SET_ELEMS = {INT: set_ints, TUPLE_KIND: st.tuples(st.integers(0, 5), st.integers(0, 3)),
             R.OBJ: st.sampled_from(R.KEY_OBJECTS),
             FLOAT: st.sampled_from([0.0, 1.0, -2.5, 8.0, 16.0, 0.5, 1e300]).map(R.canon_float)}


@R.many(1500)
@given(st.data())
def test_set_operations_match_cpython_order_included(data):
    R.fresh()
    kind = data.draw(st.sampled_from([INT, INT, INT, TUPLE_KIND, R.OBJ, FLOAT]))
    initial = data.draw(st.lists(SET_ELEMS[kind], max_size=30))
    ops = data.draw(SET_OPS[kind])
    got = set_runtime(kind, initial, ops)
    want = set_model(initial, ops)
    for op, g, w in zip(ops, got, want):
        assert g == w, f"{op}: runtime {g}, CPython {w}"


@R.many(200)
@given(st.lists(set_ints, max_size=300), st.lists(set_ints, max_size=300))
def test_big_sets_grow_and_shrink_like_cpython(adds, removes):
    R.fresh()
    ops = [("add", x) for x in adds] + [("discard", x) for x in removes] + [("pop",)] * 5 + \
          [("add", x) for x in removes[:20]]
    got = set_runtime(INT, [], ops)
    want = set_model([], ops)
    assert got[-1] == want[-1]
    assert [g[2] for g in got] == [w[2] for w in want]


str_elems = st.sampled_from(["", "a", "b", "c", "ab", "ba", "é", "😀", "x1", "x2", "x3", "x4", "x5",
                             "x6", "x7", "x8", "x9", "y", "z", "héllo", "\uffff"])
STR_SET_OPS = set_ops(str_elems)


@pytest.fixture(scope="module")
def seed0_model(seed0):
    seed0.ask("exec(" + repr(inspect.getsource(set_model)) + ")")
    return seed0


@R.many(500)
@given(st.lists(str_elems, max_size=25), STR_SET_OPS)
def test_str_sets_match_cpython_under_seed_zero(seed0_model, initial, ops):
    R.fresh()
    got = set_runtime(STR, initial, ops)
    want = eval(seed0_model.ask(f"set_model({initial!r}, {ops!r})"))
    for op, g, w in zip(ops, got, want):
        assert g == w, f"{op}: runtime {g}, CPython {w}"


def test_changing_a_set_while_iterating_it():
    s = R.make_set(INT, [1, 2, 3])
    start = M.load64(s + 8)
    i = D.set_next(s, 0, start)
    assert D.set_entry_key(s, i) == 1
    D.set_add(s, 4, INT)
    with pytest.raises(RuntimeError, match="^Set changed size during iteration$"):
        D.set_next(s, i + 1, start)
    pys = {1, 2, 3}
    with pytest.raises(RuntimeError, match="^Set changed size during iteration$"):
        for x in pys:
            pys.add(4)


def test_set_iteration_visits_the_table_in_order():
    s = R.make_set(INT, [9, 1, 17, 5])
    out, pos = [], 0
    for _ in range(20):  # bounded: the table has 8 slots
        i = D.set_next(s, pos, 4)
        if i < 0:
            break
        out.append(D.set_entry_key(s, i))
        pos = i + 1
    assert out == list({9, 1, 17, 5}) == R.read_set(INT, s)
    lst = D.set_to_list(s, INT)
    R.check_list(lst, INT)
    assert R.read_list(INT, lst) == out
    assert R.read_set(INT, D.set_from(R.make_list(INT, [3, 1, 3]), INT)) == list(set([3, 1, 3]))


@R.many(500)
@given(st.lists(set_ints, min_size=3, max_size=30))
def test_constant_set_displays(elems):
    """CPython 3.11 builds a display of 3+ constants as set().update(f), where f is
    frozenset(consts) rebuilt by its compiler from its own iteration order
    (merge_consts_recursive). The runtime gives CPython's order with set_from twice
    and set_update (the merge): what the compiler emits for such displays."""
    R.fresh()
    first = D.set_from(R.make_list(INT, elems), INT)
    frozen = D.set_from(D.set_to_list(first, INT), INT)
    s = D.set_new(INT)
    D.set_update(s, frozen, INT)
    R.check_set(s, INT)
    display = eval("{" + ", ".join(map(str, elems)) + "}")
    assert (R.read_set(INT, s), runtime_set_size(s)) == (list(display), sys.getsizeof(display))
