"""runtime/fmath.apy under CPython against CPython (and exact arithmetic for **).

floor/ceil/trunc/fmod/%/// and every special case of ** must be bit-exact with
CPython, errors included. Where x ** y differs from CPython's (glibc's
pow is not always correctly rounded either), it is checked against the exact
value (decimal arithmetic at 60 digits): it must be the correctly rounded
double, or one of the two nearest when the exact value is within 1e-9 ulp of
a tie. The module runs int64-guarded.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apy_cpython import load_runtime

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INF = math.inf
NAN = math.nan

fm = load_runtime("fmath")


def many(n: int):
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bits_of(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def float_of(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def same_float(a: float, b: float) -> bool:
    return bits_of(a) == bits_of(b) or (a != a and b != b)


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except (ValueError, OverflowError, ZeroDivisionError) as e:
        return type(e).__name__, str(e)


def same_outcome(got, expected) -> bool:
    if got[0] != expected[0]:
        return False
    if got[0] == "ok":
        return same_float(got[1], expected[1])
    return got[1] == expected[1]


any_bits = st.integers(0, 2**64 - 1).map(float_of)
doubles = st.one_of(st.floats(), any_bits)
SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.0, -2.0, 3.0, -3.0, 2.5, -2.5, INF, -INF, NAN,
            1e308, -1e308, 5e-324, -5e-324, 2.0**52 + 1, -(2.0**52) - 1, 2.0**53, -(2.0**53), 1e20, -1e20,
            0.9999999999999999, 1.0000000000000002, 4503599627370495.5, -4503599627370495.5]


# =========================================================================== floor, ceil, trunc


def c_rounding(fn, x: float) -> float:
    """C's floor/ceil/trunc: a float result, with the sign of zero kept."""
    if not math.isfinite(x):
        return x
    r = float(fn(x))
    return math.copysign(0.0, x) if r == 0.0 else r


@many(3000)
@given(st.one_of(doubles, st.floats(-10, 10), st.integers(-(2**55), 2**55).map(lambda k: k / 4)))
def test_floor_ceil_trunc(x):
    assert same_float(fm.floor(x), c_rounding(math.floor, x))
    assert same_float(fm.ceil(x), c_rounding(math.ceil, x))
    assert same_float(fm.trunc(x), c_rounding(math.trunc, x))


@pytest.mark.parametrize("x", SPECIALS + [-0.3, 0.3, -1.0000000000000002, 2.0**-1074 * 3])
def test_floor_ceil_trunc_edges(x):
    assert same_float(fm.floor(x), c_rounding(math.floor, x))
    assert same_float(fm.ceil(x), c_rounding(math.ceil, x))
    assert same_float(fm.trunc(x), c_rounding(math.trunc, x))


# =========================================================================== fmod, %, //


def c_fmod(x: float, y: float) -> float:
    try:
        return math.fmod(x, y)
    except ValueError:
        return NAN  # C returns a NaN where math.fmod raises


pairs = st.one_of(
    st.tuples(doubles, doubles),
    st.tuples(st.floats(-1e6, 1e6), st.floats(-1e3, 1e3)),
    st.tuples(any_bits, st.sampled_from([2.0, -3.0, 0.1, 1e-300, 5e-324, INF, -0.0])),
)


@many(3000)
@given(pairs)
def test_fmod(xy):
    x, y = xy
    assert same_float(fm.fmod(x, y), c_fmod(x, y))


def brief_messages(result, message):
    """The expected outcome: exactly CPython's (apy targets CPython 3.11's messages)."""
    return result


@many(3000)
@given(pairs)
def test_mod_and_floordiv(xy):
    x, y = xy
    assert same_outcome(outcome(fm.py_float_mod, x, y),
                        brief_messages(outcome(lambda a, b: a % b, x, y), "float modulo by zero"))
    assert same_outcome(outcome(fm.py_float_floordiv, x, y),
                        brief_messages(outcome(lambda a, b: a // b, x, y), "float floor division by zero"))


@pytest.mark.parametrize("x", SPECIALS)
@pytest.mark.parametrize("y", SPECIALS)
def test_remainders_of_special_values(x, y):
    assert same_float(fm.fmod(x, y), c_fmod(x, y))
    assert same_outcome(outcome(fm.py_float_mod, x, y),
                        brief_messages(outcome(lambda a, b: a % b, x, y), "float modulo by zero"))
    assert same_outcome(outcome(fm.py_float_floordiv, x, y),
                        brief_messages(outcome(lambda a, b: a // b, x, y), "float floor division by zero"))


# =========================================================================== **


def cpython_pow(x: float, y: float):
    """CPython's x ** y, with apy's ValueError where CPython returns a complex."""
    result = outcome(lambda a, b: a**b, x, y)
    complex_path = result == ("OverflowError", "complex exponentiation") or isinstance(result[1], complex)
    if complex_path:
        return "ValueError", "negative number cannot be raised to a fractional power"
    return result


def exact_pow(x: float, y: float) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        ctx.Emax = 10**6
        ctx.Emin = -(10**6)
        return abs(Decimal(x)) ** Decimal(y)


def ulps_off(r: float, exact: Decimal) -> float:
    """|r - exact| in units of the spacing of doubles at exact."""
    with localcontext() as ctx:
        ctx.prec = 60
        near = float(exact)
        ulp = math.ulp(near) if near != 0.0 else 5e-324
        if math.isinf(near):
            ulp = math.ulp(1.7976931348623157e308)
        return float(abs(Decimal(r) - exact) / Decimal(ulp))


def check_pow(x: float, y: float) -> None:
    got = outcome(fm.py_float_pow, x, y)
    expected = cpython_pow(x, y)
    if same_outcome(got, expected):
        return
    # both finite and different: ours must be the correctly rounded value, or
    # (when the exact value is within 1e-9 ulp of a tie) one of the two nearest
    assert got[0] == "ok" and expected[0] == "ok", (x, y, got, expected)
    assert ulps_off(abs(got[1]), exact_pow(x, y)) <= 0.5 + 1e-9, (x, y, got, expected)


@pytest.mark.parametrize("x", SPECIALS)
@pytest.mark.parametrize("y", SPECIALS)
def test_pow_special_cases(x, y):
    check_pow(x, y)


def test_pow_errors():
    with pytest.raises(ZeroDivisionError, match=r"^0.0 cannot be raised to a negative power$"):
        fm.py_float_pow(0.0, -1.0)
    with pytest.raises(ZeroDivisionError):
        fm.py_float_pow(-0.0, -3.0)
    with pytest.raises(ValueError, match=r"^negative number cannot be raised to a fractional power$"):
        fm.py_float_pow(-2.0, 0.5)
    with pytest.raises(OverflowError, match=r"^\(34, 'Numerical result out of range'\)$"):
        fm.py_float_pow(10.0, 400.0)
    with pytest.raises(OverflowError):
        fm.py_float_pow(-10.0, 309.0)
    assert fm.py_float_pow(10.0, -400.0) == 0.0  # underflow is not an error


pow_inputs = st.one_of(
    st.tuples(doubles, doubles),
    st.tuples(st.floats(0, 10), st.floats(-330, 330)),
    st.tuples(st.floats(0.99, 1.01), st.floats(-1e6, 1e6)),
    st.tuples(st.floats(1 - 2**-40, 1 + 2**-40), st.floats(-(2.0**62), 2.0**62)),
    st.tuples(st.floats(-100, 100), st.integers(-80, 80).map(float)),
    st.tuples(st.floats(5e-324, 1e-300), st.floats(-1.1, 1.1)),
    st.tuples(st.floats(1.5, 3.0), st.floats(-1100, -1000)),  # subnormal results
)


@many(2000)
@given(pow_inputs)
@example((9.0, 17.0))  # exactly a tie: 9**17 = 16677181699666569
@example((2.0, -1074.0))
@example((2.0, -1075.0))
@example((1.0000000000000002, 2.0**62))
def test_pow(xy):
    check_pow(*xy)


@pytest.mark.parametrize("base", [2.0, 3.0, 5.0, 7.0, 10.0, 0.5, 0.25, 1.5, 12.0])
def test_pow_exact_results_are_exact(base):
    for e in range(-1100, 1100):
        exact = Fraction(base) ** e
        try:
            as_float = float(exact)
        except OverflowError:
            continue
        if as_float == exact:
            assert fm.py_float_pow(base, float(e)) == as_float, (base, e)


@pytest.mark.parametrize("x, y, r", [(9.0, 0.5, 3.0), (16.0, 0.25, 2.0), (0.25, 0.5, 0.5), (8.0, 1 / 3, 2.0),
                                     (2.0, 0.5, math.sqrt(2.0)), (1e-300, 0.5, 1e-150)])
def test_pow_fractional_exponents(x, y, r):
    assert fm.py_float_pow(x, y) == r


@many(1500)
@given(st.one_of(st.integers(1, 2**21).map(float), st.floats(0.01, 100)), st.integers(3, 64),
       st.integers(-1100, 1000))
@example(9.0, 17, 0)  # exact ties, rounded to even (glibc rounds 10.0 ** 23 up)
@example(10.0, 23, 0)
@example(116.0, 11, 0)
def test_pow_integer_exponents_are_correctly_rounded(base, n, scale):
    x = math.ldexp(base, scale // n)
    exact = Fraction(x) ** n
    try:
        expected = float(exact)
    except OverflowError:
        expected = INF
    assert outcome(fm.py_float_pow, x, float(n)) == (
        ("OverflowError", "(34, 'Numerical result out of range')") if expected == INF else ("ok", expected))


def test_pow_of_ten_is_correctly_rounded():
    for k in range(-320, 309):
        assert fm.py_float_pow(10.0, float(k)) == float(Fraction(10) ** k), k


# =========================================================================== int ** int


small_bases = st.one_of(st.integers(-12, 12), st.integers(-(2**32), 2**32), st.integers(INT64_MIN, INT64_MAX))


@many(3000)
@given(small_bases, st.integers(0, 70))
@example(-2, 63)
@example(2, 63)
@example(2, 62)
@example(3, 39)
@example(3, 40)
@example(INT64_MIN, 1)
@example(INT64_MIN, 2)
@example(-(2**31), 2)
@example(0, 0)
def test_int_pow(b, e):
    expected = b**e
    if INT64_MIN <= expected <= INT64_MAX:
        assert fm.int_pow(b, e) == expected
    else:
        with pytest.raises(OverflowError):
            fm.int_pow(b, e)


@pytest.mark.parametrize("b", [-1, 0, 1])
@pytest.mark.parametrize("e", [2**62, INT64_MAX, 2**62 + 1])
def test_int_pow_of_unit_bases_with_huge_exponents(b, e):
    assert fm.int_pow(b, e) == (b if e & 1 else abs(b))


def test_int_pow_rejects_negative_exponents():
    with pytest.raises(ValueError):
        fm.int_pow(2, -1)
