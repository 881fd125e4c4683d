"""Lowering of closures: cells, closure objects, nested functions, indirect calls.

In:  nested defs, lambdas, functions used as values and calls of Callable values
     (a mixin of FunctionLowerer; refs from applc.check.closures).
Out: IR with the layout of docs/runtime-abi.md:
        closure: header (TAG_CLOSURE) | code (function address) | ncells | cell...
        cell:    header (TAG_CELL) | slot
     Every function that can be called through a Callable takes the closure as a
     hidden first argument (nested functions read their captured cells from it).
     A top-level function used as a value gets a thunk with that signature and one
     static closure object in the image. A variable captured by a nested function
     lives in a cell, so the outer function and the closure share it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..check import types as t
from ..check.closures import FunctionValue, IndirectCall, s_ref
from ..parse import nodes as n

if TYPE_CHECKING:
    from .codegen import FunctionLowerer

I64 = ir.IntType(64)
I8 = ir.IntType(8)
PTR = ir.PointerType()
TAG_CLOSURE, TAG_CELL, HAS_PTRS, STATIC = 11, 12, 1 << 16, 1 << 17
CLOSURE_CODE, CLOSURE_CELLS = 8, 24


def c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def takes_env(f: t.Function) -> bool:
    """Nested functions and lambdas are only ever called through their closure."""
    return f.parent is not None or isinstance(f.node, n.Lambda)


class ClosureLowering:
    """Mixin of FunctionLowerer."""

    def setup_cells(self: "FunctionLowerer", f: t.Function | None, env: ir.Value | None) -> None:
        """Captured variables: fresh cells for our own, the closure's cells for inherited ones."""
        if f is None:
            return
        for var in f.captures:
            k = f.captures.index(var)
            cell = self.load_at(env, CLOSURE_CELLS + 8 * k)
            self.vars[id(var)] = self.entry_alloca(PTR, var.name + ".cell")
            self.b.store(self.b.inttoptr(cell, PTR), self.vars[id(var)])

    def make_cell(self: "FunctionLowerer", var: t.LocalVar) -> None:
        cell = self.call_rt("alloc", [c64(16), c64(TAG_CELL | HAS_PTRS)])
        slot = self.vars[id(var)]
        if var.is_param:
            value = self.b.load(slot, typ=self.llvm_type(var.ty))
        cellp = self.b.inttoptr(cell, PTR)
        self.vars[id(var)] = self.entry_alloca(PTR, var.name + ".cell")
        self.b.store(cellp, self.vars[id(var)])
        if var.is_param:
            self.store_at(cellp, 8, self.to_slot(value, var.ty))

    def load_var(self: "FunctionLowerer", var: t.LocalVar) -> ir.Value:
        if var.captured:
            cell = self.b.load(self.vars[id(var)], typ=PTR)
            return self.from_slot(self.load_at(cell, 8), var.ty)
        return self.b.load(self.vars[id(var)], typ=self.llvm_type(var.ty))

    def store_var(self: "FunctionLowerer", var: t.LocalVar, v: ir.Value) -> None:
        if var.captured:
            cell = self.b.load(self.vars[id(var)], typ=PTR)
            self.store_at(cell, 8, self.to_slot(v, var.ty))
        else:
            self.b.store(v, self.vars[id(var)])

    # ---------------------------------------------------------------- closures

    def make_closure(self: "FunctionLowerer", f: t.Function) -> ir.Value:
        fn = self.prog.function(f)
        size = CLOSURE_CELLS + 8 * max(len(f.captures), 1)
        clo = self.call_rt("alloc", [c64(size), c64(TAG_CLOSURE | HAS_PTRS)])
        self.store_at(clo, CLOSURE_CODE, self.b.ptrtoint(fn, I64))
        self.store_at(clo, 16, c64(len(f.captures)))
        for k, var in enumerate(f.captures):
            cell = self.b.load(self.vars[id(var)], typ=PTR)
            self.store_at(clo, CLOSURE_CELLS + 8 * k, self.b.ptrtoint(cell, I64))
        return self.b.inttoptr(clo, PTR)

    def stmt_FunctionDef(self: "FunctionLowerer", s: n.FunctionDef) -> None:
        inner = s_ref.get(id(s))
        if inner is None:
            self.top_level_def(s)
            return
        self.store_var(inner.binding, self.make_closure(inner))

    def expr_Lambda(self: "FunctionLowerer", e: n.Lambda) -> ir.Value:
        return self.make_closure(e.ref)

    def function_value(self: "FunctionLowerer", fv: FunctionValue) -> ir.Value:
        """A top-level function as a value: its static closure (made once per program)."""
        prog = self.prog
        key = ("closure", id(fv.func))
        gv = prog.generated.get(key)
        if gv is None:
            thunk = self.make_thunk(fv.func)
            ty = ir.LiteralStructType([I64, I64, I64, I64])
            gv = ir.GlobalVariable(prog.module, ty, f"{fv.func.llvm_name}.closure")
            gv.initializer = ir.Constant(ty, [c64(TAG_CLOSURE | STATIC), thunk.ptrtoint(I64),
                                              c64(0), c64(0)])
            gv.global_constant = True
            gv.linkage = "internal"
            prog.generated[key] = gv
        return ir.FormattedConstant(PTR, gv.get_reference())

    def make_thunk(self: "FunctionLowerer", f: t.Function) -> ir.Function:
        prog = self.prog
        target = prog.function(f)
        ty = ir.FunctionType(target.function_type.return_type,
                             [PTR] + list(target.function_type.args))
        thunk = ir.Function(prog.module, ty, f"{f.llvm_name}.thunk")
        thunk.linkage = "internal"
        prog.add_attributes(thunk)
        b = ir.IRBuilder(thunk.append_basic_block("entry"))
        r = b.call(target, list(thunk.args[1:]))
        if isinstance(ty.return_type, ir.VoidType):
            b.ret_void()
        else:
            b.ret(r)
        return thunk

    def lower_indirect_call(self: "FunctionLowerer", e: n.Call, ic: IndirectCall) -> ir.Value:
        clo = self.expr(e.func)
        args = [self.coerce(self.expr(a), a.ty, pt) for a, pt in zip(e.args, ic.ty.params)]
        return self.call_value(clo, ic.ty, args)

    def call_value(self: "FunctionLowerer", clo: ir.Value, ty: t.CallableType,
                   args: list[ir.Value]) -> ir.Value:
        """Call the closure `clo` of type `ty` with already converted arguments."""
        from .codegen import lty, ret_lty

        ic = IndirectCall(ty)
        fnty = ir.FunctionType(ret_lty(ic.ty.ret), [PTR] + [lty(p) for p in ic.ty.params])
        # a pointer typed with the function type tells llvmlite the call's signature
        code = self.b.inttoptr(self.load_at(clo, CLOSURE_CODE), fnty.as_pointer())
        res = self.b.call(code, [clo] + args)
        self.check_exc()
        if ic.ty.ret in (t.NONE, t.NORETURN):
            return ir.Constant(I8, 0)
        return res
