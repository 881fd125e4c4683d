"""Images built by applc boot under plain QEMU (no applc involved), on every machine type.

What is checked: the console output, the exit status through isa-debug-exit, argv from
the PVH command line, an uncaught exception, a stack overflow (RecursionError from the
prologue check), byte-identical rebuilds, `applc run` and `applc build --report`.
Every QEMU process is bounded by a timeout and killed by PID.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from applc.driver.build import build_file

QEMU = shutil.which("qemu-system-x86_64")
pytestmark = pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed")

BOOT_TIMEOUT = 120


def boot(image: Path, machine: str = "microvm", append: str | None = None,
         mem: str = "32M") -> subprocess.CompletedProcess:
    """Boot with plain QEMU: COM1 on stdout, isa-debug-exit at port 0xf4."""
    cmd = [QEMU, "-M", machine, "-accel", "tcg", "-m", mem, "-nodefaults", "-no-user-config",
           "-display", "none", "-serial", "stdio", "-no-reboot",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", str(image)]
    if machine == "microvm":
        cmd[2] = "microvm,auto-kernel-cmdline=off"
    if append is not None:
        cmd += ["-append", append]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=BOOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def guest_status(qemu_code: int) -> int:
    """isa-debug-exit: QEMU exits with (status << 1) | 1."""
    assert qemu_code & 1, f"QEMU exit code {qemu_code} did not come from isa-debug-exit"
    return qemu_code >> 1


def build(tmp_path: Path, source: str, name: str = "prog") -> Path:
    src = tmp_path / f"{name}.apy"
    src.write_text(source)
    return build_file(src, "kvm", tmp_path / f"{name}.elf", use_cache=False).image


HELLO = 'print("hello from apy", 6 * 7)\n'


@pytest.mark.parametrize("machine", ["microvm", "q35", "pc"])
def test_hello_boots_on_every_machine(tmp_path: Path, machine: str) -> None:
    image = build(tmp_path, HELLO)
    res = boot(image, machine)
    assert res.stdout.replace(b"\r\n", b"\n") == b"hello from apy 42\n"
    assert guest_status(res.returncode) == 0


def test_exit_status_reaches_the_vmm(tmp_path: Path) -> None:
    image = build(tmp_path, "import sys\nprint('bye')\nsys.exit(42)\n")
    res = boot(image)
    assert res.stdout == b"bye\n"
    assert guest_status(res.returncode) == 42


def test_argv_comes_from_the_command_line(tmp_path: Path) -> None:
    image = build(tmp_path, "import sys\nfor a in sys.argv[1:]:\n    print(repr(a))\n"
                            "print(len(sys.argv))\n")
    words = ["plain", "two words", "it's", 'say "hi"', "back\\slash", ""]
    res = boot(image, append=" ".join(shlex.quote(w) for w in words))
    expected = "".join(f"{w!r}\n" for w in words) + f"{len(words) + 1}\n"
    assert res.stdout.decode() == expected
    assert guest_status(res.returncode) == 0


def test_uncaught_exception_prints_a_traceback_and_exits_1(tmp_path: Path) -> None:
    image = build(tmp_path, "def f(x: int) -> int:\n    return 10 // x\n\nprint('before')\n"
                            "print(f(0))\n")
    res = boot(image)
    # without a second UART the report comes on the console, after the program's output
    out = res.stdout.decode()
    assert out.startswith("before\n")
    assert "Traceback (most recent call last):" in out
    assert "in f" in out and out.rstrip().endswith(
        "ZeroDivisionError: integer division or modulo by zero")
    assert guest_status(res.returncode) == 1


def test_stack_overflow_is_a_recursion_error(tmp_path: Path) -> None:
    image = build(tmp_path, "def down(n: int) -> int:\n    return down(n + 1) + 1\n\n"
                            "print(down(0))\n")
    res = boot(image)
    out = res.stdout.decode()
    assert "RecursionError: maximum recursion depth exceeded" in out
    assert "Previous line repeated" in out
    assert guest_status(res.returncode) == 1


def test_builds_are_reproducible(tmp_path: Path) -> None:
    src = tmp_path / "prog.apy"
    src.write_text("xs = [i * i for i in range(10)]\nprint(xs, sum(xs))\n")
    a = build_file(src, "kvm", tmp_path / "a.elf", use_cache=False).image.read_bytes()
    b = build_file(src, "kvm", tmp_path / "b.elf", use_cache=False).image.read_bytes()
    assert a == b
    h1 = build_file(src, "hosted", tmp_path / "a.bin", use_cache=False).image.read_bytes()
    h2 = build_file(src, "hosted", tmp_path / "b.bin", use_cache=False).image.read_bytes()
    assert h1 == h2


def test_applc_run_boots_and_passes_status_and_args(tmp_path: Path) -> None:
    src = tmp_path / "prog.apy"
    src.write_text("import sys\nprint(sys.argv[1:])\nsys.exit(len(sys.argv))\n")
    res = subprocess.run([sys.executable, "-m", "applc", "run", "--accel", "tcg", str(src),
                          "--", "a b", "c"], capture_output=True, timeout=BOOT_TIMEOUT)
    assert res.stdout == b"['a b', 'c']\n"
    assert res.returncode == 3


def test_build_report_lists_modules_and_functions(tmp_path: Path) -> None:
    src = tmp_path / "prog.apy"
    src.write_text("def twice(x: int) -> int:\n    return 2 * x\n\nprint(twice(21))\n")
    res = subprocess.run([sys.executable, "-m", "applc", "build", "--report", str(src),
                          "-o", str(tmp_path / "p.elf")], capture_output=True, text=True,
                         timeout=BOOT_TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert "kvm image" in res.stderr  # the one-line summary
    assert "rt.core" in res.stdout and "(platform)" in res.stdout
    assert "bytes" in res.stdout
