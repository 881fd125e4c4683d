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
from ..diag import InternalError
from ..parse import nodes as n
from .codegen import F64, I1, I8, I64, PTR

if TYPE_CHECKING:
    from .codegen import FunctionLowerer


def lower_builtin(fl: "FunctionLowerer", name: str, e: n.Call) -> ir.Value:
    if name == "print":
        return lower_print(fl, e)
    if name in ITER_LOWER:
        return ITER_LOWER[name](fl, e)
    if name in ("min", "max") and len(e.args) == 1:
        return _minmax_iter(fl, e)
    if name in ("min", "max"):
        return _minmax_values(fl, e)
    if name in ("range", "enumerate", "zip", "reversed"):
        raise InternalError(e.span, f"{name}() outside a loop")
    if name == "sorted":
        return _sorted(fl, e)
    args = [fl.expr(a) for a in e.args]
    types = [a.ty for a in e.args]
    return LOWER[name](fl, args, types, e)


def lower_print(fl: "FunctionLowerer", e: n.Call) -> ir.Value:
    values = [(fl.expr(a), a.ty) for a in e.args]
    sep = end = flush = None
    to_stderr = False
    for k in e.keywords:
        if k.arg == "file":
            to_stderr = k.value.ref == "sys.stderr"
            continue
        v = fl.expr(k.value)
        if k.arg == "flush":
            flush = v
        elif k.value.ty is t.STR:
            if k.arg == "sep":
                sep = v
            else:
                end = v
    sep = sep if sep is not None else fl.prog.str_const(" ")
    end = end if end is not None else fl.prog.str_const("\n")
    if to_stderr:  # unbuffered, like CPython's stderr at the end of each line
        for i, (v, ty) in enumerate(values):
            if i:
                fl.call_rt("write_err_str", [sep], may_raise=False)
            fl.call_rt("write_err_str", [v if ty is t.STR else fl.to_str(v, ty)],
                       may_raise=False)
        fl.call_rt("write_err_str", [end], may_raise=False)
        return ir.Constant(I8, 0)
    for i, (v, ty) in enumerate(values):
        if i:
            fl.call_rt("write_str", [sep], may_raise=False)
        write_value(fl, v, ty)
    fl.call_rt("write_str", [end], may_raise=False)
    if flush is not None:
        with fl.b.if_then(fl.b.trunc(flush, ir.IntType(1)) if flush.type != ir.IntType(1)
                          else flush):
            fl.call_rt("flush_stdout", [], may_raise=False)
    return ir.Constant(I8, 0)


def lower_stream_call(fl: "FunctionLowerer", e: n.Call, stream: str, method: str) -> ir.Value:
    """sys.stdout/sys.stderr .write(s) (returns len(s)) and .flush()."""
    if method == "flush":
        if stream == "sys.stdout":
            fl.call_rt("flush_stdout", [], may_raise=False)
        return ir.Constant(I8, 0)
    s = fl.expr(e.args[0])
    fl.call_rt("write_err_str" if stream == "sys.stderr" else "write_str", [s], may_raise=False)
    return _len(fl, [s], [t.STR], e)


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


def _minmax_values(fl, e):
    """min(a, b, ...): every argument is evaluated first; the first extreme one wins."""
    from .arith import compare

    args = [fl.expr(a) for a in e.args]
    ty = e.args[0].ty
    better = ">" if e.func.id == "max" else "<"
    key_fn = next((k.value for k in e.keywords if k.arg == "key"), None)
    key = fl.expr(key_fn) if key_fn is not None else None
    cur = args[0]
    cur_key = fl.call_value(key, key_fn.ty, [cur]) if key is not None else None
    for v in args[1:]:
        if key is not None:
            k = fl.call_value(key, key_fn.ty, [v])
            c = compare(fl, better, k, key_fn.ty.ret, cur_key, key_fn.ty.ret)
            cur_key = fl.b.select(c, k, cur_key)
        else:
            c = compare(fl, better, v, ty, cur, ty)
        cur = fl.b.select(c, v, cur)
    return cur


def _sorted(fl, e):
    lst = _list_of(fl, n.Call(e.func, e.args[:1], [], span=e.span, ty=e.ty))
    fl.sort_list(lst, e.ty, next((k.value for k in e.keywords if k.arg == "key"), None),
                 next((k.value for k in e.keywords if k.arg == "reverse"), None))
    return lst


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
    if ty is t.STR:
        base = fl.as_int(args[1], types[1]) if len(args) == 2 else ir.Constant(I64, 10)
        return fl.call_rt("str_to_int", [x, base], module="rt.strings")
    if ty in (t.INT, t.BOOL):
        return fl.as_int(x, ty)
    raise InternalError(e.span, f"int() of {ty}")


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
    "len": _len, "abs": _abs, "round": _round,
    "int": _int, "float": _float, "str": _str, "bool": _bool,
    "hex": _radix, "oct": _radix, "bin": _radix, "repr": _repr,
}



# --------------------------------------------------------------------------- iterables
# These consume any iterable (or generator expression) through FunctionLowerer.consume,
# evaluating items one at a time, as CPython's builtins do.


def _sum_iter(fl, e):
    ety = e.ty
    acc = fl.entry_alloca(fl.llvm_type(ety), "sum")
    if len(e.args) == 2:
        start, sty = fl.expr(e.args[1]), e.args[1].ty
    elif e.keywords:
        start, sty = fl.expr(e.keywords[0].value), e.keywords[0].value.ty
    else:
        start, sty = ir.Constant(I64, 0), t.INT
    fl.b.store(fl.coerce(fl.as_float(start, sty) if ety is t.FLOAT else fl.as_int(start, sty),
                         ety, ety), acc)

    def each(item, ity):
        cur = fl.b.load(acc, typ=fl.llvm_type(ety))
        fl.b.store(fl.binop("+", cur, ety, item, ity), acc)

    fl.consume(e.args[0], each)
    return fl.b.load(acc, typ=fl.llvm_type(ety))


def _any_all(fl, e):
    is_any = e.func.id == "any"
    result = fl.entry_alloca(I1, "anyall")
    fl.b.store(ir.Constant(I1, int(not is_any)), result)
    done = fl.new_block("anyall.done")

    def each(item, ity):
        c = fl.truthy(item, ity)
        hit, cont = fl.new_block("anyall.hit"), fl.new_block("anyall.next")
        fl.b.cbranch(c if is_any else fl.b.not_(c), hit, cont)
        fl.b.position_at_end(hit)
        fl.b.store(ir.Constant(I1, int(is_any)), result)
        fl.b.branch(done)
        fl.b.position_at_end(cont)

    fl.consume(e.args[0], each)
    fl.b.branch(done)
    fl.b.position_at_end(done)
    return fl.b.load(result, typ=I1)


def _minmax_iter(fl, e):
    """min/max of an iterable: the first of the extreme items (CPython keeps the first)."""
    from .arith import compare

    name = e.func.id
    better = ">" if name == "max" else "<"
    ety = e.ty
    key_fn = next((k.value for k in e.keywords if k.arg == "key"), None)
    default = next((k.value for k in e.keywords if k.arg == "default"), None)
    elem_ty = fl.iter_item_type(e.args[0].ty) if not isinstance(e.args[0], n.GeneratorExp) \
        else e.args[0].elt.ty
    key = fl.expr(key_fn) if key_fn is not None else None
    best = fl.entry_alloca(fl.llvm_type(elem_ty), "best")
    best_key = None
    if key is not None:
        kty = key_fn.ty.ret
        best_key = fl.entry_alloca(fl.llvm_type(kty), "bestkey")
    have = fl.entry_alloca(I1, "have")
    fl.b.store(ir.Constant(I1, 0), have)

    def keyof(v):
        return fl.call_value(key, key_fn.ty, [v])

    def each(item, ity):
        item = fl.coerce(item, ity, elem_ty)
        b = fl.b
        first = b.not_(b.load(have, typ=I1))
        take, test, cont = fl.new_block("mm.take"), fl.new_block("mm.test"), fl.new_block("mm.next")
        k = keyof(item) if key is not None else None
        b.cbranch(first, take, test)
        b.position_at_end(test)
        if key is not None:
            c = compare(fl, better, k, key_fn.ty.ret, b.load(best_key, typ=fl.llvm_type(
                key_fn.ty.ret)), key_fn.ty.ret)
        else:
            c = compare(fl, better, item, elem_ty, b.load(best, typ=fl.llvm_type(elem_ty)),
                        elem_ty)
        b.cbranch(c, take, cont)
        b.position_at_end(take)
        b.store(item, best)
        if key is not None:
            b.store(k, best_key)
        b.store(ir.Constant(I1, 1), have)
        b.branch(cont)
        b.position_at_end(cont)

    fl.consume(e.args[0], each)
    b = fl.b
    got = b.load(have, typ=I1)
    if default is not None:
        dv = fl.coerce(fl.expr(default), default.ty, ety)
        v = fl.coerce(b.load(best, typ=fl.llvm_type(elem_ty)), elem_ty, ety)
        return b.select(got, v, dv)
    fl.guard(b.not_(got), "ValueError", f"{name}() arg is an empty sequence")
    return b.load(best, typ=fl.llvm_type(elem_ty))


def _list_of(fl, e):
    ety = e.ty.elem
    lst = fl.alloc_list(ir.Constant(I64, 0), ety)

    def each(item, ity):
        fl.call_rt("list_append", [lst, fl.to_slot(fl.coerce(item, ity, ety), ety),
                                   ir.Constant(I1, int(t.is_object(ety)))])

    if e.args:
        fl.consume(e.args[0], each)
    return fl.b.inttoptr(lst, PTR)


def _tuple_of(fl, e):
    if not e.args:
        return fl.make_tuple([], [])
    ety = e.ty.elems[0]
    lst = _list_of(fl, n.Call(e.func, e.args, [], span=e.span, ty=t.list_of(ety)))
    return fl.adapt(fl.call_rt("tuple_from_list_slots", [lst, ir.Constant(I1, int(
        t.is_object(ety)))]), PTR)


def _divmod(fl, args, types, e):
    from . import arith

    a, b = args
    if e.ty.elems[0] is t.INT:
        a, b = fl.as_int(a, types[0]), fl.as_int(b, types[1])
        q = arith.int_op(fl, "//", a, b)
        r = arith.int_op(fl, "%", a, b)
        return fl.make_tuple([q, r], [t.INT, t.INT])
    a, b = fl.as_float(a, types[0]), fl.as_float(b, types[1])
    q = arith.float_op(fl, "//", a, b)
    r = arith.float_op(fl, "%", a, b)
    return fl.make_tuple([q, r], [t.FLOAT, t.FLOAT])


def _pow(fl, args, types, e):
    if len(args) == 3:
        return fl.call_rt("pow_mod", [fl.as_int(args[0], types[0]), fl.as_int(args[1], types[1]),
                                      fl.as_int(args[2], types[2])])
    return fl.binop("**", args[0], types[0], args[1], types[1])


def _ord(fl, args, types, e):
    if types[0] is t.STR:
        return fl.call_rt("str_ord", [args[0]])
    return fl.call_rt("bytes_ord", [args[0]], module="rt.bytesops")


def _chr(fl, args, types, e):
    return fl.call_rt("str_chr", [fl.as_int(args[0], types[0])])


def _hash(fl, args, types, e):
    from .reprs import hash_value

    return hash_value(fl, args[0], types[0])


LOWER.update({"divmod": _divmod, "pow": _pow, "ord": _ord, "chr": _chr, "hash": _hash})
def _set_of(fl, e):
    from .containers import _rt

    st = e.ty
    kind = fl.prog.kinds.kind_word(fl.b, st.elem)
    s = _rt(fl, "set_new", [kind])

    def each(item, ity):
        _rt(fl, "set_add", [s, fl.to_slot(fl.coerce(item, ity, st.elem), st.elem), kind])

    if e.args:
        fl.consume(e.args[0], each)
    return fl.b.inttoptr(s, PTR)


def _dict_of(fl, e):
    from .containers import _kinds, _rt

    dt = e.ty
    kk, vk = _kinds(fl, dt)
    if e.args and isinstance(e.args[0].ty, t.DictType):
        return fl.adapt(_rt(fl, "dict_copy", [fl.b.ptrtoint(fl.expr(e.args[0]), I64), kk, vk]),
                        PTR)
    d = _rt(fl, "dict_new", [])

    def each(item, ity):
        k = fl.tuple_item(item, 0, ity.elems[0])
        v = fl.tuple_item(item, 1, ity.elems[1])
        _rt(fl, "dict_setitem", [d, fl.to_slot(fl.coerce(k, ity.elems[0], dt.key), dt.key),
                                 fl.to_slot(fl.coerce(v, ity.elems[1], dt.value), dt.value),
                                 kk, vk])

    if e.args:
        fl.consume(e.args[0], each)
    return fl.b.inttoptr(d, PTR)


def _bytes_ctor(fl, e):
    """bytes(...), bytearray(...): from nothing, a size, ints, a bytes-like, or a str."""
    kind = "bytes" if e.ty is t.BYTES else "bytearray"
    b = fl.b
    if not e.args:
        r = fl.call_rt(f"{kind}_zeros", [ir.Constant(I64, 0)], module="rt.bytesops")
        return fl.adapt(r, PTR)
    a = e.args[0]
    if a.ty is t.STR:
        s = fl.expr(a)
        enc = fl.expr(e.args[1]) if len(e.args) > 1 else fl.prog.str_const("utf-8")
        err = fl.expr(e.args[2]) if len(e.args) > 2 else fl.prog.str_const("strict")
        r = fl.call_rt("str_encode", [s, enc, err], module="rt.bytesops")
        if kind == "bytearray":
            r = fl.call_rt("bytearray_from", [r], module="rt.bytesops")
        return fl.adapt(r, PTR)
    if a.ty in (t.INT, t.BOOL):
        n_ = fl.as_int(fl.expr(a), a.ty)
        return fl.adapt(fl.call_rt(f"{kind}_zeros", [n_], module="rt.bytesops"), PTR)
    if a.ty in (t.BYTES, t.BYTEARRAY, t.MEMORYVIEW):
        o = b.ptrtoint(fl.expr(a), I64)
        return fl.adapt(fl.call_rt(f"{kind}_from", [o], module="rt.bytesops"), PTR)
    lst = _list_of(fl, n.Call(n.Name("list", span=a.span), [a], [], span=a.span,
                              ty=t.list_of(t.INT)))
    return fl.adapt(fl.call_rt(f"{kind}_from_list", [lst], module="rt.bytesops"), PTR)


def _memoryview(fl, e):
    o = fl.b.ptrtoint(fl.expr(e.args[0]), I64)
    return fl.adapt(fl.call_rt("memoryview_new", [o], module="rt.bytesops"), PTR)


ITER_LOWER = {"sum": _sum_iter, "any": _any_all, "all": _any_all, "list": _list_of,
              "tuple": _tuple_of, "set": _set_of, "dict": _dict_of, "bytes": _bytes_ctor,
              "bytearray": _bytes_ctor, "memoryview": _memoryview}
