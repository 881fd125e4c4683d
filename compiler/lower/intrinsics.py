"""Lowering of `_machine` intrinsics, and the C-level memory functions LLVM may call.

In:  a FunctionLowerer and a checked call of an intrinsic (privileged modules only:
     the checker rejects `_machine` imports elsewhere).
Out: inline LLVM instructions. Addresses are i64 in apy and become pointers only
     here (inttoptr), at the point of the access.

The memory functions themselves (memcpy, memmove, memset, memcmp, bcmp) come with
the platform module (applc.link.freestanding): LLVM emits calls to them on its own,
and there is no libc below us.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..parse import nodes as n
from .codegen import F64, I8, I32, I64, PTR, VOID

if TYPE_CHECKING:
    from .codegen import FunctionLowerer, ProgramLowerer

I16 = ir.IntType(16)
I128 = ir.IntType(128)
WIDTH = {"8": ir.IntType(8), "16": I16, "32": I32, "64": I64}


def lower_intrinsic(fl: "FunctionLowerer", name: str, e: n.Call) -> ir.Value:
    if name == "static_buffer":
        return ir.Constant(I64, 0)  # only as a module-level initializer; the global is the buffer
    args = [fl.as_int(fl.expr(a), a.ty) if a.ty is not None and a.ty.name == "bool"
            else fl.expr(a) for a in e.args]
    b = fl.b
    if name.startswith("load"):
        ty = WIDTH[name[4:]]
        v = b.load(b.inttoptr(args[0], PTR), typ=ty)
        return v if ty is I64 else b.zext(v, I64)
    if name.startswith("store"):
        ty = WIDTH[name[5:]]
        v = args[1] if ty is I64 else b.trunc(args[1], ty)
        b.store(v, b.inttoptr(args[0], PTR))
        return ir.Constant(I8, 0)
    if name == "f64_bits":
        return b.bitcast(args[0], I64)
    if name == "f64_from_bits":
        return b.bitcast(args[0], F64)
    if name == "wrap_add":
        return b.add(args[0], args[1])
    if name == "wrap_sub":
        return b.sub(args[0], args[1])
    if name == "wrap_mul":
        return b.mul(args[0], args[1])
    if name == "umulhi":
        wide = b.mul(b.zext(args[0], I128), b.zext(args[1], I128))
        return b.trunc(b.lshr(wide, ir.Constant(I128, 64)), I64)
    if name in ("udiv", "urem"):
        fl.guard(b.icmp_signed("==", args[1], ir.Constant(I64, 0)), "ZeroDivisionError",
                 "integer division or modulo by zero")
        return (b.udiv if name == "udiv" else b.urem)(args[0], args[1])
    if name == "lshr":
        big = b.icmp_unsigned(">", args[1], ir.Constant(I64, 63))
        shifted = b.lshr(args[0], b.select(big, ir.Constant(I64, 0), args[1]))
        return b.select(big, ir.Constant(I64, 0), shifted)
    if name == "sqrt":
        fn = fl.prog.module.declare_intrinsic("llvm.sqrt", [F64])
        return b.call(fn, [args[0]])
    if name == "memcpy":
        b.call(fl.prog.memfunc("memmove"), [b.inttoptr(args[0], PTR), b.inttoptr(args[1], PTR),
                                            args[2]])
        return ir.Constant(I8, 0)
    if name == "memset":
        b.call(fl.prog.memfunc("memset"), [b.inttoptr(args[0], PTR), b.trunc(args[1], I32),
                                           args[2]])
        return ir.Constant(I8, 0)
    if name == "str_addr":
        return b.ptrtoint(args[0], I64)
    if name == "str_at":
        return b.inttoptr(args[0], PTR)
    if name == "plat_write":
        fn = fl.prog.platform("applc_plat_write", VOID, [I32, PTR, I64])
        b.call(fn, [b.trunc(args[0], I32), b.inttoptr(args[1], PTR), args[2]])
        return ir.Constant(I8, 0)
    if name == "plat_exit":
        fn = fl.prog.platform("applc_plat_exit", VOID, [I32])
        b.call(fn, [b.trunc(args[0], I32)])
        return ir.Constant(I8, 0)
    if name == "stack_pointer":
        return b.asm(ir.FunctionType(I64, []), "mov %rsp, $0", "=r", [], True)
    if name == "stack_top":
        return b.call(fl.prog.platform("applc_plat_stack_top", I64, []), [])
    if name in ("data_start", "data_end"):
        # linker-defined (docs/platform.md): the image's data and bss hold the globals
        sym = "__data_start" if name == "data_start" else "__bss_end"
        return b.ptrtoint(fl.prog.linker_symbol(sym), I64)
    if name == "spill_registers":
        # clobbering the callee-saved registers makes this function save them in its
        # frame, where the conservative stack scan finds any pointer they held
        b.asm(ir.FunctionType(ir.VoidType(), []), "",
              "~{rbx},~{rbp},~{r12},~{r13},~{r14},~{r15},~{memory}", [], True)
        return ir.Constant(I8, 0)
    if name == "plat_argc":
        return b.call(fl.prog.platform("applc_plat_argc", I64, []), [])
    if name in ("plat_argv", "plat_devarg"):
        ptr = b.call(fl.prog.platform("applc_" + name, PTR, [I64]), [args[0]])
        return b.ptrtoint(ptr, I64)
    if name in ("plat_heap_start", "plat_heap_end", "plat_monotonic_ns", "plat_tsc_hz",
                "plat_irq_pending"):
        fn = fl.prog.platform("applc_" + name, I64, [])
        return b.call(fn, [])
    machine = MACHINE.get(name)
    if machine is not None:
        return machine(fl, args)
    raise NotImplementedError(f"intrinsic {name}")


# --------------------------------------------------------------------------- machine access
#
# Hardware intrinsics for drivers and the platform's apy side (docs/platform.md,
# "Machine intrinsics"). Each is one `asm sideeffect` with a memory clobber: LLVM
# never merges, reorders (relative to any memory access) or deletes them, which
# is what device registers and DMA descriptors need.

NONE = ir.Constant(I8, 0)
ENOSYS = 38
PAGE = 4096
# the object layouts of docs/runtime-abi.md
BYTES_DATA, BYTEARRAY_DATA, RAW_HEADER = 16, 24, 8
SUFFIX = {"8": "b", "16": "w", "32": "l", "64": "q"}
ACC = {"8": "{al}", "16": "{ax}", "32": "{eax}"}


def _asm(fl: "FunctionLowerer", ret: ir.Type, text: str, constraints: str,
         args: list[ir.Value]) -> ir.Value:
    clobber = "~{memory}" if not constraints else ",~{memory}"
    ty = ir.FunctionType(ret, [a.type for a in args])
    return fl.b.asm(ty, text, constraints + clobber, args, True)


def _port_in(width: str):
    def lower(fl, args):
        port = fl.b.trunc(args[0], I16)
        v = _asm(fl, WIDTH[width], f"in{SUFFIX[width]} %dx, $0", f"={ACC[width]},{{dx}}", [port])
        return fl.b.zext(v, I64)
    return lower


def _port_out(width: str):
    def lower(fl, args):
        port = fl.b.trunc(args[0], I16)
        value = fl.b.trunc(args[1], WIDTH[width])
        _asm(fl, VOID, f"out{SUFFIX[width]} $0, %dx", f"{ACC[width]},{{dx}}", [value, port])
        return NONE
    return lower


def _mmio_read(width: str):
    def lower(fl, args):
        v = _asm(fl, WIDTH[width], f"mov{SUFFIX[width]} ($1), $0", "=r,r", [args[0]])
        return v if width == "64" else fl.b.zext(v, I64)
    return lower


def _mmio_write(width: str):
    def lower(fl, args):
        value = args[1] if width == "64" else fl.b.trunc(args[1], WIDTH[width])
        _asm(fl, VOID, f"mov{SUFFIX[width]} $0, ($1)", "r,r", [value, args[0]])
        return NONE
    return lower


def _fixed(text: str):
    """An instruction without operands (fences, sti, cli, hlt)."""
    def lower(fl, args):
        _asm(fl, VOID, text, "", [])
        return NONE
    return lower


def _rdtsc(fl, args):
    pair = _asm(fl, ir.LiteralStructType([I32, I32]), "rdtsc", "={eax},={edx}", [])
    return _join(fl, pair)


def _join(fl, pair) -> ir.Value:
    lo = fl.b.zext(fl.b.extract_value(pair, 0), I64)
    hi = fl.b.zext(fl.b.extract_value(pair, 1), I64)
    return fl.b.or_(fl.b.shl(hi, ir.Constant(I64, 32)), lo)


def _cpuid(fl, args):
    """cpuid(leaf, subleaf, reg): register `reg` (0..3 = eax, ebx, ecx, edx), zero-extended;
    0 for any other `reg` (the instruction still runs: CPUID is serialising)."""
    b = fl.b
    regs = _asm(fl, ir.LiteralStructType([I32] * 4), "cpuid",
                "={eax},={ebx},={ecx},={edx},{eax},{ecx}",
                [b.trunc(args[0], I32), b.trunc(args[1], I32)])
    out = ir.Constant(I64, 0)
    for i in range(4):
        hit = b.icmp_signed("==", args[2], ir.Constant(I64, i))
        out = b.select(hit, b.zext(b.extract_value(regs, i), I64), out)
    return out


def _rdmsr(fl, args):
    pair = _asm(fl, ir.LiteralStructType([I32, I32]), "rdmsr", "={eax},={edx},{ecx}",
                [fl.b.trunc(args[0], I32)])
    return _join(fl, pair)


def _wrmsr(fl, args):
    b = fl.b
    lo = b.trunc(args[1], I32)
    hi = b.trunc(b.lshr(args[1], ir.Constant(I64, 32)), I32)
    _asm(fl, VOID, "wrmsr", "{ecx},{eax},{edx}", [b.trunc(args[0], I32), lo, hi])
    return NONE


def _dma_alloc(fl, args):
    """Whole pages from the top of the heap (gc_pin_pages): never moved, freed or scanned."""
    b = fl.b
    fl.guard(b.icmp_signed("<", args[0], ir.Constant(I64, 0)), "ValueError",
             "dma_alloc: negative size")
    pages = b.lshr(b.add(args[0], ir.Constant(I64, PAGE - 1)), ir.Constant(I64, 12))
    pages = b.select(b.icmp_signed("==", pages, ir.Constant(I64, 0)), ir.Constant(I64, 1), pages)
    addr = fl.call_rt("gc_pin_pages", [pages], module="rt.gc", may_raise=False)
    fl.guard(b.icmp_signed("==", addr, ir.Constant(I64, 0)), "MemoryError",
             "dma_alloc: out of memory")
    return addr


def _bytearray_addr(fl, args):
    """The bytearray's buffer (a TAG_RAW object: header, then the bytes), or 0 when it
    has none yet (an empty bytearray)."""
    b = fl.b
    obj = b.ptrtoint(args[0], I64) if isinstance(args[0].type, ir.PointerType) else args[0]
    slot = b.inttoptr(b.add(obj, ir.Constant(I64, BYTEARRAY_DATA)), PTR)
    raw = b.load(slot, typ=I64)
    empty = b.icmp_signed("==", raw, ir.Constant(I64, 0))
    return b.select(empty, ir.Constant(I64, 0), b.add(raw, ir.Constant(I64, RAW_HEADER)))


def _bytes_addr(fl, args):
    obj = fl.b.ptrtoint(args[0], I64) if isinstance(args[0].type, ir.PointerType) else args[0]
    return fl.b.add(obj, ir.Constant(I64, BYTES_DATA))


def _flush_stdout(fl, args):
    """What print() buffered goes out now (events.wait_until, before the CPU sleeps)."""
    fl.call_rt("flush_stdout", [], may_raise=False)
    return NONE


def _target_name(fl, args):
    # a constant: `target_name() == "kvm"` folds, and LLVM drops the untaken branch
    return fl.prog.str_const(fl.prog.target_name)


def _syscall(fl, args):
    """A Linux system call on the hosted target; elsewhere -ENOSYS (no kernel below)."""
    if fl.prog.target_name != "hosted":
        return ir.Constant(I64, -ENOSYS)
    return _asm(fl, I64, "syscall",
                "={rax},{rax},{rdi},{rsi},{rdx},{r10},{r8},{r9},~{rcx},~{r11}", args)


MACHINE = {
    **{f"in{SUFFIX[w][0]}": _port_in(w) for w in ("8", "16", "32")},
    **{f"out{SUFFIX[w][0]}": _port_out(w) for w in ("8", "16", "32")},
    **{f"mmio_read{w}": _mmio_read(w) for w in ("8", "16", "32", "64")},
    **{f"mmio_write{w}": _mmio_write(w) for w in ("8", "16", "32", "64")},
    "mb": _fixed("mfence"), "rmb": _fixed("lfence"), "wmb": _fixed("sfence"),
    "irq_enable": _fixed("sti"), "irq_disable": _fixed("cli"),
    # sti takes effect after the next instruction, so an interrupt that arrives
    # between the caller's last check and here still wakes the hlt
    "halt_until_interrupt": _fixed("sti; hlt; cli"),
    "rdtsc": _rdtsc, "cpuid": _cpuid, "rdmsr": _rdmsr, "wrmsr": _wrmsr,
    "dma_alloc": _dma_alloc, "phys_addr": lambda fl, args: args[0],
    "bytearray_addr": _bytearray_addr, "bytes_addr": _bytes_addr,
    "target_name": _target_name, "syscall": _syscall, "flush_stdout": _flush_stdout,
}


def declare_memfuncs(prog: "ProgramLowerer") -> dict[str, ir.Function]:
    """memmove/memset as the platform defines them (docs/platform.md: freestanding)."""
    m = prog.module
    out = {}
    for name, params in (("memmove", [PTR, PTR, I64]), ("memset", [PTR, I32, I64])):
        fn = ir.Function(m, ir.FunctionType(PTR, params), name)
        fn.attributes.add("nounwind")
        fn.storage_class = "dso_local"
        out[name] = fn
    return out
