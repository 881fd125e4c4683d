"""Image-size benchmark: how big the hello image is and how little memory it boots in.

In: an image path, or nothing (then examples/hello.apy is built with
``applc build``, as in boot.py).  Out: printed sizes (the image's file and
its loaded segments, next to the floor guest's) and the smallest ``--mem``
with which the image still prints ``hello`` and exits 0 under QEMU TCG.

It also builds the UDP echo appliance (examples/udp_echo.apy; it needs a NIC, so it
is measured, not booted) and prints its size per segment next to issue 6's target
(<= 128 KiB); ``applc build --report`` shows what went into it.

The smallest memory is found by bisection over whole multiples of
``--step`` KiB (64 by default) between ``--step`` and 32 MiB, assuming that
a guest which boots in m KiB also boots in more.  A probe fails when the
guest hangs (stopped after ``--probe-timeout`` seconds), crashes, exits
non-zero, prints something else, or QEMU refuses the size.  The answer is
re-checked at the end: it must boot, and one step less must not.

    python3 benchmarks/image_size.py [IMAGE] [--machine microvm] [--step 64]
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from boot import HELLO_OUTPUT, BenchmarkError, hello_image, load_applc

MAX_KIB = 32 * 1024
UDP_ECHO = Path(__file__).resolve().parent.parent / "examples" / "udp_echo.apy"
UDP_ECHO_TARGET = 128 * 1024  # bytes: issue 6


def loaded_bytes(image: Path) -> int:
    """Sum of the PT_LOAD segments' memory sizes: what the image occupies once loaded."""
    data = image.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise BenchmarkError(f"{image} is not an ELF64 file")
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    total = 0
    for index in range(phnum):
        kind, = struct.unpack_from("<I", data, phoff + index * phentsize)
        memsz, = struct.unpack_from("<Q", data, phoff + index * phentsize + 40)
        if kind == 1:  # PT_LOAD
            total += memsz
    return total


def segments(image: Path) -> list[tuple[str, int, int]]:
    """The PT_LOAD segments as (flags, file size, memory size): R E is code, R constants."""
    data = image.read_bytes()
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    out = []
    for index in range(phnum):
        base = phoff + index * phentsize
        kind, flags = struct.unpack_from("<II", data, base)
        filesz, memsz = struct.unpack_from("<QQ", data, base + 32)
        if kind == 1:
            names = ("R" if flags & 4 else "") + ("W" if flags & 2 else "") + ("E" if flags & 1 else "")
            out.append((names, filesz, memsz))
    return out


def describe_appliance(image: Path) -> str:
    parts = ", ".join(f"{flags} {filesz} B" + (f" (+{memsz - filesz} B zeroed)" if memsz > filesz else "")
                      for flags, filesz, memsz in segments(image))
    size = image.stat().st_size
    verdict = "meets" if size <= UDP_ECHO_TARGET else "misses"
    return (f"  udp_echo file {size} B ({size / 1024:.1f} KiB; {verdict} the {UDP_ECHO_TARGET // 1024} KiB target)"
            f"\n    segments: {parts}")


def boots_in(qemu: ModuleType, image: Path, kib: int, *, machine: str, timeout: float) -> bool:
    """True if the image prints hello and exits 0 with ``kib`` KiB of guest memory."""
    out, err = io.BytesIO(), io.BytesIO()
    try:
        status = qemu.run_image(
            image, machine=machine, accel="tcg", mem_mib=kib / 1024, timeout=timeout, stdout=out, stderr=err
        )
    except qemu.QemuError:
        return False  # QEMU itself rejected the size
    return status == 0 and out.getvalue() == HELLO_OUTPUT


def smallest_memory_kib(qemu: ModuleType, image: Path, *, machine: str, step: int, timeout: float) -> int:
    """Bisect the smallest multiple of ``step`` KiB the image boots in."""
    probe = lambda kib: boots_in(qemu, image, kib, machine=machine, timeout=timeout)  # noqa: E731
    if not probe(MAX_KIB):
        raise BenchmarkError(f"{image.name} does not print hello and exit 0 even with {MAX_KIB // 1024} MiB")
    low, high = 0, MAX_KIB // step  # in steps: `low` fails (0 KiB is no memory), `high` boots
    while high - low > 1:
        middle = (low + high) // 2
        if probe(middle * step):
            high = middle
        else:
            low = middle
    answer = high * step
    if not probe(answer) or (answer > step and probe(answer - step)):
        raise BenchmarkError(f"booting is not monotonic in memory size around {answer} KiB: no single answer")
    return answer


def describe(name: str, image: Path) -> str:
    return f"  {name:<6} {image.name:<22} file {image.stat().st_size:>9} B   loaded {loaded_bytes(image):>9} B"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", type=Path, help="image to measure (default: build examples/hello.apy)")
    parser.add_argument("--machine", default="microvm", choices=["microvm", "q35", "pc"])
    parser.add_argument("--step", type=int, default=64, help="memory resolution in KiB (default 64)")
    parser.add_argument("--probe-timeout", type=float, default=5, help="seconds before a probe counts as hung")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        qemu, floor = load_applc()
        with tempfile.TemporaryDirectory(prefix="applc-bench-") as tmp:
            workdir = Path(tmp)
            image = args.image if args.image is not None else hello_image(workdir)
            floor_image = workdir / "floor-hello.elf"
            floor_image.write_bytes(floor.hello_guest())
            print("UDP echo appliance (kvm):")
            print(describe_appliance(hello_image(workdir, UDP_ECHO)))
            print(f"image size and smallest memory, TCG, -M {args.machine}, resolution {args.step} KiB")
            for name, path in (("image", image), ("floor", floor_image)):
                kib = smallest_memory_kib(qemu, path, machine=args.machine, step=args.step, timeout=args.probe_timeout)
                print(describe(name, path) + f"   smallest --mem {kib} KiB ({kib / 1024:g} MiB)")
    except BenchmarkError as error:
        print(f"image_size.py: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
