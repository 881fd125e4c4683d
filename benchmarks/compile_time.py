"""Compile-time benchmark: how long applc takes to build a ~200-line program.

In:  benchmarks/cpu/big.apy (or the file given).
Out: on stdout, the best and median seconds of N in-process builds
     (`applc.driver.build.build_file`, target hosted, cache disabled), split
     into checking (`check_file`: parse + type check, runtime included) and the
     rest (lowering, LLVM optimisation and code generation, linking).
     The builds are warm: imports, LLVM initialisation and the first build
     are done before timing, so the numbers are what an edit-build loop pays.
     Only the image cache is disabled; the runtime's cached parse trees are
     used, as in every build. "rest" is each build minus the best check.
     The built executable must print what CPython prints, or exit status 1.

    python3 benchmarks/compile_time.py [FILE] [-n 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_PROGRAM = Path(__file__).resolve().parent / "cpu" / "big.apy"
RUN_TIMEOUT = 120.0


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def same_output_as_cpython(program: Path, exe: Path) -> bool:
    compiled = subprocess.run([str(exe)], capture_output=True, timeout=RUN_TIMEOUT)
    reference = subprocess.run([sys.executable, str(program)], capture_output=True, timeout=RUN_TIMEOUT)
    return (compiled.stdout, compiled.returncode) == (reference.stdout, reference.returncode)


def summary(label: str, samples: list[float]) -> str:
    return f"{label:<28} best {min(samples):.3f} s   median {statistics.median(samples):.3f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("program", nargs="?", type=Path, default=DEFAULT_PROGRAM)
    ap.add_argument("-n", "--runs", type=int, default=5)
    args = ap.parse_args(argv)
    try:
        from applc.driver.build import build_file, check_file
    except ImportError as e:
        print(f"compile_time: applc is not installed ({e}); run `pip install -e .`", file=sys.stderr)
        return 2

    program = args.program.resolve()
    lines = program.read_text().count("\n")
    with tempfile.TemporaryDirectory(prefix="applc-ctime-") as tmp:
        exe = Path(tmp) / program.stem
        build_file(program, target="hosted", out=exe, use_cache=False)  # warm-up
        if not same_output_as_cpython(program, exe):
            print(f"compile_time: compiled {program.name} prints other output than CPython", file=sys.stderr)
            return 1
        builds = [timed(build_file, program, "hosted", exe, use_cache=False) for _ in range(args.runs)]
        checks = [timed(check_file, program) for _ in range(args.runs)]

    rest = [b - min(checks) for b in builds]
    print(f"{program.name}: {lines} lines, {args.runs} warm in-process builds, cache disabled")
    print(summary("build_file (whole build)", builds))
    print(summary("check_file (parse + check)", checks))
    print(summary("rest: lower + LLVM + link", rest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
