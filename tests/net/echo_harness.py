"""Host side of the frame_echo tests and benchmark: QEMU with UDP-backed NICs, and a frame pump.

In:  a kvm image of examples/frame_echo.apy, a machine type, how many NICs.
Out: ``echo_guest(image, machine, nics)``: a context manager that boots the
     image under QEMU TCG with one virtio-net card per NIC, each backed by a
     ``-netdev dgram`` pair of 127.0.0.1 UDP ports (QEMU's chosen free, ours
     bound), waits until every NIC echoes, and yields an ``EchoGuest``; QEMU is
     killed by PID on leaving, whatever happened.
     ``EchoGuest.exchange(count, window)``: sends ``count`` random frames
     (60-1514 bytes, round-robin over the NICs, at most ``window`` in flight
     per NIC) and checks that each comes back intact with swapped MACs;
     returns an ``ExchangeResult`` (frames, seconds, mismatches); TimeoutError
     when no echo arrives within ``timeout`` seconds.

Frames carry EtherType 0x88b5 (local experimental) and a 4-byte sequence
number, so late echoes of the readiness probes are recognised and ignored.
Used by tests/net/test_frame_echo.py and benchmarks/frame_echo.py.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from applc.targets.kvm import qemu

ETHERTYPE = 0x88B5
HOST_MAC = bytes.fromhex("020000aa0001")
PROBE_SEQ_BASE = 0xF0000000
READY_TIMEOUT = 180.0  # boot under TCG on a loaded machine: generous but bounded
ECHO_TIMEOUT = 30.0  # one frame's round trip may not take longer than this
KILL_WAIT = 10.0


def guest_mac(i: int) -> str:
    return f"52:54:00:a7:00:{i + 1:02x}"


def free_udp_port() -> int:
    """A port nobody on 127.0.0.1 uses right now (QEMU binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_frame(rnd: random.Random, dst: bytes, seq: int, size: int) -> bytes:
    head = dst + HOST_MAC + struct.pack("!HI", ETHERTYPE, seq)
    return head + rnd.randbytes(size - len(head))


def seq_of(frame: bytes) -> int:
    if len(frame) < 18 or struct.unpack_from("!H", frame, 12)[0] != ETHERTYPE:
        return -1
    return struct.unpack_from("!I", frame, 14)[0]


@dataclass
class Nic:
    sock: socket.socket
    qemu_port: int
    mac: bytes

    def send(self, frame: bytes) -> None:
        self.sock.sendto(frame, ("127.0.0.1", self.qemu_port))


@dataclass
class ExchangeResult:
    frames: int = 0
    seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)


@dataclass
class EchoGuest:
    proc: subprocess.Popen
    nics: list[Nic]
    workdir: Path

    def console(self) -> str:
        return (self.workdir / "com1.log").read_text(errors="replace")

    def errors(self) -> str:
        return (self.workdir / "com2.log").read_text(errors="replace")

    def exchange(self, count: int, window: int = 8, seed: int = 1,
                 timeout: float = ECHO_TIMEOUT) -> ExchangeResult:
        rnd = random.Random(seed)
        result = ExchangeResult()
        pending: list[dict[int, bytes]] = [{} for _ in self.nics]
        next_seq = 0
        start = time.monotonic()
        while result.frames < count:
            for k, nic in enumerate(self.nics):
                while len(pending[k]) < window and next_seq < count:
                    frame = make_frame(rnd, nic.mac, next_seq, rnd.randint(60, 1514))
                    pending[k][next_seq] = frame
                    nic.send(frame)
                    next_seq += 1
            self._collect(pending, result, timeout)
        result.seconds = time.monotonic() - start
        return result

    def _collect(self, pending: list[dict[int, bytes]], result: ExchangeResult, timeout: float) -> None:
        socks = [n.sock for n in self.nics]
        ready, _, _ = select.select(socks, [], [], timeout)
        if not ready:
            raise TimeoutError(f"no echo within {timeout} s; {result.frames} frames came back so far")
        for k, nic in enumerate(self.nics):
            if nic.sock not in ready:
                continue
            back = nic.sock.recv(65536)
            seq = seq_of(back)
            if seq >= PROBE_SEQ_BASE:
                continue  # a late echo of a readiness probe
            sent = pending[k].pop(seq, None)
            if sent is None:
                result.mismatches.append(f"nic {k}: unexpected frame (seq {seq}, {len(back)} bytes)")
                continue
            want = HOST_MAC + nic.mac + sent[12:]
            if back != want:
                result.mismatches.append(f"nic {k}: seq {seq} came back altered "
                                         f"({len(back)} bytes, sent {len(sent)})")
            result.frames += 1


def _wait_ready(guest: EchoGuest) -> None:
    """Probe every NIC until it echoes (bounded by READY_TIMEOUT)."""
    deadline = time.monotonic() + READY_TIMEOUT
    rnd = random.Random(0)
    for k, nic in enumerate(guest.nics):
        probe = 0
        while True:
            if guest.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited with {guest.proc.returncode} during boot: "
                                   f"{guest.console()} {guest.errors()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"NIC {k} did not echo within {READY_TIMEOUT} s: {guest.errors()}")
            nic.send(make_frame(rnd, nic.mac, PROBE_SEQ_BASE + probe, 60))
            probe += 1
            ready, _, _ = select.select([nic.sock], [], [], 0.5)
            if ready:
                while select.select([nic.sock], [], [], 0.2)[0]:
                    nic.sock.recv(65536)  # this probe and earlier ones, queued during boot
                break


@contextlib.contextmanager
def echo_guest(image: Path, machine: str, nics: int = 1, cmdline=(), mem_mib: float = 64,
               msix: bool = True) -> Iterator[EchoGuest]:
    """See the module doc; ``msix=False`` gives virtio-net-pci cards no MSI-X (vectors=0)."""
    socks: list[socket.socket] = []
    proc = None
    with tempfile.TemporaryDirectory(prefix="applc-echo-") as tmp:
        workdir = Path(tmp)
        try:
            specs, nic_list = [], []
            for i in range(nics):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", 0))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                port = free_udp_port()
                specs.append(f"dgram:{port}:{s.getsockname()[1]},mac={guest_mac(i)}")
                nic_list.append(Nic(s, port, bytes.fromhex(guest_mac(i).replace(":", ""))))
            com1 = os.open(workdir / "com1.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            com2 = os.open(workdir / "com2.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            wiring = qemu.Wiring(com1_fd=com1, com2_fd=com2, qmp_socket=workdir / "qmp.sock",
                                 trace_log=workdir / "trace.log")
            command = qemu.qemu_command(qemu.find_qemu(), Path(image), wiring, machine=machine,
                                        accel="tcg", mem_mib=mem_mib, cmdline=list(cmdline), nics=specs)
            if not msix:
                command = [a.replace("virtio-net-pci,", "virtio-net-pci,vectors=0,") for a in command]
            try:
                proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, pass_fds=(com1, com2))
            finally:
                os.close(com1)
                os.close(com2)
            guest = EchoGuest(proc, nic_list, workdir)
            _wait_ready(guest)
            yield guest
        finally:
            if proc is not None:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(KILL_WAIT)
            for s in socks:
                s.close()
