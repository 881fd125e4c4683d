"""Tests for targets/kvm/qemu.py: booting floor guests under QEMU (TCG only).

Every guest here comes from applc.targets.kvm.floor, so these tests need
QEMU but not the compiler.  Every run has a timeout, every child process
is waited for with a bound, and the tests check that no QEMU process and
no temp dir outlives a run.
"""

from __future__ import annotations

import io
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from applc.targets.kvm import floor, qemu

pytestmark = pytest.mark.skipif(
    qemu.shutil.which(qemu.QEMU_BINARY) is None, reason="needs qemu-system-x86_64"
)

RUN_TIMEOUT = 30.0  # generous bound for a ~0.1 s boot on a loaded machine
MACHINES = ["microvm", "q35", "pc"]


def write_image(tmp_path: Path, image: bytes, name: str = "guest.elf") -> Path:
    path = tmp_path / name
    path.write_bytes(image)
    return path


def boot(image: Path, **kwargs: object) -> tuple[int, bytes, bytes]:
    """Run ``image`` under TCG and return (status, stdout bytes, stderr bytes)."""
    out, err = io.BytesIO(), io.BytesIO()
    kwargs.setdefault("timeout", RUN_TIMEOUT)
    status = qemu.run_image(image, accel="tcg", stdout=out, stderr=err, **kwargs)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the runner put its temp dir under tmp_path/t so leaks can be seen."""
    root = tmp_path / "t"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen]:
    """Record every Popen the runner makes, to check its QEMU by PID afterwards."""
    made: list[subprocess.Popen] = []
    real = subprocess.Popen

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(qemu.subprocess, "Popen", Recording)
    return made


def pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


# --- exit status and machines -------------------------------------------------


@pytest.mark.parametrize("machine", MACHINES)
def test_floor_guest_status_comes_back(tmp_path: Path, machine: str) -> None:
    image = write_image(tmp_path, floor.exit_guest(42))
    status, out, err = boot(image, machine=machine)
    assert (status, out, err) == (42, b"", b"")


@pytest.mark.parametrize("status", [0, 1, 127])
def test_status_range_ends(tmp_path: Path, status: int) -> None:
    image = write_image(tmp_path, floor.exit_guest(status))
    assert boot(image)[0] == status


@pytest.mark.parametrize("machine", MACHINES)
def test_console_bytes_arrive_exactly_on_stdout(tmp_path: Path, machine: str) -> None:
    image = write_image(tmp_path, floor.hello_guest())
    assert boot(image, machine=machine) == (0, b"hello\n", b"")


def test_every_byte_value_passes_the_console(tmp_path: Path) -> None:
    text = bytes(range(256)) * 4
    image = write_image(tmp_path, floor.print_guest(text, status=9))
    assert boot(image) == (9, text, b"")


@pytest.mark.parametrize("machine", MACHINES)
def test_com2_goes_to_stderr(tmp_path: Path, machine: str) -> None:
    image = write_image(tmp_path, floor.com2_guest(b"boom: it failed\n", status=3))
    assert boot(image, machine=machine) == (3, b"", b"boom: it failed\n")


# --- command line ---------------------------------------------------------------

TRICKY_WORDS = ["plain", "two words", "", "it's", 'say "hi"', "back\\slash", "tab\there", "new\nline", "ünïcode", "$HOME", "*", "a=b,c"]


@pytest.mark.parametrize("machine", MACHINES)
def test_guest_receives_argv_words_exactly(tmp_path: Path, machine: str) -> None:
    image = write_image(tmp_path, floor.echo_cmdline_guest())
    status, out, err = boot(image, machine=machine, cmdline=TRICKY_WORDS)
    assert (status, err) == (0, b"")
    line = out.decode()
    assert line.endswith("\n")
    assert qemu.split_cmdline(line[:-1]) == TRICKY_WORDS
    assert shlex.split(line[:-1]) == TRICKY_WORDS  # a POSIX shell agrees


def test_no_arguments_give_an_empty_command_line(tmp_path: Path) -> None:
    image = write_image(tmp_path, floor.echo_cmdline_guest())
    assert boot(image) == (0, b"\n", b"")


@given(st.lists(st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)))))
def test_quote_then_split_is_identity(words: list[str]) -> None:
    line = qemu.quote_cmdline(words)
    assert qemu.split_cmdline(line) == words
    assert shlex.split(line) == words


def test_nul_cannot_be_passed() -> None:
    with pytest.raises(ValueError, match="NUL"):
        qemu.quote_cmdline(["a\0b"])


# --- ending without a status ----------------------------------------------------


@pytest.mark.parametrize("machine", ["q35", "pc"])
def test_clean_poweroff_is_status_0(tmp_path: Path, machine: str) -> None:
    image = write_image(tmp_path, floor.poweroff_guest())
    assert boot(image, machine=machine) == (0, b"", b"")


def test_poweroff_after_an_error_report_is_status_1(tmp_path: Path) -> None:
    image = write_image(tmp_path, floor.poweroff_guest(b"panic\n"))
    assert boot(image, machine="q35") == (1, b"", b"panic\n")


@pytest.mark.parametrize("machine", MACHINES)
def test_triple_fault_is_reported_as_a_crash(tmp_path: Path, machine: str) -> None:
    image = write_image(tmp_path, floor.triple_fault_guest())
    status, out, err = boot(image, machine=machine)
    assert (status, out) == (qemu.EXIT_CRASHED, b"")
    assert err.count(b"\n") == 1 and b"reset" in err


# --- stopping: timeout and Ctrl-C ------------------------------------------------


def test_timeout_stops_a_spinning_guest(
    tmp_path: Path, private_tmp: Path, spawned: list[subprocess.Popen]
) -> None:
    image = write_image(tmp_path, floor.spin_guest())
    started = time.monotonic()
    status, out, err = boot(image, timeout=1.5)
    elapsed = time.monotonic() - started
    assert status == qemu.EXIT_TIMEOUT == 124
    assert out == b"spinning\n"  # output before the deadline is kept
    assert err.count(b"\n") == 1 and b"1.5 s" in err
    assert 1.5 <= elapsed < 1.5 + qemu._STOP_GRACE
    [proc] = spawned
    assert proc.returncode is not None  # reaped: no zombie
    assert not pid_alive(proc.pid)
    assert list(private_tmp.iterdir()) == []  # temp dir removed


def test_normal_run_leaves_nothing_behind(
    tmp_path: Path, private_tmp: Path, spawned: list[subprocess.Popen]
) -> None:
    image = write_image(tmp_path, floor.hello_guest())
    assert boot(image)[0] == 0
    [proc] = spawned
    assert proc.returncode is not None and not pid_alive(proc.pid)
    assert list(private_tmp.iterdir()) == []


_CTRL_C_RUNNER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from applc.targets.kvm import qemu
    sys.exit(qemu.run_image(Path(sys.argv[1]), accel="tcg", timeout=120))
    """
)


def _qemu_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def _read_until(proc: subprocess.Popen, expected: bytes, within: float) -> bytes:
    """Read the child's stdout until ``expected`` shows up, at most ``within`` seconds."""
    import selectors

    seen = b""
    deadline = time.monotonic() + within
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while expected not in seen and time.monotonic() < deadline:
            if selector.select(max(0.0, deadline - time.monotonic())):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
    return seen


def _signal_a_running_guest(tmp_path: Path, sig: int) -> tuple[int, bytes, bytes, int]:
    """Run a spinning guest through run_image in a child, send the child `sig` once the
    guest runs; returns (exit status, stdout, stderr, QEMU's PID), the child reaped."""
    image = write_image(tmp_path, floor.spin_guest())
    runner = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C_RUNNER, str(image)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert _read_until(runner, b"spinning\n", within=RUN_TIMEOUT) == b"spinning\n"
        [qemu_pid] = _qemu_children(runner.pid)
        runner.send_signal(sig)
        out, err = runner.communicate(timeout=RUN_TIMEOUT)
        return runner.returncode, out, err, qemu_pid
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(timeout=RUN_TIMEOUT)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_termination_signal_stops_the_guest_too(tmp_path: Path, sig: int) -> None:
    """`kill` of applc run (SIGTERM, or its terminal closing) must not leave QEMU running."""
    status, _, err, qemu_pid = _signal_a_running_guest(tmp_path, sig)
    assert status == 128 + sig, err
    assert not pid_alive(qemu_pid)


def test_ctrl_c_stops_the_guest_and_returns_130(tmp_path: Path) -> None:
    status, out, err, qemu_pid = _signal_a_running_guest(tmp_path, signal.SIGINT)
    assert status == qemu.EXIT_INTERRUPTED == 130, err
    assert out == b""
    assert not pid_alive(qemu_pid)


# --- accelerator choice and missing QEMU ----------------------------------------


def _fake_sys(tmp_path: Path, *modules: str, dev_kvm: bool = True) -> Path:
    for module in modules:
        (tmp_path / "sys/module" / module).mkdir(parents=True)
    (tmp_path / "dev").mkdir()
    if dev_kvm:
        (tmp_path / "dev/kvm").write_bytes(b"")
    return tmp_path


def test_hardware_kvm_is_usable(tmp_path: Path) -> None:
    assert qemu.hardware_kvm_usable(_fake_sys(tmp_path, "kvm", "kvm_intel"))


def test_software_kvm_does_not_count(tmp_path: Path) -> None:
    assert not qemu.hardware_kvm_usable(_fake_sys(tmp_path, "kvm", "kvm_intel", "kvm_pvm"))


def test_kvm_without_the_device_does_not_count(tmp_path: Path) -> None:
    assert not qemu.hardware_kvm_usable(_fake_sys(tmp_path, "kvm", "kvm_amd", dev_kvm=False))


def test_kvm_module_without_hardware_support_does_not_count(tmp_path: Path) -> None:
    assert not qemu.hardware_kvm_usable(_fake_sys(tmp_path, "kvm"))


@pytest.mark.skipif(not Path("/sys/module/kvm_pvm").exists(), reason="only where /dev/kvm is kvm_pvm")
def test_auto_resolves_to_tcg_on_software_kvm() -> None:
    assert qemu.resolve_accel("auto") == "tcg"


def test_explicit_accels_are_kept_and_unknown_rejected() -> None:
    assert qemu.resolve_accel("tcg") == "tcg"
    assert qemu.resolve_accel("kvm") == "kvm"
    with pytest.raises(ValueError, match="unknown accelerator"):
        qemu.resolve_accel("hvf")


def test_missing_qemu_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = write_image(tmp_path, floor.exit_guest(0))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(qemu.QemuNotFoundError) as caught:
        boot(image)
    message = str(caught.value)
    assert "\n" not in message
    assert "apt-get install qemu-system-x86" in message


def test_qemu_refusing_the_image_raises(tmp_path: Path) -> None:
    image = write_image(tmp_path, b"this is not an ELF image\n" * 100)
    with pytest.raises(qemu.QemuError, match="before running the guest"):
        boot(image)


def test_unknown_machine_is_rejected(tmp_path: Path) -> None:
    image = write_image(tmp_path, floor.exit_guest(0))
    with pytest.raises(ValueError, match="unknown machine"):
        boot(image, machine="virt")


# --- boot trace -----------------------------------------------------------------


def test_boot_trace_records_the_guest_entry(tmp_path: Path) -> None:
    image = write_image(tmp_path, floor.hello_guest())
    trace = qemu.BootTrace()
    assert boot(image, boot_trace=trace) == (0, b"hello\n", b"")
    [entry] = trace.records
    assert entry.tag == "E" and entry.tsc > 0
    assert 0 < entry.host_seconds <= trace.total_seconds


def test_boot_trace_true_prints_one_summary_line(tmp_path: Path) -> None:
    image = write_image(tmp_path, floor.exit_guest(0))
    status, out, err = boot(image, boot_trace=True)
    assert (status, out) == (0, b"")
    assert err.startswith(b"applc: boot trace: E +") and err.count(b"\n") == 1


def test_debugcon_is_attached_only_for_a_boot_trace(tmp_path: Path) -> None:
    wiring = qemu.Wiring(com1_fd=5, com2_fd=6, qmp_socket=tmp_path / "q", trace_log=tmp_path / "l")
    common = dict(machine="microvm", accel="tcg", mem_mib=32, cmdline=[])
    plain = qemu.qemu_command("qemu", tmp_path / "i.elf", wiring, **common)
    traced = qemu.qemu_command(
        "qemu", tmp_path / "i.elf", qemu.Wiring(**{**wiring.__dict__, "debugcon_fd": 7}), **common
    )
    assert not any("isa-debugcon" in arg for arg in plain)
    assert "isa-debugcon,iobase=0xe9,chardev=boottrace" in traced
