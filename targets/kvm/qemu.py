"""Boot a PVH image under QEMU and report the guest program's exit status.

In: an image file (the kvm target's ELF, or a floor guest from floor/), the
guest's argv words, a machine type, an accelerator, a memory size, an
optional timeout.  Out: the guest's exit status as an ``int``; meanwhile the
guest's COM1 bytes are copied to ``stdout`` exactly and its COM2 bytes to
``stderr``.  ``applc run`` (compiler/driver) calls ``run_image``; so do the
boot tests and benchmarks/boot.py.

How QEMU is wired (``qemu_command`` builds the command line)::

    COM1 (0x3f8) --pipe--> stdout       guest console, byte for byte
    COM2 (0x2f8) --pipe--> stderr       guest error reports
    port 0xf4 isa-debug-exit            guest status s -> QEMU exit code (s << 1) | 1
    port 0xe9 isa-debugcon --pipe-->    BootTrace records (only when a BootTrace is given)
    QEMU's own stdout/stderr --pipe-->  collected, then forwarded to stderr (or
                                        raised as QemuError if QEMU never started the guest)
    QEMU trace log (-D file)            runstate changes and shutdown requests
    QMP unix socket (private temp dir)  used only to stop the guest

Nothing but COM1 bytes is ever written to ``stdout``.  One thread reads all
pipes with a selector; QEMU runs in its own session so a terminal's Ctrl-C
reaches only us, and we decide how QEMU stops.

Exit status (what ``run_image`` returns):

- ``0..127``: the status the guest wrote to isa-debug-exit.  Only 7 bits
  survive ``(s << 1) | 1`` in an 8-bit process exit code; the kvm runtime
  must report statuses in that range (it exits 1 for an uncaught exception).
- the guest powered off cleanly (ACPI) without writing a status: ``0``,
  unless it wrote to COM2, the error channel, in which case ``1``.  QEMU
  exits 0 both for a power-off and, because of ``-no-reboot``, for a reset;
  the trace event ``qemu_system_shutdown_request`` is what tells them apart.
- ``EXIT_CRASHED`` (125): the guest reset itself (triple fault) or KVM
  could not run it ("KVM internal error"); one line on ``stderr`` says which.
- ``EXIT_TIMEOUT`` (124, like coreutils ``timeout``): ``timeout`` expired;
  the guest was stopped and one line on ``stderr`` says so.
- ``EXIT_INTERRUPTED`` (130, like a shell): Ctrl-C (KeyboardInterrupt).
- ``128 + N`` when applc itself gets SIGTERM or SIGHUP (N): QEMU is stopped
  first, so killing `applc run` never leaves a VM behind.

A guest may of course exit 124, 125 or 130 itself; the ``stderr`` line is
how a human tells them apart, as with coreutils ``timeout``.

QMP costs: the ``qemu.qmp`` client (and asyncio) is imported and connected
only when the guest must be stopped (timeout, Ctrl-C, KVM internal error).
Measured on the development machine: importing qemu.qmp (with asyncio)
takes ~33 ms and a connect + capability negotiation ~1.5 ms, and an eager
connection would also need ``-S`` and a ``cont`` round trip to be sure not
to miss early events; a floor guest boots in ~30 ms under TCG on
-M microvm, so eager QMP would double it.  Lazily, a normal run pays
nothing.  The exit path never needs QMP: QEMU's exit code and its
trace log carry everything.

Boot trace: if a ``BootTrace`` is passed, the runner adds an isa-debugcon
device on port 0xe9.  Reading that port gives 0xe9 only when the device is
there, so a guest can tell that a trace was asked for without any change to
its argv or console.  A guest then writes 9-byte records: one tag byte (for
example ``E`` entry, ``L`` long mode, ``M`` main) and its TSC, 8 bytes
little-endian.  The runner stamps each record with the host's monotonic
time since QEMU was launched, so the trace splits a boot into QEMU's
startup and the guest's own phases.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Sequence

QEMU_BINARY = "qemu-system-x86_64"
MACHINES = ("microvm", "q35", "pc")
ACCELS = ("auto", "kvm", "tcg")

DEBUG_EXIT_PORT = 0xF4
DEBUGCON_PORT = 0xE9

EXIT_TIMEOUT = 124
EXIT_CRASHED = 125
EXIT_INTERRUPTED = 130

# How long a guest may take to stop once asked (QMP quit), and how long the
# QMP connection may take, before QEMU is killed by PID.
_STOP_GRACE = 5.0
_QMP_TIMEOUT = 2.0
_KVM_INTERNAL_ERROR = b"KVM internal error"


class QemuNotFoundError(RuntimeError):
    """qemu-system-x86_64 is not installed (the message says how to install it)."""


# The name compiler/driver/cli.py catches.
QemuNotFound = QemuNotFoundError


class QemuError(RuntimeError):
    """QEMU could not run the image at all (its own diagnostics are the message)."""


@dataclass(frozen=True)
class TraceRecord:
    """One boot-trace record: host seconds since QEMU's launch, guest tag and TSC."""

    host_seconds: float
    tag: str
    tsc: int


@dataclass
class BootTrace:
    """Filled in by ``run_image``: the guest's trace records and the total time."""

    records: list[TraceRecord] = field(default_factory=list)
    total_seconds: float = 0.0  # QEMU launch to QEMU exit
    _pending: bytes = b""

    _RECORD = struct.Struct("<cQ")

    def feed(self, host_seconds: float, data: bytes) -> None:
        """Add raw bytes read from port 0xe9; complete records are decoded."""
        self._pending += data
        size = self._RECORD.size
        while len(self._pending) >= size:
            tag, tsc = self._RECORD.unpack_from(self._pending)
            self.records.append(TraceRecord(host_seconds, tag.decode("latin-1"), tsc))
            self._pending = self._pending[size:]

    def summary(self) -> str:
        """One line for humans: each record's host time and TSC, then the exit."""
        parts = [f"{r.tag} +{r.host_seconds * 1e3:.1f} ms (tsc {r.tsc})" for r in self.records]
        if not parts:
            parts = ["the guest wrote no trace records"]
        return f"applc: boot trace: {', '.join(parts)}, exit +{self.total_seconds * 1e3:.1f} ms"


# --- the guest command line -------------------------------------------------

_SAFE_WORD = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def quote_cmdline(words: Iterable[str]) -> str:
    """Join argv words into one command line that ``split_cmdline`` inverts.

    Words made only of safe characters go bare; any other word is put in
    single quotes, with each ``'`` in it written ``'\\''`` (close the quote,
    an escaped quote, reopen).  The result is also what a POSIX shell would
    split back into the same words.  A NUL cannot be passed (the guest
    receives a C string).
    """
    quoted = []
    for word in words:
        if "\0" in word:
            raise ValueError(f"a guest argument cannot contain NUL: {word!r}")
        if _SAFE_WORD.fullmatch(word):
            quoted.append(word)
        else:
            quoted.append("'" + word.replace("'", "'\\''") + "'")
    return " ".join(quoted)


def split_cmdline(line: str) -> list[str]:
    """Split a command line into words: the reference for the guest's splitter.

    The grammar the guest must implement (a subset of POSIX shell words,
    enough for everything ``quote_cmdline`` produces):

    - space, tab and newline outside quotes separate words;
    - ``'...'`` is literal up to the next ``'``;
    - ``\\c`` outside quotes is the character c;
    - every other character is itself (no ``"``, ``$`` or glob handling).
    """
    words: list[str] = []
    current: list[str] = []
    in_word = False
    i = 0
    while i < len(line):
        char = line[i]
        if char in " \t\n":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        elif char == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ValueError("unterminated single quote in command line")
            current.append(line[i + 1 : end])
            in_word, i = True, end
        elif char == "\\" and i + 1 < len(line):
            current.append(line[i + 1])
            in_word, i = True, i + 1
        else:
            current.append(char)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(current))
    return words


# --- choosing QEMU and the accelerator --------------------------------------


def find_qemu() -> str:
    """Return the path of qemu-system-x86_64, or raise QemuNotFoundError."""
    path = shutil.which(QEMU_BINARY)
    if path is None:
        raise QemuNotFoundError(
            f"{QEMU_BINARY} not found on PATH: install it with `apt-get install qemu-system-x86`"
        )
    return path


def hardware_kvm_usable(sys_root: Path = Path("/")) -> bool:
    """True when /dev/kvm opens read-write and is backed by VT-x or AMD-V.

    A software KVM (kvm_pvm, as on these build machines) also provides
    /dev/kvm, but guests die on SSE there and device exits are slow, so it
    does not count.  ``sys_root`` lets tests point at a fake tree.
    """
    modules = sys_root / "sys/module"
    if (modules / "kvm_pvm").exists():
        return False
    if not ((modules / "kvm_intel").exists() or (modules / "kvm_amd").exists()):
        return False
    try:
        fd = os.open(sys_root / "dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def resolve_accel(accel: str) -> str:
    """Map "auto" to "kvm" or "tcg"; "kvm" and "tcg" are returned as they are."""
    if accel not in ACCELS:
        raise ValueError(f"unknown accelerator {accel!r}: expected one of {', '.join(ACCELS)}")
    if accel != "auto":
        return accel
    return "kvm" if hardware_kvm_usable() else "tcg"


# --- the QEMU command line --------------------------------------------------


@dataclass(frozen=True)
class Wiring:
    """File descriptors and paths a QEMU instance is connected to."""

    com1_fd: int
    com2_fd: int
    qmp_socket: Path
    trace_log: Path
    debugcon_fd: int | None = None


def _memory_arg(mem_mib: float) -> str:
    kib = int(round(mem_mib * 1024))
    if kib <= 0:
        raise ValueError(f"memory must be positive, got {mem_mib} MiB")
    return f"{kib}K"


def _machine_arg(machine: str, nics: bool = False) -> str:
    if machine not in MACHINES:
        raise ValueError(f"unknown machine {machine!r}: expected one of {', '.join(MACHINES)}")
    if machine == "microvm":
        # isa-serial=off: both UARTs are added below with -device, the same way
        # on every machine.  With NICs, acpi=off makes QEMU 7.2 append one
        # "virtio_mmio.device=512@ADDR:GSI" word per virtio-mmio device to the
        # command line (with ACPI it describes them in the DSDT instead); the
        # kvm platform keeps those words out of argv and gives them to the
        # drivers (targets/kvm/cmdline.py).  Without NICs nothing changes.
        # pit=on: the TSC is calibrated against PIT channel 0 when CPUID has no
        # frequency leaf (QEMU's TCG CPU); rtc=on: time.time() reads the CMOS
        # clock.  Under TCG "auto" leaves both out.
        clocks = "pit=on,rtc=on"
        if nics:
            return f"microvm,isa-serial=off,{clocks},acpi=off,auto-kernel-cmdline=on"
        return f"microvm,isa-serial=off,{clocks},auto-kernel-cmdline=off"
    return machine


# --- network cards ------------------------------------------------------------

_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")
_IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")
NET_HELP = ("user | user:udp|tcp:HOSTPORT:GUESTPORT | tap:IFNAME | dgram:LOCALPORT:REMOTEPORT | "
            "dgram:LHOST:LPORT:RHOST:RPORT, "
            "optionally followed by ,mac=XX:XX:XX:XX:XX:XX")


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad --net {spec!r}: {text!r} is not a UDP port")
    return int(text)


def _netdev(spec: str, ident: str) -> str:
    """The -netdev value of one --net backend (without its ,mac= option)."""
    kind, _, rest = spec.partition(":")
    if kind == "user" and not rest:
        return f"user,id={ident}"
    if kind == "user":  # user:PROTO:HOSTPORT:GUESTPORT, forwarded from 127.0.0.1
        parts = rest.split(":")
        if len(parts) == 3 and parts[0] in ("udp", "tcp"):
            proto, hport, gport = parts
            return (f"user,id={ident},hostfwd={proto}:127.0.0.1:{_port(hport, spec)}"
                    f"-:{_port(gport, spec)}")
    if kind == "tap" and _IFNAME.fullmatch(rest):
        return f"tap,id={ident},ifname={rest},script=no,downscript=no"
    if kind == "dgram":
        parts = rest.split(":")
        if len(parts) == 2:
            parts = ["127.0.0.1", parts[0], "127.0.0.1", parts[1]]
        if len(parts) == 4:
            lhost, lport, rhost, rport = parts
            return (f"dgram,id={ident},local.type=inet,local.host={lhost},"
                    f"local.port={_port(lport, spec)},remote.type=inet,remote.host={rhost},"
                    f"remote.port={_port(rport, spec)}")
    raise ValueError(f"bad --net {spec!r}: expected {NET_HELP}")


def nic_args(machine: str, specs: Sequence[str]) -> list[str]:
    """QEMU arguments for one virtio-net card per ``--net`` spec (see NET_HELP).

    microvm gets virtio-net-device (virtio-mmio, forced to version 2: QEMU
    7.2 defaults to the legacy interface), q35 and pc virtio-net-pci (modern
    capabilities; no option ROM, nothing would boot from it).  Raises
    ValueError with one line for a malformed spec.
    """
    args: list[str] = []
    if machine == "microvm" and specs:
        args += ["-global", "virtio-mmio.force-legacy=false"]
    for i, spec in enumerate(specs):
        backend, _, option = spec.partition(",")
        ident = f"net{i}"
        device = "virtio-net-device" if machine == "microvm" else "virtio-net-pci,romfile="
        device += f",netdev={ident}"
        if option:
            if not (option.startswith("mac=") and _MAC.fullmatch(option[4:])):
                raise ValueError(f"bad --net {spec!r}: expected {NET_HELP}")
            device += f",{option}"
        args += ["-netdev", _netdev(backend, ident), "-device", device]
    return args


def qemu_command(
    qemu: str,
    image: Path,
    wiring: Wiring,
    *,
    machine: str,
    accel: str,
    mem_mib: float,
    cmdline: Sequence[str],
    extra_args: Sequence[str] = (),
    nics: Sequence[str] = (),
) -> list[str]:
    """Build the argv for QEMU; ``accel`` must already be "kvm" or "tcg".

    ``nics``: one ``--net`` spec per virtio-net card (``nic_args``).
    """
    args = [
        qemu,
        "-M", _machine_arg(machine, bool(nics)),
        "-accel", accel,
        "-m", _memory_arg(mem_mib),
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", str(image),
        "-append", quote_cmdline(cmdline),
        # /dev/fd/N reopens the pipe QEMU inherited as fd N.
        "-chardev", f"file,id=com1,path=/dev/fd/{wiring.com1_fd}",
        "-chardev", f"file,id=com2,path=/dev/fd/{wiring.com2_fd}",
        "-device", "isa-serial,chardev=com1,index=0",  # index 0: port 0x3f8, IRQ 4
        "-device", "isa-serial,chardev=com2,index=1",  # index 1: port 0x2f8, IRQ 3
        "-device", f"isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=4",
        "-qmp", f"unix:{wiring.qmp_socket},server=on,wait=off",
        # The log trace backend writes these two events to the -D file; they
        # tell "QEMU failed before the guest ran" and "guest reset" apart.
        "-D", str(wiring.trace_log),
        "-trace", "runstate_set",
        "-trace", "qemu_system_shutdown_request",
    ]
    if accel == "kvm" and hardware_kvm_usable():
        # A software KVM (kvm_pvm) aborts on -cpu host (it cannot set every
        # host MSR), so a forced --accel kvm there keeps QEMU's default CPU.
        args += ["-cpu", "host"]
    if wiring.debugcon_fd is not None:
        args += [
            "-chardev", f"file,id=boottrace,path=/dev/fd/{wiring.debugcon_fd}",
            "-device", f"isa-debugcon,iobase={DEBUGCON_PORT:#x},chardev=boottrace",
        ]
    return args + nic_args(machine, nics) + list(extra_args)


# --- running ------------------------------------------------------------------


class _Terminated(Exception):
    """SIGTERM or SIGHUP reached `applc run` while QEMU was running."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated(signum)


def _catch_termination() -> dict[int, object]:
    """Turn SIGTERM/SIGHUP into _Terminated while supervising (main thread only:
    Python delivers signals there), so QEMU, in its own session, is stopped too."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _raise_terminated) for sig in (signal.SIGTERM, signal.SIGHUP)}


def _restore_handlers(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def run_image(
    image: Path,
    *,
    machine: str = "microvm",
    accel: str = "auto",
    mem_mib: float = 32,
    cmdline: Sequence[str] = (),
    timeout: float | None = None,
    stdout: BinaryIO | None = None,
    stderr: BinaryIO | None = None,
    extra_args: Sequence[str] = (),
    boot_trace: bool | BootTrace = False,
    nics: Sequence[str] = (),
) -> int:
    """Boot ``image`` and return the guest's exit status (see the module doc).

    ``stdout``/``stderr`` default to this process's binary stdout/stderr.
    ``timeout`` is in seconds of wall time; None waits forever.
    ``boot_trace`` attaches the port-0xe9 trace channel: a BootTrace is
    filled in; True prints a one-line summary on ``stderr`` after the run
    (what ``applc run --boot-trace`` shows).  ``nics``: ``--net`` specs, one
    virtio-net card each (``nic_args``).  Raises QemuNotFoundError when
    QEMU is missing and QemuError when QEMU cannot start the image.
    """
    qemu = find_qemu()
    stdout = stdout if stdout is not None else sys.stdout.buffer
    stderr = stderr if stderr is not None else sys.stderr.buffer
    resolved = resolve_accel(accel)
    trace = BootTrace() if boot_trace is True else boot_trace or None
    with _Session(Path(image), trace) as session:
        command = qemu_command(
            qemu, Path(image), session.wiring,
            machine=machine, accel=resolved, mem_mib=mem_mib, cmdline=cmdline, extra_args=extra_args,
            nics=nics,
        )
        session.launch(command)
        status = session.supervise(stdout, stderr, timeout)
    if boot_trace is True:
        _say(stderr, trace.summary())
    return status


class _Session:
    """One QEMU process with its pipes, temp dir and stop logic.

    Used as a context manager: leaving it always kills (by PID) and reaps
    QEMU if it is still there, closes every descriptor and removes the
    temp dir, whatever happened inside.
    """

    def __init__(self, image: Path, boot_trace: BootTrace | None) -> None:
        if not image.is_file():
            raise FileNotFoundError(f"no such image: {image}")
        self.boot_trace = boot_trace
        self.proc: subprocess.Popen[bytes] | None = None
        self.launched_at = 0.0
        self.diag_bytes = bytearray()
        self.com2_written = False
        self._stopper: threading.Thread | None = None
        self._fds: list[int] = []
        self.tmpdir = Path(tempfile.mkdtemp(prefix="applc-qemu-"))  # mode 0700: private
        try:
            self.com1 = self._pipe()
            self.com2 = self._pipe()
            self.diag = self._pipe()
            self.debugcon = self._pipe() if boot_trace is not None else None
        except BaseException:
            self._release()  # out of descriptors: leave no pipe or temp dir behind
            raise
        self.wiring = Wiring(
            com1_fd=self.com1[1],
            com2_fd=self.com2[1],
            qmp_socket=self.tmpdir / "qmp.sock",
            trace_log=self.tmpdir / "qemu-trace.log",
            debugcon_fd=self.debugcon[1] if self.debugcon else None,
        )

    def _pipe(self) -> tuple[int, int]:
        read_end, write_end = os.pipe()
        self._fds += [read_end, write_end]
        return read_end, write_end

    def __enter__(self) -> "_Session":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
        if self._stopper is not None:
            self._stopper.join(_QMP_TIMEOUT)
        self._release()

    def _release(self) -> None:
        for fd in self._fds:
            _close_quietly(fd)
        self._fds.clear()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def launch(self, command: list[str]) -> None:
        child_ends = [self.com1[1], self.com2[1]] + ([self.debugcon[1]] if self.debugcon else [])
        self.launched_at = time.monotonic()
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self.diag[1],  # QEMU's own output must never reach our stdout
            stderr=self.diag[1],
            pass_fds=child_ends,
            start_new_session=True,  # a terminal's Ctrl-C goes to us, not to QEMU
        )
        # Only QEMU may hold the write ends now, so EOF on every pipe means it exited.
        for fd in child_ends + [self.diag[1]]:
            self._close(fd)

    def _close(self, fd: int) -> None:
        _close_quietly(fd)
        self._fds.remove(fd)

    # --- supervising

    def supervise(self, stdout: BinaryIO, stderr: BinaryIO, timeout: float | None) -> int:
        """Copy output until QEMU exits; stop it on timeout or Ctrl-C; decode the status."""
        deadline = None if timeout is None else self.launched_at + timeout
        previous = _catch_termination()
        try:
            outcome = self._pump(stdout, stderr, deadline)
        except KeyboardInterrupt:
            self.stop()
            self._drain_after_stop(stdout, stderr)
            outcome = "interrupted"
        except _Terminated as term:
            self.stop()
            self._drain_after_stop(stdout, stderr)
            return 128 + term.signum
        finally:
            _restore_handlers(previous)
        if self.boot_trace is not None:
            self.boot_trace.total_seconds = time.monotonic() - self.launched_at
        if outcome == "interrupted":
            return EXIT_INTERRUPTED
        if outcome == "timeout":
            _say(stderr, f"applc: the guest did not finish within {timeout:g} s and was stopped")
            return EXIT_TIMEOUT
        return self._decode_exit(stderr)

    def _pump(self, stdout: BinaryIO, stderr: BinaryIO, deadline: float | None) -> str:
        """Forward pipe data until every pipe is closed; return "exited" or "timeout"."""
        selector = self._selector(stdout, stderr)
        try:
            while selector.get_map():
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                if wait == 0.0:
                    self.stop()
                    self._drain(selector, time.monotonic() + _STOP_GRACE)
                    return "timeout"
                self._forward_ready(selector, wait)
                if _KVM_INTERNAL_ERROR in self.diag_bytes and self._stopper is None:
                    self.stop()  # QEMU pauses the VM on this error; it would never exit
        finally:
            selector.close()
        self.proc.wait()
        return "exited"

    def _selector(self, stdout: BinaryIO, stderr: BinaryIO) -> selectors.BaseSelector:
        selector = selectors.DefaultSelector()
        selector.register(self.com1[0], selectors.EVENT_READ, lambda data: _write(stdout, data))
        selector.register(self.com2[0], selectors.EVENT_READ, lambda data: self._on_com2(stderr, data))
        selector.register(self.diag[0], selectors.EVENT_READ, self.diag_bytes.extend)
        if self.debugcon is not None:
            selector.register(self.debugcon[0], selectors.EVENT_READ, self._on_trace)
        return selector

    def _forward_ready(self, selector: selectors.BaseSelector, wait: float | None) -> None:
        for key, _ in selector.select(wait):
            data = os.read(key.fd, 65536)
            if data:
                key.data(data)
            else:
                selector.unregister(key.fd)

    def _drain(self, selector: selectors.BaseSelector, until: float) -> None:
        """Keep forwarding while QEMU stops (a full pipe would block it); kill at ``until``."""
        while selector.get_map() and time.monotonic() < until:
            self._forward_ready(selector, max(0.0, until - time.monotonic()))
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def _drain_after_stop(self, stdout: BinaryIO, stderr: BinaryIO) -> None:
        selector = self._selector(stdout, stderr)
        try:
            self._drain(selector, time.monotonic() + _STOP_GRACE)
        except KeyboardInterrupt:
            self.proc.kill()  # a second Ctrl-C: no more patience; __exit__ reaps it
        finally:
            selector.close()

    def _on_com2(self, stderr: BinaryIO, data: bytes) -> None:
        self.com2_written = True
        _write(stderr, data)

    def _on_trace(self, data: bytes) -> None:
        self.boot_trace.feed(time.monotonic() - self.launched_at, data)

    def stop(self) -> None:
        """Ask QEMU to quit over QMP, in a thread so the pipes keep draining."""
        if self._stopper is None:
            self._stopper = threading.Thread(target=_qmp_quit, args=(self.wiring.qmp_socket,), daemon=True)
            self._stopper.start()

    # --- decoding

    def _decode_exit(self, stderr: BinaryIO) -> int:
        code = self.proc.returncode
        events = _read_trace_log(self.wiring.trace_log)
        diagnostics = bytes(self.diag_bytes)
        if _KVM_INTERNAL_ERROR in diagnostics:
            _say(stderr, "applc: the guest crashed under KVM (KVM internal error); try --accel tcg")
            return EXIT_CRASHED
        if code < 0 or (events.traced and not events.ran) or (not events.traced and code == 1 and diagnostics):
            # Killed by a signal (an abort), or stopped before the guest ran.
            # Without a trace log, exit 1 with diagnostics is taken for QEMU's
            # own EXIT_FAILURE rather than a guest status 0.
            raise QemuError(_qemu_failure(code, events.ran, diagnostics))
        _write(stderr, diagnostics)  # QEMU warnings, if any: after the guest's own output
        if code & 1:
            return (code - 1) >> 1
        if code == 0 and events.traced and not events.shutdown_requested:
            _say(stderr, "applc: the guest reset itself (a triple fault?) without reporting an exit status")
            return EXIT_CRASHED
        if code == 0:
            return 1 if self.com2_written else 0
        raise QemuError(_qemu_failure(code, events.ran, diagnostics))


@dataclass(frozen=True)
class _TraceEvents:
    traced: bool  # the log exists and has runstate lines: tracing works in this QEMU
    ran: bool  # the VM entered the "running" state
    shutdown_requested: bool  # a shutdown (not a reset) was requested


def _read_trace_log(path: Path) -> _TraceEvents:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        text = ""
    return _TraceEvents(
        traced="runstate_set" in text,
        ran=re.search(r"new_state \d+ \(running\)", text) is not None,
        shutdown_requested="qemu_system_shutdown_request" in text,
    )


def _qemu_failure(code: int, ran: bool, diagnostics: bytes) -> str:
    text = diagnostics.decode(errors="replace").strip()
    how = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
    when = "while running the guest" if ran else "before running the guest"
    return f"{QEMU_BINARY} {how} {when}" + (f": {text}" if text else "")


def _qmp_quit(socket_path: Path) -> None:
    """Connect to QEMU's QMP socket and send ``quit`` (best effort, bounded).

    Imported here, not at module level: asyncio and qemu.qmp are only needed
    on this rare path and would slow every ``applc run`` down.
    """
    import asyncio

    from qemu.qmp import QMPClient, QMPError

    async def quit_() -> None:
        client = QMPClient("applc")
        await asyncio.wait_for(client.connect(str(socket_path)), _QMP_TIMEOUT)
        try:
            await asyncio.wait_for(client.execute("quit"), _QMP_TIMEOUT)
        except QMPError:
            pass  # QEMU may close the socket before the reply: it is quitting
        finally:
            await client.disconnect()

    try:
        asyncio.run(quit_())
    except (OSError, QMPError, asyncio.TimeoutError, EOFError):
        pass  # the caller kills QEMU by PID when the grace time runs out


def _write(stream: BinaryIO, data: bytes) -> None:
    if data:
        stream.write(data)
        stream.flush()  # interactive console: bytes appear as the guest writes them


def _say(stream: BinaryIO, line: str) -> None:
    _write(stream, line.encode() + b"\n")


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
