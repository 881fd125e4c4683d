"""CPU benchmarks: applc's hosted executables against CPython and gcc -O2.

In:  benchmarks/cpu/NAME.apy (also valid Python) and NAME.c (its straightforward
     C twin), for NAME in fib, intloop, floatloop (or the names given).
Out: a table on stdout: the best of N wall-clock seconds for the applc build,
     the C build and CPython, the speedup over CPython and the ratio to C, each
     against its target (>= 50x CPython, <= 1.5x C); and whether all three
     printed the same bytes. Exit status 1 if any outputs differ or a build
     fails, else 0 (a missed target is reported, not an error: this is a
     benchmark, not a test).

    python3 benchmarks/run_cpu.py [NAME ...] [-n 5] [--python-runs 1] [--no-python]

The applc executable is built with the CLI (`applc build -t hosted`), so the
number includes nothing of the compiler. CPython runs once by default: at
50-100x slower than compiled code, one run of each workload takes a minute.
C is compiled with `-O2 -ffp-contract=off`: the C twin then does the same IEEE
operations in the same order as apy and CPython (no fused multiply-add), so
all three must print the same results. gcc is used here only, as a baseline.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CPU = HERE / "cpu"
DEFAULT_BENCHMARKS = ["fib", "intloop", "floatloop"]
TARGET_SPEEDUP = 50.0  # applc vs CPython, at least
TARGET_C_RATIO = 1.5  # applc time / C time, at most
RUN_TIMEOUT = 900.0  # seconds; CPython on the largest workload takes about a minute
BUILD_TIMEOUT = 600.0


class BenchError(Exception):
    pass


def applc_command() -> list[str]:
    script = Path(sys.executable).with_name("applc")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "applc"]


def build_applc(source: Path, out: Path) -> None:
    cmd = applc_command() + ["build", str(source), "-t", "hosted", "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if done.returncode != 0:
        raise BenchError(f"applc build {source.name} failed:\n{done.stderr}")


def build_c(source: Path, out: Path) -> bool:
    """False if there is no gcc here (the C column is then left empty)."""
    if shutil.which("gcc") is None:
        return False
    cmd = ["gcc", "-O2", "-ffp-contract=off", "-o", str(out), str(source)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if done.returncode != 0:
        raise BenchError(f"gcc {source.name} failed:\n{done.stderr}")
    return True


def time_best(cmd: list[str], runs: int) -> tuple[float, bytes]:
    """Best wall time of `runs` runs, and the output (which must not vary)."""
    best = float("inf")
    output: bytes | None = None
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, timeout=RUN_TIMEOUT)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace")
            raise BenchError(f"{' '.join(cmd)} exited {done.returncode}:\n{err}")
        if output is not None and done.stdout != output:
            raise BenchError(f"{' '.join(cmd)} printed different output on a second run")
        output = done.stdout
        best = min(best, elapsed)
    assert output is not None
    return best, output


class Row:
    def __init__(self, name: str) -> None:
        self.name = name
        self.applc: float | None = None
        self.c: float | None = None
        self.python: float | None = None
        self.outputs: dict[str, bytes] = {}

    @property
    def same_output(self) -> bool:
        return len(set(self.outputs.values())) <= 1


def measure(name: str, work: Path, runs: int, python_runs: int) -> Row:
    row = Row(name)
    apy, c = CPU / f"{name}.apy", CPU / f"{name}.c"
    exe = work / f"{name}-applc"
    build_applc(apy, exe)
    row.applc, row.outputs["applc"] = time_best([str(exe)], runs)
    if c.exists() and build_c(c, work / f"{name}-c"):
        row.c, row.outputs["c"] = time_best([str(work / f"{name}-c")], runs)
    if python_runs > 0:
        row.python, row.outputs["cpython"] = time_best([sys.executable, str(apy)], python_runs)
    return row


def fmt_seconds(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def fmt_ratio(num: float | None, den: float | None, target_ok) -> str:
    if num is None or den is None:
        return "-"
    ratio = num / den
    return f"{ratio:.2f}x {'ok' if target_ok(ratio) else 'MISS'}"


def print_table(rows: list[Row]) -> None:
    header = ["benchmark", "applc s", "C -O2 s", "CPython s", f"CPython/applc (>={TARGET_SPEEDUP:.0f}x)",
              f"applc/C (<={TARGET_C_RATIO}x)", "same output"]  # fmt: skip
    table = [header]
    for r in rows:
        table.append([
            r.name, fmt_seconds(r.applc), fmt_seconds(r.c), fmt_seconds(r.python),
            fmt_ratio(r.python, r.applc, lambda x: x >= TARGET_SPEEDUP),
            fmt_ratio(r.applc, r.c, lambda x: x <= TARGET_C_RATIO),
            "yes" if r.same_output else "NO: " + ", ".join(sorted(r.outputs)),
        ])  # fmt: skip
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for i, line in enumerate(table):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=DEFAULT_BENCHMARKS, help="benchmarks in benchmarks/cpu/")
    ap.add_argument("-n", "--runs", type=int, default=5, help="runs of the compiled programs (best counts)")
    ap.add_argument("--python-runs", type=int, default=1, help="runs under CPython (best counts)")
    ap.add_argument("--no-python", dest="python_runs", action="store_const", const=0, help="skip CPython")
    args = ap.parse_args(argv)
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="applc-bench-") as tmp:
            for name in args.names:
                print(f"{name}: ...", file=sys.stderr, flush=True)
                rows.append(measure(name, Path(tmp), args.runs, args.python_runs))
    except (BenchError, subprocess.TimeoutExpired) as e:
        print(f"run_cpu: {e}", file=sys.stderr)
        return 1
    print_table(rows)
    return 0 if all(r.same_output for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
