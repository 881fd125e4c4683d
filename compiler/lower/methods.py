"""Lowering of methods of builtin types to runtime calls.

In:  a checked `recv.name(args)` on str, list, tuple, dict, set, bytes..., with its
     arguments matched to the method's parameters (check.heap.BoundMethodCall).
Out: a call of the runtime function that implements it (runtime/strings.apy,
     lists.apy, dicts.apy, bytesops.apy), with the runtime's conventions applied:
     objects and slots as i64, a missing optional argument as its documented
     stand-in (0 for None, 0 / INT64_MAX for start / end, -1 for counts), and the
     element *kind* word for anything that compares or hashes items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..check import types as t
from ..check.heap import BoundMethodCall
from ..diag import InternalError
from ..parse import nodes as n

if TYPE_CHECKING:
    from .codegen import FunctionLowerer

I64 = ir.IntType(64)
I1 = ir.IntType(1)
I8 = ir.IntType(8)
PTR = ir.PointerType()
INT64_MAX = 2**63 - 1

# str methods: runtime function and how missing arguments are passed
STR_METHODS = {
    "split": ("str_split", [0, -1]), "rsplit": ("str_rsplit", [0, -1]),
    "splitlines": ("str_splitlines", [False]), "join": ("str_join", []),
    "strip": ("str_strip", [0]), "lstrip": ("str_lstrip", [0]), "rstrip": ("str_rstrip", [0]),
    "replace": ("str_replace", [None, None, -1]), "zfill": ("str_zfill", []),
    "center": ("str_center", [None, " "]), "ljust": ("str_ljust", [None, " "]),
    "rjust": ("str_rjust", [None, " "]), "partition": ("str_partition", []),
    "rpartition": ("str_rpartition", []),
    "find": ("str_find", [None, 0, INT64_MAX]), "rfind": ("str_rfind", [None, 0, INT64_MAX]),
    "index": ("str_index", [None, 0, INT64_MAX]), "rindex": ("str_rindex", [None, 0, INT64_MAX]),
    "count": ("str_count", [None, 0, INT64_MAX]),
    "startswith": ("str_startswith", [None, 0, INT64_MAX]),
    "endswith": ("str_endswith", [None, 0, INT64_MAX]),
    "encode": ("str_encode", ["utf-8", "strict"]),
}
for _m in ("lower", "upper", "capitalize", "title", "swapcase", "casefold", "isdigit", "isalpha",
           "isalnum", "isspace", "isupper", "islower", "isdecimal", "isnumeric", "isidentifier",
           "isprintable", "isascii", "istitle"):
    STR_METHODS[_m] = (f"str_{_m}", [])


def c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def lower_runtime_method(fl: "FunctionLowerer", e: n.Call, bm: BoundMethodCall,
                         recv: ir.Value) -> ir.Value:
    if bm.recv is t.STR:
        return _str_method(fl, e, bm, recv)
    if isinstance(bm.recv, t.ListType):
        return _list_method(fl, e, bm, recv)
    if isinstance(bm.recv, (t.DictType, t.SetType)):
        from .containers import lower_container_method

        return lower_container_method(fl, e, bm, recv)
    if bm.recv in (t.BYTES, t.BYTEARRAY, t.MEMORYVIEW, t.INT, t.FLOAT):
        from .containers import lower_bytes_method

        return lower_bytes_method(fl, e, bm, recv)
    raise InternalError(e.span, f"method {bm.recv}.{bm.name}")


def _arg_values(fl: "FunctionLowerer", bm: BoundMethodCall, defaults: list) -> list[ir.Value]:
    """Evaluate the arguments in source order; missing ones become the runtime's stand-ins."""
    out: list[ir.Value] = []
    for i, ((pname, pty, _), a) in enumerate(zip(bm.sig.params, bm.args)):
        stand_in = defaults[i] if i < len(defaults) else None
        if a is None:
            out.append(_constant(fl, stand_in))
            continue
        v = fl.expr(a)
        if isinstance(a.ty, t.OptionalType) or a.ty is t.NONE:
            v = _optional_arg(fl, v, a.ty, stand_in)
        elif a.ty is t.BOOL and pty is t.INT:
            v = fl.as_int(v, a.ty)
        out.append(v)
    return out


def _constant(fl: "FunctionLowerer", v) -> ir.Value:
    if isinstance(v, bool):
        return ir.Constant(I1, int(v))
    if isinstance(v, int):
        return c64(v)
    if isinstance(v, str):
        return fl.prog.str_const(v)
    raise InternalError(fl.span, "a required method argument is missing")


def _optional_arg(fl: "FunctionLowerer", v: ir.Value, ty: t.Type, stand_in) -> ir.Value:
    """`None` (or a T | None that is None) means the stand-in; otherwise the value."""
    if ty is t.NONE:
        return _constant(fl, stand_in)
    if not t.is_boxed_optional(ty):
        return fl.b.ptrtoint(v, I64)  # objects: None is 0, which is the stand-in
    return fl.unless_none(v, ty, _constant(fl, stand_in), lambda inner: inner)


def _as_ptr(fl: "FunctionLowerer", v: ir.Value) -> ir.Value:
    return fl.adapt(v, PTR) if v.type == I64 else v


def _str_method(fl, e, bm, recv):
    name = bm.name
    if name not in STR_METHODS:
        raise InternalError(e.span, f"str.{name}")
    fn, defaults = STR_METHODS[name]
    if name == "join":
        # the runtime joins a list of str: materialise any other iterable first
        from .builtins import _list_of

        arg = bm.args[0]
        if isinstance(arg.ty, t.ListType):
            lst = fl.expr(arg)
        else:
            lst = _list_of(fl, n.Call(n.Name("list", span=arg.span), [arg], [], span=arg.span,
                                      ty=t.list_of(t.STR)))
        return _as_ptr(fl, fl.call_rt(fn, [recv, lst], module="rt.strings"))
    if name in ("startswith", "endswith") and isinstance(bm.args[0].ty, t.TupleType):
        return _tuple_affix(fl, bm, recv, fn)
    if name == "split" and bm.args and bm.args[0] is not None and bm.args[0].ty is t.STR:
        fn = "str_split_sep"  # a str separator: the whitespace splitter stays out of the image
    args = _arg_values(fl, bm, defaults)
    module = "rt.strings" if fn != "str_encode" else "rt.bytesops"
    r = fl.call_rt(fn, [recv] + args, module=module)
    return _as_ptr(fl, r) if bm.sig.ret not in (t.INT, t.BOOL) else r


def _tuple_affix(fl, bm, recv, fn):
    """s.startswith(("a", "b")): any of the strs."""
    tup = fl.expr(bm.args[0])
    tty = bm.args[0].ty
    start = c64(0)
    end = c64(INT64_MAX)
    result = ir.Constant(I1, 0)
    count = 1 if tty.variadic else len(tty.elems)
    if tty.variadic:
        raise InternalError(fl.span, "startswith(tuple[str, ...])")
    for i in range(count):
        item = fl.tuple_item(tup, i, t.STR)
        result = fl.b.or_(result, fl.call_rt(fn, [recv, item, start, end], module="rt.strings"))
    return result


def _list_method(fl, e, bm, recv):
    name = bm.name
    lt = bm.recv
    elem = lt.elem
    b = fl.b
    kind = lambda: fl.prog.kinds.kind_word(b, elem)  # noqa: E731
    lst = b.ptrtoint(recv, I64)

    def arg(i):
        a = bm.args[i]
        return fl.to_slot(fl.coerce(fl.expr(a), a.ty, elem), elem)

    def call(fn, args):
        return fl.call_rt(fn, args, module="rt.lists")

    if name == "extend":
        fl.list_extend(recv, lt, bm.args[0])
        return ir.Constant(I8, 0)
    if name == "insert":
        idx = fl.as_int(fl.expr(bm.args[0]), bm.args[0].ty)
        call("list_insert", [lst, idx, arg(1), kind()])
        return ir.Constant(I8, 0)
    if name == "pop":
        idx = fl.as_int(fl.expr(bm.args[0]), bm.args[0].ty) if bm.args[0] is not None else c64(-1)
        return fl.from_slot(call("list_pop", [lst, idx]), elem)
    if name == "remove":
        call("list_remove", [lst, arg(0), kind()])
        return ir.Constant(I8, 0)
    if name == "index":
        x = fl.coerce(fl.expr(bm.args[0]), bm.args[0].ty, elem)
        start = fl.as_int(fl.expr(bm.args[1]), bm.args[1].ty) if bm.args[1] is not None else c64(0)
        stop = fl.as_int(fl.expr(bm.args[2]), bm.args[2].ty) if bm.args[2] is not None else \
            c64(INT64_MAX)
        from .reprs import repr_value

        return call("list_index", [lst, fl.to_slot(x, elem), kind(), start, stop,
                                   repr_value(fl, x, elem)])
    if name == "count":
        return call("list_count", [lst, arg(0), kind()])
    if name == "reverse":
        call("list_reverse", [lst])
        return ir.Constant(I8, 0)
    if name == "clear":
        call("list_clear", [lst])
        return ir.Constant(I8, 0)
    if name == "copy":
        return _as_ptr(fl, call("list_copy", [lst, kind()]))
    if name == "sort":
        key = bm.args[0]
        reverse = bm.args[1]
        fl.sort_list(recv, lt, key, reverse)
        return ir.Constant(I8, 0)
    raise InternalError(e.span, f"list.{name}")


def store_runtime_subscript(fl: "FunctionLowerer", target: n.Subscript, obj: ir.Value,
                            ct: t.Type, v: ir.Value, vty: t.Type) -> None:
    """`xs[a:b] = ys`, `ba[i] = x` and the other stores that go through the runtime."""
    b = fl.b
    if isinstance(ct, t.ListType) and target.ref == "slice":
        lo, hi, st, flags = fl.slice_bounds(target.index)
        seq = fl.expr_as_list(v, vty, ct.elem)
        fl.call_rt("list_setslice", [b.ptrtoint(obj, I64), lo, hi, st, flags, seq,
                                     fl.prog.kinds.kind_word(b, ct.elem)], module="rt.lists")
        return
    if ct is t.BYTEARRAY or ct is t.MEMORYVIEW:
        from .containers import store_bytes_subscript

        store_bytes_subscript(fl, target, obj, ct, v, vty)
        return
    raise InternalError(target.span, f"item assignment on {ct}")
