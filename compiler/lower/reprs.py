"""Generated functions per type: repr(), str() and == for values of heap types.

In:  an apy type (list[tuple[int, str]], dict[str, float | None], ...).
Out: an internal LLVM function `applc.repr.<type>(i64 slot) -> ptr` (a str) built on
     first use, that renders the value exactly as CPython's repr does; and
     `applc.eq.<type>(i64, i64) -> i1` for equality. Element types are known
     statically, so each container's function calls its elements' functions
     directly: no run-time type dispatch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..check import types as t
from ..diag import InternalError

if TYPE_CHECKING:
    from .codegen import FunctionLowerer, ProgramLowerer

I64 = ir.IntType(64)
I1 = ir.IntType(1)
I8 = ir.IntType(8)
PTR = ir.PointerType()


def mangle(ty: t.Type) -> str:
    return str(ty).replace(" ", "")


def repr_function(prog: "ProgramLowerer", ty: t.Type) -> ir.Function:
    key = ("repr", mangle(ty))
    fn = prog.generated.get(key)
    if fn is None:
        fn = ir.Function(prog.module, ir.FunctionType(PTR, [I64]), f"applc.repr.{mangle(ty)}")
        fn.linkage = "internal"
        prog.add_attributes(fn)
        prog.generated[key] = fn
        prog.generated_pending.append(lambda: _build_repr(prog, fn, ty))
    return fn


def eq_function(prog: "ProgramLowerer", ty: t.Type) -> ir.Function:
    key = ("eq", mangle(ty))
    fn = prog.generated.get(key)
    if fn is None:
        fn = ir.Function(prog.module, ir.FunctionType(I1, [I64, I64]), f"applc.eq.{mangle(ty)}")
        fn.linkage = "internal"
        prog.add_attributes(fn)
        prog.generated[key] = fn
        prog.generated_pending.append(lambda: _build_eq(prog, fn, ty))
    return fn


def _lowerer(prog: "ProgramLowerer", fn: ir.Function) -> "FunctionLowerer":
    from .codegen import FunctionLowerer

    fl = FunctionLowerer(prog, prog.modules[-1], None, name="<repr>")
    fl.fn = fn
    fl.begin()
    return fl


def repr_value(fl: "FunctionLowerer", v: ir.Value, ty: t.Type) -> ir.Value:
    """repr(v) as a str value."""
    if ty is t.STR:
        return fl.adapt(fl.call_rt("str_repr", [v], module="rt.strings"), PTR)
    if ty in (t.INT, t.FLOAT, t.BOOL, t.NONE):
        return fl.to_str(v, ty)
    fn = repr_function(fl.prog, ty)
    res = fl.b.call(fn, [fl.to_slot(v, ty)])
    fl.check_exc()
    return res


def str_value(fl: "FunctionLowerer", v: ir.Value, ty: t.Type) -> ir.Value:
    """str(v): like repr except for str itself (and for classes with __str__)."""
    if ty is t.STR:
        return v
    if ty in (t.INT, t.FLOAT, t.BOOL, t.NONE):
        return fl.to_str(v, ty)
    if isinstance(ty, t.OptionalType):
        b = fl.b
        is_none = b.icmp_unsigned("==", b.ptrtoint(v, I64), ir.Constant(I64, 0))
        none_bb, some_bb, end = fl.new_block("none"), fl.new_block("some"), fl.new_block("str")
        b.cbranch(is_none, none_bb, some_bb)
        b.position_at_end(none_bb)
        b.branch(end)
        b.position_at_end(some_bb)
        some = str_value(fl, fl.coerce(v, ty, ty.inner), ty.inner)
        some_end = b.block
        b.branch(end)
        b.position_at_end(end)
        phi = b.phi(PTR)
        phi.add_incoming(fl.prog.str_const("None"), none_bb)
        phi.add_incoming(some, some_end)
        return phi
    custom = fl.class_str(v, ty)
    if custom is not None:
        return custom
    return repr_value(fl, v, ty)


def _build_repr(prog: "ProgramLowerer", fn: ir.Function, ty: t.Type) -> None:
    fl = _lowerer(prog, fn)
    b = fl.b
    slot = fn.args[0]
    v = fl.from_slot(slot, ty)
    if isinstance(ty, t.OptionalType):
        is_none = b.icmp_unsigned("==", slot, ir.Constant(I64, 0))
        none_bb, some_bb = fl.new_block("none"), fl.new_block("some")
        b.cbranch(is_none, none_bb, some_bb)
        b.position_at_end(none_bb)
        b.ret(fl.prog.str_const("None"))
        b.position_at_end(some_bb)
        inner = fl.coerce(v, ty, ty.inner)
        b.ret(repr_value(fl, inner, ty.inner))
        fl.finish()
        return
    custom = fl.class_repr(v, ty)
    if custom is not None:
        b.ret(custom)
        fl.finish()
        return
    sb = fl.call_rt("sb_new", [])
    add = lambda text: fl.call_rt("sb_add_str", [sb, fl.prog.str_const(text)])  # noqa: E731

    def add_value(val: ir.Value, vty: t.Type) -> None:
        fl.call_rt("sb_add_str", [sb, repr_value(fl, val, vty)])

    if isinstance(ty, t.TupleType):
        add("(")
        if ty.variadic:
            _each_slot(fl, v, 16, lambda s, i: (_sep(fl, i, add), add_value(
                fl.from_slot(s, ty.elems[0]), ty.elems[0])))
            one = b.icmp_signed("==", fl.load_at(v, 8), ir.Constant(I64, 1))
            with b.if_then(one):
                add(",")
        else:
            for i, et in enumerate(ty.elems):
                if i:
                    add(", ")
                add_value(fl.tuple_item(v, i, et), et)
            if len(ty.elems) == 1:
                add(",")
        add(")")
    elif isinstance(ty, t.ListType):
        add("[")
        _each_list_item(fl, v, lambda s, i: (_sep(fl, i, add), add_value(
            fl.from_slot(s, ty.elem), ty.elem)))
        add("]")
    elif isinstance(ty, (t.DictType, t.SetType)):
        from .containers import repr_dict_or_set

        repr_dict_or_set(fl, v, ty, sb, add, add_value)
    elif ty in (t.BYTES, t.BYTEARRAY):
        b.ret(fl.adapt(fl.call_rt("bytes_repr", [v], module="rt.bytesops"), PTR))
        fl.finish()
        return
    else:
        raise InternalError(None, f"no repr for {ty}")
    b.ret(fl.call_rt("sb_finish", [sb]))
    fl.finish()


def _sep(fl: "FunctionLowerer", i: ir.Value, add) -> None:
    with fl.b.if_then(fl.b.icmp_signed(">", i, ir.Constant(I64, 0))):
        add(", ")


def _each_slot(fl: "FunctionLowerer", obj: ir.Value, first: int, each) -> None:
    """each(slot, index) for the slots of a tuple (length at offset 8, slots from `first`)."""
    b = fl.b
    n = fl.load_at(obj, 8)
    idx = fl.entry_alloca(I64, "i")
    b.store(ir.Constant(I64, 0), idx)
    head, body, done = fl.new_block("h"), fl.new_block("b"), fl.new_block("d")
    b.branch(head)
    b.position_at_end(head)
    i = b.load(idx, typ=I64)
    b.cbranch(b.icmp_signed("<", i, n), body, done)
    b.position_at_end(body)
    s = b.load(b.inttoptr(fl.slot_addr(obj, i, first), PTR), typ=I64)
    each(s, i)
    b.store(b.add(b.load(idx, typ=I64), ir.Constant(I64, 1)), idx)
    b.branch(head)
    b.position_at_end(done)


def _each_list_item(fl: "FunctionLowerer", lst: ir.Value, each) -> None:
    """each(slot, index) for a list, re-reading length and items (elements may run code)."""
    b = fl.b
    idx = fl.entry_alloca(I64, "i")
    b.store(ir.Constant(I64, 0), idx)
    head, body, done = fl.new_block("h"), fl.new_block("b"), fl.new_block("d")
    b.branch(head)
    b.position_at_end(head)
    i = b.load(idx, typ=I64)
    b.cbranch(b.icmp_signed("<", i, fl.load_at(lst, 8)), body, done)
    b.position_at_end(body)
    items = fl.load_at(lst, 24)
    s = b.load(b.inttoptr(fl.slot_addr(items, i, 8), PTR), typ=I64)
    each(s, i)
    b.store(b.add(b.load(idx, typ=I64), ir.Constant(I64, 1)), idx)
    b.branch(head)
    b.position_at_end(done)


def equal_values(fl: "FunctionLowerer", a: ir.Value, b_: ir.Value, ty: t.Type) -> ir.Value:
    """a == b for two values of type ty, as an i1."""
    from .arith import compare

    if ty in (t.INT, t.FLOAT, t.BOOL, t.NONE, t.STR):
        return compare(fl, "==", a, ty, b_, ty)
    res = fl.b.call(eq_function(fl.prog, ty), [fl.to_slot(a, ty), fl.to_slot(b_, ty)])
    fl.check_exc()
    return res


def _build_eq(prog: "ProgramLowerer", fn: ir.Function, ty: t.Type) -> None:
    fl = _lowerer(prog, fn)
    b = fl.b
    x, y = fn.args
    same = b.icmp_unsigned("==", x, y)
    yes, no, go = fl.new_block("yes"), fl.new_block("no"), fl.new_block("go")
    if ty is not t.FLOAT and not (isinstance(ty, t.OptionalType) and ty.inner is t.FLOAT):
        b.cbranch(same, yes, go)  # identical objects are equal (CPython's containers agree)
    else:
        b.branch(go)
    b.position_at_end(yes)
    b.ret(ir.Constant(I1, 1))
    b.position_at_end(no)
    b.ret(ir.Constant(I1, 0))
    b.position_at_end(go)
    if isinstance(ty, t.OptionalType):
        either_none = b.or_(b.icmp_unsigned("==", x, ir.Constant(I64, 0)),
                            b.icmp_unsigned("==", y, ir.Constant(I64, 0)))
        cont = fl.new_block("both")
        b.cbranch(either_none, no, cont)
        b.position_at_end(cont)
        xv = fl.coerce(fl.from_slot(x, ty), ty, ty.inner)
        yv = fl.coerce(fl.from_slot(y, ty), ty, ty.inner)
        b.ret(equal_values(fl, xv, yv, ty.inner))
    elif isinstance(ty, t.TupleType) and not ty.variadic:
        for i, et in enumerate(ty.elems):
            e = equal_values(fl, fl.tuple_item(fl.from_slot(x, ty), i, et),
                             fl.tuple_item(fl.from_slot(y, ty), i, et), et)
            nxt = fl.new_block("next")
            b.cbranch(e, nxt, no)
            b.position_at_end(nxt)
        b.ret(ir.Constant(I1, 1))
    elif isinstance(ty, (t.ListType, t.TupleType)):
        is_list = isinstance(ty, t.ListType)
        et = ty.elem if is_list else ty.elems[0]
        xo, yo = fl.from_slot(x, ty), fl.from_slot(y, ty)
        cont = fl.new_block("samelen")
        b.cbranch(b.icmp_signed("==", fl.load_at(xo, 8), fl.load_at(yo, 8)), cont, no)
        b.position_at_end(cont)
        idx = fl.entry_alloca(I64, "i")
        b.store(ir.Constant(I64, 0), idx)
        head, body = fl.new_block("h"), fl.new_block("b")
        b.branch(head)
        b.position_at_end(head)
        i = b.load(idx, typ=I64)
        # lengths are re-read: comparing elements may run code that changes a list
        in_range = b.and_(b.icmp_signed("<", i, fl.load_at(xo, 8)),
                          b.icmp_signed("<", i, fl.load_at(yo, 8)))
        b.cbranch(in_range, body, yes)
        b.position_at_end(body)
        if is_list:
            xs = b.load(b.inttoptr(fl.slot_addr(fl.load_at(xo, 24), i, 8), PTR), typ=I64)
            ys = b.load(b.inttoptr(fl.slot_addr(fl.load_at(yo, 24), i, 8), PTR), typ=I64)
        else:
            xs = b.load(b.inttoptr(fl.slot_addr(xo, i, 16), PTR), typ=I64)
            ys = b.load(b.inttoptr(fl.slot_addr(yo, i, 16), PTR), typ=I64)
        e = equal_values(fl, fl.from_slot(xs, et), fl.from_slot(ys, et), et)
        b.store(b.add(i, ir.Constant(I64, 1)), idx)
        b.cbranch(e, head, no)
    else:
        custom = fl.class_eq(fl.from_slot(x, ty), fl.from_slot(y, ty), ty)
        if custom is None:
            from .containers import equal_dict_or_set

            custom = equal_dict_or_set(fl, x, y, ty)
        b.ret(custom)
    fl.finish()


OPS = {"<": 0, "<=": 1, "==": 2, "!=": 3, ">": 4, ">=": 5}


def hash_value(fl: "FunctionLowerer", v: ir.Value, ty: t.Type) -> ir.Value:
    """hash(v), equal to CPython's (str and bytes as under PYTHONHASHSEED=0)."""
    from .classes import field_offset
    from ..check.classes import ClassType

    b = fl.b
    if ty in (t.INT, t.BOOL, t.FLOAT, t.STR, t.BYTES) or isinstance(ty, t.TupleType):
        kind = fl.prog.kinds.kind_word(b, ty)
        return fl.call_rt("slot_hash", [kind, fl.to_slot(v, ty)], module="rt.hashes")
    if ty is t.NONE:
        return ir.Constant(I64, 0x48a3f0a)  # CPython hashes None by address; any fixed value
    if isinstance(ty, t.OptionalType):
        slot = fl.to_slot(v, ty)
        is_none = b.icmp_unsigned("==", slot, ir.Constant(I64, 0))
        none_bb, some_bb, end = fl.new_block("h.none"), fl.new_block("h.some"), fl.new_block("h")
        b.cbranch(is_none, none_bb, some_bb)
        b.position_at_end(some_bb)
        h = hash_value(fl, fl.coerce(v, ty, ty.inner), ty.inner)
        some_end = b.block
        b.branch(end)
        b.position_at_end(none_bb)
        b.branch(end)
        b.position_at_end(end)
        phi = b.phi(I64)
        phi.add_incoming(h, some_end)
        phi.add_incoming(ir.Constant(I64, 0x48a3f0a), none_bb)
        return phi
    if isinstance(ty, ClassType):
        info = ty.info
        if info.find_method("__hash__") is not None:
            return fl.call_special(ty, "__hash__", v, [])
        if info.is_dataclass and info.dc_eq and info.dc_frozen:
            values = [fl.from_slot(fl.load_at(v, field_offset(i)), fty)
                      for i, fty in enumerate(info.fields.values())]
            tty = t.tuple_of(tuple(info.fields.values()))
            return hash_value(fl, fl.make_tuple(values, list(info.fields.values())), tty)
        if info.find_method("__eq__") is None and not (info.is_dataclass and info.dc_eq):
            return fl.call_rt("hash_pointer", [b.ptrtoint(v, I64)], module="rt.hashes")
    fl.raise_exc("TypeError", f"unhashable type: '{ty}'")
    b.position_at_end(fl.new_block("dead"))
    return ir.Constant(I64, 0)


def order_values(fl: "FunctionLowerer", a: ir.Value, b_: ir.Value, ty: t.Type,
                 op: ir.Value) -> ir.Value:
    """bool(a <op> b) for CPython's op codes, where op is an i64 value."""
    from ..check.classes import ClassType

    b = fl.b
    if isinstance(ty, t.ListType):
        kind = fl.prog.kinds.kind_word(b, ty.elem)
        return fl.call_rt("list_richcompare", [b.ptrtoint(a, I64), b.ptrtoint(b_, I64), kind, op],
                          module="rt.lists")
    if isinstance(ty, ClassType):
        # only == / != exist for classes without ordering methods
        eq = equal_values(fl, a, b_, ty)
        is_eq = b.icmp_unsigned("==", op, ir.Constant(I64, 2))
        is_ne = b.icmp_unsigned("==", op, ir.Constant(I64, 3))
        lt = fl.class_lt(a, b_, ty)
        gt = fl.class_lt(b_, a, ty)
        return b.select(is_eq, eq, b.select(is_ne, b.not_(eq), b.select(
            b.icmp_unsigned("==", op, ir.Constant(I64, 0)), lt, b.select(
                b.icmp_unsigned("==", op, ir.Constant(I64, 4)), gt, b.select(
                    b.icmp_unsigned("==", op, ir.Constant(I64, 1)), b.not_(gt), b.not_(lt))))))
    eq = equal_values(fl, a, b_, ty)
    is_ne = b.icmp_unsigned("==", op, ir.Constant(I64, 3))
    return b.select(is_ne, b.not_(eq), eq)
