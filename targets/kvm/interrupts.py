"""Device interrupts on the kvm target: vectors 32-255, the local APIC, the 8259 PIC.

In: a KvmModule (traps.py installs the gates this file makes). Out:

    applc_kvm_irq_stubs          8-byte assembly stubs for vectors 32..255 (module asm,
                                 stubs_asm()): set bit v of the pending bitmap, send the
                                 LAPIC EOI (not for the spurious vector 255), iretq
    applc_kvm_irq_setup()        at boot: remaps the 8259 PICs to 0x20-0x2f and masks
                                 every line; enables the LAPIC (x2APIC through MSRs when
                                 CPUID offers it, else xAPIC MMIO at 0xfee00000) with
                                 spurious vector 255, TPR 0 and the timer LVT masked
    applc_plat_irq_pending()     address of the pending bitmap: 4 words, bit v of word
                                 v / 64 for vector v

Interrupts are taken only inside `halt_until_interrupt` (sti; hlt; cli): apy code
always runs with IF=0, so it reads and clears pending bits with plain loads and
stores, and a stub never interrupts apy code. The stubs run on the interrupted
(kernel) stack, without IST: no stack switch is needed in ring 0, and IST1
stays the exceptions' own. The stubs are assembly, 8 bytes each plus one
common part (x86_intrcc functions cost ~70 bytes per vector): they save the
three registers they use and touch no SSE register.
Everything above this (routing, the timer, who owns which vector) is apy:
stdlib/hw/irq.apy, stdlib/hw/lapic.apy, stdlib/hw/ioapic.apy.
"""

from __future__ import annotations

from llvmlite import ir

from applc.link.irkit import I8, I32, I64, VOID
from applc.targets.kvm.machine import KvmModule, cpuid, outb

FIRST_DEVICE_VECTOR = 32
VECTORS = 256
SPURIOUS_VECTOR = 255

APIC_BASE_MSR = 0x1B
APIC_ENABLE, APIC_EXTD = 1 << 11, 1 << 10
XAPIC_BASE = 0xFEE00000
X2APIC_MSR_BASE = 0x800  # x2APIC register r (xAPIC offset r * 16) is MSR 0x800 + r
REG_TPR, REG_EOI, REG_SVR, REG_LVT_TIMER = 0x08, 0x0B, 0x0F, 0x32
SVR_ENABLE = 1 << 8
LVT_MASKED = 1 << 16
CPUID1_ECX_X2APIC = 1 << 21

PIC1, PIC2 = 0x20, 0xA0
PIC_BASE_VECTOR = 0x20  # the PICs' vectors 0x20-0x2f: masked, so only spurious 0x27/0x2f


STUB_SIZE = 8  # push $imm8 (2 bytes) + jmp rel32 (5), padded


def add_interrupts(k: KvmModule) -> ir.GlobalVariable:
    """Declares the stubs and builds the setup; returns the first stub (vector 32;
    vector v's is STUB_SIZE * (v - 32) bytes further)."""
    k.irq_pending = _exported(k, "applc_kvm_irq_pending", ir.ArrayType(I64, VECTORS // 64), 32)
    k.x2apic = _exported(k, "applc_kvm_x2apic", I8, 1)
    stubs = ir.GlobalVariable(k.module, ir.ArrayType(I8, 0), name="applc_kvm_irq_stubs")
    stubs.storage_class = "dso_local"
    _setup(k)
    _accessors(k)
    return stubs


def _exported(k, name, ty, align):
    """A zeroed global the stubs' assembly reaches by name (so not internal)."""
    g = ir.GlobalVariable(k.module, ty, name=name)
    g.initializer = ir.Constant(ty, None)
    g.storage_class = "dso_local"
    g.align = align
    return g


def stubs_asm() -> str:
    """The stubs: each pushes its vector (as imm8: 128-255 arrive sign-extended
    and are masked) and jumps to the common part, which sets the pending bit,
    sends the EOI (x2APIC MSR or xAPIC MMIO; none for the spurious vector) and
    returns with iretq. It uses rax, rcx and rdx only, saved on the stack."""
    lines = [".text", ".p2align 4", ".globl applc_kvm_irq_stubs", "applc_kvm_irq_stubs:"]
    for v in range(FIRST_DEVICE_VECTOR, VECTORS):
        imm = v if v < 128 else v - 256
        lines += [f".byte 0x6a, {imm & 0xFF}", "jmp applc_kvm_irq_common", f".p2align 3, 0x90"]
    lines += [
        "applc_kvm_irq_common:",
        "pushq %rax", "pushq %rcx", "pushq %rdx",
        "movzbl 24(%rsp), %eax",
        "lock btsq %rax, applc_kvm_irq_pending(%rip)",
        f"cmpl ${SPURIOUS_VECTOR}, %eax",
        "je 1f",
        "cmpb $0, applc_kvm_x2apic(%rip)",
        "je 2f",
        f"movl ${X2APIC_MSR_BASE + REG_EOI:#x}, %ecx",
        "xorl %eax, %eax", "xorl %edx, %edx",
        "wrmsr",
        "jmp 1f",
        "2:",
        f"movl ${XAPIC_BASE + REG_EOI * 16:#x}, %eax",
        "movl $0, (%rax)",
        "1:",
        "popq %rdx", "popq %rcx", "popq %rax",
        "addq $8, %rsp",
        "iretq",
    ]
    return "\n".join(lines) + "\n"


def _wrmsr(b: ir.IRBuilder, msr: int, value: ir.Value) -> None:
    lo = b.trunc(value, I32)
    hi = b.trunc(b.lshr(value, I64(32)), I32)
    fnty = ir.FunctionType(VOID, [I32, I32, I32])
    b.asm(fnty, "wrmsr", "{ecx},{eax},{edx},~{memory}", [I32(msr), lo, hi], True)


def _rdmsr(w, msr: int) -> ir.Value:
    pair = w.asm(ir.LiteralStructType([I32, I32]), "rdmsr", "={eax},={edx},{ecx},~{memory}", (I32(msr),))
    lo = w.b.zext(w.b.extract_value(pair, 0), I64)
    hi = w.b.zext(w.b.extract_value(pair, 1), I64)
    return w.b.or_(w.b.shl(hi, I64(32)), lo)


def _setup(k: KvmModule) -> None:
    w = k.writer("applc_kvm_irq_setup", VOID)
    b = w.b
    _mask_pics(w)
    x2 = b.icmp_unsigned("!=", b.and_(cpuid(w, 1)[2], I32(CPUID1_ECX_X2APIC)), I32(0))
    base = _rdmsr(w, APIC_BASE_MSR)
    with w.if_else(x2) as (then, otherwise):
        with then:
            # xAPIC first, then x2APIC: the architecture forbids enabling EXTD alone
            _wrmsr(b, APIC_BASE_MSR, b.or_(base, I64(APIC_ENABLE)))
            _wrmsr(b, APIC_BASE_MSR, b.or_(base, I64(APIC_ENABLE | APIC_EXTD)))
            b.store(I8(1), k.x2apic)
            for reg, value in _initial_registers():
                _wrmsr(b, X2APIC_MSR_BASE + reg, I64(value))
        with otherwise:
            _wrmsr(b, APIC_BASE_MSR, b.or_(b.and_(base, I64(~APIC_EXTD)), I64(APIC_ENABLE)))
            for reg, value in _initial_registers():
                w.store_at(I32, XAPIC_BASE + reg * 16, I32(value), volatile=True)
    b.ret_void()


def _initial_registers():
    return ((REG_TPR, 0), (REG_LVT_TIMER, LVT_MASKED), (REG_SVR, SVR_ENABLE | SPURIOUS_VECTOR))


def _mask_pics(w) -> None:
    """ICW1-4 (edge, cascade, 8086 mode), vectors 0x20/0x28, then mask all lines.
    Remapping keeps a spurious PIC interrupt off the exception vectors. Without
    PICs (microvm pic=off) the writes go nowhere."""
    for port, value in (
        (PIC1, 0x11), (PIC2, 0x11),
        (PIC1 + 1, PIC_BASE_VECTOR), (PIC2 + 1, PIC_BASE_VECTOR + 8),
        (PIC1 + 1, 4), (PIC2 + 1, 2),
        (PIC1 + 1, 1), (PIC2 + 1, 1),
        (PIC1 + 1, 0xFF), (PIC2 + 1, 0xFF),
    ):
        outb(w, port, value)


def _accessors(k: KvmModule) -> None:
    w = k.writer("applc_plat_irq_pending", I64, linkage="external")
    w.b.ret(w.addr(k.irq_pending))
