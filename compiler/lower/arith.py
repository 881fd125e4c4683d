"""Python's arithmetic and comparisons on machine values, with every check CPython makes.

In:  a FunctionLowerer positioned in a block, an operator and llvm values
     (ints as i64, floats as double; bools already widened where arithmetic needs).
Out: the llvm value of the result. Failing checks raise the exception CPython
     raises (ZeroDivisionError, ValueError) or, where CPython would grow a big
     int, OverflowError (apy's documented deviation: ints are 64-bit).

Semantics that differ from C and are easy to get wrong:
    a // b  floors (C truncates):  q = a / b; if (a % b != 0 and sign(a % b) != sign(b)) q -= 1
    a % b   has the sign of b:     r = a % b; if (r != 0 and sign(r) != sign(b)) r += b
    a << n  raises on n < 0 and when bits are shifted out of the 64-bit range
    a >> n  is arithmetic and any n >= 64 gives 0 or -1
    a / b   on ints is correctly rounded (not float(a) / float(b) when |a| or |b| > 2**53)
    int == float compares exact values (2**53 + 1 != 2.0**53), never via a float conversion
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..check import types as t
from ..diag import InternalError
from .codegen import F64, I1, I64

if TYPE_CHECKING:
    from .codegen import FunctionLowerer

ZERO = ir.Constant(I64, 0)
INT_MIN = ir.Constant(I64, -(2**63))
DIVZERO = "integer division or modulo by zero"
MODZERO = "integer modulo by zero"  # CPython 3.11's wording for `%` alone


def int_op(fl: "FunctionLowerer", op: str, a: ir.Value, b: ir.Value) -> ir.Value:
    bld = fl.b
    if op in ("+", "-", "*"):
        f = {"+": bld.sadd_with_overflow, "-": bld.ssub_with_overflow,
             "*": bld.smul_with_overflow}[op]
        pair = f(a, b)
        fl.overflow_guard(bld.extract_value(pair, 1))
        return bld.extract_value(pair, 0)
    if op == "//":
        fl.guard(bld.icmp_signed("==", b, ZERO), "ZeroDivisionError", DIVZERO)
        fl.overflow_guard(bld.and_(bld.icmp_signed("==", a, INT_MIN),
                                   bld.icmp_signed("==", b, ir.Constant(I64, -1))))
        q = bld.sdiv(a, b)
        r = bld.srem(a, b)
        adjust = bld.and_(bld.icmp_signed("!=", r, ZERO),
                          bld.icmp_signed("<", bld.xor(r, b), ZERO))
        return bld.sub(q, bld.zext(adjust, I64))
    if op == "%":
        fl.guard(bld.icmp_signed("==", b, ZERO), "ZeroDivisionError", MODZERO)
        # x % -1 is 0; srem of INT_MIN by -1 would trap in hardware
        minus_one = bld.icmp_signed("==", b, ir.Constant(I64, -1))
        safe_b = bld.select(minus_one, ir.Constant(I64, 1), b)
        r = bld.srem(a, safe_b)
        adjust = bld.and_(bld.icmp_signed("!=", r, ZERO),
                          bld.icmp_signed("<", bld.xor(r, safe_b), ZERO))
        return bld.add(r, bld.select(adjust, safe_b, ZERO))
    if op == "**":
        fl.guard(bld.icmp_signed("<", b, ZERO), "ValueError",
                 "negative exponent for int ** int (apy: use a float base)")
        return fl.call_rt("int_pow", [a, b], module="rt.fmath")
    if op == "<<":
        fl.guard(bld.icmp_signed("<", b, ZERO), "ValueError", "negative shift count")
        is_zero = bld.icmp_signed("==", a, ZERO)
        big = bld.icmp_signed(">", b, ir.Constant(I64, 63))
        count = bld.select(big, ir.Constant(I64, 0), b)
        r = bld.shl(a, count)
        lost = bld.or_(big, bld.icmp_signed("!=", bld.ashr(r, count), a))
        fl.overflow_guard(bld.and_(bld.not_(is_zero), lost))
        return bld.select(is_zero, ZERO, r)
    if op == ">>":
        fl.guard(bld.icmp_signed("<", b, ZERO), "ValueError", "negative shift count")
        count = bld.select(bld.icmp_signed(">", b, ir.Constant(I64, 63)), ir.Constant(I64, 63), b)
        return bld.ashr(a, count)
    if op == "&":
        return bld.and_(a, b)
    if op == "|":
        return bld.or_(a, b)
    if op == "^":
        return bld.xor(a, b)
    raise InternalError(fl.span, f"int operator {op}")


def float_op(fl: "FunctionLowerer", op: str, a: ir.Value, b: ir.Value) -> ir.Value:
    bld = fl.b
    if op == "+":
        return bld.fadd(a, b)
    if op == "-":
        return bld.fsub(a, b)
    if op == "*":
        return bld.fmul(a, b)
    if op == "/":
        fl.guard(bld.fcmp_ordered("==", b, ir.Constant(F64, 0.0)), "ZeroDivisionError",
                 "float division by zero")
        return bld.fdiv(a, b)
    if op == "//":
        return fl.call_rt("py_float_floordiv", [a, b], module="rt.fmath")
    if op == "%":
        return fl.call_rt("py_float_mod", [a, b], module="rt.fmath")
    if op == "**":
        return fl.call_rt("py_float_pow", [a, b], module="rt.fmath")
    raise InternalError(fl.span, f"unsupported operand types for {op}: 'float'")


def int_truediv(fl: "FunctionLowerer", a: ir.Value, b: ir.Value) -> ir.Value:
    bld = fl.b
    fl.guard(bld.icmp_signed("==", b, ZERO), "ZeroDivisionError", "division by zero")
    return fl.call_rt("int_truediv", [a, b])


def compare(fl: "FunctionLowerer", op: str, a: ir.Value, at: t.Type, b: ir.Value,
            bt: t.Type) -> ir.Value:
    bld = fl.b
    if op in ("is", "is not"):
        if isinstance(at, t.OptionalType) or isinstance(bt, t.OptionalType):
            value = a if isinstance(at, t.OptionalType) else b
            null = bld.icmp_unsigned("==", bld.ptrtoint(value, I64), ZERO)
            return null if op == "is" else bld.not_(null)
        same = at is t.NONE and bt is t.NONE
        return ir.Constant(I1, int(same == (op == "is")))
    if op in ("in", "not in"):
        found = contains(fl, a, at, b, bt)
        return found if op == "in" else bld.not_(found)
    ints = (t.INT, t.BOOL)
    if at in ints and bt in ints:
        return bld.icmp_signed(op, fl.as_int(a, at), fl.as_int(b, bt))
    if at is t.FLOAT and bt is t.FLOAT:
        if op == "!=":
            return bld.fcmp_unordered("!=", a, b)
        return bld.fcmp_ordered(op, a, b)
    if at in t.NUMERIC and bt in t.NUMERIC:
        # exact int <-> float comparison: r = cmp(int, float) in {-1, 0, 1}, 2 if unordered
        if at is t.FLOAT:
            a, b, at, bt = b, a, bt, at
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        r = fl.call_rt("cmp_int_float", [fl.as_int(a, at), b], may_raise=False)
        eq = lambda k: bld.icmp_signed("==", r, ir.Constant(I64, k))  # noqa: E731
        return {
            "==": lambda: eq(0),
            "!=": lambda: bld.not_(eq(0)),
            "<": lambda: eq(-1),
            ">": lambda: eq(1),
            "<=": lambda: bld.or_(eq(-1), eq(0)),
            ">=": lambda: bld.or_(eq(1), eq(0)),
        }[op]()
    if at is t.STR and bt is t.STR:
        if op in ("==", "!="):
            e = fl.call_rt("str_eq", [a, b], may_raise=False)
            return e if op == "==" else bld.not_(e)
        r = fl.call_rt("str_compare", [a, b], may_raise=False)
        return bld.icmp_signed(op, r, ZERO)
    if at is t.NONE and bt is t.NONE:
        return ir.Constant(I1, int(op == "=="))
    if op not in ("==", "!=") and at == bt and at in (t.BYTES, t.BYTEARRAY):
        r = fl.call_rt("bytes_compare", [a, b], module="rt.hashes", may_raise=False)
        return bld.icmp_signed(op, r, ZERO)
    if op not in ("==", "!=") and at == bt and isinstance(at, (t.ListType, t.TupleType)):
        from .reprs import OPS

        kind = fl.prog.kinds.kind_word(bld, at.elem if isinstance(at, t.ListType) else at)
        if isinstance(at, t.ListType):
            return fl.call_rt("list_richcompare", [bld.ptrtoint(a, I64), bld.ptrtoint(b, I64),
                                                   kind, ir.Constant(I64, OPS[op])],
                              module="rt.lists")
        return fl.call_rt("tuple_richcompare", [bld.ptrtoint(a, I64), bld.ptrtoint(b, I64), kind,
                                                ir.Constant(I64, OPS[op])], module="rt.hashes")
    if op not in ("==", "!=") and at == bt:
        from ..check.classes import ClassType

        if isinstance(at, ClassType):
            lt = fl.class_lt(a, b, at) if op in ("<", ">=") else fl.class_lt(b, a, at)
            return lt if op in ("<", ">") else bld.not_(lt)
    if op in ("==", "!=") and at == bt:
        from .reprs import equal_values

        e = equal_values(fl, a, b, at)
        return e if op == "==" else bld.not_(e)
    if op in ("==", "!=") and (isinstance(at, t.OptionalType) or isinstance(bt, t.OptionalType)):
        return optional_equal(fl, op, a, at, b, bt)
    if op in ("==", "!="):
        # values of different types are never equal (the checker allowed only these)
        return ir.Constant(I1, int(op == "!="))
    raise InternalError(fl.span, f"comparison {at} {op} {bt}")


def optional_equal(fl: "FunctionLowerer", op: str, a: ir.Value, at: t.Type, b: ir.Value,
                   bt: t.Type) -> ir.Value:
    """`x == None`, `opt == 3`...: compare as the common optional type."""
    from .reprs import equal_values

    common = at if isinstance(at, t.OptionalType) else bt
    e = equal_values(fl, fl.coerce(a, at, common), fl.coerce(b, bt, common), common)
    return e if op == "==" else fl.b.not_(e)


def contains(fl: "FunctionLowerer", x: ir.Value, xt: t.Type, c: ir.Value, ct: t.Type) -> ir.Value:
    """`x in c` for every container type."""
    bld = fl.b
    if ct is t.STR:
        return fl.call_rt("str_contains", [c, x], module="rt.strings")
    if isinstance(ct, (t.ListType, t.TupleType)):
        elem = ct.elem if isinstance(ct, t.ListType) else ct.elems[0]
        if isinstance(ct, t.TupleType) and not ct.variadic:
            elem = ct.elems[0]
            if any(e != elem for e in ct.elems):
                # a heterogeneous tuple: compare with each item of the same type
                from .reprs import equal_values

                result = ir.Constant(I1, 0)
                for i, et in enumerate(ct.elems):
                    if fl.checker_compatible(xt, et):
                        item = fl.tuple_item(c, i, et)
                        result = bld.or_(result, equal_values(fl, fl.coerce(x, xt, et), item, et))
                return result
        slot = fl.to_slot(fl.coerce(x, xt, elem), elem)
        kind = fl.prog.kinds.kind_word(bld, elem)
        fn = "list_contains" if isinstance(ct, t.ListType) else "tuple_contains"
        return fl.call_rt(fn, [bld.ptrtoint(c, I64), slot, kind], module="rt.lists")
    from .containers import container_contains

    return container_contains(fl, x, xt, c, ct)


def sequence_op(fl: "FunctionLowerer", op: str, a: ir.Value, at: t.Type, b: ir.Value,
                bt: t.Type) -> ir.Value:
    """list/tuple + and * (concatenation and repetition make new objects)."""
    bld = fl.b
    if op == "+":
        if isinstance(at, t.ListType):
            kind = fl.prog.kinds.kind_word(bld, at.elem)
            r = fl.call_rt("list_concat", [bld.ptrtoint(a, I64), bld.ptrtoint(b, I64), kind],
                           module="rt.lists")
        else:
            ptrs = any(t.is_object(x) for x in at.elems + bt.elems)
            r = fl.call_rt("tuple_concat", [bld.ptrtoint(a, I64), bld.ptrtoint(b, I64),
                                            ir.Constant(I1, int(ptrs))], module="rt.lists")
        return fl.adapt(r, fl.llvm_type(at) if isinstance(at, t.ListType) else
                        ir.PointerType())
    seq, sty, k, kty = (a, at, b, bt) if isinstance(at, (t.ListType, t.TupleType)) else \
        (b, bt, a, at)
    count = fl.as_int(k, kty)
    if isinstance(sty, t.ListType):
        r = fl.call_rt("list_repeat", [bld.ptrtoint(seq, I64), count,
                                       fl.prog.kinds.kind_word(bld, sty.elem)], module="rt.lists")
    else:
        ptrs = any(t.is_object(x) for x in sty.elems)
        r = fl.call_rt("tuple_repeat", [bld.ptrtoint(seq, I64), count, ir.Constant(I1, int(ptrs))],
                       module="rt.lists")
    return fl.adapt(r, ir.PointerType())
