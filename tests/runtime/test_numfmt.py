"""runtime/numfmt.apy under CPython against CPython itself: every result bit-exact.

The module runs int64-guarded (tests/runtime/apy_cpython.py), so an int
operation that would overflow in the compiled runtime fails these tests too.
Inputs: hypothesis floats (all bit patterns, subnormals, powers of two, ties),
ints at the int64 edges, ndigits in [-330, 330], and hand-picked cases.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apy_cpython import load_runtime, memory_buffer, read_ascii, write_ascii

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

nf = load_runtime("numfmt")
OUT = memory_buffer(1 << 16)


def many(n: int):
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bits_of(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def float_of(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def same_float(a: float, b: float) -> bool:
    """Identical doubles: same bits, except that any two NaNs are the same."""
    return bits_of(a) == bits_of(b) or (a != a and b != b)


# Every kind of double: hypothesis' own float strategy (which favours edge
# cases), uniformly random bit patterns, and signed powers of two.
any_bits = st.integers(0, 2**64 - 1).map(float_of)
powers_of_two = st.builds(lambda s, k: s * math.ldexp(1.0, k), st.sampled_from([1.0, -1.0]), st.integers(-1074, 1023))
subnormals = st.builds(lambda s, m: s * m * 5e-324, st.sampled_from([1.0, -1.0]), st.integers(1, 2**52 - 1))
doubles = st.one_of(st.floats(), any_bits, powers_of_two, subnormals)
finite = st.one_of(st.floats(allow_nan=False, allow_infinity=False), any_bits.filter(math.isfinite),
                   powers_of_two, subnormals)
# decimals with a final 5: x.xx5 is a tie in decimal, but as a double it is a little
# above or below (or exactly on it): rounding must look at the exact value
decimal_fives = st.builds(lambda k, d, s: s * float(f"{k}5e-{d + 1}"), st.integers(0, 10**12),
                          st.integers(0, 20), st.sampled_from([1.0, -1.0]))
moderate = st.one_of(st.floats(-1e6, 1e6), decimal_fives, st.integers(-2**55, 2**55).map(lambda k: k / 2))

EDGE_FLOATS = [
    0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.3, 0.1 + 0.2, 1 / 3, 2 / 3, 0.5, 1.5, 2.5, 0.125, 0.375, 2.675,
    1e16, 9999999999999998.0, 1e-4, 9.999999999999999e-5, 1e-5, 1e22, 1e23, 5e-324, 1e-323,
    2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308, 4.35, 0.035, 1e100,
    123456789012345678.0, 2.0**52, 2.0**53, 2.0**53 + 2, 2.0**63, -(2.0**63), 2.0**64, 9007199254740993.0,
    math.pi, math.e, float("inf"), float("-inf"), float("nan"), -float("nan"), 1e-7, 5e-5, 0.00015,
]


def text(fn, *args) -> str:
    return read_ascii(OUT, fn(*args, OUT))


def parse(s: str) -> float:
    return nf.parse_float(OUT, write_ascii(OUT, s))


def outcome(fn, *args):
    """The result, or the exception's type and message (to compare failures too)."""
    try:
        return "ok", fn(*args)
    except (ValueError, OverflowError, ZeroDivisionError) as e:
        return type(e).__name__, str(e)


# =========================================================================== ints


@many(2000)
@given(st.one_of(st.integers(INT64_MIN, INT64_MAX), st.sampled_from([0, 1, -1, 9, 10, -10, INT64_MIN, INT64_MAX,
                                                                     INT64_MIN + 1, 10**18, -(10**18)])))
def test_fmt_int(v):
    assert text(nf.fmt_int, v) == str(v)


@many(2000)
@given(st.integers(INT64_MIN, INT64_MAX), st.sampled_from([2, 8, 16]))
@example(INT64_MIN, 2)
@example(INT64_MIN, 16)
@example(0, 2)
@example(-1, 8)
def test_fmt_int_radix(v, base):
    expected = {2: bin, 8: oct, 16: hex}[base](v)
    assert text(nf.fmt_int_radix, v, base) == expected


def test_fmt_int_radix_rejects_other_bases():
    with pytest.raises(ValueError):
        nf.fmt_int_radix(5, 10, OUT)


# =========================================================================== repr


@pytest.mark.parametrize("x", EDGE_FLOATS)
def test_repr_edges(x):
    assert text(nf.fmt_float_repr, x) == repr(x)


@many(2000)
@given(doubles)
def test_repr(x):
    assert text(nf.fmt_float_repr, x) == repr(x)


def test_repr_binade_edges():
    """Powers of two (every third binade), where the rounding interval is
    asymmetric, and some of their neighbours."""
    for k in range(-1074, 1024, 3):
        p = math.ldexp(1.0, k)
        near = (math.nextafter(p, 0.0), math.nextafter(p, math.inf)) if k % 15 == 0 else ()
        for x in (p, *near):
            if math.isfinite(x):
                assert text(nf.fmt_float_repr, x) == repr(x), x


# =========================================================================== '%f', '%e', '%g'


@many(1500)
@given(doubles, st.integers(0, 120))
def test_fixed(x, prec):
    assert text(nf.fmt_float_fixed, x, prec) == "%.*f" % (prec, x)


@many(1500)
@given(doubles, st.integers(0, 120))
def test_exp(x, prec):
    assert text(nf.fmt_float_exp, x, prec) == "%.*e" % (prec, x)


@many(1500)
@given(doubles, st.integers(0, 40))
def test_general(x, prec):
    assert text(nf.fmt_float_general, x, prec) == "%.*g" % (prec, x)


@many(1000)
@given(moderate, st.integers(0, 25))
def test_fixed_exp_general_of_ties(x, prec):
    """Values that sit on or next to a decimal tie at the printed precision."""
    assert text(nf.fmt_float_fixed, x, prec) == "%.*f" % (prec, x)
    assert text(nf.fmt_float_exp, x, prec) == "%.*e" % (prec, x)
    assert text(nf.fmt_float_general, x, prec) == "%.*g" % (prec, x)


@pytest.mark.parametrize("x", EDGE_FLOATS + [99999.5, 999999.5, 0.00009999995, 9.9999, 1234567.0])
@pytest.mark.parametrize("prec", [0, 1, 2, 3, 6, 16, 17, 30])
def test_fixed_exp_general_edges(x, prec):
    assert text(nf.fmt_float_fixed, x, prec) == "%.*f" % (prec, x)
    assert text(nf.fmt_float_exp, x, prec) == "%.*e" % (prec, x)
    assert text(nf.fmt_float_general, x, prec) == "%.*g" % (prec, x)


@pytest.mark.parametrize("x", [5e-324, -5e-324, 1.7976931348623157e308, 0.1, 2.0**-1022, 1e-300])
@pytest.mark.parametrize("prec", [760, 767, 768, 800, 1074, 1100])
def test_every_digit_of_a_double(x, prec):
    """Beyond its last significant digit a double prints zeros, however long."""
    assert text(nf.fmt_float_fixed, x, prec) == "%.*f" % (prec, x)
    assert text(nf.fmt_float_exp, x, prec) == "%.*e" % (prec, x)
    assert text(nf.fmt_float_general, x, prec) == "%.*g" % (prec, x)


def test_negative_precision_is_refused():
    with pytest.raises(ValueError):
        nf.fmt_float_fixed(1.0, -1, OUT)
    with pytest.raises(ValueError):
        nf.fmt_float_exp(1.0, -1, OUT)
    with pytest.raises(ValueError):
        nf.fmt_float_general(1.0, -1, OUT)


# =========================================================================== round()


def round_outcome(x: float, nd: int):
    status, value = outcome(round, x, nd)
    return status, (bits_of(value) if status == "ok" else value)


def check_round(x: float, nd: int):
    status, value = outcome(nf.round_float, x, nd)
    got = (status, bits_of(value) if status == "ok" else value)
    expected = round_outcome(x, nd)
    if expected[0] == "ok" and math.isnan(x):
        assert status == "ok" and math.isnan(value)
    else:
        assert got == expected, (x, nd)


@many(2000)
@given(doubles, st.integers(-330, 330))
def test_round_float(x, nd):
    check_round(x, nd)


@many(1500)
@given(moderate, st.integers(-8, 22))
def test_round_float_near_ties(x, nd):
    check_round(x, nd)


@pytest.mark.parametrize("x, nd", [
    (2.675, 2), (0.125, 2), (0.375, 2), (2.5, 0), (3.5, 0), (-0.5, 0), (-0.4, 0), (150.0, -2), (250.0, -2),
    (1.7976931348623157e308, -308), (1.5e308, -308), (1.5e308, -309), (-1.5e308, -308), (5e-324, 323),
    (5e-324, 324), (1e-320, 320), (0.5, 400), (123.456, -400), (-123.456, -400), (0.0, 5), (-0.0, -5),
    (float("inf"), 2), (float("-inf"), -2), (float("nan"), 0), (1e22, -22), (5e22, -23), (4.5e22, -23),
])
def test_round_float_edges(x, nd):
    check_round(x, nd)


def test_round_float_overflow_message():
    with pytest.raises(OverflowError, match="rounded value too large to represent"):
        nf.round_float(1.7976931348623157e308, -308)


# =========================================================================== round(x), int(x)


def int_outcome(fn, x: float):
    """CPython's result, with apy's rule that results outside int64 overflow."""
    status, value = outcome(fn, x)
    if status == "ok" and not INT64_MIN <= value <= INT64_MAX:
        return "OverflowError", "int too large to convert"
    return status, value


halves = st.integers(-(2**53), 2**53).map(lambda k: k / 2)
near_int64_edge = st.integers(-(2**10), 2**10).map(lambda k: float(2**63 + k * 2**11) * (-1) ** (k & 1))
to_int_inputs = st.one_of(doubles, halves, near_int64_edge, st.floats(-1e20, 1e20))

INT_EDGES = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 4503599627370495.5, 4503599627370497.0,
             -9223372036854775808.0, 9223372036854775808.0, 9223372036854774784.0, -9223372036854777856.0,
             float("inf"), float("-inf"), float("nan"), 5e-324, -0.0, 1e300]


@pytest.mark.parametrize("x0", INT_EDGES)
def test_round_to_int_edges(x0):
    assert outcome(nf.round_to_int, x0) == int_outcome(round, x0)
    assert outcome(nf.float_to_int, x0) == int_outcome(int, x0)


@many(3000)
@given(to_int_inputs)
def test_round_to_int_and_float_to_int(x):
    assert outcome(nf.round_to_int, x) == int_outcome(round, x)
    assert outcome(nf.float_to_int, x) == int_outcome(int, x)


# =========================================================================== float(str)


def check_parse(s: str):
    expected = outcome(float, s)
    got = outcome(parse, s)
    if expected[0] == "ok":
        assert got[0] == "ok" and same_float(got[1], expected[1]), s
    else:
        assert got == ("ValueError", "could not convert string to float"), s


def exact_decimal(q: Fraction) -> str:
    """The finite decimal expansion of q, whose denominator is a power of two."""
    with localcontext() as ctx:
        ctx.prec = 1200
        return str(Decimal(q.numerator) / Decimal(q.denominator))


@st.composite
def midpoints(draw):
    """The exact midpoint between a double and its successor, or just off it."""
    x = draw(st.one_of(any_bits, subnormals, powers_of_two).filter(lambda v: math.isfinite(v) and v > 0))
    up = math.nextafter(x, math.inf)
    mid = (Fraction(x) + Fraction(up)) / 2 if math.isfinite(up) else Fraction(x) + (Fraction(x) - Fraction(
        math.nextafter(x, 0.0))) / 2
    s = exact_decimal(mid)
    nudge = draw(st.sampled_from(["", "", "1", "000000000000000000000001", "below"]))
    if nudge == "below":
        return exact_decimal(mid - Fraction(1, 10**1100))
    if nudge and "E" not in s:
        s = s + nudge if "." in s else s + "." + nudge
    return s


syntax_alphabet = "0123456789_.eE+-iInNfFaAtTyY \t\n\x0b\x0c\r"


@many(2000)
@given(finite)
def test_parse_repr_round_trips(x):
    check_parse(repr(x))


@many(1500)
@given(finite, st.integers(0, 40))
def test_parse_more_digits_than_needed(x, p):
    check_parse("%.*e" % (p, x))


@many(300)
@given(midpoints())
def test_parse_halfway_points(s):
    check_parse(s)


@many(2500)
@given(st.text(syntax_alphabet, max_size=14))
def test_parse_syntax(s):
    check_parse(s)


digitparts = st.lists(st.text("0123456789", min_size=1, max_size=6), min_size=1, max_size=4).map("_".join)


@st.composite
def float_shapes(draw):
    """Text shaped like a float literal: [sign] [digits] [. [digits]] [e [sign] digits],
    digit runs joined by underscores, in whitespace; most of them valid."""
    def maybe(strategy):
        return draw(st.one_of(st.just(""), strategy))

    number = maybe(digitparts) + maybe(st.builds("{}{}".format, st.just("."), st.one_of(st.just(""), digitparts)))
    exponent = maybe(st.builds("{}{}{}".format, st.sampled_from("eE"), st.sampled_from(["", "+", "-"]), digitparts))
    return maybe(st.sampled_from(" \t\n")) + maybe(st.sampled_from("+-")) + number + exponent + maybe(st.just(" "))


@many(700)
@given(float_shapes())
def test_parse_wellformed_shapes(s):
    check_parse(s)


# the largest bignums: 800+ significant digits scaled to the ends of the range
LONG_EXTREMES = ["9" * 900 + "e-1224", "9" * 900 + "e-1100", "1" * 900 + "e-900", "9" * 900 + "e-592",
                 "0." + "0" * 323 + "2" + "9" * 900, "2.4703282292062327" + "9" * 900 + "e-324",
                 "2.4703282292062327" + "0" * 900 + "1e-324", "1.7976931348623158" + "9" * 900 + "e308",
                 "1.7976931348623157" + "9" * 900 + "e308", "1" * 800 + "e-490", "9" * 900 + "e-1124"]


@pytest.mark.parametrize("s", LONG_EXTREMES + [
    "1_000.5", "  -1e1_0\n", "InFiNiTy", "-iNF", "+nan", "-nan", "nan()", "infinit", "1e-400", "1e400",
    "0e999999999999999999999", "1e-99999999999999999999999", "2.4703282292062328e-324",
    "2.4703282292062327e-324", "9007199254740993", "9007199254740993.000000000000000000000000001",
    "1" * 1000, "0." + "0" * 500 + "1", "0" * 400 + "1.5", "1" + "0" * 308, "1" + "0" * 309,
    "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096"
    "330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730"
    "270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791.9999",
    "1.7976931348623158e308", "1.7976931348623159e308", "4.9406564584124654e-324", ".5", "5.", ".", "", " ",
    "e5", "1e", "1e+", "--1", "+-1", "1__0", "_1", "1_", "1_.5", "1._5", "1e_5", "1e5_", "0x10", "1 2",
    "\x0b1.5\x0c", "1.5\x1c",
])
def test_parse_edges(s):
    check_parse(s)
