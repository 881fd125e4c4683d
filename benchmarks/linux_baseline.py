"""The Linux microVM baseline: Debian's cloud kernel + a busybox initramfs echoing UDP, measured.

In: Debian packages (``linux-image-cloud-amd64``'s kernel, ``busybox-static``),
fetched with ``apt-get download`` and cached under ``~/.cache/applc-bench/linux``.
Out: printed figures for the same job examples/udp_echo.apy does (UDP echo on
port 7 at 10.77.0.2/24, on a TAP in a private network namespace):

- image size: the vmlinux ELF QEMU boots (and the bzImage it came from) plus
  the xz-compressed initramfs;
- QEMU launch -> first UDP reply (median of ``-n`` boots);
- UDP echo round trips per second (sequential, 64-byte datagrams);
- the smallest ``-m`` that still answers (bisected, ``--step`` KiB).

How the guest is made (benchmarks/linux/): vmlinux is taken out of the
bzImage (QEMU boots it through its PVH note, like applc's images); the
initramfs (a newc cpio written in Python) loads the virtio modules, sets
eth0's address and execs a 408-byte static UDP echo server (busybox 1.35 has
no UDP server).  On -M microvm Linux needs ``pit=on,pic=on,rtc=on``, and
under TCG ``tsc_early_khz=1000000`` or its TSC calibration may stall the boot;
microvm's ACPI tables let virtio_mmio find the NIC.

    python3 benchmarks/linux_baseline.py [--machine microvm|q35] [-n 5] [--mem 256]
        [--no-min-mem] [--step 1024] [--rtt-count 3000] [--rtt-seconds 10]

Needs root (namespaces, TAP), iproute2, QEMU, apt-get and dpkg-deb; exit 2
with one line saying what is missing.  benchmarks/udp_echo.py imports
``linux_guest``, ``image_size``, ``add_measure_options`` and
``check_prerequisites`` from here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from linux import echo_server, measure  # noqa: E402
from linux.initramfs import build_initramfs  # noqa: E402
from linux.kernel import DEFAULT_CACHE, KernelError, fetch_busybox, fetch_kernel  # noqa: E402

netns = measure.netns
MODULES = ["virtio_mmio", "virtio_pci", "virtio_net"]
KERNEL_ARGS = "console=ttyS0 tsc_early_khz=1000000 quiet panic=-1"


class BaselineError(Exception):
    """A prerequisite is missing; the message says what to do."""


def linux_guest(cache: Path = DEFAULT_CACHE, log=print) -> measure.Guest:
    """Fetch, extract and build (each once, cached) the Linux baseline guest."""
    try:
        kernel = fetch_kernel(cache)
        busybox = fetch_busybox(cache)
    except KernelError as error:
        raise BaselineError(str(error)) from None
    initrd = cache / f"initramfs-{kernel.version}-{netns.GUEST_ADDR}.cpio.xz"
    if not initrd.is_file():
        modules = [(name, kernel.modules[name]) for name in kernel.load_order(MODULES)]
        data = build_initramfs(busybox, modules, echo_server.build(7), netns.GUEST_ADDR, netns.PREFIX_LEN, 7)
        initrd.with_suffix(".tmp").write_bytes(data)
        initrd.with_suffix(".tmp").replace(initrd)
    log(f"linux baseline: {kernel.package}, {kernel.vmlinux.name}, {initrd.name} (cached in {cache})")

    def command(workdir: Path, machine: str, mem_mib: float) -> tuple[list[str], list[int], Path]:
        return linux_command(kernel.vmlinux, initrd, workdir, machine, mem_mib), [], workdir / "console.log"

    return measure.Guest(
        name="linux",
        files={"vmlinux": kernel.vmlinux, "initramfs": initrd, "bzImage": kernel.bzimage},
        command=command,
    )


def linux_command(vmlinux: Path, initrd: Path, workdir: Path, machine: str, mem_mib: float) -> list[str]:
    """QEMU's command line for the baseline: the same devices as applc's, plus what Linux needs."""
    from applc.targets.kvm import qemu

    accel = qemu.resolve_accel("auto")
    machine_arg = "microvm,pit=on,pic=on,rtc=on" if machine == "microvm" else machine
    return [
        qemu.find_qemu(), "-M", machine_arg, "-accel", accel, "-m", f"{int(round(mem_mib * 1024))}K",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", str(vmlinux), "-initrd", str(initrd), "-append", KERNEL_ARGS,
        "-serial", f"file:{workdir / 'console.log'}",
        *(["-cpu", "host"] if accel == "kvm" else []),
        *netns.nic_args(machine),
    ]


def measure_guest(guest: measure.Guest, args: argparse.Namespace, log=print) -> dict[str, object]:
    """Every figure for one guest: sizes, first reply (median), round trips/s, smallest memory."""
    figures: dict[str, object] = {"sizes": guest.image_bytes()}
    firsts = []
    for i in range(args.runs):
        seconds = measure.first_reply(guest, args.machine, args.mem, args.timeout)
        log(f"  {guest.name}: boot {i + 1}/{args.runs}: first UDP reply after {seconds * 1e3:.0f} ms")
        firsts.append(seconds)
    figures["first_reply"] = statistics.median(firsts)
    _, rate = measure.round_trip_rate(guest, args.machine, args.mem, args.timeout,
                                      count=args.rtt_count, seconds=args.rtt_seconds)
    log(f"  {guest.name}: {rate:.0f} UDP round trips/s")
    figures["round_trips"] = rate
    if args.min_mem:
        log(f"  {guest.name}: bisecting the smallest -m ...")
        figures["min_mem"] = measure.smallest_memory(
            guest, args.machine, low_mib=args.min_low, high_mib=args.mem, step_kib=args.step,
            timeout=args.timeout, log=log)
    return figures


def image_size(sizes: dict[str, int]) -> int:
    """What QEMU loads: vmlinux + initramfs for Linux, the one ELF for applc (bzImage is shown only)."""
    return sum(size for part, size in sizes.items() if part != "bzImage")


def print_figures(name: str, figures: dict[str, object], machine: str) -> None:
    sizes = figures["sizes"]
    print(f"{name} on -M {machine} (TCG unless real KVM is usable)")
    for part, size in sizes.items():
        print(f"  {part:<10} {size:>12,} B  ({size / 1024:,.0f} KiB)")
    booted = image_size(sizes)
    print(f"  {'booted':<10} {booted:>12,} B  ({booted / 1024:,.0f} KiB): what QEMU loads (-kernel + -initrd)")
    print(f"  first UDP reply after QEMU launch: {figures['first_reply'] * 1e3:.0f} ms (median)")
    print(f"  UDP echo round trips per second:   {figures['round_trips']:.0f}")
    if "min_mem" in figures:
        mem = figures["min_mem"]
        print(f"  smallest -m that answers:          {'none within the range' if mem is None else f'{mem:g} MiB'}")


def add_measure_options(parser: argparse.ArgumentParser, mem_default: float, min_low: float, step: int,
                        timeout: float) -> None:
    parser.add_argument("--machine", default="microvm", choices=["microvm", "q35"])
    parser.add_argument("-n", "--runs", type=int, default=5, help="boots timed for the first reply (default 5)")
    parser.add_argument("--mem", type=float, default=mem_default, help=f"guest memory in MiB (default {mem_default:g})")
    parser.add_argument("--timeout", type=float, default=timeout, help=f"seconds a boot may take to answer (default {timeout:g})")
    parser.add_argument("--no-min-mem", dest="min_mem", action="store_false", help="skip the smallest -m bisection")
    parser.add_argument("--min-low", type=float, default=min_low, help=f"bisection's lower bound in MiB, assumed too small (default {min_low:g})")
    parser.add_argument("--step", type=int, default=step, help=f"bisection step in KiB (default {step})")
    parser.add_argument("--rtt-count", type=int, default=3000, help="round trips to time (default 3000)")
    parser.add_argument("--rtt-seconds", type=float, default=10.0, help="at most this long (default 10 s)")


def check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise BaselineError("needs root: it creates a network namespace and a TAP device")
    try:
        from applc.targets.kvm import qemu

        qemu.find_qemu()
    except ImportError as error:
        raise BaselineError(f"applc is not installed ({error}): run `pip install -e .`") from None
    except RuntimeError as error:
        raise BaselineError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_measure_options(parser, mem_default=256, min_low=8, step=1024, timeout=120)
    args = parser.parse_args(argv)
    measure.clean_up_on_sigterm()
    try:
        check_prerequisites()
        guest = linux_guest()
        figures = measure_guest(guest, args)
    except (BaselineError, measure.GuestFailed, netns.NetNsError) as error:
        print(f"linux_baseline.py: {error}", file=sys.stderr)
        return 2
    print_figures("linux baseline", figures, args.machine)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
