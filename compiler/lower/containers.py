"""Lowering of dict and set (and the bytes types' methods): displays, comprehensions,
item access, membership, methods, iteration, repr, equality.

In:  checked expressions whose types are DictType / SetType (and bytes, bytearray).
Out: calls into runtime/dicts.apy (CPython's compact dict and set algorithms, so
     iteration orders match CPython's) with slots as i64 and the keys' and values'
     kind words (applc.lower.kinds). A failed `d[k]` builds its KeyError message
     (the key's repr) only when it fails.
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
DICT_LEN = 8
ENTRY = 24


def c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def _rt(fl, name, args, module="rt.dicts"):
    return fl.call_rt(name, args, module=module)


def _kinds(fl: "FunctionLowerer", dt: t.DictType) -> tuple[ir.Value, ir.Value]:
    return fl.prog.kinds.kind_word(fl.b, dt.key), fl.prog.kinds.kind_word(fl.b, dt.value)


# --------------------------------------------------------------------------- displays


def expr_dict(fl: "FunctionLowerer", e: n.DictExpr) -> ir.Value:
    dt = e.ty
    kk, vk = _kinds(fl, dt)
    pairs = []
    for k, v in zip(e.keys, e.values):  # CPython evaluates key, value, key, value...
        kv = fl.coerce(fl.expr(k), k.ty, dt.key)
        vv = fl.coerce(fl.expr(v), v.ty, dt.value)
        pairs.append((kv, vv))
    d = _rt(fl, "dict_new_presized", [c64(len(pairs)), kk, vk])
    for kv, vv in pairs:
        _rt(fl, "dict_setitem", [d, fl.to_slot(kv, dt.key), fl.to_slot(vv, dt.value), kk, vk])
    return fl.b.inttoptr(d, PTR)


def expr_set(fl: "FunctionLowerer", e: n.SetExpr) -> ir.Value:
    st = e.ty
    kind = fl.prog.kinds.kind_word(fl.b, st.elem)
    values = [fl.coerce(fl.expr(x), x.ty, st.elem) for x in e.elts]
    s = _rt(fl, "set_new", [kind])
    for v in values:
        _rt(fl, "set_add", [s, fl.to_slot(v, st.elem), kind])
    if len(e.elts) > 2 and all(folded_constant(x) for x in e.elts):
        s = _as_cpython_constant_set(fl, s, kind, iterated=getattr(fl, "loop_iterable", None) is e)
    return fl.b.inttoptr(s, PTR)


def _as_cpython_constant_set(fl: "FunctionLowerer", s: ir.Value, kind: ir.Value,
                             iterated: bool) -> ir.Value:
    """The set CPython makes of a display of 3+ constants, whose iteration order can
    differ from adding the elements one by one when their hashes collide:
    its compiler folds the display into a frozenset, rebuilds that frozenset from
    its own iteration order when it merges constants, and at run time updates an
    empty set from it (BUILD_SET 0; LOAD_CONST frozenset; SET_UPDATE). A display
    that a for loop or comprehension iterates over is that frozenset itself."""
    rebuilt = _rt(fl, "set_from", [_rt(fl, "set_to_list", [s, kind]), kind])
    if iterated:
        return rebuilt
    result = _rt(fl, "set_new", [kind])
    _rt(fl, "set_update", [result, rebuilt, kind])
    return result


def folded_constant(x: n.Expr) -> bool:
    """Whether CPython's AST optimiser turns `x` into one constant: literals, and
    unary/binary operators and tuples over them (roughly; the cases it declines,
    such as huge results or a division by zero, raise in apy anyway)."""
    if isinstance(x, n.Constant):
        return True
    if isinstance(x, n.UnaryOp):
        return folded_constant(x.operand)
    if isinstance(x, n.BinOp):
        if x.op == "%" and isinstance(x.left, n.Constant) and isinstance(x.left.value, (str, bytes)):
            return False
        return folded_constant(x.left) and folded_constant(x.right)
    if isinstance(x, n.TupleExpr):
        return all(folded_constant(y) for y in x.elts)
    return False


def expr_dictcomp(fl: "FunctionLowerer", e: n.DictComp) -> ir.Value:
    dt = e.ty
    kk, vk = _kinds(fl, dt)
    d = _rt(fl, "dict_new", [])

    def inner():
        kv = fl.coerce(fl.expr(e.key), e.key.ty, dt.key)
        vv = fl.coerce(fl.expr(e.value), e.value.ty, dt.value)
        _rt(fl, "dict_setitem", [d, fl.to_slot(kv, dt.key), fl.to_slot(vv, dt.value), kk, vk])

    fl.comprehension_loops(e.generators, inner)
    return fl.b.inttoptr(d, PTR)


def expr_setcomp(fl: "FunctionLowerer", e: n.SetComp) -> ir.Value:
    st = e.ty
    kind = fl.prog.kinds.kind_word(fl.b, st.elem)
    s = _rt(fl, "set_new", [kind])

    def inner():
        v = fl.coerce(fl.expr(e.elt), e.elt.ty, st.elem)
        _rt(fl, "set_add", [s, fl.to_slot(v, st.elem), kind])

    fl.comprehension_loops(e.generators, inner)
    return fl.b.inttoptr(s, PTR)


# --------------------------------------------------------------------------- items


def dict_getitem(fl: "FunctionLowerer", d: ir.Value, dt: t.DictType, key: ir.Value) -> ir.Value:
    from .reprs import repr_value

    b = fl.b
    kk, _ = _kinds(fl, dt)
    addr = b.ptrtoint(d, I64)
    ix = _rt(fl, "dict_lookup", [addr, fl.to_slot(key, dt.key), kk])
    missing, found = fl.new_block("key.missing"), fl.new_block("key.found")
    b.cbranch(b.icmp_signed("<", ix, c64(0)), missing, found)
    b.position_at_end(missing)
    fl.raise_exc("KeyError", repr_value(fl, key, dt.key))
    b.unreachable()
    b.position_at_end(found)
    return fl.from_slot(_rt(fl, "dict_entry_value", [addr, ix]), dt.value)


def dict_setitem(fl: "FunctionLowerer", d: ir.Value, dt: t.DictType, key: ir.Value,
                 value: ir.Value) -> None:
    kk, vk = _kinds(fl, dt)
    _rt(fl, "dict_setitem", [fl.b.ptrtoint(d, I64), fl.to_slot(key, dt.key),
                             fl.to_slot(value, dt.value), kk, vk])


def container_contains(fl: "FunctionLowerer", x: ir.Value, xt: t.Type, c: ir.Value,
                       ct: t.Type) -> ir.Value:
    b = fl.b
    if isinstance(ct, t.DictType):
        kk, _ = _kinds(fl, ct)
        return _rt(fl, "dict_contains", [b.ptrtoint(c, I64),
                                         fl.to_slot(fl.coerce(x, xt, ct.key), ct.key), kk])
    if isinstance(ct, t.SetType):
        kind = fl.prog.kinds.kind_word(b, ct.elem)
        return _rt(fl, "set_contains", [b.ptrtoint(c, I64),
                                        fl.to_slot(fl.coerce(x, xt, ct.elem), ct.elem), kind])
    if ct in (t.BYTES, t.BYTEARRAY):
        if xt in (t.INT, t.BOOL):
            return _rt(fl, "bytes_contains_int", [b.ptrtoint(c, I64), fl.as_int(x, xt)],
                       module="rt.bytesops")
        return _rt(fl, "bytes_contains", [b.ptrtoint(c, I64), b.ptrtoint(x, I64)],
                   module="rt.bytesops")
    raise InternalError(fl.span, f"'in' on {ct}")


# --------------------------------------------------------------------------- methods


def lower_container_method(fl: "FunctionLowerer", e: n.Call, bm: BoundMethodCall,
                           recv: ir.Value) -> ir.Value:
    b = fl.b
    addr = b.ptrtoint(recv, I64)
    name = bm.name
    args = bm.args
    none = ir.Constant(I8, 0)
    if isinstance(bm.recv, t.DictType):
        dt = bm.recv
        kk, vk = _kinds(fl, dt)

        def key(i):
            return fl.to_slot(fl.coerce(fl.expr(args[i]), args[i].ty, dt.key), dt.key)

        def val(i, ty=dt.value):
            return fl.to_slot(fl.coerce(fl.expr(args[i]), args[i].ty, ty), ty)

        if name == "get":
            k = key(0)
            rty = e.ty
            if args[1] is None and not t.is_boxed_optional(rty):
                r = _rt(fl, "dict_get", [addr, k, kk, c64(0)])  # objects: None is slot 0
                return b.inttoptr(r, PTR)
            # the value if the key is there, else the default (None: a null box/object)
            default = fl.coerce(fl.expr(args[1]), args[1].ty, rty) if args[1] is not None \
                else ir.Constant(PTR, None)
            ix = _rt(fl, "dict_lookup", [addr, k, kk])
            hit, miss, end = fl.new_block("get.hit"), fl.new_block("get.miss"), fl.new_block("get")
            b.cbranch(b.icmp_signed(">=", ix, c64(0)), hit, miss)
            b.position_at_end(hit)
            v = fl.coerce(fl.from_slot(_rt(fl, "dict_entry_value", [addr, ix]), dt.value),
                          dt.value, rty)
            hit_end = b.block
            b.branch(end)
            b.position_at_end(miss)
            b.branch(end)
            b.position_at_end(end)
            phi = b.phi(v.type)
            phi.add_incoming(v, hit_end)
            phi.add_incoming(default, miss)
            return phi
        if name == "setdefault":
            return fl.from_slot(_rt(fl, "dict_setdefault", [addr, key(0), val(1), kk, vk]),
                                dt.value)
        if name == "pop":
            k = fl.coerce(fl.expr(args[0]), args[0].ty, dt.key)
            if args[1] is not None:
                return fl.from_slot(_rt(fl, "dict_pop_default", [addr, fl.to_slot(k, dt.key),
                                                                  val(1), kk]), dt.value)
            from .reprs import repr_value

            return fl.from_slot(_rt(fl, "dict_pop", [addr, fl.to_slot(k, dt.key), kk,
                                                     repr_value(fl, k, dt.key)]), dt.value)
        if name == "popitem":
            return fl.adapt(_rt(fl, "dict_popitem", [addr, kk, vk]), PTR)
        if name in ("keys", "values", "items"):
            raise InternalError(e.span, f"dict.{name}() outside a loop")
        if name == "update":
            _rt(fl, "dict_update", [addr, b.ptrtoint(fl.expr(args[0]), I64), kk, vk])
            return none
        if name == "clear":
            _rt(fl, "dict_clear", [addr])
            return none
        if name == "copy":
            return fl.adapt(_rt(fl, "dict_copy", [addr, kk, vk]), PTR)
    else:
        st = bm.recv
        kind = fl.prog.kinds.kind_word(b, st.elem)

        def elem(i):
            return fl.to_slot(fl.coerce(fl.expr(args[i]), args[i].ty, st.elem), st.elem)

        if name == "add":
            _rt(fl, "set_add", [addr, elem(0), kind])
            return none
        if name == "discard":
            _rt(fl, "set_discard", [addr, elem(0), kind])
            return none
        if name == "remove":
            from .reprs import repr_value

            x = fl.coerce(fl.expr(args[0]), args[0].ty, st.elem)
            _rt(fl, "set_remove", [addr, fl.to_slot(x, st.elem), kind,
                                   repr_value(fl, x, st.elem)])
            return none
        if name == "pop":
            return fl.from_slot(_rt(fl, "set_pop", [addr]), st.elem)
        if name == "clear":
            _rt(fl, "set_clear", [addr])
            return none
        if name == "copy":
            return fl.adapt(_rt(fl, "set_copy", [addr, kind]), PTR)
        other = _as_set(fl, args[0], st, kind) if args else None
        if name in ("update", "intersection_update", "difference_update",
                    "symmetric_difference_update"):
            _rt(fl, f"set_{name}", [addr, other, kind])
            return none
        if name in ("union", "intersection", "difference", "symmetric_difference"):
            return fl.adapt(_rt(fl, f"set_{name}", [addr, other, kind]), PTR)
        if name in ("issubset", "issuperset", "isdisjoint"):
            return _rt(fl, f"set_{name}", [addr, other, kind])
    raise InternalError(e.span, f"{bm.recv}.{name}")


def _as_set(fl: "FunctionLowerer", arg: n.Expr, st: t.SetType, kind: ir.Value) -> ir.Value:
    """The argument of a set method as a set (an iterable is collected into one first)."""
    if isinstance(arg.ty, t.SetType):
        return fl.b.ptrtoint(fl.expr(arg), I64)
    s = _rt(fl, "set_new", [kind])

    def each(item, ity):
        _rt(fl, "set_add", [s, fl.to_slot(fl.coerce(item, ity, st.elem), st.elem), kind])

    fl.consume(arg, each)
    return s


def container_binop(fl: "FunctionLowerer", op: str, a: ir.Value, at: t.Type, b_: ir.Value,
                    bt: t.Type) -> ir.Value:
    b = fl.b
    if isinstance(at, t.SetType):
        kind = fl.prog.kinds.kind_word(b, at.elem)
        fn = {"|": "set_union", "&": "set_intersection", "-": "set_difference",
              "^": "set_symmetric_difference"}[op]
        return fl.adapt(_rt(fl, fn, [b.ptrtoint(a, I64), b.ptrtoint(b_, I64), kind]), PTR)
    if isinstance(at, t.DictType):
        kk, vk = _kinds(fl, at)
        d = _rt(fl, "dict_copy", [b.ptrtoint(a, I64), kk, vk])
        _rt(fl, "dict_update", [d, b.ptrtoint(b_, I64), kk, vk])
        return fl.b.inttoptr(d, PTR)
    if op == "+":
        return fl.adapt(_rt(fl, "bytes_concat", [b.ptrtoint(a, I64), b.ptrtoint(b_, I64)],
                            module="rt.bytesops"), PTR)
    seq, k, kt = (a, b_, bt) if at in (t.BYTES, t.BYTEARRAY) else (b_, a, at)
    return fl.adapt(_rt(fl, "bytes_repeat", [b.ptrtoint(seq, I64), fl.as_int(k, kt)],
                        module="rt.bytesops"), PTR)


# --------------------------------------------------------------------------- iteration


class DictIter:
    """for k in d / d.keys() / d.values() / d.items() (and over a set): CPython's
    iterators, with its RuntimeError when the size changes during the loop."""

    def __init__(self, fl: "FunctionLowerer", it: n.Expr, source: n.Expr, what: str) -> None:
        self.fl, self.it, self.source, self.what = fl, it, source, what

    def start(self) -> None:
        fl = self.fl
        self.obj = fl.b.ptrtoint(fl.expr(self.source), I64)
        self.pos = fl.entry_alloca(I64, "dict.pos")
        self.seen = fl.entry_alloca(I64, "dict.seen")
        fl.b.store(c64(0), self.pos)
        fl.b.store(c64(0), self.seen)
        self.start_len = fl.load_at(self.obj, 8)

    def next(self, done: ir.Block) -> ir.Value:
        fl, b = self.fl, self.fl.b
        src = self.source.ty
        pos = b.load(self.pos, typ=I64)
        if isinstance(src, t.SetType):
            ix = _rt(fl, "set_next", [self.obj, pos, self.start_len])
        else:
            ix = _rt(fl, "dict_next", [self.obj, pos, self.start_len, b.load(self.seen, typ=I64)])
        body = fl.new_block("dict.body")
        b.cbranch(b.icmp_signed("<", ix, c64(0)), done, body)
        b.position_at_end(body)
        b.store(b.add(ix, c64(1)), self.pos)
        b.store(b.add(b.load(self.seen, typ=I64), c64(1)), self.seen)
        if isinstance(src, t.SetType):
            return fl.from_slot(_rt(fl, "set_entry_key", [self.obj, ix]), src.elem)
        key = fl.from_slot(_rt(fl, "dict_entry_key", [self.obj, ix]), src.key)
        if self.what == "keys":
            return key
        value = fl.from_slot(_rt(fl, "dict_entry_value", [self.obj, ix]), src.value)
        if self.what == "values":
            return value
        return fl.make_tuple([key, value], [src.key, src.value])


# --------------------------------------------------------------------------- repr and ==


def repr_dict_or_set(fl: "FunctionLowerer", v: ir.Value, ty: t.Type, sb, add, add_value) -> None:
    b = fl.b
    is_set = isinstance(ty, t.SetType)
    n_items = fl.load_at(v, 8)
    if is_set:
        empty, nonempty, end = fl.new_block("set.empty"), fl.new_block("set.items"), \
            fl.new_block("set.done")
        b.cbranch(b.icmp_signed("==", n_items, c64(0)), empty, nonempty)
        b.position_at_end(empty)
        add("set()")
        b.branch(end)
        b.position_at_end(nonempty)
    add("{")
    src = n.Name("<obj>", span=fl.span or n.NO_SPAN, ty=ty)
    it = DictIter(fl, src, src, "items" if not is_set else "keys")
    it.obj = b.ptrtoint(v, I64)
    it.pos = fl.entry_alloca(I64, "r.pos")
    it.seen = fl.entry_alloca(I64, "r.seen")
    b.store(c64(0), it.pos)
    b.store(c64(0), it.seen)
    it.start_len = n_items
    head, done = fl.new_block("r.head"), fl.new_block("r.done")
    b.branch(head)
    b.position_at_end(head)
    item = it.next(done)
    first = b.icmp_signed("==", b.load(it.seen, typ=I64), c64(1))
    with b.if_then(b.not_(first)):
        add(", ")
    if is_set:
        add_value(item, ty.elem)
    else:
        add_value(fl.tuple_item(item, 0, ty.key), ty.key)
        add(": ")
        add_value(fl.tuple_item(item, 1, ty.value), ty.value)
    b.branch(head)
    b.position_at_end(done)
    add("}")
    if is_set:
        b.branch(end)
        b.position_at_end(end)


def equal_dict_or_set(fl: "FunctionLowerer", x: ir.Value, y: ir.Value, ty: t.Type) -> ir.Value:
    if isinstance(ty, t.DictType):
        kk, vk = _kinds(fl, ty)
        return _rt(fl, "dict_eq", [x, y, kk, vk])
    if isinstance(ty, t.SetType):
        kind = fl.prog.kinds.kind_word(fl.b, ty.elem)
        return _rt(fl, "set_richcompare", [x, y, kind, c64(2)])
    if ty in (t.BYTES, t.BYTEARRAY):
        return _rt(fl, "bytes_eq", [x, y], module="rt.hashes")
    return fl.b.icmp_unsigned("==", x, y)


BYTES_METHODS = {
    "split": ("bytes_split", [0, -1]), "rsplit": ("bytes_rsplit", [0, -1]),
    "strip": ("bytes_strip", [0]), "lstrip": ("bytes_lstrip", [0]),
    "rstrip": ("bytes_rstrip", [0]), "replace": ("bytes_replace", [None, None, -1]),
    "upper": ("bytes_upper", []), "lower": ("bytes_lower", []),
    "find": ("bytes_find", [None, 0, 2**63 - 1]), "rfind": ("bytes_rfind", [None, 0, 2**63 - 1]),
    "index": ("bytes_index", [None, 0, 2**63 - 1]),
    "rindex": ("bytes_rindex", [None, 0, 2**63 - 1]),
    "count": ("bytes_count", [None, 0, 2**63 - 1]),
    "startswith": ("bytes_startswith", [None, 0, 2**63 - 1]),
    "endswith": ("bytes_endswith", [None, 0, 2**63 - 1]),
    "hex": ("bytes_hex", [0, 1]), "decode": ("bytes_decode", ["utf-8", "strict"]),
    "append": ("bytearray_append", []), "extend": ("bytearray_extend", []),
    "insert": ("bytearray_insert", []), "pop": ("bytearray_pop", [-1]),
    "remove": ("bytearray_remove", []), "reverse": ("bytearray_reverse", []),
    "clear": ("bytearray_clear", []), "join": ("bytes_join", []),
    "tobytes": ("memoryview_tobytes", []), "bit_length": ("int_bit_length", []),
    "is_integer": ("float_is_integer", []),
}


def lower_bytes_method(fl: "FunctionLowerer", e: n.Call, bm: BoundMethodCall,
                       recv: ir.Value) -> ir.Value:
    """Methods of bytes, bytearray, memoryview (and int.to_bytes / int.from_bytes)."""
    from .methods import _arg_values

    b = fl.b
    if bm.recv is t.INT and bm.name in ("to_bytes", "from_bytes"):
        return _int_bytes(fl, e, bm, recv)
    fn, defaults = BYTES_METHODS[bm.name]
    if bm.name == "join" and bm.recv in (t.BYTES, t.BYTEARRAY):
        return fl.adapt(fl.call_rt(fn, [b.ptrtoint(recv, I64), fl.expr(bm.args[0])],
                                   module="rt.bytesops"), PTR)
    args = _arg_values(fl, bm, defaults)
    module = "rt.bytesops"
    if fn == "int_bit_length":
        return fl.call_rt("int_bit_length", [recv], module="rt.core")
    if fn == "float_is_integer":
        tr = fl.call_rt("trunc", [recv], module="rt.fmath")
        return b.fcmp_ordered("==", tr, recv)
    r = fl.call_rt(fn, [b.ptrtoint(recv, I64)] + args, module=module)
    if bm.sig.ret in (t.INT, t.BOOL):
        return r
    if bm.sig.ret is t.NONE:
        return ir.Constant(I8, 0)
    return fl.adapt(r, PTR)


def _int_bytes(fl, e, bm, recv):
    b = fl.b
    args = bm.args

    def opt(i, default):
        a = args[i]
        return fl.expr(a) if a is not None else default

    if bm.name == "to_bytes":
        length = opt(0, c64(1))
        order = opt(1, fl.prog.str_const("big"))
        signed = opt(2, ir.Constant(I1, 0))
        return fl.adapt(fl.call_rt("int_to_bytes", [recv, fl.as_int(length, t.INT), order, signed],
                                   module="rt.bytesops"), PTR)
    data = fl.expr(args[0])
    order = opt(1, fl.prog.str_const("big"))
    signed = opt(2, ir.Constant(I1, 0))
    return fl.call_rt("int_from_bytes", [b.ptrtoint(data, I64), order, signed],
                      module="rt.bytesops")


def store_bytes_subscript(fl, target, obj, ct, v, vty):
    """ba[i] = x, ba[a:b] = bytes-like, mv[i] = x, mv[a:b] = bytes-like."""
    b = fl.b
    addr = b.ptrtoint(obj, I64)
    prefix = "bytearray" if ct is t.BYTEARRAY else "memoryview"
    if target.ref == "slice":
        lo, hi, st, flags = fl.slice_bounds(target.index)
        fl.call_rt(f"{prefix}_setslice", [addr, lo, hi, st, flags, b.ptrtoint(v, I64)],
                   module="rt.bytesops")
        return
    idx = fl.as_int(fl.expr(target.index), target.index.ty)
    fl.call_rt(f"{prefix}_setitem", [addr, idx, fl.as_int(v, vty)], module="rt.bytesops")


def bytes_constant(prog, value: bytes) -> ir.Value:
    """A bytes literal: a static object in the image (header STATIC | TAG_BYTES)."""
    key = ("bytes", value)
    gv = prog.generated.get(key)
    if gv is None:
        body = ir.ArrayType(I8, len(value) + 1)
        sty = ir.LiteralStructType([I64, I64, body])
        gv = ir.GlobalVariable(prog.module, sty, f".bytes.{len(prog.generated)}")
        gv.initializer = ir.Constant(sty, [c64(2 | (1 << 17)), c64(len(value)),
                                           ir.Constant(body, bytearray(value + b"\0"))])
        gv.global_constant = True
        gv.linkage = "private"
        gv.align = 8
        prog.generated[key] = gv
    return ir.FormattedConstant(PTR, gv.get_reference())
