"""Frames per second echoed by examples/frame_echo.apy, against a trivial host reflector.

In:  examples/frame_echo.apy (built here for the kvm target), a machine type.
Out: one line per side and their ratio:

    frame_echo (microvm, TCG, virtio-net over virtio-mmio): F frames/s
    reflector  (a Python UDP socket on the host):            R frames/s
    ratio frame_echo / reflector:                            F/R

Both sides are measured by the same host loop (tests/net/echo_harness.py:
random frames of 60-1514 bytes over UDP on 127.0.0.1, `--window` frames in
flight, each echo checked byte for byte). For frame_echo the datagrams go
through QEMU's `-netdev dgram`, virtio-net and the guest; the reflector is a
separate Python process that sends each datagram straight back with the MACs
swapped -- the floor of the measuring path. Runs alternate (`-n` rounds), so
machine noise hits both alike; the medians are printed.

    python3 benchmarks/frame_echo.py [--machine microvm|q35] [--frames 3000] [--window 8] [-n 3]

This prints numbers; it is not a test. The harness boots QEMU under TCG
(software emulation, as on the build machines, which have no usable
hardware KVM); every guest instruction and device access is emulated, so
the ratio is far below what the same image reaches under KVM.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "net"))

import echo_harness  # noqa: E402

REFLECTOR = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
mac = bytes.fromhex(sys.argv[1])
print(s.getsockname()[1], flush=True)
while True:
    data, peer = s.recvfrom(65536)
    s.sendto(data[6:12] + mac + data[12:], peer)
"""


def measure_reflector(frames: int, window: int, seed: int) -> float:
    mac = bytes.fromhex("525400a70001")
    proc = subprocess.Popen([sys.executable, "-c", REFLECTOR, mac.hex()], stdout=subprocess.PIPE, text=True)
    sock = None
    try:
        port = int(proc.stdout.readline())
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        guest = echo_harness.EchoGuest(proc, [echo_harness.Nic(sock, port, mac)], Path("."))
        result = guest.exchange(frames, window=window, seed=seed)
        if result.mismatches:
            raise RuntimeError(f"reflector: {result.mismatches[:3]}")
        return result.frames / result.seconds
    finally:
        if sock is not None:
            sock.close()
        proc.kill()
        proc.wait(10)


def measure_guest(image: Path, machine: str, frames: int, window: int, seed: int) -> float:
    with echo_harness.echo_guest(image, machine, nics=1) as guest:
        guest.exchange(200, window=window, seed=seed + 1000)  # warm up (TCG translates code once)
        result = guest.exchange(frames, window=window, seed=seed)
        if result.mismatches:
            raise RuntimeError(f"frame_echo: {result.mismatches[:3]}")
        return result.frames / result.seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--machine", choices=["microvm", "q35"], default="microvm")
    p.add_argument("--frames", type=int, default=3000)
    p.add_argument("--window", type=int, default=8, help="frames in flight")
    p.add_argument("-n", type=int, default=3, help="alternating rounds")
    args = p.parse_args()
    from applc.driver.build import build_file

    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "frame_echo.elf"
        build_file(str(REPO / "examples" / "frame_echo.apy"), target="kvm", out=str(image))
        guest, host = [], []
        for round_ in range(args.n):
            guest.append(measure_guest(image, args.machine, args.frames, args.window, round_))
            host.append(measure_reflector(args.frames, args.window, round_))
    transport = "virtio-mmio" if args.machine == "microvm" else "virtio-pci"
    g, h = statistics.median(guest), statistics.median(host)
    print(f"frame_echo ({args.machine}, TCG, virtio-net over {transport}): {g:8.0f} frames/s  "
          f"(runs: {', '.join(f'{x:.0f}' for x in guest)})")
    print(f"reflector  (a Python UDP socket on the host):  {h:8.0f} frames/s  "
          f"(runs: {', '.join(f'{x:.0f}' for x in host)})")
    print(f"ratio frame_echo / reflector: {g / h:.3f}  ({args.frames} frames of 60-1514 bytes, "
          f"window {args.window}, median of {args.n})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
