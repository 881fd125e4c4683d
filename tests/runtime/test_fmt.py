"""runtime/fmt.apy under CPython against format() itself: same text, same exceptions.

Specs are built from the grammar's parts -- every fill (including '0', '{' and
non-ASCII ones), alignment, sign, z, #, the 0 flag, width, grouping, precision
and type, each present or not -- so that valid and invalid combinations both
come up, plus arbitrary short texts for the parser's error paths. Values: ints
over all of int64, floats of every kind (subnormal, huge, ties, nan, infinities,
signed zeros), and texts.
"""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import rtload
from rtload import make_str, read_str

F = rtload.load("fmt")

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def many(n: int):
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(fn):
    try:
        return "ok", fn()
    except Exception as e:  # noqa: BLE001 -- the exception is the outcome compared
        return type(e).__name__, str(e)


def check(value, spec, runtime_fn, arg=lambda v: v):
    """format(value, spec) against runtime_fn(arg(value), spec object)."""
    rtload.reset_heap()
    want = outcome(lambda: format(value, spec))
    got = outcome(lambda: runtime_fn(arg(value), make_str(spec)))
    if got[0] == "ok":
        got = ("ok", read_str(got[1]))
    assert got == want, (value, spec)


def opt(strategy):
    return st.one_of(st.just(""), strategy)


specs = st.builds(
    lambda fill_align, sign, z, alt, zero, width, group, prec, typ: (
        fill_align + sign + z + alt + zero + width + group + prec + typ),
    opt(st.builds(lambda f, a: f + a, opt(st.sampled_from(["*", "0", " ", "é", "{", "😀", "<", "x"])),
                  st.sampled_from(["<", ">", "=", "^"]))),
    opt(st.sampled_from(["+", "-", " "])),
    opt(st.just("z")),
    opt(st.just("#")),
    opt(st.just("0")),
    opt(st.one_of(st.integers(0, 25).map(str), st.just("٣"))),
    opt(st.sampled_from([",", "_", ",_", "_,"])),
    opt(st.one_of(st.integers(0, 20).map(lambda p: f".{p}"), st.just("."), st.just(".60"))),
    opt(st.sampled_from(list("bcdoxXneEfFgG%s") + ["r", "é", "\x01", "dd"])),
)
any_specs = st.one_of(specs, specs, st.text(alphabet="0123456789<>=^+- z#,_.bcdeEfFgGnosxX%é", max_size=6))

ints = st.one_of(st.integers(INT64_MIN, INT64_MAX), st.integers(-100000, 100000),
                 st.sampled_from([0, 1, -1, 255, 0x10FFFF, 0x110000, INT64_MIN, INT64_MAX, 10**15, 2**53 + 1]))
any_bits = st.integers(0, 2**64 - 1).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0])
floats = st.one_of(
    st.floats(), any_bits,
    st.floats(-1e6, 1e6),
    st.builds(lambda k, d: float(f"{k}5e-{d}"), st.integers(0, 10**6), st.integers(0, 8)),
    st.sampled_from([0.0, -0.0, 1e16, 1e-5, 9.5, 0.5, 1.5, 2.5, 123.456, 1e300 * 10, math.nan, -math.nan,
                     5e-324, 1.7976931348623157e308, 0.1, 99.99, 999999.5, 1e22]),
)
texts = st.one_of(st.text(max_size=8), st.text(alphabet="ab é😀", max_size=8))


@many(5000)
@given(ints, any_specs)
@example(1234, "010,")
@example(-1234, "=+12_")
@example(0x10FFFF, "c")
@example(0x110000, "c")
@example(-255, "#010x")
@example(12345, "_b")
@example(INT64_MIN, ",")
@example(5, ".2%")
@example(2**53 + 1, ".0f")
def test_format_int(v, spec):
    check(v, spec, F.format_int)


@many(6000)
@given(floats, any_specs)
@example(float("inf"), "010")
@example(1e16, "#")
@example(float("nan"), "+")
@example(-0.0, "z")
@example(-0.0001, "z.2f")
@example(123.0, "#.3g")
@example(1.0, ".3")
@example(0.0, "#.0e")
@example(1e300, ".400f")
@example(5e-324, ".800e")
@example(12345.678, "0=20,.2f")
def test_format_float(x, spec):
    check(x, spec, F.format_float)


@many(3000)
@given(texts, any_specs)
@example("abc", "=5")
@example("héllo", "é^11.3")
def test_format_str(s, spec):
    check(s, spec, F.format_str, make_str)


@pytest.mark.parametrize("spec", ["", "10", "<", "5,"])
def test_empty_and_simple_specs(spec):
    check(42, spec, F.format_int)
    check(0.1, spec, F.format_float)
    check("ab", spec, F.format_str, make_str)
