"""Time on the kvm target: the TSC, and its frequency found without waiting at boot.

In: a KvmModule. Out:

    applc_plat_boot_tsc()      TSC read by the first instruction of the PVH entry
    applc_plat_tsc_hz()        TSC ticks per second, found on first use:
        1. CPUID 0x40000010 (hypervisor timing leaf): EAX = TSC kHz
        2. CPUID 0x15: crystal Hz * EBX / EAX
        3. CPUID 0x16: EAX = base MHz
        4. otherwise a 10 ms measurement against PIT channel 2 -- only on
           the first call, never at boot (QEMU's default CPU under TCG
           offers none of the leaves above)
        5. no PIT either: 1 GHz is assumed (the clock then runs at the
           wrong rate, but stays monotonic)
    applc_plat_monotonic_ns()  (TSC - boot TSC) * 10^9 / tsc_hz, as a 64x64
                               multiply by a 32.32 fixed-point factor (no
                               division per call, no 128-bit libcalls)
kvmclock is not used yet (see docs/platform.md).
"""

from __future__ import annotations

from llvmlite import ir

from applc.link.irkit import I8, I32, I64, I128
from applc.targets.kvm.machine import KvmModule, cpuid, inb, outb, rdtsc

PIT_HZ = 1_193_182
PIT_COUNT = 11_932  # 10 ms
PIT_CHANNEL2, PIT_COMMAND, PIT_GATE = 0x42, 0x43, 0x61
PIT_POLL_LIMIT = 50_000_000  # no PIT answers within this many reads: give up
FALLBACK_HZ = 1_000_000_000
NS_PER_S_SHIFTED = 1_000_000_000 << 32  # fits in 63 bits


def add_clock(k: KvmModule) -> None:
    k.tsc_hz = _global(k, "applc_kvm_tsc_hz")
    k.ns_factor = _global(k, "applc_kvm_ns_factor")
    _boot_tsc(k)
    _cpuid_frequency(k)
    _pit_frequency(k)
    _tsc_hz(k)
    _monotonic(k)


def _global(k, name):
    g = ir.GlobalVariable(k.module, I64, name=name)
    g.linkage = "internal"
    g.initializer = I64(0)
    return g


def _boot_tsc(k):
    w = k.writer("applc_plat_boot_tsc", I64, linkage="external")
    w.b.ret(w.b.load(k.boot_tsc))


def _cpuid_frequency(k):
    """Hz from CPUID, or 0 when no leaf tells."""
    w = k.writer("applc_kvm_cpuid_hz", I64, attributes=("noinline",))
    b = w.b
    max_hv = cpuid(w, 0x40000000)[0]
    with w.if_(b.icmp_unsigned(">=", max_hv, I32(0x40000010))):
        khz = b.zext(cpuid(w, 0x40000010)[0], I64)
        with w.if_(b.icmp_unsigned("!=", khz, I64(0))):
            b.ret(b.mul(khz, I64(1000)))
    max_leaf = cpuid(w, 0)[0]
    with w.if_(b.icmp_unsigned(">=", max_leaf, I32(0x15))):
        den, num, crystal, _ = (b.zext(r, I64) for r in cpuid(w, 0x15))
        known = b.and_(b.icmp_unsigned("!=", den, I64(0)), b.icmp_unsigned("!=", crystal, I64(0)))
        with w.if_(b.and_(known, b.icmp_unsigned("!=", num, I64(0)))):
            b.ret(b.udiv(b.mul(crystal, num), den))
    with w.if_(b.icmp_unsigned(">=", max_leaf, I32(0x16))):
        mhz = b.zext(b.and_(cpuid(w, 0x16)[0], I32(0xFFFF)), I64)
        with w.if_(b.icmp_unsigned("!=", mhz, I64(0))):
            b.ret(b.mul(mhz, I64(1_000_000)))
    b.ret(I64(0))


def _pit_frequency(k):
    """Count TSC ticks while PIT channel 2 counts 10 ms (mode 0, one shot)."""
    w = k.writer("applc_kvm_pit_hz", I64, attributes=("noinline",))
    b = w.b
    gate = b.and_(inb(w, PIT_GATE), I8(0xFC))  # gate off, speaker off
    outb(w, PIT_GATE, gate)
    outb(w, PIT_COMMAND, 0xB0)  # channel 2, lobyte/hibyte, mode 0, binary
    outb(w, PIT_CHANNEL2, PIT_COUNT & 0xFF)
    outb(w, PIT_CHANNEL2, PIT_COUNT >> 8)
    outb(w, PIT_GATE, b.or_(gate, I8(1)))  # gate on: counting starts
    start = rdtsc(w)
    polls = w.var(I64, 0)

    def counting():
        low = b.icmp_unsigned("==", b.and_(inb(w, PIT_GATE), I8(0x20)), I8(0))  # OUT2 still low
        return b.and_(low, b.icmp_unsigned("<", w.get(polls), I64(PIT_POLL_LIMIT)))

    with w.while_(counting):
        w.set(polls, b.add(w.get(polls), I64(1)))
    ticks = b.sub(rdtsc(w), start)
    outb(w, PIT_GATE, gate)
    with w.if_(b.icmp_unsigned(">=", w.get(polls), I64(PIT_POLL_LIMIT))):
        b.ret(I64(0))
    b.ret(b.udiv(b.mul(ticks, I64(PIT_HZ)), I64(PIT_COUNT)))


def _tsc_hz(k):
    w = k.writer("applc_plat_tsc_hz", I64, linkage="external")
    b = w.b
    with w.if_(b.icmp_unsigned("==", b.load(k.tsc_hz), I64(0))):
        hz = w.var(I64, w.call(k.fns["applc_kvm_cpuid_hz"]))
        with w.if_(b.icmp_unsigned("==", w.get(hz), I64(0))):
            w.set(hz, w.call(k.fns["applc_kvm_pit_hz"]))
        with w.if_(b.icmp_unsigned("==", w.get(hz), I64(0))):
            w.set(hz, I64(FALLBACK_HZ))
        b.store(b.udiv(I64(NS_PER_S_SHIFTED), w.get(hz)), k.ns_factor)
        b.store(w.get(hz), k.tsc_hz)
    b.ret(b.load(k.tsc_hz))


def _monotonic(k):
    w = k.writer("applc_plat_monotonic_ns", I64, linkage="external")
    b = w.b
    w.call(k.fns["applc_plat_tsc_hz"])  # makes sure the factor is known
    elapsed = b.zext(b.sub(rdtsc(w), b.load(k.boot_tsc)), I128)
    product = b.mul(elapsed, b.zext(b.load(k.ns_factor), I128))
    b.ret(b.trunc(b.lshr(product, I128(32)), I64))
