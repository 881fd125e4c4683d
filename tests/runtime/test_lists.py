"""runtime/lists.apy under CPython against CPython's list and tuple.

* Random sequences of list operations (methods, indexing, every kind of slice
  get/set/delete, +, *, comparisons, min/max/sum, sort) run on a Python list and
  on a runtime list of ints, strs or floats (nan included): every result, every
  exception and its message, the contents after each step, and the capacity
  (against sys.getsizeof: the runtime over-allocates exactly as CPython) agree.
* sort is CPython's timsort: on long lists with runs, duplicates and nans the
  result is CPython's, and with user-defined comparisons the very sequence of
  comparisons made is CPython's. Keyed sorts, reverse, stability, sorting
  tuples, an exception in a comparison (the list is left as it was) and a list
  changed during the sort (ValueError) are covered too.
* Tuples: indexing, slicing, +, *, `in`, count, index; range_list.
"""

from __future__ import annotations

import functools
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rtobjects as R
from rtobjects import FLOAT, INT, STR, L, M

INT64_MIN, INT64_MAX = R.INT64_MIN, R.INT64_MAX
EMPTY_LIST_SIZE = sys.getsizeof([])


@pytest.fixture(autouse=True)
def _runtime_in_arena():
    with R.installed():
        yield


def allocated(pylist: list) -> int:
    """CPython's list->allocated, from the object's size."""
    return (sys.getsizeof(pylist) - EMPTY_LIST_SIZE) // 8


NAN = float("nan")
ELEMENTS = {
    INT: st.one_of(st.integers(-3, 3), st.sampled_from([INT64_MIN, INT64_MAX])),
    STR: st.sampled_from(["", "a", "b", "ab", "é", "😀"]),
    FLOAT: st.sampled_from([0.0, -0.0, 1.0, -2.5, float("inf"), NAN, R.float_of(0x7FF8000000000001)])
    .map(R.canon_float),
}
indices = st.one_of(st.integers(-7, 7), st.sampled_from([INT64_MIN, INT64_MAX, INT64_MIN + 1]))
bounds = st.one_of(st.none(), st.integers(-7, 7), st.sampled_from([INT64_MIN, INT64_MAX]))
steps = st.one_of(st.none(), st.sampled_from([1, 1, 2, 3, -1, -1, -2, -3, 0, INT64_MAX, INT64_MIN, INT64_MIN + 1]))
slices = st.tuples(bounds, bounds, steps)


def slice_args(sl) -> tuple[int, int, int, int]:
    """(lower, upper, step, flags) as the compiler passes a slice."""
    lo, hi, st_ = sl
    flags = (1 if lo is None else 0) | (2 if hi is None else 0) | (4 if st_ is None else 0)
    return (lo or 0, hi or 0, st_ or 0, flags)


def operations(elem):
    values = st.lists(elem, max_size=5)
    return st.lists(st.one_of(
        st.tuples(st.just("append"), elem),
        st.tuples(st.just("insert"), indices, elem),
        st.tuples(st.just("pop"), st.one_of(st.none(), indices)),
        st.tuples(st.just("remove"), elem),
        st.tuples(st.just("index"), elem, st.one_of(st.none(), st.tuples(indices, indices))),
        st.tuples(st.just("count"), elem),
        st.tuples(st.just("contains"), elem),
        st.tuples(st.just("reverse")),
        st.tuples(st.just("extend"), values, st.sampled_from(["list", "tuple", "self"])),
        st.tuples(st.just("clear")),
        st.tuples(st.just("copy")),
        st.tuples(st.just("getitem"), indices),
        st.tuples(st.just("setitem"), indices, elem),
        st.tuples(st.just("delitem"), indices),
        st.tuples(st.just("getslice"), slices),
        st.tuples(st.just("setslice"), slices, st.one_of(values, st.just("self"))),
        st.tuples(st.just("delslice"), slices),
        st.tuples(st.just("mul"), st.sampled_from([-1, 0, 1, 2, 3, 2**62])),
        st.tuples(st.just("imul"), st.sampled_from([-1, 0, 1, 2, 3])),
        st.tuples(st.just("concat"), values),
        st.tuples(st.just("compare"), values),
        st.tuples(st.just("minmax")),
        st.tuples(st.just("sum")),
        st.tuples(st.just("sort"), st.booleans()),
    ), max_size=25)


OPERATIONS = {kind: operations(elem) for kind, elem in ELEMENTS.items()}


def run_op(kind, lst, model: list, op):
    """Apply op to the runtime list and to the model; return both outcomes (as values)."""
    name = op[0]
    slot = functools.partial(R.to_slot, kind)
    read = functools.partial(R.read_list, kind)
    if name == "append":
        return R.outcome(L.list_append, lst, slot(op[1]), kind), R.py_outcome(lambda: model.append(op[1]))
    if name == "insert":
        return (R.outcome(L.list_insert, lst, op[1], slot(op[2]), kind),
                R.py_outcome(lambda: model.insert(op[1], op[2])))
    if name == "pop":
        i = -1 if op[1] is None else op[1]
        got = R.outcome(L.list_pop, lst, i)
        got = (got[0], R.from_slot(kind, got[1])) if got[0] == "ok" else got
        return got, R.py_outcome(lambda: model.pop() if op[1] is None else model.pop(op[1]))
    if name == "remove":
        return R.outcome(L.list_remove, lst, slot(op[1]), kind), R.py_outcome(lambda: model.remove(op[1]))
    if name == "index":
        start, stop = op[2] if op[2] is not None else (0, INT64_MAX)
        got = R.outcome(L.list_index, lst, slot(op[1]), kind, start, stop, repr(op[1]))
        return got, R.py_outcome(lambda: model.index(op[1], start, stop))
    if name == "count":
        return R.outcome(L.list_count, lst, slot(op[1]), kind), R.py_outcome(lambda: model.count(op[1]))
    if name == "contains":
        return R.outcome(L.list_contains, lst, slot(op[1]), kind), R.py_outcome(lambda: op[1] in model)
    if name == "reverse":
        return R.outcome(L.list_reverse, lst), R.py_outcome(model.reverse)
    if name == "extend":
        values, how = op[1], op[2]
        if how == "self":
            return R.outcome(L.list_extend, lst, lst, kind), R.py_outcome(lambda: model.extend(model))
        other = R.make_list(kind, values) if how == "list" else R.make_tuple(R.tuple_kind(kind), tuple(values))
        return R.outcome(L.list_extend, lst, other, kind), R.py_outcome(lambda: model.extend(values))
    if name == "clear":
        return R.outcome(L.list_clear, lst), R.py_outcome(model.clear)
    if name == "copy":
        got = R.outcome(L.list_copy, lst, kind)
        return _new_list(kind, got), _py_new_list(lambda: model.copy())
    if name == "getitem":
        got = R.outcome(L.list_getitem, lst, op[1])
        got = (got[0], R.from_slot(kind, got[1])) if got[0] == "ok" else got
        return got, R.py_outcome(lambda: model[op[1]])
    if name == "setitem":
        return R.outcome(L.list_setitem, lst, op[1], slot(op[2])), R.py_outcome(lambda: model.__setitem__(op[1], op[2]))
    if name == "delitem":
        return R.outcome(L.list_delitem, lst, op[1]), R.py_outcome(lambda: model.__delitem__(op[1]))
    if name == "getslice":
        got = R.outcome(L.list_slice, lst, *slice_args(op[1]), kind)
        return _new_list(kind, got), _py_new_list(lambda: model[slice(*op[1])])
    if name == "setslice":
        if op[2] == "self":
            got = R.outcome(L.list_setslice, lst, *slice_args(op[1]), lst, kind)
            return got, R.py_outcome(lambda: model.__setitem__(slice(*op[1]), model))
        values = op[2]
        src = R.make_list(kind, values)
        got = R.outcome(L.list_setslice, lst, *slice_args(op[1]), src, kind)
        return got, R.py_outcome(lambda: model.__setitem__(slice(*op[1]), values))
    if name == "delslice":
        return R.outcome(L.list_delslice, lst, *slice_args(op[1])), R.py_outcome(lambda: model.__delitem__(slice(*op[1])))
    if name == "mul":
        got = R.outcome(L.list_repeat, lst, op[1], kind)
        return _new_list(kind, got), _py_new_list(lambda: model * op[1])
    if name == "imul":
        def imul() -> None:
            model.__imul__(op[1])  # model *= k on this very object (allocated() follows it)
        return R.outcome(L.list_inplace_repeat, lst, op[1], kind), R.py_outcome(imul)
    if name == "concat":
        values = op[1]
        got = R.outcome(L.list_concat, lst, R.make_list(kind, values), kind)
        return _new_list(kind, got), _py_new_list(lambda: model + values)
    if name == "compare":
        values = op[1]
        other = R.make_list(kind, values)
        got = tuple(L.list_richcompare(lst, other, kind, o) for o in range(6))
        return ("ok", got), ("ok", tuple(fn(model, values) for fn in R.OPS))
    if name == "minmax":
        got = tuple(_slot_outcome(kind, R.outcome(f, lst, kind)) for f in (L.list_min, L.list_max))
        return ("ok", got), ("ok", (R.py_outcome(lambda: min(model)), R.py_outcome(lambda: max(model))))
    if name == "sum":
        if kind == INT:
            want = R.py_outcome(lambda: sum(model))
            prefix = 0
            for x in model:  # apy ints: every partial sum must fit in int64
                prefix += x
                if not INT64_MIN <= prefix <= INT64_MAX:
                    want = ("OverflowError", "int64 overflow (the compiled runtime raises here)")
                    break
            return R.outcome(L.list_sum_int, lst, 0), want
        if kind == FLOAT:
            got = R.outcome(L.list_sum_float, lst, 0.0, kind)
            return _same_floats(got), _same_floats(R.py_outcome(lambda: float(sum(model))))
        return ("ok", None), ("ok", None)
    if name == "sort":
        return R.outcome(L.list_sort, lst, kind, op[1]), R.py_outcome(lambda: model.sort(reverse=op[1]))
    raise AssertionError(name)


def _same_floats(o):
    """Floats compared by bits (0.0 != -0.0), any nan equal to any other: which payload
    a sum of nans keeps depends on how the C compiler ordered the operands."""
    if o[0] != "ok":
        return o
    return "ok", ("nan" if o[1] != o[1] else R.bits_of(o[1]))


def _slot_outcome(kind, o):
    return ("ok", R.from_slot(kind, o[1])) if o[0] == "ok" else o


def _new_list(kind, o):
    """A new runtime list: its elements and its capacity (after checking it)."""
    if o[0] != "ok":
        return o
    R.check_list(o[1], kind)
    return "ok", (R.read_list(kind, o[1]), R.list_cap(o[1]))


def _py_new_list(fn):
    o = R.py_outcome(fn)
    return ("ok", (o[1], allocated(o[1]))) if o[0] == "ok" else o


@R.many(2000)
@given(st.data())
def test_list_operations_match_cpython(data):
    R.fresh()
    kind = data.draw(st.sampled_from([INT, INT, STR, FLOAT]))
    elem = ELEMENTS[kind]
    model = []
    lst = L.list_new(kind, 0)
    for x in data.draw(st.lists(elem, max_size=8)):
        model.append(x)
        L.list_append(lst, R.to_slot(kind, x), kind)
    assert R.list_cap(lst) == allocated(model)
    for op in data.draw(OPERATIONS[kind]):
        got, want = run_op(kind, lst, model, op)
        assert got == want, f"{op}: runtime {got}, CPython {want}"
        R.check_list(lst, kind)
        assert R.read_list(kind, lst) == model, f"after {op}"
        assert R.list_cap(lst) == allocated(model), f"capacity after {op}"


# --------------------------------------------------------------------------- sort


@st.composite
def sortable(draw, elem, max_runs=12):
    """Lists with the structure timsort exploits: ascending and descending runs,
    plateaus of equal elements and random stretches, of up to a few hundred items."""
    out = []
    for _ in range(draw(st.integers(0, max_runs))):
        shape = draw(st.sampled_from(["random", "up", "down", "same"]))
        chunk = draw(st.lists(elem, max_size=draw(st.sampled_from([3, 20, 70]))))
        if shape == "up":
            chunk.sort()
        elif shape == "down":
            chunk.sort(reverse=True)
        elif shape == "same" and chunk:
            chunk = [chunk[0]] * len(chunk)
        out += chunk
    return out


SORT_ELEMENTS = {
    INT: st.integers(-40, 40),
    STR: st.text(alphabet="abé😀", max_size=3),
    FLOAT: st.one_of(st.floats(-100, 100), st.sampled_from([NAN, float("inf"), -0.0, 0.0])).map(R.canon_float),
}


@R.many(400)
@given(st.data())
def test_sort_is_cpythons_timsort(data):
    R.fresh()
    kind = data.draw(st.sampled_from([INT, STR, FLOAT, FLOAT]))
    model = data.draw(sortable(SORT_ELEMENTS[kind]))
    reverse = data.draw(st.booleans())
    lst = R.make_list(kind, model)
    L.list_sort(lst, kind, reverse)
    model.sort(reverse=reverse)  # with nans, only the same comparisons give the same order
    assert R.read_list(kind, lst) == model
    R.check_list(lst, kind)


@R.many(300)
@given(st.data())
def test_keyed_sort_is_stable_and_cpythons(data):
    R.fresh()
    kkind = data.draw(st.sampled_from([INT, FLOAT]))
    model = data.draw(sortable(st.integers(-30, 30)))
    key = (lambda x: x % 7) if kkind == INT else (lambda x: R.canon_float(NAN if x % 5 == 0 else x / 3))
    reverse = data.draw(st.booleans())
    lst = R.make_list(INT, model)
    keys = R.make_list(kkind, [key(x) for x in model])
    L.list_sort_keyed(lst, keys, kkind, reverse)
    model.sort(key=key, reverse=reverse)
    assert R.read_list(INT, lst) == model


class Logged:
    """An element whose comparisons CPython's sort makes are recorded."""

    log: list = []

    def __init__(self, v: int, tag: int) -> None:
        self.v, self.tag = v, tag

    def __lt__(self, other: "Logged") -> bool:
        Logged.log.append((self.tag, other.tag))
        return self.v < other.v

    def __eq__(self, other) -> bool:  # not used by sort
        return self.v == other.v

    __hash__ = object.__hash__


@R.many(200)
@given(sortable(st.integers(0, 15), max_runs=8), st.booleans())
def test_sort_makes_cpythons_comparisons(values, reverse):
    """Object comparisons run user code: the runtime must call it exactly as CPython does."""
    R.fresh()
    objs = [Logged(v, i) for i, v in enumerate(values)]
    lst = R.make_list(R.OBJ, objs)
    L.list_sort(lst, R.OBJ, reverse)
    ours = [(a.tag, b.tag) for op, a, b in R.hooks().log]
    assert all(op == "<" for op, _, _ in R.hooks().log)
    Logged.log = []
    model = list(objs)
    model.sort(reverse=reverse)
    assert ours == Logged.log
    assert R.read_list(R.OBJ, lst) == model
    assert [o.tag for o in R.read_list(R.OBJ, lst)] == [o.tag for o in model]


@R.many(150)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["", "a", "b"])), max_size=120), st.booleans())
def test_sort_tuples(values, reverse):
    R.fresh()
    kind = R.tuple_kind(INT, STR)
    lst = R.make_list(kind, values)
    L.list_sort(lst, kind, reverse)
    assert R.read_list(kind, lst) == sorted(values, reverse=reverse)
    R.check_list(lst, kind)


def test_a_failing_comparison_leaves_the_list_as_it_was():
    values = list(range(50, 0, -3)) + list(range(40))
    lst = R.make_list(R.OBJ, values)
    hooks = R.hooks()

    def fail_late():
        if len(hooks.log) > 60:
            raise TypeError("'<' not supported")

    hooks.on_compare = fail_late
    with pytest.raises(TypeError):
        L.list_sort(lst, R.OBJ, False)
    assert R.read_list(R.OBJ, lst) == values  # (CPython leaves some permutation of it)


def test_a_list_changed_during_the_sort_gets_the_sorted_items_and_a_value_error():
    values = [5, 3, 9, 1, 7, 2]
    lst = R.make_list(R.OBJ, values)
    extra = R.to_slot(R.OBJ, 100)
    hooks = R.hooks()

    def grow_once():
        if len(hooks.log) == 3:
            L.list_append(lst, extra, R.OBJ)

    hooks.on_compare = grow_once
    with pytest.raises(ValueError, match="^list modified during sort$"):
        L.list_sort(lst, R.OBJ, False)
    R.check_list(lst, R.OBJ)

    class Grows(int):
        calls = 0

        def __lt__(self, other):
            Grows.calls += 1
            if Grows.calls == 3:
                model.append(100)
            return int(self) < int(other)

    model = [Grows(v) for v in values]
    with pytest.raises(ValueError, match="^list modified during sort$"):
        model.sort()
    assert R.read_list(R.OBJ, lst) == model == sorted(values)


def test_sorting_short_lists_and_minrun():
    for n in (0, 1, 2, 63, 64, 65, 127, 128, 1000):
        R.fresh()
        model = [(i * 7919) % 101 for i in range(n)]
        lst = R.make_list(INT, model)
        L.list_sort(lst, INT, False)
        assert R.read_list(INT, lst) == sorted(model)
    assert [L._minrun(n) for n in (0, 63, 64, 65, 2**20, 2**20 + 1, 1000)] == [0, 63, 32, 33, 32, 33, 63]


# --------------------------------------------------------------------------- tuples and ranges


tuple_elems = st.lists(st.integers(-2, 2), max_size=6).map(tuple)


@R.many(800)
@given(tuple_elems, tuple_elems, indices, slices, st.integers(-2, 2),
       st.sampled_from([-1, 0, 1, 2, 3, 2**62]), st.one_of(st.none(), st.tuples(indices, indices)))
def test_tuple_operations(t, u, i, sl, x, k, bounds):
    R.fresh()
    kind = R.tuple_kind(INT)
    tt, tu = R.to_slot(kind, t), R.to_slot(kind, u)

    def read(o):
        return ("ok", R.read_tuple(kind, o[1])) if o[0] == "ok" else o

    assert R.outcome(L.tuple_getitem, tt, i) == R.py_outcome(lambda: t[i])
    assert read(R.outcome(L.tuple_slice, tt, *slice_args(sl), False)) == R.py_outcome(lambda: t[slice(*sl)])
    assert R.read_tuple(kind, L.tuple_concat(tt, tu, False)) == t + u
    assert read(R.outcome(L.tuple_repeat, tt, k, False)) == R.py_outcome(lambda: t * k)
    assert L.tuple_contains(tt, x, INT) == (x in t)
    assert L.tuple_count(tt, x, INT) == t.count(x)
    start, stop = bounds if bounds is not None else (0, INT64_MAX)
    assert R.outcome(L.tuple_index, tt, x, INT, start, stop) == R.py_outcome(lambda: t.index(x, start, stop))
    lst = L.list_from_tuple(tt, INT)
    R.check_list(lst, INT)
    assert (R.read_list(INT, lst), R.list_cap(lst)) == (list(t), allocated(list(t)))
    assert R.read_tuple(kind, L.tuple_from_list(lst, False)) == t


def test_tuple_buffers_say_whether_they_hold_objects():
    t = L.tuple_concat(R.to_slot(R.tuple_kind(STR), ("a",)), R.to_slot(R.tuple_kind(STR), ("b",)), True)
    assert M.load64(t) == R.TAG_TUPLE | R.HAS_PTRS
    assert M.load64(L.tuple_slice(t, 0, 0, 0, 7, False)) == R.TAG_TUPLE


range_args = st.one_of(st.integers(-12, 12), st.sampled_from([INT64_MIN, INT64_MAX, 0]))


@R.many(1000)
@given(st.integers(1, 3), range_args, range_args, range_args)
def test_range_list(nargs, a, b, c):
    R.fresh()
    args = (a, b, c)[:nargs]
    try:
        want = ("ok", len(range(*args)))
    except Exception as e:  # noqa: BLE001
        want = (type(e).__name__, str(e))
    if want[0] == "ok" and want[1] > 1000:
        assert R.outcome(L.range_list, a, b, c, nargs)[0] == "MemoryError"  # it would not fit
        return
    got = R.outcome(L.range_list, a, b, c, nargs)
    if want[0] == "ok":
        assert got[0] == "ok"
        R.check_list(got[1], INT)
        assert R.read_list(INT, got[1]) == list(range(*args))
    else:
        assert got == want


@R.many(300)
@given(st.lists(st.integers(-9, 9), max_size=12))
def test_list_new_with_capacity(values):
    R.fresh()
    lst = L.list_new(INT, len(values) + 3)
    for v in values:
        L.list_append(lst, v, INT)
    assert R.read_list(INT, lst) == values
    R.check_list(lst, INT)
