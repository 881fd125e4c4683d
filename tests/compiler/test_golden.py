"""The golden corpus: realistic apy programs, run by CPython and compiled, must agree.

In:  tests/golden/NAME.apy -- programs that are valid Python and valid apy,
     using only the first language slice (int, float, bool, None, str basics;
     functions, recursion, globals, if/while/for-range, the arithmetic builtins).
Out: pass/fail per program and target:
     * compiled (hosted: in-process `build_file`, kvm: `applc run -t kvm`) the
       program prints the same stdout bytes and exits with the same status as
       `python NAME.apy`, run inside the test (no .out files to drift), and an
       uncaught exception is named on the last stderr line as CPython names it;
     * `check_file` accepts every program;
     * a few programs also go through the CLI (`applc run`, `applc build`,
       `applc check`), and `applc build -t hosted` makes a static executable.

The corpus is held to the contract, not to a deviation: under CPython, with
apy's int64 and `int ** -n` rules enforced (`progen.instrument_for_apy`),
each program must behave exactly as it does plain. That check, and the shape
of the corpus, run without applc.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import progen

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
PROGRAMS = sorted(GOLDEN.glob("*.apy"))
MIN_PROGRAMS = 30
MIN_LINES, MAX_LINES = 20, 150

# A spread for the CLI tests: plain output, an uncaught exception, float text.
CLI_SAMPLE = ["fizzbuzz", "zero_division_exit", "float_repr"]


def golden(name: str) -> Path:
    return GOLDEN / f"{name}.apy"


# --------------------------------------------------------------------------- compiled vs CPython


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_compiled_matches_cpython(program: Path, target: str, apy, tmp_path: Path) -> None:
    expected = apy.cpython(program)
    actual = apy.compiled(program, target, tmp_path)
    apy.assert_same(expected, actual, f"golden program {program.name} on {target}")


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_checker_accepts(program: Path) -> None:
    from applc.driver.build import check_file

    check_file(str(program))  # raises CompileError, with every diagnostic, if not


# --------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_cli_run_hosted(name: str, apy) -> None:
    expected = apy.cpython(golden(name))
    first = apy.cli("run", "-t", "hosted", str(golden(name)))
    apy.assert_same(expected, first, f"applc run -t hosted {name}.apy")
    again = apy.cli("run", "-t", "hosted", str(golden(name)))  # now from the build cache
    apy.assert_same(expected, again, f"applc run -t hosted {name}.apy (cached)")


def test_cli_build_makes_static_executable(apy, tmp_path: Path) -> None:
    out = tmp_path / "fizzbuzz"
    built = apy.cli("build", str(golden("fizzbuzz")), "-t", "hosted", "-o", str(out))
    assert built.status == 0, built.describe()
    assert_static_x86_64_elf(out.read_bytes())
    apy.assert_same(apy.cpython(golden("fizzbuzz")), apy.run_executable(out), "applc build -t hosted")


def test_cli_check_accepts(apy) -> None:
    result = apy.cli("check", str(golden("gcd_lcm")))
    assert (result.status, result.stderr) == (0, b""), result.describe()


PT_INTERP = 3


def assert_static_x86_64_elf(image: bytes) -> None:
    """A 64-bit little-endian x86-64 executable with no program interpreter."""
    assert image[:4] == b"\x7fELF" and image[4] == 2 and image[5] == 1, "not a 64-bit LE ELF file"
    e_type, e_machine = struct.unpack_from("<HH", image, 16)
    assert e_type in (2, 3) and e_machine == 0x3E, f"e_type {e_type}, e_machine {e_machine:#x}"
    (e_phoff,) = struct.unpack_from("<Q", image, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", image, 54)
    kinds = [struct.unpack_from("<I", image, e_phoff + i * e_phentsize)[0] for i in range(e_phnum)]
    assert e_phnum > 0 and PT_INTERP not in kinds, f"program header types {kinds}: not static"


# --------------------------------------------------------------------------- the corpus itself


def test_corpus_shape() -> None:
    assert len(PROGRAMS) >= MIN_PROGRAMS, f"{len(PROGRAMS)} golden programs, want {MIN_PROGRAMS}"
    for program in PROGRAMS:
        lines = program.read_text().count("\n")
        assert MIN_LINES <= lines <= MAX_LINES, f"{program.name}: {lines} lines"
    for name in CLI_SAMPLE:
        assert golden(name).exists(), name


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_corpus_relies_on_no_deviation(program: Path, apy, tmp_path: Path) -> None:
    """The program never leaves int64 nor raises an int to a negative power:
    with apy's rules enforced, CPython behaves exactly as without them."""
    plain = apy.cpython(program)
    modelled = tmp_path / program.name
    modelled.write_text(progen.instrument_for_apy(program.read_text(), str(program)))
    checked = apy.cpython(modelled)
    observed = (checked.stdout, checked.status, checked.exc_type)
    assert observed == (plain.stdout, plain.status, plain.exc_type), (
        f"{program.name} depends on a deliberate deviation:\n{checked.describe()}"
    )
