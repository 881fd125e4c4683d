"""Boot-time benchmark: an applc image against the floor guest, under QEMU TCG.

In: an image path on the command line, or nothing (then examples/hello.apy
is built with ``applc build``).  Out: printed medians of the wall time from
QEMU's launch to its exit, for the image and for the floor guest (a PVH
guest of a few dozen hand-written bytes that prints ``hello`` and exits:
nothing can boot faster on the same QEMU), and their ratio.  Runs alternate
image/floor, in a changing order, in one session so that machine noise hits
both alike.  This prints numbers; it is not a test.

    python3 benchmarks/boot.py [IMAGE] [-n 20] [--machine microvm] [--mem 32] [--trace]

``--trace`` adds a pass with the boot-trace channel (port 0xe9, see
targets/kvm/qemu.py) and prints when the guest's first record arrived: the
part of a boot spent in QEMU and firmware before the guest's first
instruction.

image_size.py imports ``load_applc`` and ``hello_image`` from here.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
HELLO_SOURCE = REPO / "examples" / "hello.apy"
HELLO_OUTPUT = b"hello\n"


class BenchmarkError(Exception):
    """Something the benchmark needs is missing; the message says what to do."""


def load_applc() -> tuple[ModuleType, ModuleType]:
    """Import the runner and the floor guests, or explain how to install applc."""
    try:
        from applc.targets.kvm import floor, qemu
    except ImportError as error:
        raise BenchmarkError(
            f"applc is not installed ({error}): run `pip install -e .` in {REPO}"
        ) from None
    try:
        qemu.find_qemu()
    except qemu.QemuNotFoundError as error:
        raise BenchmarkError(str(error)) from None
    return qemu, floor


def hello_image(workdir: Path, source: Path = HELLO_SOURCE) -> Path:
    """Build ``source`` with ``applc build`` in ``workdir`` and return the image."""
    applc = shutil.which("applc")
    if applc is None:
        raise BenchmarkError("the `applc` command is not on PATH: run `pip install -e .`, or pass an IMAGE")
    if not source.is_file():
        raise BenchmarkError(f"{source} does not exist yet: pass an IMAGE")
    copy = workdir / source.name  # build a copy so nothing is written into the repository
    shutil.copyfile(source, copy)
    result = subprocess.run([applc, "build", str(copy)], capture_output=True, text=True, timeout=600)
    image = copy.with_suffix(".elf")
    if result.returncode != 0 or not image.is_file():
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BenchmarkError(f"`applc build {source.name}` failed: {detail[-1] if detail else result.returncode}")
    return image


def time_boot(qemu: ModuleType, image: Path, *, machine: str, mem_mib: float, timeout: float) -> float:
    """Boot once under TCG; return the seconds run_image took, checking the guest said hello."""
    out, err = io.BytesIO(), io.BytesIO()
    started = time.perf_counter()
    status = qemu.run_image(image, machine=machine, accel="tcg", mem_mib=mem_mib, timeout=timeout, stdout=out, stderr=err)
    elapsed = time.perf_counter() - started
    if status != 0 or out.getvalue() != HELLO_OUTPUT:
        raise BenchmarkError(
            f"{image.name} did not print hello and exit 0 (status {status}, stdout {out.getvalue()[:80]!r}, "
            f"stderr {err.getvalue()[:200]!r})"
        )
    return elapsed


def first_trace_record(qemu: ModuleType, image: Path, *, machine: str, mem_mib: float, timeout: float) -> float | None:
    """Seconds from QEMU's launch to the guest's first boot-trace record, if it writes any."""
    trace = qemu.BootTrace()
    qemu.run_image(
        image, machine=machine, accel="tcg", mem_mib=mem_mib, timeout=timeout,
        stdout=io.BytesIO(), stderr=io.BytesIO(), boot_trace=trace,
    )
    return trace.records[0].host_seconds if trace.records else None


def alternate(images: dict[str, Path], runs: int, measure) -> dict[str, list[float]]:
    """Measure every image ``runs`` times, interleaved, reversing the order each round."""
    samples: dict[str, list[float]] = {name: [] for name in images}
    names = list(images)
    for round_ in range(runs):
        for name in names if round_ % 2 == 0 else reversed(names):
            samples[name].append(measure(images[name]))
    return samples


def report(images: dict[str, Path], samples: dict[str, list[float]], args: argparse.Namespace) -> None:
    print(f"boot time, TCG, -M {args.machine}, {args.mem:g} MiB, {args.runs} alternating runs each")
    print("(wall time of run_image: QEMU launch to QEMU exit)")
    for name, path in images.items():
        times = samples[name]
        print(
            f"  {name:<6} {path.name:<22} {path.stat().st_size:>9} B   "
            f"median {statistics.median(times) * 1e3:7.1f} ms   min {min(times) * 1e3:7.1f} ms"
        )
    if "image" in samples:
        ratio = statistics.median(samples["image"]) / statistics.median(samples["floor"])
        print(f"  ratio image/floor (medians): {ratio:.2f}x")


def report_trace(qemu: ModuleType, images: dict[str, Path], args: argparse.Namespace) -> None:
    print("time to the guest's first boot-trace record (QEMU + firmware before the guest runs)")
    for name, path in images.items():
        firsts = [
            first_trace_record(qemu, path, machine=args.machine, mem_mib=args.mem, timeout=args.timeout)
            for _ in range(args.runs)
        ]
        if None in firsts:
            print(f"  {name:<6} writes no boot-trace records")
        else:
            print(f"  {name:<6} median {statistics.median(firsts) * 1e3:7.1f} ms")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", type=Path, help="image to time (default: build examples/hello.apy)")
    parser.add_argument("-n", "--runs", type=int, default=20, help="runs per image (default 20)")
    parser.add_argument("--machine", default="microvm", choices=["microvm", "q35", "pc"])
    parser.add_argument("--mem", type=float, default=32, help="guest memory in MiB (default 32)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds allowed per boot (default 30)")
    parser.add_argument("--trace", action="store_true", help="also time the guest's first boot-trace record")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        qemu, floor = load_applc()
        with tempfile.TemporaryDirectory(prefix="applc-bench-") as tmp:
            workdir = Path(tmp)
            images = {"floor": workdir / "floor-hello.elf"}
            images["floor"].write_bytes(floor.hello_guest())
            try:
                images["image"] = args.image if args.image is not None else hello_image(workdir)
            except BenchmarkError as missing:
                print(f"boot.py: no applc image to compare ({missing}); timing the floor alone", file=sys.stderr)
            measure = lambda path: time_boot(qemu, path, machine=args.machine, mem_mib=args.mem, timeout=args.timeout)  # noqa: E731
            samples = alternate(images, args.runs, measure)
            report(images, samples, args)
            if args.trace:
                report_trace(qemu, images, args)
    except BenchmarkError as error:
        print(f"boot.py: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
