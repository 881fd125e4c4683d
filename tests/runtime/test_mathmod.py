"""runtime/mathmod.apy under CPython, against CPython's math module and exact values.

The module runs through rtload (int64-guarded, shim memory). Three kinds of checks:

* exact functions (sqrt, fabs, floor, ceil, trunc, copysign, fmod, remainder, modf,
  frexp, ldexp, degrees, radians, isclose, the integer functions, fsum, prod):
  bit for bit and exception for exception equal to CPython, except where apy's
  64-bit ints make CPython's result unrepresentable (then OverflowError);
* transcendental functions: every exception, NaN, infinity and zero as CPython;
  every other result either CPython's bits or the correctly rounded value of the
  exact result (mpmath at 300 bits), near-halfway cases excepted;
* agreement with CPython (glibc) on a fixed pseudo-random sample per function:
  the fraction of results that differ in the last bit stays below a bound
  (AGREEMENT, measured and documented in the module's report).
"""

from __future__ import annotations

import math
import random
import struct
from fractions import Fraction

import mpmath
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import rtload  # noqa: I001  (puts runtime/pyshim on sys.path for _machine)
import _machine

mm = rtload.load("mathmod")

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INF = math.inf
NAN = math.nan
mpmath.mp.prec = 300


def many(n: int):
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bits_of(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def float_of(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def same_float(a: float, b: float) -> bool:
    return bits_of(a) == bits_of(b) or (a != a and b != b)


def outcome(fn, *args):
    """("ok", value) or (exception name, message), for mathmod and CPython alike."""
    try:
        return "ok", fn(*args)
    except (ValueError, OverflowError, ZeroDivisionError) as e:
        return type(e).__name__, str(e)


def same_outcome(got, expected) -> bool:
    if got[0] != expected[0]:
        return False
    if got[0] != "ok":
        return got[1] == expected[1]
    g, x = got[1], expected[1]
    if isinstance(x, float):
        return isinstance(g, float) and same_float(g, x)
    if isinstance(x, tuple):
        return len(g) == len(x) and all(same_outcome(("ok", a), ("ok", b)) for a, b in zip(g, x))
    return type(g) is type(x) and g == x


any_bits = st.integers(0, 2**64 - 1).map(float_of)
doubles = st.one_of(st.floats(), any_bits)
finite = st.floats(allow_nan=False, allow_infinity=False)
int64s = st.integers(INT64_MIN, INT64_MAX)
SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, INF, -INF, NAN, 1e308, -1e308, 5e-324, -5e-324,
            2.2250738585072014e-308, 1.7976931348622157e308, 2.0**52 + 0.5, 2.0**53, -(2.0**63), 2.0**63]


# =========================================================================== exact functions


def cpy_int_result(value):
    """CPython's int result as apy gives it: OverflowError outside int64."""
    if value[0] == "ok" and isinstance(value[1], int) and not INT64_MIN <= value[1] <= INT64_MAX:
        return "OverflowError", None
    return value


def same_int_outcome(got, expected) -> bool:
    expected = cpy_int_result(expected)
    if expected == ("OverflowError", None):
        return got[0] == "OverflowError"
    return same_outcome(got, expected)


@many(1500)
@given(doubles)
def test_one_float_exact(x: float) -> None:
    for name in ("sqrt", "fabs", "degrees", "radians", "isnan", "isinf", "isfinite"):
        got = outcome(getattr(mm, name), x)
        assert same_outcome(got, outcome(getattr(math, name), x)), (name, x, got)
    for name in ("floor", "ceil", "trunc"):
        got = outcome(getattr(mm, name), x)
        assert same_int_outcome(got, outcome(getattr(math, name), x)), (name, x, got)
    assert same_outcome(outcome(lambda v: (mm.modf_frac(v), mm.modf_int(v)), x), outcome(math.modf, x)), x
    assert same_outcome(outcome(lambda v: (mm.frexp_mant(v), mm.frexp_exp(v)), x), outcome(math.frexp, x)), x


@pytest.mark.parametrize("x", SPECIALS)
def test_one_float_exact_specials(x: float) -> None:
    test_one_float_exact.hypothesis.inner_test(x)


@many(1500)
@given(doubles, doubles)
@example(5.0, INF)
@example(INF, 3.0)
@example(1.0, 0.0)
@example(NAN, 0.0)
@example(7.5, 2.5)  # remainder ties: 3 * 2.5, n = 3 rounds to even 2... exactly halfway
@example(5.0, 2.0)
@example(-5.0, 2.0)
@example(1.7976931348623157e308, 1.2e308)
def test_two_float_exact(x: float, y: float) -> None:
    for name in ("copysign", "fmod", "remainder"):
        got = outcome(getattr(mm, name), x, y)
        assert same_outcome(got, outcome(getattr(math, name), x, y)), (name, x, y, got)


@many(1500)
@given(doubles, st.one_of(st.integers(-1200, 1200), int64s))
@example(1.0, 1024)
@example(0.75, -1074)
@example(0.5, -1074)
@example(-1.5, -1074)
@example(1.5, -1075)
@example(1.0000000000000002, -1023)
@example(5e-324, 2000)
def test_ldexp(x: float, i: int) -> None:
    assert same_outcome(outcome(mm.ldexp, x, i), outcome(math.ldexp, x, i)), (x, i)


tolerances = st.one_of(st.just(1e-9), st.just(0.0), st.floats(-1.0, 1.0), doubles)


@many(1000)
@given(doubles, doubles, tolerances, tolerances)
def test_isclose(a: float, b: float, rel: float, abs_: float) -> None:
    expected = outcome(lambda: math.isclose(a, b, rel_tol=rel, abs_tol=abs_))
    assert same_outcome(outcome(mm.isclose, a, b, rel, abs_), expected)


small_ints = st.one_of(st.integers(-100, 100), int64s, st.sampled_from([INT64_MIN, INT64_MAX, 0, 1, -1]))


@many(1500)
@given(small_ints, small_ints)
def test_gcd_lcm(a: int, b: int) -> None:
    assert same_int_outcome(outcome(mm.gcd, a, b), outcome(math.gcd, a, b)), (a, b)
    assert same_int_outcome(outcome(mm.lcm, a, b), outcome(math.lcm, a, b)), (a, b)


@many(1500)
@given(st.one_of(int64s, st.integers(-10, 10**6), st.sampled_from([INT64_MAX, 3037000499**2, 3037000499**2 - 1])))
def test_isqrt(n: int) -> None:
    assert same_outcome(outcome(mm.isqrt, n), outcome(math.isqrt, n)), n


@many(500)
@given(st.integers(-50, 300))
def test_factorial(n: int) -> None:
    assert same_int_outcome(outcome(mm.factorial, n), outcome(math.factorial, n)), n


def exact_or_overflow(fn, n: int, k: int):
    """CPython's comb/perm, without computing the huge results that certainly
    exceed int64 (CPython would take very long over some of them)."""
    if 0 <= k <= n:
        small = min(k, n - k) if fn is math.comb else k
        if small > 70:
            return "OverflowError", None  # comb(n, k) >= 2**min(k, n-k); perm(n, k) >= k!
    return outcome(fn, n, k)


comb_args = st.one_of(st.integers(-5, 100), st.integers(0, 2**20), int64s)


@many(1500)
@given(comb_args, comb_args)
@example(66, 33)  # the largest central binomial that fits in int64
@example(67, 33)
@example(INT64_MAX, 1)
@example(INT64_MAX, 2)
@example(20, 20)
@example(21, 21)
def test_comb_perm(n: int, k: int) -> None:
    assert same_int_outcome(outcome(mm.comb, n, k), exact_or_overflow(math.comb, n, k)), (n, k)
    assert same_int_outcome(outcome(mm.perm, n, k), exact_or_overflow(math.perm, n, k)), (n, k)


# --------------------------------------------------------------------------- list objects

TAG_LIST = 4
TAG_RAW = 10
MAX_ITEMS = 64
_LIST = _machine.static_buffer(32)
_ITEMS = _machine.static_buffer(8 + 8 * MAX_ITEMS)


def make_list(slots: list[int]) -> int:
    """A list object (docs/runtime-abi.md) in shim memory holding the given slots."""
    assert len(slots) <= MAX_ITEMS
    _machine.store64(_LIST, TAG_LIST | 65536)
    _machine.store64(_LIST + 8, len(slots))
    _machine.store64(_LIST + 16, MAX_ITEMS)
    _machine.store64(_LIST + 24, _ITEMS)
    _machine.store64(_ITEMS, TAG_RAW)
    for i, s in enumerate(slots):
        _machine.store64(_ITEMS + 8 + 8 * i, s)
    return _LIST


def float_slots(xs: list[float]) -> list[int]:
    return [struct.unpack("<q", struct.pack("<d", x))[0] for x in xs]


fsum_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(-1e3, 1e3),
    st.sampled_from([1e308, -1e308, 1e-308, 1e16, 1.0, -1.0, 1e-16, 0.1, INF, -INF, NAN, -0.0]),
)


@many(1000)
@given(st.lists(fsum_floats, max_size=MAX_ITEMS))
@example([1e-16, 1.0, 1e16])
@example([1e308, 1e308, -1e308])
@example([INF, -INF])
@example([0.1] * 10)
@example([-0.0])
@example([])
def test_fsum(xs: list[float]) -> None:
    got = outcome(mm.fsum, make_list(float_slots(xs)))
    assert same_outcome(got, outcome(math.fsum, xs)), (xs, got)


@many(500)
@given(st.lists(st.one_of(int64s, st.integers(-(2**53), 2**53)), max_size=MAX_ITEMS))
def test_fsum_ints(xs: list[int]) -> None:
    got = outcome(mm.fsum_ints, make_list(xs))
    assert same_outcome(got, outcome(math.fsum, xs)), (xs, got)


def left_to_right_product(xs: list[int], start: int):
    """CPython's prod, except that an intermediate product outside int64 raises
    OverflowError (apy multiplies left to right with 64-bit ints)."""
    r = start
    for x in xs:
        r *= x
        if not INT64_MIN <= r <= INT64_MAX:
            return "OverflowError", None
    return "ok", r


@many(1000)
@given(st.lists(st.one_of(st.integers(-20, 20), int64s), max_size=20), st.integers(-5, 5))
def test_prod_ints(xs: list[int], start: int) -> None:
    got = outcome(mm.prod_ints, make_list(xs), start)
    expected = left_to_right_product(xs, start)
    if expected[0] == "ok":
        assert expected[1] == math.prod(xs, start=start)
        assert got == expected, (xs, start, got)
    else:
        assert got[0] == "OverflowError", (xs, start, got)


@many(500)
@given(st.lists(doubles, max_size=MAX_ITEMS), st.one_of(st.just(1.0), doubles))
def test_prod_floats(xs: list[float], start: float) -> None:
    got = outcome(mm.prod_floats, make_list(float_slots(xs)), start)
    assert same_outcome(got, outcome(lambda: math.prod(xs, start=start))), (xs, start, got)


# =========================================================================== transcendental functions


def exact_double(v: mpmath.mpf) -> Fraction:
    sign, man, exp, _ = v._mpf_
    fr = Fraction(int(man)) * Fraction(2) ** int(exp)
    return -fr if sign else fr


def correctly_rounded(v: mpmath.mpf) -> float:
    """The double nearest to v (subnormals and overflow included)."""
    if mpmath.isnan(v) or mpmath.isinf(v):
        return float(v)
    if v == 0:
        return 0.0
    fr = exact_double(v)
    try:
        return float(fr)
    except OverflowError:
        return INF if fr > 0 else -INF


def near_halfway(v: mpmath.mpf, a: float, b: float, rel: float = 2.0**-90) -> bool:
    """Whether v lies within `rel` (relative) of the midpoint of neighbours a and b."""
    if not (math.isfinite(a) and math.isfinite(b)) or abs(bits_of(a) - bits_of(b)) != 1:
        return False
    mid = (Fraction(a) + Fraction(b)) / 2
    return abs(exact_double(v) - mid) <= abs(mid) * Fraction(rel)


def lgamma_exact(x):
    return mpmath.log(abs(mpmath.gamma(x)))


EXACT = {
    "exp": mpmath.exp, "expm1": mpmath.expm1, "exp2": lambda x: mpmath.power(2, x),
    "log": mpmath.log, "log2": lambda x: mpmath.log(x, 2), "log10": mpmath.log10, "log1p": mpmath.log1p,
    "sin": mpmath.sin, "cos": mpmath.cos, "tan": mpmath.tan,
    "asin": mpmath.asin, "acos": mpmath.acos, "atan": mpmath.atan,
    "sinh": mpmath.sinh, "cosh": mpmath.cosh, "tanh": mpmath.tanh,
    "asinh": mpmath.asinh, "acosh": mpmath.acosh, "atanh": mpmath.atanh,
    "erf": mpmath.erf, "erfc": mpmath.erfc, "gamma": mpmath.gamma, "lgamma": lgamma_exact,
    "cbrt": lambda x: mpmath.sign(x) * mpmath.cbrt(abs(x)),
    "atan2": mpmath.atan2, "hypot": mpmath.hypot, "pow": mpmath.power,
}


def check_against_cpython(name: str, *args: float) -> None:
    """mathmod's f(*args) is CPython's outcome, or else the correctly rounded value."""
    got = outcome(getattr(mm, name), *args)
    expected = outcome(getattr(math, name), *args)
    if same_outcome(got, expected):
        return
    assert got[0] == "ok" and expected[0] == "ok", (name, args, got, expected)
    g, c = got[1], expected[1]
    # specials are never a matter of rounding
    assert math.isfinite(c) and c != 0.0, (name, args, g, c)
    exact = EXACT[name](*[mpmath.mpf(a) for a in args])
    best = correctly_rounded(exact)
    if not same_float(g, best):
        # lgamma and gamma near their zeros and poles on the negative axis lose
        # relative accuracy to cancellation, as every implementation does; one ulp
        assert near_halfway(exact, g, best) or (
            name in ("lgamma", "gamma") and args[0] < 0 and abs(bits_of(g) - bits_of(best)) <= 1
        ), (name, args, "got", g, "cpython", c, "exact", mpmath.nstr(exact, 25))


ONE_ARG_DOMAINS = {
    "exp": st.floats(-746, 710), "expm1": st.floats(-40, 710), "exp2": st.floats(-1080, 1025),
    "log": st.floats(0, 1e308), "log2": st.floats(0, 1e308), "log10": st.floats(0, 1e308),
    "log1p": st.floats(-1, 10), "sin": st.floats(-1e6, 1e6), "cos": st.floats(-1e6, 1e6),
    "tan": st.floats(-1e6, 1e6), "asin": st.floats(-1, 1), "acos": st.floats(-1, 1), "atan": st.floats(-100, 100),
    "sinh": st.floats(-711, 711), "cosh": st.floats(-711, 711), "tanh": st.floats(-20, 20),
    "asinh": st.floats(-1e6, 1e6), "acosh": st.floats(1, 1e6), "atanh": st.floats(-1, 1),
    "erf": st.floats(-7, 7), "erfc": st.floats(-7, 29), "gamma": st.floats(-200, 172),
    "lgamma": st.floats(-200, 1e6), "cbrt": st.floats(-1e6, 1e6),
}
near_one = st.floats(0.9, 1.1)
tiny = st.floats(-1e-5, 1e-5)


@pytest.mark.parametrize("name", sorted(ONE_ARG_DOMAINS))
def test_one_arg_transcendental(name: str) -> None:
    @many(400)
    @given(st.one_of(ONE_ARG_DOMAINS[name], doubles, near_one, tiny, st.sampled_from(SPECIALS)))
    def check(x: float) -> None:
        check_against_cpython(name, x)

    check()


# arguments that stress the reduction mod pi/2: the doubles nearest to multiples of
# pi/2 (the first is the closest of all doubles), and the Payne-Hanek range
HARD_TRIG = [6381956970095103.0 * 2.0**797, 5.319372648326541e255, 1.5707963267948966, 524287.5,
             524288.0, 2.0**19 * math.pi, 1e22, 2.0**1023, 1.7976931348623157e308, 3 * math.pi / 4]


@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_trig_large_arguments(name: str) -> None:
    for x in HARD_TRIG:
        check_against_cpython(name, x)
        check_against_cpython(name, -x)

    @many(500)
    @given(st.floats(2.0**19, 1.7976931348623157e308))
    def check(x: float) -> None:
        check_against_cpython(name, x)

    check()


@pytest.mark.parametrize("name", ["atan2", "hypot", "pow"])
def test_two_arg_transcendental(name: str) -> None:
    @many(600)
    @given(st.one_of(doubles, st.floats(-10, 10), st.sampled_from(SPECIALS)),
           st.one_of(doubles, st.floats(-10, 10), st.sampled_from(SPECIALS)))
    def check(x: float, y: float) -> None:
        check_against_cpython(name, x, y)

    check()


@many(1000)
@given(st.floats(0, 1e6), st.floats(-300, 300))
def test_pow_in_range(x: float, y: float) -> None:
    check_against_cpython("pow", x, y)


@many(500)
@given(doubles, doubles)
def test_log_base(x: float, base: float) -> None:
    """log(x, base) is log(x) / log(base) exactly as CPython divides them."""
    got = outcome(mm.log_base, x, base)
    ln_x = outcome(mm.log, x)
    if ln_x[0] != "ok":
        assert got == ln_x
        return
    ln_b = outcome(mm.log, base)
    if ln_b[0] != "ok":
        assert got == ln_b
        return
    expected = outcome(lambda: ln_x[1] / ln_b[1])
    assert same_outcome(got, expected), (x, base, got, expected)
    if math.log(x) == ln_x[1] and math.log(base) == ln_b[1]:
        assert same_outcome(got, outcome(math.log, x, base))


def test_constants() -> None:
    for name in ("pi", "e", "tau", "inf"):
        assert same_float(getattr(mm, name), getattr(math, name)), name
    assert mm.nan != mm.nan


def test_exact_results() -> None:
    """Results that are exact numbers come out exact."""
    for k in range(-1074, 1024):
        assert mm.log2(2.0**k) == k
        assert mm.exp2(float(k)) == 2.0**k
    for k in range(0, 23):
        assert mm.log10(10.0**k) == k
    for n in range(1, 24):
        assert mm.gamma(float(n)) == math.factorial(n - 1)
    assert mm.lgamma(1.0) == 0.0 and mm.lgamma(2.0) == 0.0
    assert mm.cbrt(27.0) == 3.0 and mm.cbrt(-0.125) == -0.5
    assert mm.pow(2.0, 10.0) == 1024.0 and mm.pow(9.0, 0.5) == 3.0
    assert mm.hypot(3.0, 4.0) == 5.0


# =========================================================================== agreement with CPython
#
# The fraction of a fixed pseudo-random sample (300 arguments per function) on which
# mathmod's result differs from CPython's (glibc's, or CPython's own for gamma and
# lgamma) in any bit. The tests above check that every such difference is mathmod
# being correctly rounded; these bounds, set from rates measured on 2000 arguments,
# keep the differences from creeping up.

AGREEMENT = {
    # glibc is correctly rounded here but for rare misroundings
    "exp": 0.01, "exp2": 0.01, "log": 0.01, "log2": 0.01, "log10": 0.01, "sin": 0.01, "cos": 0.01,
    "tan": 0.015, "atan": 0.01, "asin": 0.01, "acos": 0.01, "atan2": 0.01, "pow": 0.01, "hypot": 0.01,
    "cosh": 0.02, "sinh": 0.02,
    # glibc within 1-2 ulp (measured: expm1 6%, log1p 3%, tanh 2.5%, erf 1.7%, acosh 5.7%,
    # asinh 13%, atanh 20%, erfc 32%, cbrt 53%); CPython's own Lanczos gamma 65%, lgamma 39%
    "expm1": 0.12, "log1p": 0.07, "tanh": 0.06, "erf": 0.05, "acosh": 0.12, "asinh": 0.2,
    "atanh": 0.3, "erfc": 0.42, "cbrt": 0.65, "gamma": 0.75, "lgamma": 0.5,
}


def sample_argument(name: str, rng: random.Random) -> tuple[float, ...]:
    """Arguments spread over each function's interesting range."""
    lo_hi = {
        "exp": (-745, 709), "exp2": (-1074, 1023), "expm1": (-40, 40), "sinh": (-710, 710),
        "cosh": (-710, 710), "tanh": (-20, 20), "asin": (-1, 1), "acos": (-1, 1), "atanh": (-1, 1),
        "erf": (-6, 6), "erfc": (-6, 27), "gamma": (-170, 171), "lgamma": (-100, 1000),
        "acosh": (1, 1000), "log1p": (-1, 100),
    }
    if name in ("log", "log2", "log10"):
        return (10.0 ** rng.uniform(-307, 308),)
    if name in ("sin", "cos", "tan", "atan", "asinh", "cbrt"):
        return (rng.uniform(-1, 1) * 10.0 ** rng.uniform(-3, 6 if name != "tan" else 3),)
    if name in ("pow",):
        return (10.0 ** rng.uniform(-5, 5), rng.uniform(-60, 60))
    if name in ("atan2", "hypot"):
        return (rng.uniform(-100, 100), rng.uniform(-100, 100))
    lo, hi = lo_hi[name]
    return (rng.uniform(lo, hi),)


def differ_rate(name: str, n: int) -> float:
    rng = random.Random(20240611)
    differ = 0
    for _ in range(n):
        args = sample_argument(name, rng)
        got = outcome(getattr(mm, name), *args)
        if not same_outcome(got, outcome(getattr(math, name), *args)):
            differ += 1
    return differ / n


@pytest.mark.parametrize("name", sorted(AGREEMENT))
def test_agreement_with_cpython(name: str) -> None:
    rate = differ_rate(name, 300)
    assert rate <= AGREEMENT[name], f"{name}: {rate:.3%} of results differ from CPython's"
