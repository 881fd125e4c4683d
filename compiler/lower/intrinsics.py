"""Lowering of `_machine` intrinsics, and the C-level memory functions LLVM may call.

In:  a FunctionLowerer and a checked call of an intrinsic (privileged modules only:
     the checker rejects `_machine` imports elsewhere).
Out: inline LLVM instructions. Addresses are i64 in apy and become pointers only
     here (inttoptr), at the point of the access.

`define_memfuncs` adds memcpy/memmove/memset/memcmp/bcmp to the module: LLVM
turns copies and byte loops into calls to them, and there is no libc below us.
They are `rep movsb`/`rep stosb` (fast on every x86-64 since Ivy Bridge, and
inline asm cannot be pattern-matched back into a call to itself).
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
    if name in ("plat_heap_start", "plat_heap_end"):
        fn = fl.prog.platform("applc_" + name, I64, [])
        return b.call(fn, [])
    raise NotImplementedError(f"intrinsic {name}")


def define_memfuncs(prog: "ProgramLowerer") -> dict[str, ir.Function]:
    m = prog.module
    out: dict[str, ir.Function] = {}

    def new(name: str, ret: ir.Type, params: list[ir.Type]) -> tuple[ir.Function, ir.IRBuilder]:
        fn = ir.Function(m, ir.FunctionType(ret, params), name)
        prog.add_attributes(fn)
        out[name] = fn
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    def rep(bld: ir.IRBuilder, insn: str, dst, src_or_val, count) -> None:
        if insn == "movsb":
            ty = ir.FunctionType(VOID, [PTR, PTR, I64])
            bld.asm(ty, "rep movsb", "{di},{si},{cx},~{di},~{si},~{cx},~{memory}",
                    [dst, src_or_val, count], True)
        else:
            ty = ir.FunctionType(VOID, [PTR, I32, I64])
            bld.asm(ty, "rep stosb", "{di},{ax},{cx},~{di},~{cx},~{memory}",
                    [dst, src_or_val, count], True)

    fn, bld = new("memcpy", PTR, [PTR, PTR, I64])
    rep(bld, "movsb", *fn.args)
    bld.ret(fn.args[0])

    fn, bld = new("memset", PTR, [PTR, I32, I64])
    rep(bld, "stosb", *fn.args)
    bld.ret(fn.args[0])

    # memmove: forwards unless the destination starts inside the source
    fn, bld = new("memmove", PTR, [PTR, PTR, I64])
    dst, src, cnt = fn.args
    di, si = bld.ptrtoint(dst, I64), bld.ptrtoint(src, I64)
    overlap = bld.icmp_unsigned("<", bld.sub(di, si), cnt)
    back = fn.append_basic_block("backward")
    fwd = fn.append_basic_block("forward")
    bld.cbranch(overlap, back, fwd)
    bld.position_at_end(fwd)
    rep(bld, "movsb", dst, src, cnt)
    bld.ret(dst)
    bld.position_at_end(back)
    last = bld.sub(cnt, ir.Constant(I64, 1))
    ty = ir.FunctionType(VOID, [PTR, PTR, I64])
    bld.asm(ty, "std; rep movsb; cld", "{di},{si},{cx},~{di},~{si},~{cx},~{memory},~{flags}",
            [bld.gep(dst, [last], source_etype=I8), bld.gep(src, [last], source_etype=I8), cnt],
            True)
    bld.ret(dst)

    for name in ("memcmp", "bcmp"):
        fn, bld = new(name, I32, [PTR, PTR, I64])
        a, c, cnt = fn.args
        i_ptr = bld.alloca(I64)
        bld.store(ir.Constant(I64, 0), i_ptr)
        head = fn.append_basic_block("head")
        body = fn.append_basic_block("body")
        differ = fn.append_basic_block("differ")
        same = fn.append_basic_block("same")
        bld.branch(head)
        bld.position_at_end(head)
        i = bld.load(i_ptr, typ=I64)
        bld.cbranch(bld.icmp_unsigned("<", i, cnt), body, same)
        bld.position_at_end(body)
        x = bld.load(bld.gep(a, [i], source_etype=I8), typ=I8)
        y = bld.load(bld.gep(c, [i], source_etype=I8), typ=I8)
        bld.store(bld.add(i, ir.Constant(I64, 1)), i_ptr)
        bld.cbranch(bld.icmp_unsigned("!=", x, y), differ, head)
        bld.position_at_end(differ)
        bld.ret(bld.sub(bld.zext(x, I32), bld.zext(y, I32)))
        bld.position_at_end(same)
        bld.ret(ir.Constant(I32, 0))
    return out
