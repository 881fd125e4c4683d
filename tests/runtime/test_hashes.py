"""runtime/hashes.apy under CPython against CPython: hash(), == and ordering by kind.

hash_int/hash_float/tuple_hash of ints and floats are compared with this
process's hash(); str and bytes hashes with a CPython child started with
PYTHONHASHSEED=0 (rtobjects.SeedZero), since the runtime hashes them with
SipHash-1-3 and a zero key as CPython does under that seed. Comparisons are
checked for every op code on pairs of ints, floats (nan, infinities, signed
zeros), strs, bytes and nested tuples.
"""

from __future__ import annotations

import math
import operator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import rtobjects as R
from rtobjects import BYTES, FLOAT, INT, STR, H, M

INT64_MIN, INT64_MAX = R.INT64_MIN, R.INT64_MAX


@pytest.fixture(autouse=True)
def _runtime_in_arena():
    with R.installed():
        yield


@pytest.fixture(scope="module")
def seed0():
    child = R.SeedZero()
    yield child
    child.close()


int64s = st.one_of(st.integers(INT64_MIN, INT64_MAX), st.integers(-5, 5),
                   st.sampled_from([INT64_MIN, INT64_MIN + 1, INT64_MAX, 2**61 - 1, 2**61, -(2**61) + 1,
                                    -(2**61), 2**62, -(2**62)]))
any_floats = st.one_of(st.floats(allow_nan=False), st.integers(0, 2**64 - 1).map(
    lambda b: R.float_of(b - 2**64 if b >= 2**63 else b)).filter(lambda x: x == x))
texts = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="abc\x00\x7f\x80\xff", max_size=20),
    st.text(alphabet="aé€\uffff", max_size=20),
    st.text(alphabet="a\u0100𐐀😀\U0010ffff", max_size=20),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3),
)


# --------------------------------------------------------------------------- the contract


def test_kind_and_op_constants_agree_across_modules():
    """Runtime modules share functions, not constants: the copies must agree."""
    names = ["KIND_INT", "KIND_FLOAT", "KIND_STR", "KIND_OBJECT", "KIND_BYTES", "KIND_TUPLE", "KIND_MASK",
             "OP_LT", "OP_LE", "OP_EQ", "OP_NE", "OP_GT", "OP_GE"]
    for mod in (R.L, R.D):
        for name in names:
            if hasattr(mod, name):
                assert getattr(mod, name) == getattr(H, name), f"{mod.__name__}.{name}"
    assert (H.KIND_INT, H.KIND_FLOAT, H.KIND_STR, H.KIND_OBJECT, H.KIND_BYTES, H.KIND_TUPLE) == (1, 2, 3, 4, 5, 6)
    assert [H.OP_LT, H.OP_LE, H.OP_EQ, H.OP_NE, H.OP_GT, H.OP_GE] == [0, 1, 2, 3, 4, 5]


def test_object_hooks_are_placeholders_until_the_compiler_generates_them():
    for call in (lambda: R.OBJHOOKS.obj_hash(R.OBJ, 4096), lambda: R.OBJHOOKS.obj_eq(R.OBJ, 1, 2),
                 lambda: R.OBJHOOKS.obj_richcompare(R.OBJ, 1, 2, 0)):
        with pytest.raises(NotImplementedError):
            call()


def test_tuple_descriptors_repeat_their_last_kind():
    k = R.tuple_kind(INT, STR, FLOAT)
    assert [H.tuple_elem_kind(k, i) for i in range(5)] == [INT, STR, FLOAT, FLOAT, FLOAT]
    assert [H.tuple_elem_kind(R.tuple_kind(STR), i) for i in range(3)] == [STR, STR, STR]


def test_which_kinds_hold_pointers():
    assert [H.kind_has_ptrs(k) for k in (INT, FLOAT, STR, R.OBJ, BYTES, R.tuple_kind(INT))] == [
        False, False, True, True, True, True]


# --------------------------------------------------------------------------- numbers


@R.many(2500)
@given(int64s)
def test_hash_int(v):
    assert H.hash_int(v) == hash(v)
    assert H.slot_hash(INT, v) == hash(v)


def test_hash_bool_is_hash_int():
    assert (H.hash_int(True), H.hash_int(False)) == (hash(True), hash(False))


@R.many(2000)
@given(any_floats)
@example(0.0)
@example(-0.0)
@example(math.inf)
@example(-math.inf)
@example(5e-324)
@example(-1.0)  # hashes to -2, like the int -1
@example(2.0**61 - 2**9)
@example(1.7976931348623157e308)
def test_hash_float(x):
    assert H.hash_float(x, 0) == hash(x)
    assert H.slot_hash(FLOAT, R.bits_of(x)) == hash(x)
    if x == int(x) if math.isfinite(x) else False:
        if INT64_MIN <= int(x) <= INT64_MAX:
            assert H.hash_float(x, 0) == H.hash_int(int(x))


def _hash_pointer(p: int) -> int:
    """CPython's _Py_HashPointer on the 64-bit pattern p."""
    u = p & (2**64 - 1)
    y = ((u >> 4) | (u << 60)) & (2**64 - 1)
    y = y - 2**64 if y >= 2**63 else y
    return -2 if y == -1 else y


@R.many(500)
@given(st.integers(INT64_MIN, INT64_MAX), st.integers(1, 2**52 - 1), st.booleans())
@example(15, 1, False)  # an address whose rotation is -1: hashes to -2
def test_nan_hashes_by_identity(ident, payload, negative):
    nan_bits = (0x7FF << 52) | payload | (INT64_MIN if negative else 0)
    nan = R.float_of(nan_bits)
    assert nan != nan
    assert H.hash_float(nan, ident) == _hash_pointer(ident)
    assert H.hash_pointer(ident) == _hash_pointer(ident)
    assert H.slot_hash(FLOAT, nan_bits) == _hash_pointer(nan_bits)  # a slot's identity is its bits


# --------------------------------------------------------------------------- str and bytes (seed 0)


@R.many(2000)
@given(texts)
@example("")
@example("a" * 8)
@example("ÿ" * 9)
@example("\ud800x")
def test_hash_str_is_cpythons_under_seed_zero(seed0, text):
    R.fresh()
    s = R.to_slot(STR, text)
    assert H.slot_hash(STR, s) == int(seed0.ask(f"hash({text!r})"))


@R.many(1200)
@given(st.binary(max_size=40))
def test_hash_bytes_is_cpythons_under_seed_zero(seed0, data):
    b = R.make_bytes(data)
    assert H.hash_bytes(b) == H.slot_hash(BYTES, b) == int(seed0.ask(f"hash({data!r})"))


# --------------------------------------------------------------------------- tuples

scalars = st.one_of(st.integers(-3, 3), int64s)
TUPLE_SHAPES = [
    (R.tuple_kind(INT), st.lists(scalars, max_size=6).map(tuple)),
    (R.tuple_kind(INT, FLOAT), st.tuples(scalars, any_floats)),
    (R.tuple_kind(FLOAT), st.lists(any_floats, max_size=5).map(tuple)),
    (R.tuple_kind(INT, R.tuple_kind(INT, FLOAT)),
     st.tuples(scalars, st.tuples(scalars, any_floats), st.tuples(scalars))),
]


@R.many(1000)
@given(st.data())
def test_tuple_hash(data):
    R.fresh()
    kind, values = data.draw(st.sampled_from(TUPLE_SHAPES))
    v = data.draw(values)
    assert H.tuple_hash(R.to_slot(kind, v), kind) == hash(v)
    assert H.slot_hash(kind, R.to_slot(kind, v)) == hash(v)


@R.many(600)
@given(st.lists(st.tuples(texts, st.integers(-9, 9)), max_size=4))
def test_tuple_of_strs_hash_is_cpythons_under_seed_zero(seed0, pairs):
    kind = R.tuple_kind(R.tuple_kind(STR, INT))
    v = tuple(pairs)
    assert H.slot_hash(kind, R.to_slot(kind, v)) == int(seed0.ask(f"hash({v!r})"))


def test_tuple_hash_steps_compose():
    """The step functions the compiler may call for tuples it hashes itself."""
    acc = H.XXPRIME_5
    for v in (1, -7, 2**40):
        acc = H.tuple_hash_add(acc, H.hash_int(v))
    assert H.tuple_hash_finish(acc, 3) == hash((1, -7, 2**40))
    assert H.tuple_hash_finish(H.XXPRIME_5, 0) == hash(())


# --------------------------------------------------------------------------- equality and order

SPECIAL_FLOATS = [0.0, -0.0, 1.0, -1.5, math.inf, -math.inf, math.nan, R.float_of(-(2**63) | (0x7FF << 52) | 5)]
floats_with_nan = st.one_of(st.floats(), st.sampled_from(SPECIAL_FLOATS)).map(R.canon_float)
COMPARABLE = [
    (INT, int64s),
    (FLOAT, floats_with_nan),
    (STR, st.one_of(texts, st.sampled_from(["", "a", "ab", "b", "é", "😀", "\uffff"]))),
    (BYTES, st.one_of(st.binary(max_size=6), st.sampled_from([b"", b"a", b"ab", b"\xff", b"a\x00"]))),
    (R.tuple_kind(INT, FLOAT), st.tuples(st.integers(-2, 2), floats_with_nan)),
    (R.tuple_kind(STR), st.lists(st.sampled_from(["", "a", "b"]), max_size=3).map(tuple)),
    (R.tuple_kind(R.tuple_kind(INT)), st.lists(st.lists(st.integers(0, 2), max_size=2).map(tuple),
                                               max_size=3).map(tuple)),
]


@R.many(1500)
@given(st.data())
def test_equality_and_order_by_kind(data):
    R.fresh()
    kind, values = data.draw(st.sampled_from(COMPARABLE))
    a = data.draw(values)
    b = data.draw(st.one_of(values, st.just(a)))
    sa, sb = R.to_slot(kind, a), R.to_slot(kind, b)
    # containers' ==: identity first (for floats: the same bits), then ==
    assert H.slot_eq(kind, sa, sb) == (a is b or a == b)
    assert H.slot_eq(kind, sa, sa)
    for op, fn in enumerate(R.OPS):
        assert H.slot_richcompare(kind, sa, sb, op) == fn(a, b), R.OP_NAMES[op]
    assert H.slot_lt(kind, sa, sb) == (a < b)


@R.many(1000)
@given(st.binary(max_size=8), st.binary(max_size=8))
def test_bytes_compare(a, b):
    ba, bb = R.make_bytes(a), R.make_bytes(b)
    assert H.bytes_compare(ba, bb) == (a > b) - (a < b)
    assert H.bytes_eq(ba, bb) == (a == b)


@R.many(500)
@given(st.lists(st.integers(-3, 3), max_size=4).map(tuple), st.lists(st.integers(-3, 3), max_size=4).map(tuple))
def test_tuple_richcompare_all_ops(a, b):
    kind = R.tuple_kind(INT)
    ta, tb = R.to_slot(kind, a), R.to_slot(kind, b)
    for op, fn in enumerate(R.OPS):
        assert H.tuple_richcompare(ta, tb, kind, op) == fn(a, b)
    assert H.tuple_eq(ta, tb, kind) == (a == b)


def test_object_kinds_go_through_the_hooks():
    hooks = R.hooks()
    a, b = (1, "x"), tuple([1, "x"])  # equal, not the same object
    sa, sb = R.to_slot(R.OBJ, a), R.to_slot(R.OBJ, b)
    assert H.slot_hash(R.OBJ, sa) == hash(a)
    assert H.slot_eq(R.OBJ, sa, sb) and hooks.log == [("==", a, b)]
    assert H.slot_eq(R.OBJ, sa, sa) and len(hooks.log) == 1  # identity: no call
    assert not H.slot_richcompare(R.OBJ, sa, sb, 0) and hooks.log[-1] == ("<", a, b)
    assert M.load64(sa) & 0xFFFF == 9
    assert operator.eq(a, b)
