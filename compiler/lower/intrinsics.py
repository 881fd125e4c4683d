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
    if name == "plat_argv":
        ptr = b.call(fl.prog.platform("applc_plat_argv", PTR, [I64]), [args[0]])
        return b.ptrtoint(ptr, I64)
    if name in ("plat_heap_start", "plat_heap_end"):
        fn = fl.prog.platform("applc_" + name, I64, [])
        return b.call(fn, [])
    raise NotImplementedError(f"intrinsic {name}")


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
