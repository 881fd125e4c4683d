"""Shared pieces of the kvm platform module: the module context and x86 I/O.

In: nothing. Out: `KvmModule` (the llvmlite module being built, its shared
globals and the functions other parts call) and small emitters for port I/O,
CPUID, RDTSC and control registers, written as inline asm one instruction
each. Every function is marked `noredzone`: exceptions arrive on the current
stack in the kernel's own ring.
"""

from __future__ import annotations

from llvmlite import ir

from applc.link.irkit import I8, I16, I32, I64, VOID, FunctionWriter, extern_global, global_var, new_module

TRIPLE = "x86_64-unknown-none-elf"


class KvmModule:
    """The platform module under construction and what its parts share."""

    def __init__(self):
        self.module = new_module("applc.platform.kvm", TRIPLE)
        m = self.module
        self.stack_limit = global_var(m, "applc_stack_limit", I64, 0, linkage="external")
        self.heap_start = global_var(m, "applc_kvm_heap_start", I64)
        self.heap_end = global_var(m, "applc_kvm_heap_end", I64)
        self.argc = global_var(m, "applc_kvm_argc", I64)
        self.argv = global_var(m, "applc_kvm_argv", I64)
        self.carve = global_var(m, "applc_kvm_carve_next", I64)  # boot-time bump allocator
        self.carve_end = global_var(m, "applc_kvm_carve_end", I64)
        # Defined by boot.py's assembly or by the linker.
        self.boot_tsc = extern_global(m, "applc_kvm_boot_tsc", I64)
        self.start_info = extern_global(m, "applc_kvm_start_info", I32)
        self.gdt = extern_global(m, "applc_kvm_gdt")
        self.stack_guard = extern_global(m, "applc_kvm_stack_guard")
        self.ist_top = extern_global(m, "applc_kvm_ist_top")
        self.text_start = extern_global(m, "__text_start")
        self.text_end = extern_global(m, "__text_end")
        self.rodata_start = extern_global(m, "__rodata_start")
        self.rodata_end = extern_global(m, "__rodata_end")
        self.image_end = extern_global(m, "__image_end")
        self.fns: dict[str, ir.Function] = {}

    def writer(self, name: str, ret: ir.Type, args=(), linkage: str = "internal", attributes=()) -> FunctionWriter:
        w = FunctionWriter(self.module, name, ret, tuple(args), linkage=linkage, attributes=attributes, noredzone=True)
        self.fns[name] = w.fn
        return w


def _i16(w: FunctionWriter, port) -> ir.Value:
    if isinstance(port, int):
        return I16(port)
    return port if port.type == I16 else w.b.trunc(port, I16)


def outb(w: FunctionWriter, port, value) -> None:
    v = I8(value) if isinstance(value, int) else (value if value.type == I8 else w.b.trunc(value, I8))
    w.asm(VOID, "outb %al, %dx", "{al},{dx}", (v, _i16(w, port)))


def outw(w: FunctionWriter, port, value: int) -> None:
    w.asm(VOID, "outw %ax, %dx", "{ax},{dx}", (I16(value), _i16(w, port)))


def inb(w: FunctionWriter, port) -> ir.Value:
    return w.asm(I8, "inb %dx, %al", "={al},{dx}", (_i16(w, port),))


def rdtsc(w: FunctionWriter) -> ir.Value:
    pair = w.asm(ir.LiteralStructType([I32, I32]), "rdtsc", "={eax},={edx}", ())
    lo = w.b.zext(w.b.extract_value(pair, 0), I64)
    hi = w.b.zext(w.b.extract_value(pair, 1), I64)
    return w.b.or_(w.b.shl(hi, I64(32)), lo)


def cpuid(w: FunctionWriter, leaf: int) -> list[ir.Value]:
    """[eax, ebx, ecx, edx] of CPUID `leaf` (subleaf 0), each i32."""
    regs = w.asm(
        ir.LiteralStructType([I32] * 4), "cpuid", "={eax},={ebx},={ecx},={edx},{eax},{ecx}", (I32(leaf), I32(0))
    )
    return [w.b.extract_value(regs, i) for i in range(4)]


def read_cr2(w: FunctionWriter) -> ir.Value:
    return w.asm(I64, "movq %cr2, $0", "=r", ())


def write_cr3(w: FunctionWriter, value: ir.Value) -> None:
    w.asm(VOID, "movq $0, %cr3", "r,~{memory}", (value,))


def halt_forever(w: FunctionWriter) -> None:
    """cli; hlt in a loop (an NMI could wake a lone hlt)."""
    with w.while_(lambda: ir.Constant(ir.IntType(1), 1)):
        w.asm(VOID, "cli; hlt", "~{memory}", ())
    w.b.unreachable()
