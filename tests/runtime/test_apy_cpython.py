"""The CPython stand-ins the runtime tests rely on: the _machine shim, the subset
check and the int64 guard. If these were wrong, the numfmt/fmath tests could
pass on code that the compiled runtime would run differently."""

from __future__ import annotations

import ast
import math

import pytest

from apy_cpython import guard_int64, load_runtime, load_source, subset_problems

import _machine as m  # noqa: E402,I001  (importable once apy_cpython put runtime/pyshim on sys.path)


# =========================================================================== _machine shim


def test_loads_and_stores_are_little_endian_and_signed_only_for_load64():
    a = m.static_buffer(16)
    m.store64(a, -2)
    assert m.load64(a) == -2
    assert m.load32(a) == 0xFFFFFFFE
    assert m.load16(a + 2) == 0xFFFF
    assert m.load8(a) == 0xFE
    m.store32(a + 8, 0x1_2345_6789)  # only the low 32 bits are stored
    assert m.load32(a + 8) == 0x2345_6789
    m.store64(a, 2**64 - 1)  # the low 64 bits of a too-large value
    assert m.load64(a) == -1


def test_static_buffers_are_zeroed_aligned_and_disjoint():
    a, b = m.static_buffer(5), m.static_buffer(5)
    assert a % 16 == 0 and b % 16 == 0 and b >= a + 5
    assert m.read_bytes(a, 5) == bytes(5)


def test_out_of_bounds_access_faults():
    with pytest.raises(MemoryError):
        m.load8(0)
    with pytest.raises(MemoryError):
        m.store64(m.MEMORY_SIZE - 4, 1)


def test_float_bits():
    assert m.f64_bits(-0.0) == -(2**63)
    assert m.f64_bits(1.0) == 0x3FF0000000000000
    assert m.f64_from_bits(0x7FF0000000000000) == math.inf
    assert m.f64_from_bits(-(2**63)) == 0.0 and math.copysign(1, m.f64_from_bits(-(2**63))) == -1


def test_64_bit_integer_intrinsics():
    assert m.wrap_add(2**63 - 1, 1) == -(2**63)
    assert m.wrap_sub(-(2**63), 1) == 2**63 - 1
    assert m.wrap_mul(2**62, 4) == 0
    assert m.umulhi(-1, -1) == -2  # (2**64-1)**2 >> 64 == 2**64 - 2
    assert m.umulhi(2**32, 2**32) == 1
    assert m.udiv(-1, 2) == 2**63 - 1
    assert m.urem(-1, 10) == (2**64 - 1) % 10
    assert m.lshr(-1, 60) == 15
    assert m.lshr(-1, 64) == 0
    with pytest.raises(ZeroDivisionError):
        m.udiv(1, 0)


def test_memcpy_overlapping_memset_and_sqrt():
    a = m.static_buffer(8)
    m.memset(a, 0x41, 4)
    m.memcpy(a + 1, a, 4)
    assert m.read_bytes(a, 6) == b"AAAAA\x00"
    assert m.sqrt(2.0) == math.sqrt(2.0)
    assert math.isnan(m.sqrt(-1.0))
    assert math.copysign(1, m.sqrt(-0.0)) == -1


# =========================================================================== subset check


@pytest.mark.parametrize("name", ["numfmt", "fmath"])
def test_runtime_modules_stay_in_the_subset(name):
    load_runtime(name)  # asserts that the subset check finds nothing


BAD = '''
from _machine import load8, printf
X: int = 3
Y: float = X
S: str = "a"
def f(a: int, b) -> int:
    c = a + 1.5
    d = 1
    d = 2.0
    if a:
        return 1.0
    e = [1]
    raise ValueError("x" + "y")
def h(n: int) -> bool:
    for i in range(n):
        pass
    return 1 < n < 3
'''


def test_subset_check_reports_each_violation():
    problems = "\n".join(subset_problems(ast.parse(BAD)))
    for expected in ["line 2: unknown or renamed intrinsic 'printf'",
                     "line 4: module scalar 'Y' is not a constant float expression",
                     "line 5: annotation must be int, float, bool or None",
                     "line 6: annotation must be int, float, bool or None",
                     "line 7: Add of int and float",
                     "line 9: local 'd' is int, assigned float",
                     "line 10: condition is int, not bool",
                     "line 11: returns float, declared int",
                     "line 12: List expression",
                     "line 13: raise must be",
                     "line 15: for loops must be over range(a, b)",
                     "line 17: chained comparison"]:
        assert expected in problems


# =========================================================================== int64 guard


def test_guard_raises_where_compiled_code_overflows():
    mod = load_source("t", "def f(a: int, b: int) -> int:\n    x = a\n    x += b\n    return x << 1\n", "t.apy")
    assert mod.f(2**61, 2**61 - 1) == 2**63 - 2
    for a, b in [(2**62, 0), (-(2**62) - 1, 0), (2**63 - 1, 1)]:
        with pytest.raises(OverflowError):
            mod.f(a, b)


def test_guard_covers_negation_floor_division_and_int_of_float():
    src = ("def neg(a: int) -> int:\n    return -a\n"
           "def div(a: int) -> int:\n    return a // -1\n"
           "def conv(x: float) -> int:\n    return int(x)\n")
    mod = load_source("t", src, "t.apy")
    for call in (lambda: mod.neg(-(2**63)), lambda: mod.div(-(2**63)), lambda: mod.conv(2.0**63)):
        with pytest.raises(OverflowError):
            call()
    assert mod.neg(-(2**63) + 1) == 2**63 - 1 and mod.conv(-(2.0**63)) == -(2**63)


def test_guard_leaves_float_arithmetic_alone():
    tree = guard_int64(ast.parse("def f(x: float) -> float:\n    return x * 1e300 * 1e300\n"))
    ns: dict = {"__int64": lambda v: v}
    exec(compile(tree, "t", "exec"), ns)
    assert ns["f"](1.0) == math.inf
