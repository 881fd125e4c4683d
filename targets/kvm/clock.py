"""Time on the kvm target: the TSC, and its frequency found without waiting at boot.

In: a KvmModule. Out:

    applc_plat_boot_tsc()      TSC read by the first instruction of the PVH entry
    applc_plat_tsc_hz()        TSC ticks per second, found on first use:
        1. CPUID 0x40000010 (hypervisor timing leaf): EAX = TSC kHz
        2. CPUID 0x15: crystal Hz * EBX / EAX
        3. CPUID 0x16: EAX = base MHz
        4. otherwise the least of three 10 ms measurements against PIT
           channel 0 -- only on
           the first call, never at boot (QEMU's default CPU under TCG
           offers none of the leaves above); a counter that does not move
           means no PIT (microvm needs pit=on: targets/kvm/qemu.py passes it)
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
PIT_CHANNEL0, PIT_COMMAND = 0x40, 0x43
PIT_ROUNDS = 3
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
    """TSC ticks per second over PIT_COUNT ticks of PIT channel 0 (mode 0, read by
    latching). Channel 0 needs no port 0x61, which microvm lacks; its IRQ 0 is
    masked at the PIC and the I/O APIC. The TSC is read outside the PIT reads, so
    any delay only adds TSC ticks: errors are overestimates (see PIT_ROUNDS)."""
    w = k.writer("applc_kvm_pit_hz", I64, attributes=("noinline",))
    b = w.b
    outb(w, PIT_COMMAND, 0x30)  # channel 0, lobyte/hibyte, mode 0, binary
    outb(w, PIT_CHANNEL0, 0xFF)
    outb(w, PIT_CHANNEL0, 0xFF)
    start = rdtsc(w)
    first = _pit_read(w)
    now = w.var(I64, first)
    polls = w.var(I64, 0)

    def counting():
        short = b.icmp_signed("<", b.sub(first, w.get(now)), I64(PIT_COUNT))
        return b.and_(short, b.icmp_unsigned("<", w.get(polls), I64(PIT_POLL_LIMIT)))

    with w.while_(counting):
        w.set(now, _pit_read(w))
        w.set(polls, b.add(w.get(polls), I64(1)))
    ticks = b.sub(rdtsc(w), start)
    counted = b.sub(first, w.get(now))
    with w.if_(b.icmp_signed("<", counted, I64(PIT_COUNT))):
        b.ret(I64(0))  # the counter never moved: no PIT
    b.ret(b.udiv(b.mul(ticks, I64(PIT_HZ)), counted))


def _pit_read(w) -> ir.Value:
    """Channel 0's current count (latch command, then low and high byte)."""
    b = w.b
    outb(w, PIT_COMMAND, 0x00)
    lo = b.zext(inb(w, PIT_CHANNEL0), I64)
    hi = b.zext(inb(w, PIT_CHANNEL0), I64)
    return b.or_(b.shl(hi, I64(8)), lo)


def _tsc_hz(k):
    w = k.writer("applc_plat_tsc_hz", I64, linkage="external")
    b = w.b
    with w.if_(b.icmp_unsigned("==", b.load(k.tsc_hz), I64(0))):
        hz = w.var(I64, w.call(k.fns["applc_kvm_cpuid_hz"]))
        with w.if_(b.icmp_unsigned("==", w.get(hz), I64(0))):
            # the smallest of PIT_ROUNDS: a vCPU descheduled while the window
            # closes only adds TSC ticks, so every error is an overestimate
            for _ in range(PIT_ROUNDS):
                m = w.call(k.fns["applc_kvm_pit_hz"])
                better = b.or_(b.icmp_unsigned("==", w.get(hz), I64(0)), b.icmp_unsigned("<", m, w.get(hz)))
                w.set(hz, b.select(b.and_(better, b.icmp_unsigned("!=", m, I64(0))), m, w.get(hz)))
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
