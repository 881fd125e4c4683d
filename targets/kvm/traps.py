"""CPU exceptions on the kvm target: TSS with an IST stack, IDT, fatal report.

In: a KvmModule (needs devices.py's functions). Out:

    applc_kvm_traps_setup()      TSS descriptor into the GDT (boot.py leaves
                                 slot 0x18 empty), ltr, IDT for vectors 0-31, lidt
    applc_kvm_trap_<n>           one x86_intrcc handler per vector
    applc_kvm_fatal(msg)         print "fatal: <msg>" on COM1, exit status 1
    applc_kvm_fatal_trap(vector, rip, error)

Every exception runs on IST1, a separate stack (boot.py), because the main
stack may be the very thing that failed: a page fault in the guard page
below it. The report on COM1 is then

    fatal: stack overflow (guard page hit)
    fatal: CPU exception <n> at rip=0x<hex>        (other vectors)
    fatal: CPU exception 14 at rip=0x<hex> (address 0x<cr2>)

and the program exits with status 1: never a silent triple fault or hang.
A fault while reporting a fault exits 1 without a second report.
Vectors 32-255 are device interrupts: interrupts.py makes their stubs, and
`applc_kvm_traps_setup` installs them too (without IST: they arrive on the
current stack, only ever inside halt_until_interrupt).
"""

from __future__ import annotations

from llvmlite import ir

from applc.link.irkit import I8, I16, I32, I64, PTR, VOID, add_attribute, cstring
from applc.targets.kvm.boot import CODE64_SELECTOR, TSS_SELECTOR
from applc.targets.kvm.interrupts import STUB_SIZE
from applc.targets.kvm.machine import KvmModule, read_cr2

VECTORS = 32  # exceptions
IDT_VECTORS = 256
WITH_ERROR_CODE = {8, 10, 11, 12, 13, 14, 17, 21, 29, 30}
PAGE_FAULT = 14
TSS_SIZE = 104
TSS_IST1 = 0x24
TSS_IOMAP_BASE = 0x66
FRAME = ir.LiteralStructType([I64] * 5)  # rip, cs, rflags, rsp, ss


def add_traps(k: KvmModule, device_stubs: ir.GlobalVariable) -> None:
    """`device_stubs`: the stub of vector 32; the others follow every STUB_SIZE
    bytes up to vector 255 (interrupts.py)."""
    k.tss = _zeroed(k, "applc_kvm_tss", ir.ArrayType(I8, TSS_SIZE), 16)
    k.idt = _zeroed(k, "applc_kvm_idt", ir.ArrayType(I64, 2 * IDT_VECTORS), 16)
    k.in_fatal = _zeroed(k, "applc_kvm_in_fatal", I8, 1)
    _print_helpers(k)
    _fatal(k)
    _fatal_trap(k)
    handlers = [_handler(k, v) for v in range(VECTORS)]
    _setup(k, handlers, device_stubs)


def _zeroed(k, name, ty, align):
    g = ir.GlobalVariable(k.module, ty, name=name)
    g.linkage = "internal"
    g.initializer = ir.Constant(ty, None)
    g.align = align
    return g


def _print_helpers(k):
    """applc_kvm_puts(cstring) and applc_kvm_puthex(i64) on COM1."""
    w = k.writer("applc_kvm_puts", VOID, (PTR,))
    p = w.var(I64, w.addr(w.args[0]))
    with w.while_(lambda: w.b.icmp_unsigned("!=", w.load_at(I8, w.get(p)), I8(0))):
        w.call(k.fns["applc_kvm_putc"], I16(0x3F8), w.load_at(I8, w.get(p)))
        w.set(p, w.b.add(w.get(p), I64(1)))
    w.b.ret_void()

    w = k.writer("applc_kvm_putnum", VOID, (I64, I64))  # value, base (10 or 16)
    value, base = w.args
    buf = w.b.alloca(ir.ArrayType(I8, 24))
    n = w.var(I64, 0)
    v = w.var(I64, value)
    digits = cstring(k.module, "applc_kvm_digits", b"0123456789abcdef")
    with w.while_(lambda: w.b.or_(w.b.icmp_unsigned("!=", w.get(v), I64(0)), w.b.icmp_unsigned("==", w.get(n), I64(0)))):
        digit = w.load_at(I8, w.b.add(w.addr(digits), w.b.urem(w.get(v), base)))
        w.store_at(I8, w.b.add(w.addr(buf), w.get(n)), digit)
        w.set(n, w.b.add(w.get(n), I64(1)))
        w.set(v, w.b.udiv(w.get(v), base))
    with w.while_(lambda: w.b.icmp_unsigned(">", w.get(n), I64(0))):
        w.set(n, w.b.sub(w.get(n), I64(1)))
        w.call(k.fns["applc_kvm_putc"], I16(0x3F8), w.load_at(I8, w.b.add(w.addr(buf), w.get(n))))
    w.b.ret_void()


def _fatal(k):
    w = k.writer("applc_kvm_fatal", VOID, (PTR,), attributes=("noreturn", "noinline"))
    w.call(k.fns["applc_kvm_puts"], cstring(k.module, "applc_kvm_fatal_prefix", b"fatal: "))
    w.call(k.fns["applc_kvm_puts"], w.args[0])
    w.call(k.fns["applc_kvm_puts"], cstring(k.module, "applc_kvm_newline", b"\n"))
    w.call(k.fns["applc_plat_exit"], I32(1))
    w.b.unreachable()


def _fatal_trap(k):
    w = k.writer(
        "applc_kvm_fatal_trap", VOID, (I64, I64, I64), attributes=("noreturn", "noinline", '"stackrealign"')
    )
    vector, rip, _error = w.args
    with w.if_(w.b.icmp_unsigned("!=", w.b.load(k.in_fatal), I8(0))):
        w.call(k.fns["applc_plat_exit"], I32(1))  # faulted while reporting a fault
    w.b.store(I8(1), k.in_fatal)
    cr2 = read_cr2(w)
    guard = w.addr(k.stack_guard)
    in_guard = w.b.icmp_unsigned("<", w.b.sub(cr2, guard), I64(4096))
    is_pf = w.b.icmp_unsigned("==", vector, I64(PAGE_FAULT))
    with w.if_(w.b.and_(is_pf, in_guard)):
        w.call(k.fns["applc_kvm_fatal"], cstring(k.module, "applc_kvm_msg_overflow", b"stack overflow (guard page hit)"))
    puts, putnum = k.fns["applc_kvm_puts"], k.fns["applc_kvm_putnum"]
    w.call(puts, cstring(k.module, "applc_kvm_msg_exc", b"fatal: CPU exception "))
    w.call(putnum, vector, I64(10))
    w.call(puts, cstring(k.module, "applc_kvm_msg_rip", b" at rip=0x"))
    w.call(putnum, rip, I64(16))
    with w.if_(is_pf):
        w.call(puts, cstring(k.module, "applc_kvm_msg_addr", b" (address 0x"))
        w.call(putnum, cr2, I64(16))
        w.call(puts, cstring(k.module, "applc_kvm_msg_close", b")"))
    w.call(puts, cstring(k.module, "applc_kvm_msg_nl", b"\n"))
    w.call(k.fns["applc_plat_exit"], I32(1))
    w.b.unreachable()


def _handler(k, vector: int) -> ir.Function:
    """An interrupt-convention function: LLVM writes the entry/exit sequence.

    The call is marked no_caller_saved_registers so the handler saves
    nothing before it (the callee never returns).
    """
    args = [ir.PointerType(FRAME)] + ([I64] if vector in WITH_ERROR_CODE else [])
    fn = ir.Function(k.module, ir.FunctionType(VOID, args), name=f"applc_kvm_trap_{vector}")
    fn.linkage = "internal"
    fn.calling_convention = "x86_intrcc"
    fn.args[0].add_attribute("byval")
    for attr in ("nounwind", "noredzone"):
        add_attribute(fn, attr)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    rip = b.load(b.gep(fn.args[0], [I32(0), I32(0)]))
    error = fn.args[1] if vector in WITH_ERROR_CODE else I64(0)
    call = b.call(k.fns["applc_kvm_fatal_trap"], [I64(vector), rip, error])
    set.add(call.attributes, "noreturn")
    set.add(call.attributes, '"no_caller_saved_registers"')
    b.unreachable()
    return fn


def _setup(k, handlers, device_stubs):
    w = k.writer("applc_kvm_traps_setup", VOID)
    tss = w.addr(k.tss)
    w.store_at(I64, w.b.add(tss, I64(TSS_IST1)), w.addr(k.ist_top))
    w.store_at(I16, w.b.add(tss, I64(TSS_IOMAP_BASE)), I16(TSS_SIZE))  # no I/O bitmap
    low, high = _system_descriptor(w, tss, TSS_SIZE - 1, 0x89)  # present, 64-bit TSS (available)
    gdt = w.addr(k.gdt)
    w.store_at(I64, w.b.add(gdt, I64(TSS_SELECTOR)), low)
    w.store_at(I64, w.b.add(gdt, I64(TSS_SELECTOR + 8)), high)
    w.asm(VOID, "ltr %ax", "{ax},~{memory}", (I16(TSS_SELECTOR),))
    idt = w.addr(k.idt)
    for vector, fn in enumerate(handlers):
        low, high = _gate(w, w.addr(fn), ist=1)
        w.store_at(I64, w.b.add(idt, I64(16 * vector)), low)
        w.store_at(I64, w.b.add(idt, I64(16 * vector + 8)), high)
    with w.for_range(VECTORS, IDT_VECTORS) as vector:  # a loop: 224 unrolled gates cost 9 KiB
        stub = w.b.add(w.addr(device_stubs), w.b.mul(w.b.sub(vector, I64(VECTORS)), I64(STUB_SIZE)))
        low, high = _gate(w, stub, ist=0)
        slot = w.b.add(idt, w.b.mul(vector, I64(16)))
        w.store_at(I64, slot, low)
        w.store_at(I64, w.b.add(slot, I64(8)), high)
    idtr = w.b.alloca(ir.ArrayType(I16, 5))  # limit (2 bytes), base (8 bytes)
    w.store_at(I16, w.addr(idtr), I16(16 * IDT_VECTORS - 1))
    w.store_at(I64, w.b.add(w.addr(idtr), I64(2)), idt)
    w.asm(VOID, "lidt ($0)", "r,~{memory}", (w.ptr(w.addr(idtr)),))
    w.b.ret_void()


def _system_descriptor(w, base, limit: int, access: int):
    """The two quadwords of a 16-byte system-segment descriptor (TSS)."""
    b = w.b
    low = I64(limit & 0xFFFF)
    low = b.or_(low, b.shl(b.and_(base, I64(0xFFFFFF)), I64(16)))
    low = b.or_(low, I64(access << 40))
    low = b.or_(low, b.shl(b.and_(b.lshr(base, I64(24)), I64(0xFF)), I64(56)))
    return low, b.lshr(base, I64(32))


def _gate(w, handler, ist: int):
    """An interrupt gate: present, DPL 0, type 0xE, stack `ist` (0: the current one),
    code selector 0x08."""
    b = w.b
    low = b.and_(handler, I64(0xFFFF))
    low = b.or_(low, I64((CODE64_SELECTOR << 16) | (ist << 32) | (0x8E << 40)))
    low = b.or_(low, b.shl(b.and_(b.lshr(handler, I64(16)), I64(0xFFFF)), I64(48)))
    return low, b.lshr(handler, I64(32))
