"""CPU benchmark suite: applc's hosted executables against CPython and gcc -O2.

In:  benchmarks/cpu/NAME.apy (also valid Python) and NAME.c (its C twin, the
     same algorithm written for the benchmark), for the NAMEs in SUITE (or the
     names given). Each program takes an optional size argument (argv[1]).
Out: a table on stdout: per benchmark the best of N CPU seconds (user + sys of
     the child, from wait4: the machine is shared, and CPU time is what the
     program itself spent) for applc, C and CPython, the speedup over CPython,
     the ratio to C (target <= 2x), and peak resident memory (ru_maxrss) of
     applc and C; then the geometric means (target >= 30x CPython). Every
     program's stdout must be the same bytes under all three, else exit 1.

    python3 benchmarks/run_cpu.py [NAME ...] [-n 5] [--python-runs 1] [--no-python] [--no-c]

CPython runs the same size as the compiled programs, except where SUITE gives
a smaller `python_size`: CPython then runs that size and its time is multiplied
by `python_factor`, the ratio of the work done at the two sizes (marked `*` in
the table): steps and runs are linear (n-body, richards, checksum rounds; the
checksum's one-off buffer fill, under 1% of the work, is scaled with them),
spectral-norm's work grows as size**2. Its output is then compared with the
applc and C builds run at that same smaller size.

The applc executable is built with the CLI (`applc build -t hosted`), so the
numbers include nothing of the compiler. C is compiled with
`gcc -O2 -ffp-contract=off -lm`: no fused multiply-add, so the C twin does the
same IEEE operations in the same order as apy and CPython and prints the same
digits. gcc is used here only, as a baseline; applc itself needs no C toolchain.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

HERE = Path(__file__).resolve().parent
CPU = HERE / "cpu"
TARGET_GEOMEAN_SPEEDUP = 30.0  # applc vs CPython, geometric mean, at least
TARGET_C_RATIO = 2.0  # applc time / C time, at most, on each benchmark
RUN_TIMEOUT = 900.0  # seconds; the slowest CPython run takes about a minute
BUILD_TIMEOUT = 600.0
TIME = shutil.which("time", path="/usr/bin:/bin")  # GNU time, for peak RSS


@attrs.frozen
class Bench:
    name: str
    python_size: int | None = None  # None: CPython runs the default size
    python_factor: int = 1  # default size / python_size (work is linear in it)


SUITE = [
    Bench("fib"),
    Bench("intloop"),
    Bench("floatloop"),
    Bench("nbody", python_size=500_000, python_factor=10),
    Bench("spectralnorm", python_size=1000, python_factor=4),  # work grows as size**2
    Bench("fannkuch"),
    Bench("binarytrees"),
    Bench("richards", python_size=800, python_factor=10),
    Bench("wordcount"),
    Bench("checksum", python_size=100, python_factor=4),
]


class BenchError(Exception):
    pass


@attrs.define
class Run:
    cpu: float  # user + sys seconds of the child
    wall: float
    maxrss_kib: int | None  # None without GNU time
    stdout: bytes


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


def build_c(source: Path, out: Path) -> None:
    cmd = ["gcc", "-O2", "-ffp-contract=off", "-o", str(out), str(source), "-lm"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if done.returncode != 0:
        raise BenchError(f"gcc {source.name} failed:\n{done.stderr}")


def run_once(cmd: list[str], out_dir: Path) -> Run:
    """One run; CPU time from wait4 on this child, peak RSS from GNU time's %M.

    Peak RSS cannot come from wait4 here: a child forked by this Python process
    reports the parent's RSS (~14 MiB) as its own peak. GNU time forks the
    program from a ~1 MiB process instead; wait4 on time includes the CPU time
    of the program it reaped.
    """
    out_path, err_path, rss_path = out_dir / "stdout", out_dir / "stderr", out_dir / "rss"
    rss_path.unlink(missing_ok=True)
    wrapped = [TIME, "-f", "%M", "-o", str(rss_path)] + cmd if TIME else cmd
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=out, stderr=err, start_new_session=True)
        status, usage = _wait4_bounded(proc, RUN_TIMEOUT)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise BenchError(f"{' '.join(cmd)} exited {code}:\n{err_path.read_text(errors='replace')}")
    maxrss = int(rss_path.read_text().split()[-1]) if TIME else None
    return Run(usage.ru_utime + usage.ru_stime, wall, maxrss, out_path.read_bytes())


def _wait4_bounded(proc: subprocess.Popen, timeout: float):
    """os.wait4 with a deadline (polling WNOHANG); kills the child when it passes."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, usage
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)  # the program and time's child
            os.wait4(proc.pid, 0)
            proc.returncode = -9
            raise BenchError(f"{' '.join(proc.args)} ran longer than {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def best_of(cmd: list[str], runs: int, out_dir: Path) -> Run:
    """The run with the least CPU time of `runs`; every run must print the same bytes."""
    best: Run | None = None
    for _ in range(runs):
        r = run_once(cmd, out_dir)
        if best is not None and r.stdout != best.stdout:
            raise BenchError(f"{' '.join(cmd)} printed different output on a second run")
        if best is None or r.cpu < best.cpu:
            best = r
    assert best is not None
    return best


@attrs.define
class Row:
    bench: Bench
    applc: Run | None = None
    c: Run | None = None
    python: Run | None = None
    mismatches: list[str] = attrs.Factory(list)

    @property
    def python_cpu(self) -> float | None:
        return None if self.python is None else self.python.cpu * self.bench.python_factor


def measure(bench: Bench, work: Path, runs: int, python_runs: int, with_c: bool) -> Row:
    row = Row(bench)
    apy, c_src = CPU / f"{bench.name}.apy", CPU / f"{bench.name}.c"
    exe, c_exe = work / f"{bench.name}-applc", work / f"{bench.name}-c"
    build_applc(apy, exe)
    with_c = with_c and c_src.exists()
    if with_c:
        build_c(c_src, c_exe)
    row.applc = best_of([str(exe)], runs, work)
    if with_c:
        row.c = best_of([str(c_exe)], runs, work)
        if row.c.stdout != row.applc.stdout:
            row.mismatches.append("C")
    if python_runs > 0:
        size = [] if bench.python_size is None else [str(bench.python_size)]
        row.python = best_of([sys.executable, str(apy)] + size, python_runs, work)
        expected = row.applc.stdout
        if size:  # compare at the size CPython ran
            expected = run_once([str(exe)] + size, work).stdout
            if with_c and run_once([str(c_exe)] + size, work).stdout != expected:
                row.mismatches.append("C (CPython's size)")
        if row.python.stdout != expected:
            row.mismatches.append("CPython")
    return row


def geomean(xs: list[float]) -> float | None:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt_s(x: float | None, mark: str = "") -> str:
    return "-" if x is None else f"{x:.3f}{mark}"


def fmt_ratio(x: float | None, ok: bool | None = None) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}x" + ("" if ok is None else (" ok" if ok else " MISS"))


def fmt_mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def table_lines(rows: list[Row]) -> list[list[str]]:
    header = ["benchmark", "applc s", "C -O2 s", "CPython s", "CPython/applc",
              f"applc/C (<={TARGET_C_RATIO:g}x)", "applc MiB", "C MiB", "same output"]
    lines = [header]
    speedups, c_ratios = [], []
    for r in rows:
        a = r.applc.cpu if r.applc else None
        c = r.c.cpu if r.c else None
        py = r.python_cpu
        speed = py / a if py is not None and a else None
        c_ratio = a / c if a is not None and c else None
        if speed is not None:
            speedups.append(speed)
        if c_ratio is not None:
            c_ratios.append(c_ratio)
        lines.append([
            r.bench.name, fmt_s(a), fmt_s(c), fmt_s(py, "*" if r.bench.python_factor > 1 else ""),
            fmt_ratio(speed), fmt_ratio(c_ratio, None if c_ratio is None else c_ratio <= TARGET_C_RATIO),
            fmt_mib(r.applc.maxrss_kib if r.applc else None), fmt_mib(r.c.maxrss_kib if r.c else None),
            "yes" if not r.mismatches else "NO: " + ", ".join(r.mismatches),
        ])  # fmt: skip
    g_speed, g_c = geomean(speedups), geomean(c_ratios)
    lines.append([
        "geometric mean", "", "", "",
        fmt_ratio(g_speed, None if g_speed is None else g_speed >= TARGET_GEOMEAN_SPEEDUP)
        + f" (>={TARGET_GEOMEAN_SPEEDUP:g}x)", fmt_ratio(g_c), "", "", "",
    ])  # fmt: skip
    return lines


def print_table(rows: list[Row]) -> None:
    lines = table_lines(rows)
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for i, line in enumerate(lines):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    if any(r.bench.python_factor > 1 and r.python for r in rows):
        print("* CPython ran a smaller size; its CPU time is scaled up by the work ratio "
              "(see SUITE in run_cpu.py)")
    print("seconds: best-of-N CPU time (user + sys) of the process; MiB: its peak RSS")


def main(argv: list[str] | None = None) -> int:
    known = {b.name: b for b in SUITE}
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=[b.name for b in SUITE],
                    help=f"benchmarks in benchmarks/cpu/ (default: all: {' '.join(known)})")
    ap.add_argument("-n", "--runs", type=int, default=5, help="runs of the compiled programs (best counts)")
    ap.add_argument("--python-runs", type=int, default=1, help="runs under CPython (best counts)")
    ap.add_argument("--no-python", dest="python_runs", action="store_const", const=0, help="skip CPython")
    ap.add_argument("--no-c", dest="with_c", action="store_false", help="skip the C twins")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in known and not (CPU / f"{n}.apy").exists()]
    if unknown:
        print(f"run_cpu: no benchmark named {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.runs < 1 or args.python_runs < 0:
        print("run_cpu: -n must be at least 1 and --python-runs at least 0", file=sys.stderr)
        return 2
    if args.with_c and shutil.which("gcc") is None:
        print("run_cpu: no gcc here; the C column is left empty", file=sys.stderr)
        args.with_c = False
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="applc-bench-") as tmp:
            for name in args.names:
                print(f"{name}: ...", file=sys.stderr, flush=True)
                bench = known.get(name, Bench(name))
                rows.append(measure(bench, Path(tmp), args.runs, args.python_runs, args.with_c))
    except (BenchError, subprocess.TimeoutExpired) as e:
        print(f"run_cpu: {e}", file=sys.stderr)
        return 1
    print_table(rows)
    return 0 if all(not r.mismatches for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
