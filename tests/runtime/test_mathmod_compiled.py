"""runtime/mathmod.apy compiled by applc (hosted) against the same module under CPython.

test_mathmod.py checks mathmod's logic under CPython with the _machine shim; this
checks that the compiled module computes the very same values: a program does
`import math` and prints every function's results on a fixed set of arguments,
and the same calls go through rtload. The expected text is repr() of mathmod's
results, not of CPython's math module: they are the same except in the last bit
of some transcendental results (see test_mathmod.AGREEMENT), and float repr is
exact, so equal text means equal bits.
"""

from __future__ import annotations

import math
import random
import subprocess
from pathlib import Path

import rtload

mm = rtload.load("mathmod")

ONE_ARG = {
    "sqrt": (0.0, 1e300), "exp": (-745.0, 709.0), "expm1": (-40.0, 40.0), "exp2": (-1074.0, 1023.0),
    "log": (1e-300, 1e300), "log2": (1e-300, 1e300), "log10": (1e-300, 1e300), "log1p": (-0.99, 1e10),
    "sin": (-1e6, 1e6), "cos": (-1e6, 1e6), "tan": (-1e3, 1e3), "asin": (-1.0, 1.0), "acos": (-1.0, 1.0),
    "atan": (-50.0, 50.0), "sinh": (-700.0, 700.0), "cosh": (-700.0, 700.0), "tanh": (-20.0, 20.0),
    "asinh": (-1e5, 1e5), "acosh": (1.0, 1e5), "atanh": (-0.999, 0.999), "erf": (-6.0, 6.0),
    "erfc": (-6.0, 27.0), "gamma": (-170.5, 171.0), "lgamma": (-100.5, 1e5), "cbrt": (-1e5, 1e5),
    "fabs": (-1e300, 1e300), "degrees": (-1e5, 1e5), "radians": (-1e5, 1e5), "modf_frac": (-1e20, 1e20),
    "modf_int": (-1e20, 1e20), "frexp_mant": (-1e300, 1e300),
}
TWO_ARG = {"atan2": (-10.0, 10.0), "hypot": (-1e200, 1e200), "pow": (0.0, 30.0), "fmod": (-1e10, 1e10),
           "remainder": (-1e10, 1e10), "copysign": (-5.0, 5.0)}
# Payne-Hanek arguments, and values that go through subnormal rounding
EXTRA_ONE = {"sin": [1e300, 6381956970095103.0 * 2.0**797, 2.0**19], "cos": [1e22, 1.7976931348623157e308],
             "tan": [5.319372648326541e255], "exp": [-744.0, -709.5], "erfc": [27.2], "gamma": [-171.5, -177.5],
             "lgamma": [1e300, -2.5], "log": [5e-324, 2.2250738585072014e-308]}
INT_CALLS = [("gcd", (-(2**63), 6)), ("gcd", (1071, 462)), ("lcm", (-4, 6)), ("isqrt", (2**63 - 1,)),
             ("isqrt", (10**18,)), ("factorial", (20,)), ("comb", (66, 33)), ("comb", (4294967296, 2)),
             ("perm", (30, 12)), ("floor", (-2.5,)), ("ceil", (-2.5,)),
             ("trunc", (-2.5,)), ("floor", (-9.2e18,))]
FSUM_ITEMS = [1e16, 1.0, 1e-16, -1e16, 0.1, 0.2, 0.3, 1e308, -1e308, 3.5e-300]


def calls() -> list[tuple[str, tuple]]:
    rng = random.Random(7)
    out: list[tuple[str, tuple]] = []
    for name, (lo, hi) in ONE_ARG.items():
        out += [(name, (rng.uniform(lo, hi),)) for _ in range(12)]
        out += [(name, (x,)) for x in EXTRA_ONE.get(name, [])]
    for name, (lo, hi) in TWO_ARG.items():
        out += [(name, (rng.uniform(lo, hi), rng.uniform(lo, hi))) for _ in range(12)]
    out += [("ldexp", (rng.uniform(-2, 2), rng.randint(-1100, 1000))) for _ in range(12)]
    return out


def literal(v) -> str:
    """v as apy source (the literal 9223372036854775808 does not fit in an int64)."""
    return "(-9223372036854775807 - 1)" if v == -(2**63) else repr(v)


def python_call(name: str, args: tuple) -> str:
    """The math call that mathmod's `name` implements, as source text."""
    text = ", ".join(literal(a) for a in args)
    if name in ("modf_frac", "modf_int"):
        return f"math.modf({text})[{0 if name == 'modf_frac' else 1}]"
    if name == "frexp_mant":
        return f"math.frexp({text})"
    return f"math.{name}({text})"


def expected_value(name: str, args: tuple):
    if name == "frexp_mant":
        return (mm.frexp_mant(*args), mm.frexp_exp(*args))
    return getattr(mm, name)(*args)


def program(float_calls: list[tuple[str, tuple]]) -> str:
    lines = ["import math", ""]
    for name, args in float_calls + INT_CALLS:
        lines.append(f"print({python_call(name, args)})")
    lines.append(f"print(math.fsum({FSUM_ITEMS!r}))")
    return "\n".join(lines) + "\n"


def expected_output(float_calls: list[tuple[str, tuple]]) -> str:
    out = [str(expected_value(n, a)) for n, a in float_calls + INT_CALLS]
    out.append(repr(math.fsum(FSUM_ITEMS)))  # fsum is exact: mathmod's equals CPython's
    return "\n".join(out) + "\n"


def test_compiled_equals_mathmod_under_cpython(tmp_path: Path) -> None:
    from applc.driver.build import build_file

    float_calls = calls()
    src = tmp_path / "mathcalls.apy"
    src.write_text(program(float_calls))
    exe = tmp_path / "mathcalls"
    build_file(str(src), target="hosted", out=str(exe))
    run = subprocess.run([str(exe)], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr.decode()
    got = run.stdout.decode().splitlines()
    expected = expected_output(float_calls).splitlines()
    assert len(got) == len(expected)
    labels = [python_call(n, a) for n, a in float_calls + INT_CALLS] + ["fsum"]
    diffs = [(lab, g, x) for lab, g, x in zip(labels, got, expected) if g != x]
    assert not diffs, diffs[:10]
