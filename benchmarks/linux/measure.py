"""The appliance measurements, the same for the Linux baseline and for applc's udp_echo image.

In: a ``Guest`` -- how to make the QEMU command for a given memory size, the
files that make up its image, and the address and port it echoes on.  Out:

- ``first_reply``: seconds from QEMU's launch to the first UDP echo;
- ``round_trip_rate``: sequential UDP echo round trips per second once up;
- ``smallest_memory``: the smallest ``-m`` (bisected in ``step`` KiB) with
  which the guest still answers, re-checked at both ends;
- ``image_bytes``: the sizes of the files the guest boots from.

Every boot happens in a fresh network namespace with a TAP (the netns module
of tests/appliance), with a permanent neighbour entry for the guest's MAC on
the host side: otherwise the host's first datagrams wait for ARP, whose
retries are a second apart, and the launch-to-reply clock would measure
that.  Every wait is bounded; QEMU is killed by PID and the namespace deleted
after each boot.
"""

from __future__ import annotations

import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "appliance"))

import netns  # noqa: E402  (tests/appliance: namespaces, TAP, QEMU)
import realpeer  # noqa: E402  (tests/appliance: UDP probes)


@dataclass
class Guest:
    """What the measurements need to know about one appliance image."""

    name: str
    files: dict[str, Path]  # what the image is made of (for its size)
    # (workdir, machine, mem_mib) -> (QEMU command, fds to pass, console file)
    command: Callable[[Path, str, float], tuple[list[str], list[int], Path]]
    address: str = netns.GUEST_ADDR
    port: int = realpeer.ECHO_PORT

    def image_bytes(self) -> dict[str, int]:
        return {part: path.stat().st_size for part, path in self.files.items()}


def clean_up_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a killed benchmark still kills its QEMU and deletes its namespace."""

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)


class GuestFailed(RuntimeError):
    """The guest did not answer (the message has its console's tail)."""


def _boot_and_probe(guest: Guest, machine: str, mem_mib: float, timeout: float, then=None):
    """Boot once, wait for the first echo; return (seconds to it, then(sock) or None)."""
    with tempfile.TemporaryDirectory(prefix="applc-bench-") as tmp, \
            netns.network_namespace("applc-b") as ns:
        workdir = Path(tmp)
        ns.add_tap()
        ns.set_neighbour(guest.address, netns.GUEST_MAC)
        sock = realpeer.udp_socket(ns)
        try:
            command, fds, console = guest.command(workdir, machine, mem_mib)
            with netns.booted(ns, command, console, pass_fds=fds) as vm:

                def still_running() -> None:
                    if not vm.running():
                        raise GuestFailed(f"{guest.name}: QEMU exited ({vm.proc.returncode})" + vm.describe())

                try:
                    # A probe every 5 ms: the clock's resolution, small next to either boot.
                    replied = realpeer.wait_for_echo(sock, guest.address, guest.port, timeout=timeout,
                                                     interval=0.005, deadline_check=still_running)
                except realpeer.EchoError as error:
                    raise GuestFailed(f"{guest.name}: {error}" + vm.describe()) from None
                elapsed = replied - vm.launched_at
                return elapsed, (then(sock) if then else None)
        finally:
            sock.close()


def first_reply(guest: Guest, machine: str, mem_mib: float, timeout: float) -> float:
    """Seconds from QEMU's launch to the first UDP echo."""
    return _boot_and_probe(guest, machine, mem_mib, timeout)[0]


def round_trip_rate(guest: Guest, machine: str, mem_mib: float, timeout: float, *,
                    count: int, seconds: float, size: int = 64) -> tuple[float, float]:
    """(first reply seconds, round trips per second over a bounded sequential run).

    Before timing, every payload size from 1 to 1472 bytes is echoed once and
    compared: a guest that loses or mangles datagrams gets no rate.
    """

    def run(sock) -> float:
        for length in range(1, realpeer.MAX_UDP_PAYLOAD + 1):
            try:
                realpeer.echo(sock, guest.address, bytes([length & 0xFF]) * length, guest.port)
            except realpeer.EchoError as error:
                raise GuestFailed(f"{guest.name}: {error}") from None
        realpeer.round_trips(sock, guest.address, size=size, count=min(count, 50), seconds=seconds,
                             port=guest.port)  # warm-up
        done, elapsed = realpeer.round_trips(sock, guest.address, size=size, count=count,
                                             seconds=seconds, port=guest.port)
        return done / elapsed

    return _boot_and_probe(guest, machine, mem_mib, timeout, then=run)


def answers(guest: Guest, machine: str, mem_mib: float, timeout: float) -> bool:
    try:
        first_reply(guest, machine, mem_mib, timeout)
    except GuestFailed:
        return False
    return True


def smallest_memory(guest: Guest, machine: str, *, low_mib: float, high_mib: float, step_kib: int,
                    timeout: float, log=lambda line: None) -> float | None:
    """The smallest memory (MiB, a multiple of ``step_kib``) with which the guest answers.

    Bisects between ``low_mib`` (assumed too small, not probed) and
    ``high_mib`` (probed first: None if even that fails), then re-checks the
    answer and one step below it, since a loaded machine can make one probe
    fail by time alone.
    """
    def probe(kib: int) -> bool:
        ok = answers(guest, machine, kib / 1024, timeout)
        log(f"    -m {kib} KiB: {'answers' if ok else 'no answer'}")
        return ok

    lo, hi = int(low_mib * 1024) // step_kib, int(high_mib * 1024) // step_kib
    top = hi
    if not probe(hi * step_kib):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if probe(mid * step_kib):
            hi = mid
        else:
            lo = mid
    # Re-check both ends: the answer must answer again and one step below must not.
    while hi < top and not probe(hi * step_kib):
        hi += 1
    while hi > 1 and probe((hi - 1) * step_kib):
        hi -= 1
    return hi * step_kib / 1024
