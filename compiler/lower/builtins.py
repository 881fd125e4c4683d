"""Lowering of calls to builtin functions (print, len, abs, min, max, round, int, ...).

In:  a FunctionLowerer and a checked `Call` whose callee is a builtin.
Out: the llvm value of the call. Most builtins become a few instructions or a
     call into the runtime (runtime/core.apy, runtime/numfmt.apy), whose
     functions are themselves apy compiled into the same module.

As in CPython, every argument is evaluated before the builtin does anything:
`print(1, 1 // 0)` prints nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..check import types as t
from ..parse import nodes as n
from .codegen import F64, I1, I8, I64

if TYPE_CHECKING:
    from .codegen import FunctionLowerer


def lower_builtin(fl: "FunctionLowerer", name: str, e: n.Call) -> ir.Value:
    if name == "print":
        return lower_print(fl, e)
    args = [fl.expr(a) for a in e.args]
    types = [a.ty for a in e.args]
    return LOWER[name](fl, args, types, e)


def lower_print(fl: "FunctionLowerer", e: n.Call) -> ir.Value:
    values = [(fl.expr(a), a.ty) for a in e.args]
    sep = end = None
    for k in e.keywords:
        v = fl.expr(k.value)
        if k.value.ty is t.STR:
            if k.arg == "sep":
                sep = v
            else:
                end = v
    sep = sep if sep is not None else fl.prog.str_const(" ")
    end = end if end is not None else fl.prog.str_const("\n")
    for i, (v, ty) in enumerate(values):
        if i:
            fl.call_rt("write_str", [sep], may_raise=False)
        write_value(fl, v, ty)
    fl.call_rt("write_str", [end], may_raise=False)
    return ir.Constant(I8, 0)


def write_value(fl: "FunctionLowerer", v: ir.Value, ty: t.Type) -> None:
    if ty is t.STR:
        fl.call_rt("write_str", [v], may_raise=False)
    elif ty is t.INT:
        fl.call_rt("write_int", [v], may_raise=False)
    elif ty is t.FLOAT:
        fl.call_rt("write_float", [v], may_raise=False)
    else:
        fl.call_rt("write_str", [fl.to_str(v, ty)], may_raise=False)


def _len(fl, args, types, e):
    """Every sized object keeps its length in a word: str counts code points (offset 16)."""
    ty = types[0]
    offset = 16 if ty is t.STR else 24 if ty is t.MEMORYVIEW else 8
    p = fl.b.gep(args[0], [ir.Constant(I64, offset)], source_etype=I8)
    return fl.b.load(p, typ=I64)


def _abs(fl, args, types, e):
    v, ty = args[0], types[0]
    if ty is t.FLOAT:
        bits = fl.b.bitcast(v, I64)
        return fl.b.bitcast(fl.b.and_(bits, ir.Constant(I64, 2**63 - 1)), F64)
    v = fl.as_int(v, ty)
    fl.overflow_guard(fl.b.icmp_signed("==", v, ir.Constant(I64, -(2**63))))
    neg = fl.b.icmp_signed("<", v, ir.Constant(I64, 0))
    return fl.b.select(neg, fl.b.neg(v), v)


def _minmax(fl, args, types, e):
    from .arith import compare

    better = ">" if e.func.id == "max" else "<"
    ty = types[0]
    cur = args[0]
    for v in args[1:]:
        # CPython keeps the first of equal (or unordered) values
        c = compare(fl, better, v, ty, cur, ty)
        cur = fl.b.select(c, v, cur)
    return cur


def _round(fl, args, types, e):
    x, ty = args[0], types[0]
    if len(args) == 1:
        if ty is t.FLOAT:
            return fl.call_rt("round_to_int", [x], module="rt.numfmt")
        return fl.as_int(x, ty)
    nd = fl.as_int(args[1], types[1])
    if ty is t.FLOAT:
        return fl.call_rt("round_float", [x, nd], module="rt.numfmt")
    return fl.call_rt("round_int", [fl.as_int(x, ty), nd])


def _int(fl, args, types, e):
    if not args:
        return ir.Constant(I64, 0)
    x, ty = args[0], types[0]
    if ty is t.FLOAT:
        return fl.call_rt("float_to_int", [x], module="rt.numfmt")
    return fl.as_int(x, ty)


def _float(fl, args, types, e):
    if not args:
        return ir.Constant(F64, 0.0)
    x, ty = args[0], types[0]
    if ty is t.STR:
        return fl.call_rt("float_from_str", [x])
    return fl.as_float(x, ty)


def _str(fl, args, types, e):
    if not args:
        return fl.prog.str_const("")
    return fl.to_str(args[0], types[0])


def _bool(fl, args, types, e):
    if not args:
        return ir.Constant(I1, 0)
    return fl.truthy(args[0], types[0])


def _radix(fl, args, types, e):
    base = {"hex": 16, "oct": 8, "bin": 2}[e.func.id]
    return fl.call_rt("str_radix", [fl.as_int(args[0], types[0]), ir.Constant(I64, base)])


def _repr(fl, args, types, e):
    from .reprs import repr_value

    return repr_value(fl, args[0], types[0])


LOWER = {
    "len": _len, "abs": _abs, "min": _minmax, "max": _minmax, "round": _round,
    "int": _int, "float": _float, "str": _str, "bool": _bool,
    "hex": _radix, "oct": _radix, "bin": _radix, "repr": _repr,
}

