"""The kvm platform module: the applc platform interface on bare x86-64 (PVH).

In: nothing. Out: `platform_ir()`, one LLVM IR module (text) containing
boot.py's assembly and the IR of every part:

    devices.py  COM1/COM2, isa-debug-exit / ACPI power-off, boot trace
    traps.py    TSS + IST, IDT, fatal reports
    interrupts.py  device vector stubs, pending bitmap, PIC mask, LAPIC enable
    memory.py   start_info memory map, heap region, final page tables
    cmdline.py  argv from the PVH command line
    clock.py    TSC frequency and the monotonic clock

and `applc_kvm_start`, which boot.py's 64-bit code calls on the real stack:

    serial -> boot trace 'E' -> traps -> memory map -> argv -> page tables
    -> PIC masked, LAPIC on (IF stays 0) -> heap bounds, stack limit -> boot trace 'M' -> applc_main() -> exit
"""

from __future__ import annotations

from llvmlite import ir

from applc.link.freestanding import add_mem_functions
from applc.link.irkit import I8, I32, I64, VOID, extern_global, mark_used, with_module_asm
from applc.targets.kvm.boot import BOOT_ASM, GUARD_SIZE, STACK_SLACK
from applc.targets.kvm.clock import add_clock
from applc.targets.kvm.cmdline import add_cmdline
from applc.targets.kvm.devices import add_devices
from applc.targets.kvm.interrupts import add_interrupts, stubs_asm
from applc.targets.kvm.machine import TRIPLE, KvmModule, rdtsc
from applc.targets.kvm.memory import add_memory
from applc.targets.kvm.traps import add_traps

__all__ = ["TRIPLE", "platform_ir"]


def platform_ir() -> str:
    k = KvmModule()
    add_devices(k)
    add_traps(k, add_interrupts(k))
    add_memory(k)
    add_cmdline(k)
    add_clock(k)
    _heap_accessors(k)
    start = _start(k)
    add_mem_functions(k.module, noredzone=True)
    mark_used(k.module, [start])
    return with_module_asm(str(k.module), BOOT_ASM + stubs_asm())


def _heap_accessors(k: KvmModule) -> None:
    for name, var in (("applc_plat_heap_start", k.heap_start), ("applc_plat_heap_end", k.heap_end)):
        w = k.writer(name, I64, linkage="external")
        w.b.ret(w.b.load(var))
    # the top of the boot stack (the collector scans from the stack pointer up to it)
    top = extern_global(k.module, "applc_kvm_stack_top")
    w = k.writer("applc_plat_stack_top", I64, linkage="external")
    w.b.ret(w.b.ptrtoint(top, I64))


def _start(k: KvmModule) -> ir.Function:
    w = k.writer("applc_kvm_start", VOID, linkage="external", attributes=("noreturn", "noinline"))
    b = w.b
    call = w.call
    call(k.fns["applc_kvm_serial_setup"])
    call(k.fns["applc_kvm_trace_setup"])
    call(k.fns["applc_kvm_trace"], I8(ord("E")), b.load(k.boot_tsc))
    call(k.fns["applc_kvm_trace"], I8(ord("L")), rdtsc(w))
    call(k.fns["applc_kvm_traps_setup"])
    call(k.fns["applc_kvm_memory_setup"])
    call(k.fns["applc_kvm_argv_setup"])
    call(k.fns["applc_kvm_paging_setup"])
    call(k.fns["applc_kvm_irq_setup"])
    b.store(b.load(k.carve), k.heap_start)
    b.store(b.add(w.addr(k.stack_guard), I64(GUARD_SIZE + STACK_SLACK)), k.stack_limit)
    call(k.fns["applc_kvm_trace"], I8(ord("M")), rdtsc(w))
    # Zero the stack below us: boot code (the PIT calibration above all) left values
    # there that depend on timing, and the collector scans stack words conservatively;
    # a stale word that happens to point into the heap would keep garbage alive in
    # some runs and not others.
    w.asm(VOID, "mov $0, %rdi\n\tmov %rsp, %rcx\n\tsub $$512, %rcx\n\tsub %rdi, %rcx\n\t"
          "jbe 1f\n\txor %eax, %eax\n\trep stosb\n1:",
          "r,~{rdi},~{rcx},~{rax},~{memory},~{dirflag},~{flags}",
          [b.add(w.addr(k.stack_guard), I64(GUARD_SIZE))])
    main = ir.Function(k.module, ir.FunctionType(I32, ()), name="applc_main")
    status = call(main)
    call(k.fns["applc_plat_exit"], status)
    b.unreachable()
    return w.fn
