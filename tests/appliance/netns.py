"""A private network namespace with a TAP device, and QEMU guests booted on it.

In: a name prefix; an image (an applc kvm image, or a Linux kernel + initrd)
and a machine type.  Out:

- ``network_namespace(prefix)``: a context manager yielding a ``NetNs`` with a
  unique name (prefix, pid, random suffix) and ``lo`` up; it is deleted on
  leaving, whatever happened inside.
- ``NetNs.add_tap()``: a persistent TAP device (``tap0``, 10.77.0.1/24, up)
  inside it; ``NetNs.socket()``: a socket created inside the namespace (usable
  from any thread of this process, e.g. UDP to the guest or AF_PACKET on the
  TAP); ``NetNs.run()``/``popen()``: commands run inside it (``ip netns exec``).
- ``booted(ns, command, serial)``: a context manager that starts QEMU inside
  the namespace and yields a ``Vm`` whose serial console is a file, with a
  bounded ``wait_for(pattern)``; QEMU is killed by PID on leaving.
- ``applc_command(...)``: the QEMU command line ``applc run --net tap:tap0``
  would use for an applc image (applc.targets.kvm.qemu.qemu_command, so the
  wiring is the same); ``nic_args``: the same NIC for other guests (Linux).

Used by tests/appliance (the real-peer tests) and by benchmarks/linux_baseline.py
and benchmarks/udp_echo.py (which put this folder on sys.path).  Needs root
(creating namespaces and TAP devices), ``ip`` (iproute2) and QEMU.  All traffic
stays inside the namespace: the only addresses used are 10.77.0.0/24 on the TAP.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

HOST_ADDR = "10.77.0.1"
GUEST_ADDR = "10.77.0.2"
PREFIX_LEN = 24
GUEST_MAC = "52:54:00:77:00:02"
TAP_NAME = "tap0"
NETDEV_ID = "net0"

_CLONE_NEWNET = 0x40000000
_IP_TIMEOUT = 30.0
_KILL_WAIT = 10.0


class NetNsError(RuntimeError):
    """A namespace, TAP device or guest could not be set up; the message says which step."""


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=_IP_TIMEOUT)
    if result.returncode != 0:
        raise NetNsError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")


@dataclass
class NetNs:
    """A network namespace this process created (see network_namespace)."""

    name: str
    taps: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return Path("/run/netns") / self.name

    def exec_prefix(self) -> list[str]:
        """Prepend to a command to run it inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def run(self, cmd: Sequence[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` inside the namespace to completion (killed after ``timeout``)."""
        return subprocess.run(self.exec_prefix() + list(cmd), capture_output=True, text=True, timeout=timeout)

    def popen(self, cmd: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start ``cmd`` inside the namespace (in its own session, so signals stay ours)."""
        # ip netns exec execs the command: the Popen PID is the command's PID.
        return subprocess.Popen(self.exec_prefix() + list(cmd), start_new_session=True, **kwargs)

    def add_tap(self, name: str = TAP_NAME, address: str = f"{HOST_ADDR}/{PREFIX_LEN}") -> str:
        """Create a TAP device in the namespace with ``address`` on it, up; return its name."""
        _ip("-n", self.name, "tuntap", "add", "dev", name, "mode", "tap")
        self.taps.append(name)
        _ip("-n", self.name, "addr", "add", address, "dev", name)
        _ip("-n", self.name, "link", "set", name, "up")
        return name

    def set_neighbour(self, address: str, mac: str, dev: str = TAP_NAME) -> None:
        """A permanent ARP entry, so the host sends at once instead of ARPing (retries are 1 s apart)."""
        _ip("-n", self.name, "neigh", "replace", address, "lladdr", mac, "dev", dev, "nud", "permanent")

    def socket(self, family: int, kind: int, proto: int = 0) -> socket.socket:
        """A socket that lives in this namespace.

        A thread enters the namespace (setns affects only the calling thread),
        makes the socket and ends; the socket stays in the namespace it was
        made in and can be used from any thread.
        """
        made: dict[str, object] = {}

        def make() -> None:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    if _libc().setns(fd, _CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise OSError(err, f"setns({self.path}): {os.strerror(err)}")
                    made["socket"] = socket.socket(family, kind, proto)
                finally:
                    os.close(fd)
            except BaseException as error:  # handed to the caller's thread
                made["error"] = error

        worker = threading.Thread(target=make, name=f"setns-{self.name}")
        worker.start()
        worker.join()
        if "error" in made:
            raise made["error"]  # type: ignore[misc]
        return made["socket"]  # type: ignore[return-value]

    def delete(self) -> None:
        """Delete the namespace (its TAP devices go with it)."""
        _ip("netns", "delete", self.name)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def unique_name(prefix: str) -> str:
    """A namespace name no other test (or xdist worker, or run) uses: prefix-pid-random."""
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"


@contextlib.contextmanager
def network_namespace(prefix: str = "applc") -> Iterator[NetNs]:
    """A fresh namespace with ``lo`` up; deleted on leaving, also on failure."""
    ns = NetNs(unique_name(prefix))
    _ip("netns", "add", ns.name)
    try:
        _ip("-n", ns.name, "link", "set", "lo", "up")
        yield ns
    finally:
        ns.delete()


# --- QEMU on the TAP -------------------------------------------------------------


def nic_args(machine: str, tap: str = TAP_NAME, mac: str = GUEST_MAC) -> list[str]:
    """QEMU arguments for one virtio-net NIC on ``tap`` for a non-applc guest (the Linux baseline).

    The same devices applc's runner adds (targets/kvm/qemu.py nic_args):
    virtio-mmio version 2 on microvm, modern virtio-net-pci elsewhere.
    """
    if machine == "microvm":
        return [
            "-global", "virtio-mmio.force-legacy=false",
            # script=no/downscript=no: the TAP exists and is configured already.
            "-netdev", f"tap,id={NETDEV_ID},ifname={tap},script=no,downscript=no",
            "-device", f"virtio-net-device,netdev={NETDEV_ID},mac={mac}",
        ]
    return [
        "-netdev", f"tap,id={NETDEV_ID},ifname={tap},script=no,downscript=no",
        "-device", f"virtio-net-pci,romfile=,netdev={NETDEV_ID},mac={mac}",
    ]


def applc_command(
    image: Path,
    workdir: Path,
    *,
    machine: str,
    cmdline: Sequence[str] = (),
    mem_mib: float = 32,
    accel: str = "auto",
    tap: str | None = TAP_NAME,
    mac: str = GUEST_MAC,
) -> tuple[list[str], list[int]]:
    """The QEMU command ``applc run`` would use for ``image``, COM1 and COM2 into files.

    Returns the command and the descriptors QEMU must inherit (pass them as
    ``pass_fds`` and close them after the launch).  COM1 goes to
    ``workdir/com1.log`` and COM2 to ``workdir/com2.log``.
    """
    from applc.targets.kvm import qemu

    com1 = os.open(workdir / "com1.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    com2 = os.open(workdir / "com2.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    wiring = qemu.Wiring(
        com1_fd=com1, com2_fd=com2, qmp_socket=workdir / "qmp.sock", trace_log=workdir / "qemu-trace.log"
    )
    # The NIC exactly as `applc run --net tap:IF,mac=M` adds it (machine options included).
    nics = [f"tap:{tap},mac={mac}"] if tap else []
    try:
        command = qemu.qemu_command(
            qemu.find_qemu(), Path(image), wiring,
            machine=machine, accel=qemu.resolve_accel(accel), mem_mib=mem_mib, cmdline=cmdline, nics=nics,
        )
    except BaseException:
        os.close(com1)
        os.close(com2)
        raise
    return command, [com1, com2]


@dataclass
class Vm:
    """A QEMU process running inside a namespace; its console is ``serial`` (a file)."""

    proc: subprocess.Popen
    serial: Path
    launched_at: float  # time.monotonic() just before the launch
    qemu_output: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def console(self) -> bytes:
        try:
            return self.serial.read_bytes()
        except FileNotFoundError:
            return b""

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_for(self, pattern: bytes | str, timeout: float, poll: float = 0.02) -> re.Match[bytes]:
        """Wait (at most ``timeout`` s) until the console matches ``pattern`` (a regex).

        Raises NetNsError with the console and QEMU's own output if it does not,
        or if QEMU exits first.
        """
        regex = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        shown = regex.pattern.decode(errors="replace")
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.console())
            if match:
                return match
            if not self.running():
                raise NetNsError(f"QEMU exited ({self.proc.returncode}) before {shown!r}" + self.describe())
            if time.monotonic() >= deadline:
                raise NetNsError(f"no {shown!r} on the console within {timeout:g} s" + self.describe())
            time.sleep(poll)

    def wait_exit(self, timeout: float) -> int:
        """QEMU's exit code; NetNsError if it is still running after ``timeout`` s."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise NetNsError(f"QEMU still running after {timeout:g} s" + self.describe()) from None

    def describe(self) -> str:
        console = self.console().decode(errors="replace")[-3000:]
        try:
            own = self.qemu_output.read_text(errors="replace")[-2000:]
        except FileNotFoundError:
            own = ""
        return f"\n--- console (last 3000 chars) ---\n{console}\n--- QEMU's own output ---\n{own}"

    def kill(self) -> None:
        """Kill QEMU by PID (its process group holds only QEMU) and reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.wait(_KILL_WAIT)
        except subprocess.TimeoutExpired:
            raise NetNsError(f"QEMU (pid {self.proc.pid}) survived SIGKILL for {_KILL_WAIT:g} s") from None


@contextlib.contextmanager
def booted(
    ns: NetNs, command: Sequence[str], serial: Path, *, pass_fds: Sequence[int] = ()
) -> Iterator[Vm]:
    """Start ``command`` (a QEMU command line) inside ``ns``; kill it by PID on leaving.

    ``serial`` is where the command sends the guest console (a file).
    Descriptors in ``pass_fds`` are inherited by QEMU and closed here after the launch.
    """
    output = serial.with_name(serial.name + ".qemu")
    with open(output, "wb") as qemu_output:
        launched_at = time.monotonic()
        try:
            proc = ns.popen(command, stdin=subprocess.DEVNULL, stdout=qemu_output,
                            stderr=subprocess.STDOUT, pass_fds=tuple(pass_fds))
        finally:
            for fd in pass_fds:
                os.close(fd)  # only QEMU holds them now
    vm = Vm(proc, serial, launched_at, output)
    try:
        yield vm
    finally:
        vm.kill()


# --- a DHCP server on the TAP ------------------------------------------------------

DHCP_POOL = ("10.77.0.50", "10.77.0.99")
DHCP_PINNED = "10.77.0.77"  # what dnsmasq hands GUEST_MAC


@dataclass
class Dnsmasq:
    """A dnsmasq DHCP server in a namespace (see ``dhcp_server``)."""

    proc: subprocess.Popen
    leases_file: Path
    pid_file: Path
    log_file: Path

    def pid(self) -> int | None:
        """The PID dnsmasq wrote to its own pid file (None until it has)."""
        try:
            return int(self.pid_file.read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def leases(self) -> list[tuple[str, str]]:
        """(MAC, address) of every lease in the lease file."""
        try:
            lines = self.leases_file.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [(fields[1], fields[2]) for fields in (line.split() for line in lines) if len(fields) >= 3]

    def wait_for_lease(self, mac: str, timeout: float, poll: float = 0.1) -> str:
        """The address leased to ``mac``, waiting at most ``timeout`` s; NetNsError if none."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for leased_mac, address in self.leases():
                if leased_mac.lower() == mac.lower():
                    return address
            if self.proc.poll() is not None:
                break
            time.sleep(poll)
        raise NetNsError(f"no DHCP lease for {mac} within {timeout:g} s" + self.describe())

    def describe(self) -> str:
        try:
            log = self.log_file.read_text(errors="replace")[-2000:]
        except FileNotFoundError:
            log = ""
        try:
            errors = self.log_file.with_name("dnsmasq.stderr").read_text(errors="replace")[-2000:]
        except FileNotFoundError:
            errors = ""
        return f"\n--- dnsmasq log ---\n{log}\n--- dnsmasq stderr ---\n{errors}"


@contextlib.contextmanager
def dhcp_server(ns: NetNs, workdir: Path, *, tap: str = TAP_NAME, pin: tuple[str, str] | None = (GUEST_MAC, DHCP_PINNED),
                lease_seconds: int = 120, start_timeout: float = 30.0) -> Iterator[Dnsmasq]:
    """dnsmasq serving DHCP (only: no DNS) on ``tap``; killed by the PID in its pid file on leaving."""
    leases, pid_file, log = workdir / "dnsmasq.leases", workdir / "dnsmasq.pid", workdir / "dnsmasq.log"
    command = [
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0",
        f"--interface={tap}", "--bind-interfaces", "--user=root", "--log-dhcp", f"--log-facility={log}",
        f"--dhcp-range={DHCP_POOL[0]},{DHCP_POOL[1]},255.255.255.0,{lease_seconds}",
        f"--dhcp-option=option:router,{HOST_ADDR}",
        f"--dhcp-leasefile={leases}", f"--pid-file={pid_file}",
    ]
    if pin is not None:
        command.append(f"--dhcp-host={pin[0]},{pin[1]}")
    with open(workdir / "dnsmasq.stderr", "wb") as errors:  # why it refused to start, if it does
        proc = ns.popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)
    server = Dnsmasq(proc, leases, pid_file, log)
    try:
        deadline = time.monotonic() + start_timeout
        while server.pid() is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise NetNsError(f"dnsmasq did not start (exit {proc.poll()})" + server.describe())
            time.sleep(0.05)
        yield server
    finally:
        pid = server.pid()
        if pid is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(_KILL_WAIT)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)  # the same process: --keep-in-foreground, exec'd by ip
        proc.wait(_KILL_WAIT)
