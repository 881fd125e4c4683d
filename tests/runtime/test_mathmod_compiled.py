"""runtime/mathmod.apy compiled by applc (hosted) against the same module under CPython.

test_mathmod.py checks mathmod's logic under CPython with the _machine shim; this
checks that the compiled module computes the very same bits: one privileged
program (it imports mathmod and _machine directly, as runtime code does) calls
every function on a fixed set of arguments and prints the results' bit patterns,
and the same calls are made through rtload. Until the compiler maps `import math`
onto mathmod, a program can reach mathmod only this way: the test marks its main
module privileged and asks for mathmod as an extra runtime module
(APPLC_EXTRA_RUNTIME); a `privileged` option of build_file would make this cleaner.
"""

from __future__ import annotations

import math
import random
import struct
import subprocess
from pathlib import Path

import pytest

import rtload  # noqa: I001  (puts runtime/pyshim on sys.path for _machine)
import _machine

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
             ("perm", (30, 12)), ("frexp_exp", (1e-310,)), ("floor", (-2.5,)), ("ceil", (-2.5,)),
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


def signed_bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


def literal(v) -> str:
    """v as apy source (the literal 9223372036854775808 does not fit in an int64)."""
    return "(-9223372036854775807 - 1)" if v == -(2**63) else repr(v)


def program(float_calls: list[tuple[str, tuple]]) -> str:
    """A privileged apy program printing one int per call: the result's bits."""
    names = sorted({n for n, _ in float_calls} | {n for n, _ in INT_CALLS} | {"fsum"})
    lines = [f"from mathmod import {', '.join(names)}",
             "from _machine import f64_bits, static_buffer, store64", "",
             "LIST: int = static_buffer(32)", f"ITEMS: int = static_buffer({8 + 8 * len(FSUM_ITEMS)})", ""]
    for name, args in float_calls:
        lines.append(f"print(f64_bits({name}({', '.join(literal(a) for a in args)})))")
    for name, args in INT_CALLS:
        lines.append(f"print({name}({', '.join(literal(a) for a in args)}))")
    # fsum over a list object laid out as docs/runtime-abi.md says
    lines += ["store64(LIST, 4 | 65536)", f"store64(LIST + 8, {len(FSUM_ITEMS)})",
              f"store64(LIST + 16, {len(FSUM_ITEMS)})", "store64(LIST + 24, ITEMS)", "store64(ITEMS, 10)"]
    for i, x in enumerate(FSUM_ITEMS):
        lines.append(f"store64(ITEMS + {8 + 8 * i}, {signed_bits(x)})")
    lines.append("print(f64_bits(fsum(LIST)))")
    return "\n".join(lines) + "\n"


def expected_output(float_calls: list[tuple[str, tuple]]) -> str:
    out = [str(signed_bits(getattr(mm, n)(*a))) for n, a in float_calls]
    out += [str(getattr(mm, n)(*a)) for n, a in INT_CALLS]
    lst = _machine.static_buffer(32)
    items = _machine.static_buffer(8 + 8 * len(FSUM_ITEMS))
    for addr, v in [(lst, 4 | 65536), (lst + 8, len(FSUM_ITEMS)), (lst + 16, len(FSUM_ITEMS)),
                    (lst + 24, items), (items, 10)]:
        _machine.store64(addr, v)
    for i, x in enumerate(FSUM_ITEMS):
        _machine.store64(items + 8 + 8 * i, signed_bits(x))
    out.append(str(signed_bits(mm.fsum(lst))))
    assert mm.fsum(lst) == math.fsum(FSUM_ITEMS)
    return "\n".join(out) + "\n"


@pytest.fixture
def privileged_build(monkeypatch: pytest.MonkeyPatch):
    """applc's build driver with mathmod linked in and __main__ privileged."""
    from applc.check import types as t
    from applc.driver import build

    monkeypatch.setenv("APPLC_EXTRA_RUNTIME", "mathmod")
    # the program imports only runtime modules: no user modules to look for
    monkeypatch.setattr(build, "_load_imports", lambda *args: None)
    plain = build.load_program

    def load_program(path: Path) -> list[t.ModuleInfo]:
        modules = plain(path)
        main = modules[-1]
        modules[-1] = t.ModuleInfo(main.name, main.path, main.tree, privileged=True)
        return modules

    monkeypatch.setattr(build, "load_program", load_program)
    return build


def test_compiled_bits_equal_cpython_bits(privileged_build, tmp_path: Path) -> None:
    float_calls = calls()
    src = tmp_path / "mathcalls.apy"
    src.write_text(program(float_calls))
    exe = tmp_path / "mathcalls"
    privileged_build.build_file(str(src), target="hosted", out=str(exe), use_cache=False)
    run = subprocess.run([str(exe)], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr.decode()
    got = run.stdout.decode().splitlines()
    expected = expected_output(float_calls).splitlines()
    assert len(got) == len(expected)
    labels = [f"{n}{a}" for n, a in float_calls] + [f"{n}{a}" for n, a in INT_CALLS] + ["fsum"]
    diffs = [(lab, g, x) for lab, g, x in zip(labels, got, expected) if g != x]
    assert not diffs, diffs[:10]
