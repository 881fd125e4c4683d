"""The collector compiled into real programs: hosted, and in a 32 MiB VM.

test_gc.py checks the algorithm under CPython, with simulated roots; this checks
the compiled collector with the real ones (the machine stack, callee-saved
registers, the image's .data and .bss): programs that allocate far more than
their memory while holding a live structure print the same as under CPython,
a hosted process stays small, and a 32 MiB VM runs them to the end. A program
that outgrows the VM gets a MemoryError it can catch, and goes on once it lets
go of its data.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from applc.driver.build import build_file

TCG_TIMEOUT = 300.0
HOSTED_TIMEOUT = 60.0

# ~900 MB of strings and lists, a few kept for a while: constant memory or bust
CHURN = """
def churn(n: int) -> int:
    keep: list[str] = []
    total = 0
    for i in range(n):
        s = "ab" * (i % 3000) + str(i)
        xs: list[int] = []
        for j in range(i % 50):
            xs.append(j * i)
        total += len(s) + len(xs) + xs[-1] if xs else len(s)
        if i % 997 == 0:
            keep.append(s)
        if len(keep) > 100:
            keep = []
    return total


print(churn(150000))
"""

# ~5.2 GB of 64 KiB buffers over its life, a few kept for a while: far more than the
# 32 MiB VM holds, so the collector must give the memory back, again and again
GIGABYTES = """
def churn(n: int, width: int) -> int:
    keep: list[bytearray] = []
    total = 0
    for i in range(n):
        b = bytearray(width)
        b[i % width] = i & 0xFF
        xs = [i, i + 1, i + 2]
        total += len(b) + len(xs) + b[(i * 7) % width]
        if i % 1000 == 0:
            keep.append(b)
        if len(keep) > 8:
            keep = []
    return total


print(churn(80000, 65536))
"""

# a structure of ~5 MB that must survive hundreds of collections intact,
# while garbage of every size class and large strings come and go
LIVE = """
def row_text(i: int, j: int) -> str:
    return str(i * 31 + j) + "-" + "z" * (j * 50)


def build(n: int) -> list[list[str]]:
    table: list[list[str]] = []
    for i in range(n):
        row: list[str] = []
        for j in range(i % 7 + 1):
            row.append(row_text(i, j))
        table.append(row)
        if i % 3 == 0:
            garbage = ["g" * (400 + 37 * k) + str(k) for k in range(20)]
            if len(garbage[i % 20]) < 400:
                print("bad garbage")
    return table


def check(table: list[list[str]]) -> int:
    bad = 0
    for i in range(len(table)):
        row = table[i]
        if len(row) != i % 7 + 1:
            bad += 1
        for j in range(len(row)):
            if row[j] != row_text(i, j):
                bad += 1
    return bad


def main() -> None:
    old = build(3000)
    for rnd in range(3):
        t = build(10000)
        print(rnd, len(t), check(t), check(old))
        old = t


main()
"""

# kvm only: CPython on the host would not run out of memory
OOM = """
def fill(keep: list[str], n: int) -> int:
    count = 0
    try:
        while count < n:
            keep.append("x" * 1000 + str(count))
            count += 1
    except MemoryError:
        print("MemoryError caught")
    return count


def main() -> None:
    keep: list[str] = []
    count = fill(keep, 1000000)
    print(count > 15000, count < 32000)
    keep.clear()
    again: list[str] = []
    print(fill(again, 10000))


main()
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    src = tmp_path / f"{name}.apy"
    src.write_text(text.lstrip(), encoding="utf-8")
    return src


def cpython_output(src: Path) -> bytes:
    proc = subprocess.run([sys.executable, str(src)], capture_output=True, timeout=120, check=True)
    return proc.stdout


def run_hosted(src: Path, tmp_path: Path) -> tuple[bytes, int]:
    """stdout and peak resident KiB of the compiled program.

    The peak is VmHWM, read from /proc every few milliseconds while the program
    runs (getrusage would report the forking Python's size, which exec keeps).
    It may miss the last milliseconds, but a heap that grows shows long before.
    """
    exe = tmp_path / src.stem
    build_file(str(src), target="hosted", out=str(exe), use_cache=False)
    out_path = tmp_path / "out"
    peak = 0
    with out_path.open("wb") as out:
        proc = subprocess.Popen([str(exe)], stdout=out, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + HOSTED_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline:
                peak = max(peak, _vm_hwm_kib(proc.pid))
                time.sleep(0.005)
            assert proc.poll() is not None, f"{exe.name} still running after {HOSTED_TIMEOUT}s"
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert peak > 0, "no sample of the program's memory"
    return out_path.read_bytes(), peak


def _vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass  # it just exited
    return 0


def run_kvm(src: Path, tmp_path: Path) -> bytes:
    """stdout of the program booted in a 32 MiB microvm under TCG."""
    qemu = pytest.importorskip("applc.targets.kvm.qemu")
    image = tmp_path / f"{src.stem}.elf"
    build_file(str(src), target="kvm", out=str(image), use_cache=False)
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        try:
            status = qemu.run_image(image, accel="tcg", mem_mib=32, stdout=out, stderr=err,
                                    timeout=TCG_TIMEOUT)
        except qemu.QemuNotFoundError as e:
            pytest.skip(str(e))
    assert status == 0, err_path.read_text(errors="replace")
    return out_path.read_bytes()


PROGRAMS = [("churn", CHURN), ("live", LIVE), ("gigabytes", GIGABYTES)]


@pytest.mark.parametrize("name, text", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_hosted_programs_run_in_constant_memory(tmp_path, name, text):
    src = write(tmp_path, name, text)
    out, rss_kib = run_hosted(src, tmp_path)
    assert out == cpython_output(src)
    # churn allocates ~900 MB; live holds ~5 MB (twice, while a table is rebuilt)
    assert rss_kib < {"churn": 8 << 10, "live": 40 << 10, "gigabytes": 8 << 10}[name], rss_kib


@pytest.mark.parametrize("name, text", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_kvm_programs_run_in_a_32_mib_vm(tmp_path, name, text):
    src = write(tmp_path, name, text)
    assert run_kvm(src, tmp_path) == cpython_output(src)


def test_kvm_memory_error_is_catchable_and_memory_comes_back(tmp_path):
    src = write(tmp_path, "oom", OOM)
    assert run_kvm(src, tmp_path) == b"MemoryError caught\nTrue True\n10000\n"
