"""Kind words: how the runtime learns the static type of the slots it handles.

In:  apy types of list items, dict keys, set elements (from the lowering).
Out: the i64 *kind word* runtime/hashes.apy defines (docs/runtime-abi.md):
        KIND_INT 1, KIND_FLOAT 2, KIND_STR 3, KIND_BYTES 5 -- scalars and strings;
        KIND_TUPLE 6 | descriptor << 8 -- the descriptor (a static array: n, then the
            element kinds) is filled in at start-up, because LLVM constants cannot
            shift addresses;
        KIND_OBJECT 4 | type id << 8 -- anything else: the runtime calls back into
            rt.objhooks, whose three functions the compiler generates here as a switch
            over the type id (the .apy placeholders are never lowered).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..check import types as t

if TYPE_CHECKING:
    from .codegen import ProgramLowerer

I64 = ir.IntType(64)
I1 = ir.IntType(1)
PTR = ir.PointerType()
KIND_INT, KIND_FLOAT, KIND_STR, KIND_OBJECT, KIND_BYTES, KIND_TUPLE = 1, 2, 3, 4, 5, 6
OBJHOOKS = ("obj_hash", "obj_eq", "obj_richcompare")


def c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


class Kinds:
    """Per program: object type ids and tuple descriptors (owned by ProgramLowerer)."""

    def __init__(self, prog: "ProgramLowerer") -> None:
        self.prog = prog
        self.object_types: list[t.Type] = []
        self.descriptors: dict[str, tuple[ir.GlobalVariable, t.TupleType]] = {}

    def type_id(self, ty: t.Type) -> int:
        for i, known in enumerate(self.object_types):
            if known == ty:
                return i
        self.object_types.append(ty)
        return len(self.object_types) - 1

    def descriptor(self, ty: t.TupleType) -> ir.GlobalVariable:
        key = str(ty)
        if key not in self.descriptors:
            elems = ty.elems
            arr = ir.ArrayType(I64, len(elems) + 1)
            gv = ir.GlobalVariable(self.prog.module, arr, f"applc.kind.{key}")
            gv.initializer = ir.Constant(arr, None)
            gv.linkage = "internal"
            self.descriptors[key] = (gv, ty)
        return self.descriptors[key][0]

    def kind_word(self, b: ir.IRBuilder, ty: t.Type) -> ir.Value:
        if ty in (t.INT, t.BOOL, t.NONE):
            return c64(KIND_INT)
        if ty is t.FLOAT:
            return c64(KIND_FLOAT)
        if ty is t.STR:
            return c64(KIND_STR)
        if ty is t.BYTES:
            return c64(KIND_BYTES)
        if isinstance(ty, t.TupleType):
            addr = b.ptrtoint(self.descriptor(ty), I64)
            return b.or_(b.shl(addr, c64(8)), c64(KIND_TUPLE))
        return c64(KIND_OBJECT | (self.type_id(ty) << 8))

    def emit_descriptor_setup(self, b: ir.IRBuilder) -> None:
        """Fill every tuple descriptor (called first thing in applc_main)."""
        done: set[str] = set()
        while len(done) < len(self.descriptors):
            for key, (gv, ty) in list(self.descriptors.items()):
                if key in done:
                    continue
                done.add(key)
                base = b.ptrtoint(gv, I64)
                elems = [ty.elems[0]] if ty.variadic else list(ty.elems)
                b.store(c64(len(elems)), b.inttoptr(base, PTR))
                for i, et in enumerate(elems):
                    word = self.kind_word(b, et)
                    b.store(word, b.inttoptr(b.add(base, c64(8 * (i + 1))), PTR))


def generate_objhook(prog: "ProgramLowerer", name: str, fn: ir.Function) -> None:
    """The body of rt.objhooks.obj_hash / obj_eq / obj_richcompare: a switch on the type id."""
    from .reprs import _lowerer, equal_values, hash_value, order_values

    fl = _lowerer(prog, fn)
    b = fl.b
    args = list(fn.args)
    kind = args[0]
    tid = b.lshr(kind, c64(8))
    default = fl.new_block("unknown")
    types = prog.kinds.object_types  # grows while cases are generated: handled below
    cases: list[tuple[int, ir.Block]] = []
    i = 0
    switch_bb = b.block
    bodies = []
    while i < len(types):
        ty = types[i]
        bb = fl.new_block(f"type{i}")
        cases.append((i, bb))
        b.position_at_end(bb)
        if name == "obj_hash":
            b.ret(hash_value(fl, fl.from_slot(args[1], ty), ty))
        elif name == "obj_eq":
            b.ret(equal_values(fl, fl.from_slot(args[1], ty), fl.from_slot(args[2], ty), ty))
        else:
            b.ret(order_values(fl, fl.from_slot(args[1], ty), fl.from_slot(args[2], ty), ty,
                               args[3]))
        bodies.append(bb)
        i += 1
    b.position_at_end(switch_bb)
    sw = b.switch(tid, default)
    for k, bb in cases:
        sw.add_case(c64(k), bb)
    b.position_at_end(default)
    fl.raise_exc("TypeError", "unsupported operand type for this operation")
    b.unreachable()
    fl.finish()
