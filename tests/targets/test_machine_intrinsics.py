"""The `_machine` hardware intrinsics, compiled: hosted where a process can use them,
booted under QEMU (TCG) for port I/O, MMIO and MSRs, and the CPython stand-in.

In:  small privileged probe modules (only stdlib/ modules may import `_machine`,
     so each test points the compiler's stdlib at a temp dir holding the probe).
Out: checks of each intrinsic's documented result (docs/platform.md, "Machine
     intrinsics") against what the host or the virtual machine really holds:
     the host's CPU vendor, the process id, QEMU's LAPIC and PCI host bridge.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from applc.driver import build
from applc.targets.kvm import qemu

HOSTED_TIMEOUT = 60.0
BOOT_TIMEOUT = 120.0

HOSTED_PROBE = """
from _machine import (rdtsc, cpuid, syscall, bytearray_addr, bytes_addr, dma_alloc, phys_addr,
                      target_name, mb, rmb, wmb, mmio_read8, mmio_read32, mmio_read64,
                      mmio_write8, mmio_write32, mmio_write64, memcpy, load8)


def vendor() -> str:
    out = ""
    for reg in (1, 3, 2):
        v = cpuid(0, 0, reg)
        for i in range(4):
            out += chr((v >> (8 * i)) & 0xFF)
    return out


def run() -> None:
    print("target", target_name(), target_name() == "hosted", target_name() == "kvm")
    a = rdtsc()
    b = rdtsc()
    print("tsc", a > 0, b >= a)
    print("vendor", vendor())
    print("cpuid-bad-reg", cpuid(0, 0, 7))
    print("pid", syscall(39, 0, 0, 0, 0, 0, 0))
    msg = b"written by syscall\\n"
    n = syscall(1, 2, bytes_addr(msg), len(msg), 0, 0, 0)  # stderr: print buffers stdout
    print("wrote", n)
    print("ebadf", syscall(1, 12345, bytes_addr(msg), len(msg), 0, 0, 0))
    buf = bytearray(16)
    p = bytearray_addr(buf)
    mmio_write32(p, 0x64636261)
    mmio_write8(p + 4, 0x65)
    mmio_write64(p + 8, -1)
    wmb()
    print("bytearray", buf[:5], buf[8], mmio_read32(p), mmio_read64(p + 8))
    print("empty", bytearray_addr(bytearray()))
    d1 = dma_alloc(100)
    d2 = dma_alloc(8192)
    mb()
    zero = True
    for i in range(8192):
        if mmio_read8(d2 + i) != 0:
            zero = False
    print("dma", d1 % 4096, d2 % 4096, d1 != d2, d2 + 8192 <= d1 or d1 + 4096 <= d2, zero)
    memcpy(d1, bytes_addr(b"abc"), 3)
    rmb()
    print("dma-copy", load8(d1), load8(d1 + 1), load8(d1 + 2), phys_addr(d1) == d1)
    try:
        dma_alloc(-1)
    except ValueError as e:
        print("negative", e)
    try:
        dma_alloc(1 << 50)
    except MemoryError as e:
        print("huge", e)
"""

KVM_PROBE = """
from _machine import (inb, inw, inl, outb, outl, mmio_read32, rdmsr, wrmsr, cpuid, rdtsc, mb,
                      target_name, syscall)

APIC_BASE_MSR = 0x1B
TSC_MSR = 0x10


def run() -> None:
    print("target", target_name(), syscall(39, 0, 0, 0, 0, 0, 0))
    outb(0x3FF, 0x5A)  # COM1 scratch register
    print("scratch", hex(inb(0x3FF)))
    outb(0x3FF, 0xA5)
    print("scratch", hex(inb(0x3FF)))
    base = rdmsr(APIC_BASE_MSR)
    print("apic-base", hex(base & 0xFFFFF000), (base >> 11) & 1)
    version = mmio_read32(0xFEE00030)
    print("apic-version-ok", (version & 0xFF) >= 0x10)
    a = rdmsr(TSC_MSR)
    b = rdtsc()
    print("tsc-msr", b >= a)
    wrmsr(0xC0000102, 0x123456789)  # KERNEL_GS_BASE: any canonical value round-trips
    print("msr", hex(rdmsr(0xC0000102)))
    print("cpuid-max", cpuid(0, 0, 0) >= 1)
    mb()
    outl(0xCF8, 0x80000000)  # PCI bus 0, device 0, function 0, register 0
    print("pci", hex(inw(0xCFC)), hex(inl(0xCFC) & 0xFFFF))
"""

MAIN = """
import probe

probe.run()
"""


@pytest.fixture
def probe_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Returns make(source) -> path of a program whose privileged module `probe` is source."""
    lib = tmp_path / "lib"
    lib.mkdir()
    monkeypatch.setattr(build, "stdlib_dir", lambda: lib)

    def make(source: str) -> Path:
        (lib / "probe.apy").write_text(textwrap.dedent(source))
        main = tmp_path / "prog" / "main.apy"
        main.parent.mkdir(exist_ok=True)
        main.write_text(MAIN)
        return main

    return make


def host_vendor() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("vendor_id"):
            return line.split(":", 1)[1].strip()
    pytest.skip("no vendor_id in /proc/cpuinfo")


def test_hosted_intrinsics(probe_program, tmp_path: Path) -> None:
    main = probe_program(HOSTED_PROBE)
    exe = tmp_path / "probe"
    build.build_file(main, target="hosted", out=exe, use_cache=False)
    proc = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=HOSTED_TIMEOUT)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert err == b"written by syscall\n"
    lines = out.decode().splitlines()
    assert lines == [
        "target hosted True False",
        "tsc True True",
        f"vendor {host_vendor()}",
        "cpuid-bad-reg 0",
        f"pid {proc.pid}",
        "wrote 19",
        "ebadf -9",
        "bytearray bytearray(b'abcde') 255 1684234849 -1",
        "empty 0",
        "dma 0 0 True True True",
        "dma-copy 97 98 99 True",
        "negative dma_alloc: negative size",
        "huge dma_alloc: out of memory",
    ]


@pytest.mark.skipif(shutil.which(qemu.QEMU_BINARY) is None, reason="needs qemu-system-x86_64")
@pytest.mark.parametrize("machine", ["q35", "microvm"])
def test_kvm_port_mmio_msr(probe_program, tmp_path: Path, machine: str) -> None:
    main = probe_program(KVM_PROBE)
    image = tmp_path / "probe.elf"
    build.build_file(main, target="kvm", out=image, use_cache=False)
    out, err = io.BytesIO(), io.BytesIO()
    status = qemu.run_image(image, machine=machine, accel="tcg", timeout=BOOT_TIMEOUT,
                            stdout=out, stderr=err)
    assert status == 0, err.getvalue()
    lines = out.getvalue().decode().splitlines()
    # q35's host bridge is Intel's 82G33 (vendor 0x8086); microvm has no PCI: all ones
    pci = "pci 0x8086 0x8086" if machine == "q35" else "pci 0xffff 0xffff"
    assert lines == [
        "target kvm -38",
        "scratch 0x5a",
        "scratch 0xa5",
        "apic-base 0xfee00000 1",
        "apic-version-ok True",
        "tsc-msr True",
        "msr 0x123456789",
        "cpuid-max True",
        pci,
    ]


def test_pyshim_intrinsics() -> None:
    """The CPython stand-in: object buffers and devices are reachable by address."""
    shim = str(Path(build.runtime_dir()) / "pyshim")
    code = textwrap.dedent("""
        import os
        import _machine as m

        class Regs:
            def __init__(self):
                self.log = []
            def read(self, off, width):
                return 0x74726976 if off == 0 else off
            def write(self, off, width, value):
                self.log.append((off, width, value))

        dev = Regs()
        m.attach_mmio(0xFEB00000, 0x200, dev)
        print(hex(m.mmio_read32(0xFEB00000)), m.mmio_read8(0xFEB00010))
        m.mmio_write16(0xFEB00070, 0x1234)
        print(dev.log)
        port = Regs()
        m.attach_port(0x3F8, port)
        m.outb(0x3F8, 0x141)
        print(port.log, m.inb(0x3F8) == 0xF8)
        ba = bytearray(b"hello")
        a = m.bytearray_addr(ba)
        m.store8(a, ord("j"))
        d = m.dma_alloc(10)
        m.memcpy(d, a, 5)
        print(ba, m.read_bytes(d, 5), d % 4096, m.bytearray_addr(ba) == a)
        ba.append(33)
        print(m.bytearray_addr(ba) != a, m.load8(m.bytearray_addr(ba) + 5))
        print(m.syscall(39, 0, 0, 0, 0, 0, 0) == os.getpid(), m.syscall(3, 99999, 0, 0, 0, 0, 0))
        print(m.target_name(), m.cpuid(0, 0, 0))
        m.wrmsr(0x1B, 0xFEE00900)
        print(hex(m.rdmsr(0x1B)))
        m.raise_irq()
        m.irq_enable()
        m.halt_until_interrupt()
        print("woke", m._irq_enabled)
        try:
            m.mmio_read32(0xFEC00000)
        except MemoryError as e:
            print("fault", e)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=HOSTED_TIMEOUT, env={**os.environ, "PYTHONPATH": shim})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "0x74726976 16",
        "[(112, 2, 4660)]",
        "[(1016, 1, 65)] True",
        "bytearray(b'jello') b'jello' 0 True",
        "True 33",
        "True -9",
        "cpython 1",
        "0xfee00900",
        "woke False",
        "fault _machine: access of 4 bytes at 0xfec00000 hits no memory or device",
    ]
