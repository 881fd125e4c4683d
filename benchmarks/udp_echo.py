"""applc's UDP echo appliance against the Linux microVM baseline, side by side, in one session.

In: examples/udp_echo.apy (built with ``applc build``, kvm target) and the
Linux baseline of linux_baseline.py (Debian cloud kernel + busybox initramfs,
cached under ~/.cache/applc-bench/linux).  Out: a table of the same figures
for both -- image size, QEMU launch to first UDP reply (median), UDP echo
round trips per second, smallest ``-m`` that still answers -- with the
ratio linux/applc and the issue's target for each.

Both guests echo on 10.77.0.2:7 behind a TAP in a fresh network namespace
per boot (the applc image gets ``--ipv4=10.77.0.2/24`` on its command line,
Linux configures eth0 in its /init), booted on the same machine type under
the same accelerator, measured by the same code (benchmarks/linux/measure.py),
alternating so machine noise hits both alike.

    python3 benchmarks/udp_echo.py [IMAGE] [--machine microvm|q35] [-n 5] [--mem 32]
        [--linux-mem 256] [--no-min-mem] [--step 64] [--linux-step 1024]

Exit 2 with one line when a prerequisite is missing (root, QEMU, applc,
examples/udp_echo.apy, the Debian packages).  This prints numbers; it is not
a test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import linux_baseline  # noqa: E402
from linux import measure  # noqa: E402

netns = measure.netns
REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "examples" / "udp_echo.apy"

# The targets: image <= 128 KiB, first reply >= 10x faster, memory <= 8 MiB.
TARGET_IMAGE_KIB = 128
TARGET_BOOT_RATIO = 10
TARGET_MEM_MIB = 8


def build_image(workdir: Path, source: Path = SOURCE) -> Path:
    """``applc build`` a copy of ``source`` in ``workdir`` (nothing is written into the repository)."""
    applc = shutil.which("applc")
    if applc is None:
        raise linux_baseline.BaselineError("the `applc` command is not on PATH: run `pip install -e .`")
    if not source.is_file():
        raise linux_baseline.BaselineError(
            f"{source.relative_to(REPO)} does not exist yet: the Linux side alone is benchmarks/linux_baseline.py")
    image = workdir / "udp_echo.elf"
    result = subprocess.run([applc, "build", str(source), "-o", str(image)], capture_output=True, text=True,
                            timeout=900)
    if result.returncode != 0 or not image.is_file():
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise linux_baseline.BaselineError(f"`applc build {source.name}` failed: {detail[-1] if detail else result.returncode}")
    return image


def applc_guest(image: Path) -> measure.Guest:
    def command(workdir: Path, machine: str, mem_mib: float) -> tuple[list[str], list[int], Path]:
        cmd, fds = netns.applc_command(image, workdir, machine=machine, mem_mib=mem_mib,
                                       cmdline=[f"--ipv4={netns.GUEST_ADDR}/{netns.PREFIX_LEN}"])
        return cmd, fds, workdir / "com1.log"

    return measure.Guest(name="applc", files={"image": image}, command=command)


def measure_both(guests: dict[str, measure.Guest], mems: dict[str, float], args: argparse.Namespace) -> dict[str, dict]:
    figures: dict[str, dict] = {name: {"sizes": guest.image_bytes(), "firsts": []} for name, guest in guests.items()}
    names = list(guests)
    for round_ in range(args.runs):
        for name in names if round_ % 2 == 0 else reversed(names):
            seconds = measure.first_reply(guests[name], args.machine, mems[name], args.timeout)
            print(f"  {name}: boot {round_ + 1}/{args.runs}: first UDP reply after {seconds * 1e3:.0f} ms", flush=True)
            figures[name]["firsts"].append(seconds)
    for name, guest in guests.items():
        figures[name]["first_reply"] = statistics.median(figures[name]["firsts"])
        _, rate = measure.round_trip_rate(guest, args.machine, mems[name], args.timeout,
                                          count=args.rtt_count, seconds=args.rtt_seconds)
        figures[name]["round_trips"] = rate
        print(f"  {name}: {rate:.0f} UDP round trips/s", flush=True)
    if args.min_mem:
        bounds = {"applc": (args.min_low, args.mem, args.step), "linux": (args.linux_min_low, args.linux_mem, args.linux_step)}
        for name, guest in guests.items():
            low, high, step = bounds[name]
            print(f"  {name}: bisecting the smallest -m ({step} KiB steps) ...", flush=True)
            figures[name]["min_mem"] = measure.smallest_memory(
                guest, args.machine, low_mib=low, high_mib=high, step_kib=step, timeout=args.timeout,
                log=lambda line: print(line, flush=True))
    return figures


def _ratio(linux: float | None, applc: float | None) -> str:
    if not linux or not applc:
        return "-"
    return f"{linux / applc:.1f}x"


def report(figures: dict[str, dict], args: argparse.Namespace) -> None:
    a, l = figures["applc"], figures["linux"]
    a_size, l_size = linux_baseline.image_size(a["sizes"]), linux_baseline.image_size(l["sizes"])
    rows = [
        ("image size (what QEMU loads)", f"{a_size / 1024:,.1f} KiB", f"{l_size / 1024:,.0f} KiB",
         _ratio(l_size, a_size), f"applc <= {TARGET_IMAGE_KIB} KiB: {'met' if a_size <= TARGET_IMAGE_KIB * 1024 else 'missed'}"),
        ("  linux bzImage + initramfs", "", f"{(l['sizes']['bzImage'] + l['sizes']['initramfs']) / 1024:,.0f} KiB",
         _ratio(l["sizes"]["bzImage"] + l["sizes"]["initramfs"], a_size), ""),
        ("QEMU launch -> first UDP reply", f"{a['first_reply'] * 1e3:.0f} ms", f"{l['first_reply'] * 1e3:.0f} ms",
         _ratio(l["first_reply"], a["first_reply"]),
         f">= {TARGET_BOOT_RATIO}x faster: {'met' if l['first_reply'] >= TARGET_BOOT_RATIO * a['first_reply'] else 'missed'}"),
        ("UDP echo round trips / s", f"{a['round_trips']:.0f}", f"{l['round_trips']:.0f}",
         _ratio(l["round_trips"], a["round_trips"]), "higher is better (sequential, 64-byte datagrams)"),
    ]
    if args.min_mem:
        am, lm = a.get("min_mem"), l.get("min_mem")
        rows.append(("smallest -m that answers", "-" if am is None else f"{am:g} MiB", "-" if lm is None else f"{lm:g} MiB",
                     _ratio(lm, am), f"applc <= {TARGET_MEM_MIB} MiB: {'met' if am is not None and am <= TARGET_MEM_MIB else 'missed'}"))
    print(f"\nUDP echo appliance, -M {args.machine}, {args.runs} alternating boots each "
          f"(applc -m {args.mem:g} MiB, linux -m {args.linux_mem:g} MiB)")
    print(f"{'':<32} {'applc':>12} {'linux':>12} {'linux/applc':>14}  target")
    for label, av, lv, ratio, target in rows:
        print(f"{label:<32} {av:>12} {lv:>12} {ratio:>14}  {target}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", type=Path, help="applc image (default: build examples/udp_echo.apy)")
    linux_baseline.add_measure_options(parser, mem_default=32, min_low=0.5, step=64, timeout=120)
    parser.add_argument("--linux-mem", type=float, default=256, help="Linux guest memory in MiB (default 256)")
    parser.add_argument("--linux-min-low", type=float, default=8, help="Linux bisection's lower bound in MiB (default 8)")
    parser.add_argument("--linux-step", type=int, default=1024, help="Linux bisection step in KiB (default 1024)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    measure.clean_up_on_sigterm()
    try:
        linux_baseline.check_prerequisites()
        with tempfile.TemporaryDirectory(prefix="applc-bench-") as tmp:
            image = args.image if args.image is not None else build_image(Path(tmp))
            guests = {"applc": applc_guest(image), "linux": linux_baseline.linux_guest()}
            figures = measure_both(guests, {"applc": args.mem, "linux": args.linux_mem}, args)
    except (linux_baseline.BaselineError, measure.GuestFailed, netns.NetNsError) as error:
        print(f"udp_echo.py: {error}", file=sys.stderr)
        return 2
    report(figures, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
