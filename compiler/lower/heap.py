"""Lowering of heap values: slots, coercions, lists, tuples, subscripts, iteration, repr.

In:  checked expressions of the heap types (a mixin of FunctionLowerer).
Out: IR that builds and reads the objects of docs/runtime-abi.md. Fast paths
     (len, indexing, append, iteration) are inline; everything bigger calls the
     runtime (runtime/*.apy), which takes slots and addresses as i64.

Iteration has one protocol for every iterable (`Iterator`: `start()` once,
then `next(done)` per item, which either jumps to `done` or returns the item),
so for loops, comprehensions, list(), sum(), any()... share it.
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
I32 = ir.IntType(32)
I8 = ir.IntType(8)
I1 = ir.IntType(1)
F64 = ir.DoubleType()
PTR = ir.PointerType()

TAG_STR, TAG_BYTES, TAG_BYTEARRAY, TAG_LIST, TAG_DICT, TAG_SET, TAG_TUPLE = 1, 2, 3, 4, 5, 6, 7
TAG_RAW, TAG_INSTANCE = 10, 16
HAS_PTRS = 1 << 16
LIST_LEN, LIST_ITEMS = 8, 24
BYTES_LEN, BYTES_DATA = 8, 16  # bytes: header | len | bytes (runtime/bytesops.apy)
BYTEARRAY_BUF, RAW_DATA = 24, 8  # bytearray: header | len | cap | buffer; buffer: header | bytes
TUPLE_LEN, TUPLE_SLOTS = 8, 16


def c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


class HeapLowering:
    """Mixin of FunctionLowerer: slots, displays, subscripts, iteration, methods."""

    # ---------------------------------------------------------------- slots

    def to_slot(self: "FunctionLowerer", v: ir.Value, ty: t.Type) -> ir.Value:
        b = self.b
        if ty is t.INT:
            return v
        if ty is t.FLOAT:
            return b.bitcast(v, I64)
        if ty is t.BOOL:
            return b.zext(v, I64)
        if ty in (t.NONE, t.NORETURN, t.ERROR):
            return c64(0)
        return b.ptrtoint(v, I64)

    def from_slot(self: "FunctionLowerer", s: ir.Value, ty: t.Type) -> ir.Value:
        b = self.b
        if ty is t.INT:
            return s
        if ty is t.FLOAT:
            return b.bitcast(s, F64)
        if ty is t.BOOL:
            return b.trunc(s, I1)
        if ty is t.NONE:
            return ir.Constant(I8, 0)
        return b.inttoptr(s, PTR)

    def unless_none(self: "FunctionLowerer", v: ir.Value, ty: t.OptionalType, when_none: ir.Value,
                    some) -> ir.Value:
        """`when_none` if the optional v is None, else some(v as ty.inner) (a phi of the two)."""
        b = self.b
        is_none = b.icmp_unsigned("==", b.ptrtoint(v, I64), c64(0))
        none_bb, some_bb, end = self.new_block("none"), self.new_block("some"), \
            self.new_block("opt")
        b.cbranch(is_none, none_bb, some_bb)
        b.position_at_end(some_bb)
        value = some(self.coerce(v, ty, ty.inner))
        some_end = b.block
        b.branch(end)
        b.position_at_end(none_bb)
        b.branch(end)
        b.position_at_end(end)
        phi = b.phi(value.type)
        phi.add_incoming(value, some_end)
        phi.add_incoming(when_none, none_bb)
        return phi

    def branch_if_open(self: "FunctionLowerer", target: ir.Block) -> None:
        """Fall through to `target` unless the current block already ended (return, raise...)."""
        if not self.b.block.is_terminated:
            self.b.branch(target)

    def coerce(self: "FunctionLowerer", v: ir.Value, src: t.Type, dst: t.Type) -> ir.Value:
        """Convert a value of type `src` to the representation of `dst` (checked compatible)."""
        if src == dst or dst is t.ERROR or src in (t.ERROR, t.NORETURN):
            return v
        if isinstance(dst, t.OptionalType):
            if src is t.NONE:
                return ir.Constant(PTR, None)
            if isinstance(src, t.OptionalType):
                return v
            if t.is_boxed_optional(dst):
                box = self.call_rt("box_new", [self.to_slot(v, src)])
                return self.b.inttoptr(box, PTR)
            return v
        if isinstance(src, t.OptionalType):  # narrowed: the value is known not to be None
            if t.is_boxed_optional(src):
                p = self.b.gep(v, [c64(8)], source_etype=I8)
                return self.from_slot(self.b.load(p, typ=I64), dst)
            return v
        return v  # subclass instance -> base class: the same pointer

    # ---------------------------------------------------------------- allocation

    def alloc_list(self: "FunctionLowerer", n_items: ir.Value, elem: t.Type) -> ir.Value:
        return self.call_rt("list_new", [n_items, ir.Constant(I1, int(t.is_object(elem)))])

    def list_items(self: "FunctionLowerer", lst_addr: ir.Value) -> ir.Value:
        return self.load_at(lst_addr, LIST_ITEMS)

    def load_at(self: "FunctionLowerer", addr: ir.Value, off: int) -> ir.Value:
        """The word at addr + off (addr an i64 address or a ptr)."""
        if isinstance(addr.type, ir.PointerType):
            p = self.b.gep(addr, [c64(off)], source_etype=I8)
        else:
            p = self.b.inttoptr(self.b.add(addr, c64(off)), PTR)
        return self.b.load(p, typ=I64)

    def store_at(self: "FunctionLowerer", addr: ir.Value, off: ir.Value | int, v: ir.Value) -> None:
        off = c64(off) if isinstance(off, int) else off
        if isinstance(addr.type, ir.PointerType):
            addr = self.b.ptrtoint(addr, I64)
        self.b.store(v, self.b.inttoptr(self.b.add(addr, off), PTR))

    def slot_addr(self: "FunctionLowerer", base: ir.Value, index: ir.Value, first: int) -> ir.Value:
        """Address (i64) of slot `index` of an array of slots starting at base + first."""
        if isinstance(base.type, ir.PointerType):
            base = self.b.ptrtoint(base, I64)
        return self.b.add(base, self.b.add(c64(first), self.b.mul(index, c64(8))))

    # ---------------------------------------------------------------- displays

    def expr_ListExpr(self: "FunctionLowerer", e: n.ListExpr) -> ir.Value:
        elem = e.ty.elem
        values = [self.coerce(self.expr(x), x.ty, elem) for x in e.elts]
        lst = self.alloc_list(c64(len(values)), elem)
        items = self.list_items(lst)
        for i, v in enumerate(values):
            self.store_at(items, 8 + 8 * i, self.to_slot(v, elem))
        return self.b.inttoptr(lst, PTR)

    def expr_TupleExpr(self: "FunctionLowerer", e: n.TupleExpr) -> ir.Value:
        ty = e.ty
        elems = [ty.elems[0]] * len(e.elts) if ty.variadic else list(ty.elems)
        values = [self.coerce(self.expr(x), x.ty, et) for x, et in zip(e.elts, elems)]
        return self.make_tuple(values, elems)

    def make_tuple(self: "FunctionLowerer", values: list[ir.Value], elems: list[t.Type]) -> ir.Value:
        ptrs = any(t.is_object(et) for et in elems)
        tup = self.call_rt("tuple_new", [c64(len(values)), ir.Constant(I1, int(ptrs))])
        for i, (v, et) in enumerate(zip(values, elems)):
            self.store_at(tup, TUPLE_SLOTS + 8 * i, self.to_slot(v, et))
        return self.b.inttoptr(tup, PTR)

    def tuple_item(self: "FunctionLowerer", tup: ir.Value, i: int, ty: t.Type) -> ir.Value:
        return self.from_slot(self.load_at(tup, TUPLE_SLOTS + 8 * i), ty)

    # ---------------------------------------------------------------- subscripts

    def expr_Subscript(self: "FunctionLowerer", e: n.Subscript) -> ir.Value:
        obj = self.expr(e.value)
        vt = e.value.ty
        if e.ref == "tuple-const":
            from ..check.heap import const_index

            k = const_index(e.index)
            k = k + len(vt.elems) if k < 0 else k
            return self.tuple_item(obj, k, e.ty)
        if e.ref == "index":
            idx = self.as_int(self.expr(e.index), e.index.ty)
            if isinstance(vt, t.ListType):
                return self.from_slot(self.list_slot(obj, idx, "list index out of range"), e.ty)
            if isinstance(vt, t.TupleType):
                n_ = self.load_at(obj, TUPLE_LEN)
                i = self.normalize_index(idx, n_, "tuple index out of range")
                return self.from_slot(self.b.load(self.b.inttoptr(
                    self.slot_addr(obj, i, TUPLE_SLOTS), PTR), typ=I64), e.ty)
            if vt is t.STR:
                return self.adapt(self.call_rt("str_getitem", [obj, idx], module="rt.strings"),
                                  PTR)
            return self.sequence_runtime_index(obj, vt, idx)
        if e.ref == "slice":
            return self.lower_slice(obj, vt, e.index)
        if e.ref == "dict":
            key = self.coerce(self.expr(e.index), e.index.ty, vt.key)
            return self.dict_getitem(obj, vt, key, e.index)
        raise InternalError(e.span, f"subscript {e.ref}")

    def normalize_index(self: "FunctionLowerer", idx: ir.Value, length: ir.Value,
                        msg: str) -> ir.Value:
        """Python's index rules: negative counts from the end; out of range -> IndexError."""
        b = self.b
        neg = b.icmp_signed("<", idx, c64(0))
        i = b.select(neg, b.add(idx, length), idx)
        bad = b.or_(b.icmp_signed("<", i, c64(0)), b.icmp_signed(">=", i, length))
        self.guard(bad, "IndexError", msg)
        return i

    def list_slot(self: "FunctionLowerer", lst: ir.Value, idx: ir.Value, msg: str) -> ir.Value:
        n_ = self.load_at(lst, LIST_LEN)
        i = self.normalize_index(idx, n_, msg)
        items = self.load_at(lst, LIST_ITEMS)
        return self.b.load(self.b.inttoptr(self.slot_addr(items, i, 8), PTR), typ=I64)

    def list_store(self: "FunctionLowerer", lst: ir.Value, idx: ir.Value, slot: ir.Value) -> None:
        n_ = self.load_at(lst, LIST_LEN)
        i = self.normalize_index(idx, n_, "list assignment index out of range")
        items = self.load_at(lst, LIST_ITEMS)
        self.b.store(slot, self.b.inttoptr(self.slot_addr(items, i, 8), PTR))

    def sequence_runtime_index(self, obj, vt, idx):
        """o[i] -> int for a bytes-like: bytes and bytearray inline, a memoryview (views
        check their base, and may be strided) through the runtime."""
        if vt is t.BYTES or vt is t.BYTEARRAY:
            msg = "bytearray index out of range" if vt is t.BYTEARRAY else "index out of range"
            i = self.normalize_index(idx, self.load_at(obj, BYTES_LEN), msg)
            return self.byte_at(obj, vt, i)
        obj = self.b.ptrtoint(obj, I64)
        return self.call_rt("memoryview_getitem", [obj, idx], module="rt.bytesops")

    def byte_at(self: "FunctionLowerer", obj: ir.Value, vt: t.Type, i: ir.Value) -> ir.Value:
        """The byte at 0 <= i < len of a bytes or bytearray (runtime/bytesops.apy's layout:
        a bytes holds its bytes, a bytearray points to a raw buffer). Static types are
        exact in apy (no bytearray where bytes is declared), so the layout is known here."""
        b = self.b
        if vt is t.BYTES:
            data = b.add(b.ptrtoint(obj, I64), c64(BYTES_DATA))
        else:
            data = b.add(self.load_at(obj, BYTEARRAY_BUF), c64(RAW_DATA))
        return b.zext(b.load(b.inttoptr(b.add(data, i), PTR), typ=I8), I64)

    def slice_bounds(self: "FunctionLowerer", sl: n.Slice) -> list[ir.Value]:
        """(lower, upper, step, flags): missing parts are 0 with a flag bit (1, 2, 4) set."""
        vals = []
        flags = 0
        for bit, part in ((1, sl.lower), (2, sl.upper), (4, sl.step)):
            if part is None or (isinstance(part, n.Constant) and part.value is None):
                vals.append(c64(0))
                flags |= bit
            else:
                vals.append(self.as_int(self.expr(part), part.ty))
        return vals + [c64(flags)]

    def lower_slice(self: "FunctionLowerer", obj: ir.Value, vt: t.Type, sl: n.Slice) -> ir.Value:
        lo, hi, st, flags = self.slice_bounds(sl)
        addr = self.b.ptrtoint(obj, I64)
        if vt is t.STR:
            r = self.call_rt("str_slice", [addr, lo, hi, st, flags], module="rt.strings")
        elif isinstance(vt, t.ListType):
            kind = self.prog.kinds.kind_word(self.b, vt.elem)
            r = self.call_rt("list_slice", [addr, lo, hi, st, flags, kind], module="rt.lists")
        elif isinstance(vt, t.TupleType):
            ptrs = ir.Constant(I1, int(any(t.is_object(x) for x in self.elem_types(vt))))
            r = self.call_rt("tuple_slice", [addr, lo, hi, st, flags, ptrs], module="rt.lists")
        elif vt is t.MEMORYVIEW:
            r = self.call_rt("memoryview_slice", [addr, lo, hi, st, flags], module="rt.bytesops")
        else:
            r = self.call_rt("bytes_slice", [addr, lo, hi, st, flags], module="rt.bytesops")
        return self.b.inttoptr(r, PTR) if r.type == I64 else r

    def elem_types(self, ty: t.Type) -> list[t.Type]:
        if isinstance(ty, (t.ListType, t.SetType)):
            return [ty.elem]
        if isinstance(ty, t.TupleType):
            return list(ty.elems)
        if isinstance(ty, t.DictType):
            return [ty.key, ty.value]
        return []

    # ---------------------------------------------------------------- iteration

    def iterator(self: "FunctionLowerer", it: n.Expr) -> "Iterator":
        """The Iterator that walks `it` (a for loop's or comprehension's iterable)."""
        ty = it.ty
        if isinstance(it, n.Call) and isinstance(it.func, n.Name) and isinstance(
                it.func.ref, t.Builtin):
            name = it.func.ref.name
            if name == "range":
                return RangeIter(self, it)
            if name == "enumerate":
                return EnumerateIter(self, it)
            if name == "zip":
                return ZipIter(self, it)
            if name == "reversed":
                return ReversedIter(self, it)
            if name in ("map", "filter"):
                return MapFilterIter(self, it)
        if isinstance(it, n.GeneratorExp):
            raise InternalError(it.span, "generator expressions are lowered by their consumer")
        from .containers import DictIter

        if isinstance(ty, t.IterType) and ty.kind in ("keys", "values", "items"):
            return DictIter(self, it, it.func.value, ty.kind)
        if isinstance(ty, (t.DictType, t.SetType)):
            return DictIter(self, it, it, "keys")
        if isinstance(ty, t.ListType):
            return SeqIter(self, it, "list")
        if isinstance(ty, t.TupleType):
            return SeqIter(self, it, "tuple")
        if ty is t.STR:
            return StrIter(self, it)
        if ty in (t.BYTES, t.BYTEARRAY, t.MEMORYVIEW):
            return SeqIter(self, it, "bytes")
        raise InternalError(it.span, f"iteration over {ty}")

    def for_each(self: "FunctionLowerer", it: n.Expr, body, done_bb: ir.Block | None = None,
                 continue_hook=None, loop_syntax: bool = False) -> tuple[ir.Block, ir.Block]:
        """Emit a loop over `it`, calling body(item) for each item.

        Returns (step block, exit block): `continue` jumps to the step block and
        `break` to the exit block. The loop ends in the exit block.
        """
        # CPython folds a constant set display that a `for` (loop_syntax: a for
        # statement or comprehension, not a builtin's argument) iterates into a frozenset
        self.loop_iterable = it if loop_syntax else None
        iterator = self.iterator(it)
        iterator.start()
        self.loop_iterable = None
        head = self.new_block("iter.head")
        exit_bb = done_bb or self.new_block("iter.exit")
        self.b.branch(head)
        self.b.position_at_end(head)
        item = iterator.next(exit_bb)
        body(item, head, exit_bb)
        return head, exit_bb

    def bind_loop_target(self: "FunctionLowerer", target: n.Expr, item: ir.Value,
                         ty: t.Type) -> None:
        if isinstance(target, n.Name):
            self.store_name(target, item, vty=ty)
            return
        elems = ty.elems
        for i, (x, et) in enumerate(zip(target.elts, elems)):
            self.bind_loop_target(x, self.tuple_item(item, i, et), et)

    # ---------------------------------------------------------------- comprehensions

    def comprehension_loops(self: "FunctionLowerer", gens: list[n.Comprehension], inner) -> None:
        """Nested loops for `for ... in ... if ...` clauses; inner() runs for each item."""
        if not gens:
            inner()
            return
        g = gens[0]

        def body(item, head, exit_bb):
            self.bind_loop_target(g.target, item, g.target.ty)
            for cond in g.ifs:
                c = self.cond(cond)
                ok = self.new_block("comp.if")
                self.b.cbranch(c, ok, head)
                self.b.position_at_end(ok)
            self.comprehension_loops(gens[1:], inner)
            if not self.b.block.is_terminated:
                self.b.branch(head)

        _, exit_bb = self.for_each(g.iter, body, loop_syntax=True)
        self.b.position_at_end(exit_bb)

    def expr_ListComp(self: "FunctionLowerer", e: n.ListComp) -> ir.Value:
        elem = e.ty.elem
        lst = self.alloc_list(c64(0), elem)

        def inner():
            v = self.coerce(self.expr(e.elt), e.elt.ty, elem)
            self.call_rt("list_append", [lst, self.to_slot(v, elem),
                                         ir.Constant(I1, int(t.is_object(elem)))])

        self.comprehension_loops(e.generators, inner)
        return self.b.inttoptr(lst, PTR)

    def consume(self: "FunctionLowerer", it: n.Expr, each) -> None:
        """Run each(item, skip_block) for every item of an iterable or generator expression."""
        if isinstance(it, n.GeneratorExp):
            def inner():
                each(self.expr(it.elt), it.elt.ty)
            self.comprehension_loops(it.generators, inner)
            return

        def body(item, head, exit_bb):
            each(item, it.ty.elem if isinstance(it.ty, t.IterType) else self.iter_item_type(it.ty))
            if not self.b.block.is_terminated:
                self.b.branch(head)

        _, exit_bb = self.for_each(it, body)
        self.b.position_at_end(exit_bb)

    def iter_item_type(self, ty: t.Type) -> t.Type:
        item = t.item_type(ty)  # the checker made sure there is one
        if item is None:
            raise InternalError(self.span, f"iteration over {ty}")
        return item

    # ---------------------------------------------------------------- dicts and sets

    def expr_DictExpr(self, e):
        from .containers import expr_dict

        return expr_dict(self, e)

    def expr_SetExpr(self, e):
        from .containers import expr_set

        return expr_set(self, e)

    def expr_DictComp(self, e):
        from .containers import expr_dictcomp

        return expr_dictcomp(self, e)

    def expr_SetComp(self, e):
        from .containers import expr_setcomp

        return expr_setcomp(self, e)

    def dict_getitem(self, d, dt, key, index_expr=None):
        from .containers import dict_getitem

        return dict_getitem(self, d, dt, key)

    def dict_setitem(self, d, dt, key, value):
        from .containers import dict_setitem

        dict_setitem(self, d, dt, key, value)

    # ---------------------------------------------------------------- list helpers

    def list_extend(self: "FunctionLowerer", lst: ir.Value, lt: t.ListType, it: n.Expr) -> None:
        """lst.extend(it) / lst += it: append every item (the iterable is read first when it
        is the list itself, as CPython copies it)."""
        elem = lt.elem
        if isinstance(it.ty, t.ListType):
            other = self.expr(it)
            self.call_rt("list_extend", [self.b.ptrtoint(lst, I64), self.b.ptrtoint(other, I64),
                                         self.prog.kinds.kind_word(self.b, elem)],
                         module="rt.lists")
            return

        def each(item, ity):
            self.call_rt("list_append", [lst, self.to_slot(self.coerce(item, ity, elem), elem),
                                         ir.Constant(I1, int(t.is_object(elem)))])

        self.consume(it, each)

    def expr_as_list(self: "FunctionLowerer", v: ir.Value, vty: t.Type, elem: t.Type) -> ir.Value:
        """A list with the items of v (v itself when it is a list)."""
        if isinstance(vty, t.ListType):
            return self.b.ptrtoint(v, I64)
        raise InternalError(self.span, f"slice assignment from {vty}")

    def sort_list(self: "FunctionLowerer", lst: ir.Value, lt: t.ListType,
                  key: n.Expr | None, reverse: n.Expr | None) -> None:
        """lst.sort(key=..., reverse=...): CPython's timsort in the runtime; keys first."""
        b = self.b
        rev = self.truthy(self.expr(reverse), reverse.ty) if reverse is not None else \
            ir.Constant(I1, 0)
        addr = b.ptrtoint(lst, I64)
        if key is None:
            self.call_rt("list_sort", [addr, self.prog.kinds.kind_word(b, lt.elem), rev],
                         module="rt.lists")
            return
        fn = self.expr(key)
        kty = key.ty.ret
        keys = self.alloc_list(c64(0), kty)

        def body(item, head, exit_bb):
            k = self.call_value(fn, key.ty, [item])
            self.call_rt("list_append", [keys, self.to_slot(k, kty),
                                         ir.Constant(I1, int(t.is_object(kty)))])
            b.branch(head)

        _, exit_bb = self.for_each_list_value(lst, lt, body)
        b.position_at_end(exit_bb)
        self.call_rt("list_sort_keyed", [addr, keys, self.prog.kinds.kind_word(b, kty), rev],
                     module="rt.lists")

    def for_each_list_value(self: "FunctionLowerer", lst: ir.Value, lt: t.ListType, body):
        it = n.Name("<list>", span=self.span or n.NO_SPAN, ty=lt)
        it.ref = _ValueRef(lst)
        iterator = SeqIter(self, it, "list")
        iterator.obj = self.b.ptrtoint(lst, I64)
        iterator.index = self.entry_alloca(I64, "seq.i")
        self.b.store(c64(0), iterator.index)
        head = self.new_block("iter.head")
        exit_bb = self.new_block("iter.exit")
        self.b.branch(head)
        self.b.position_at_end(head)
        item = iterator.next(exit_bb)
        body(item, head, exit_bb)
        return head, exit_bb

    # ---------------------------------------------------------------- methods

    def lower_method_call(self: "FunctionLowerer", e: n.Call, bm: BoundMethodCall) -> ir.Value:
        if bm.recv is t.INT and bm.name == "from_bytes":  # a class method: no receiver
            from .containers import _int_bytes

            return _int_bytes(self, e, bm, None)
        recv = self.expr(e.func.value)
        if isinstance(bm.recv, t.ListType) and bm.name == "append":
            elem = bm.recv.elem
            v = self.coerce(self.expr(bm.args[0]), bm.args[0].ty, elem)
            self.call_rt("list_append", [self.b.ptrtoint(recv, I64), self.to_slot(v, elem),
                                         ir.Constant(I1, int(t.is_object(elem)))])
            return ir.Constant(I8, 0)
        from .methods import lower_runtime_method

        return lower_runtime_method(self, e, bm, recv)


class _ValueRef:
    def __init__(self, value: ir.Value) -> None:
        self.value = value


class Iterator:
    def __init__(self, fl: "FunctionLowerer", it: n.Expr) -> None:
        self.fl = fl
        self.it = it

    def start(self) -> None:
        raise NotImplementedError

    def next(self, done: ir.Block) -> ir.Value:
        raise NotImplementedError


class RangeIter(Iterator):
    """range(start, stop, step): a counter, checked once for step 0."""

    def start(self) -> None:
        fl = self.fl
        args = [fl.as_int(fl.expr(a), a.ty) for a in self.it.args]
        if len(args) == 1:
            self.lo, self.hi, self.step = c64(0), args[0], c64(1)
        elif len(args) == 2:
            self.lo, self.hi, self.step = args[0], args[1], c64(1)
        else:
            self.lo, self.hi, self.step = args
        self.const_step = self.step.constant if isinstance(self.step, ir.Constant) else None
        if self.const_step is None or self.const_step == 0:
            fl.guard(fl.b.icmp_signed("==", self.step, c64(0)), "ValueError",
                     "range() arg 3 must not be zero")
        self.counter = fl.entry_alloca(I64, "range.i")
        self.first = fl.entry_alloca(I1, "range.first")
        fl.b.store(self.lo, self.counter)
        fl.b.store(ir.Constant(I1, 1), self.first)

    def next(self, done: ir.Block) -> ir.Value:
        fl, b = self.fl, self.fl.b
        # advance (except the first time); leaving int64 means passing `stop`
        cur = b.load(self.counter, typ=I64)
        pair = b.sadd_with_overflow(cur, self.step)
        first = b.load(self.first, typ=I1)
        i = b.select(first, cur, b.extract_value(pair, 0))
        overflow = b.and_(b.not_(first), b.extract_value(pair, 1))
        b.store(ir.Constant(I1, 0), self.first)
        b.store(i, self.counter)
        up = b.icmp_signed("<", i, self.hi)
        down = b.icmp_signed(">", i, self.hi)
        if self.const_step is not None:
            more = up if self.const_step > 0 else down
        else:
            more = b.select(b.icmp_signed(">", self.step, c64(0)), up, down)
        more = b.and_(more, b.not_(overflow))
        body = fl.new_block("range.body")
        b.cbranch(more, body, done)
        b.position_at_end(body)
        return i


class SeqIter(Iterator):
    """Lists (re-reading the length each time, as CPython's list iterator does), tuples, bytes."""

    def __init__(self, fl, it, kind: str) -> None:
        super().__init__(fl, it)
        self.kind = kind

    def start(self) -> None:
        fl = self.fl
        self.obj = fl.b.ptrtoint(fl.expr(self.it), I64)
        self.index = fl.entry_alloca(I64, "seq.i")
        fl.b.store(c64(0), self.index)

    def next(self, done: ir.Block) -> ir.Value:
        fl, b = self.fl, self.fl.b
        i = b.load(self.index, typ=I64)
        length = fl.load_at(self.obj, 24 if self.it.ty is t.MEMORYVIEW else 8)
        body = fl.new_block("seq.body")
        b.cbranch(b.icmp_signed("<", i, length), body, done)
        b.position_at_end(body)
        b.store(b.add(i, c64(1)), self.index)
        ty = self.it.ty
        if self.kind == "list":
            items = fl.load_at(self.obj, LIST_ITEMS)
            slot = b.load(b.inttoptr(fl.slot_addr(items, i, 8), PTR), typ=I64)
            return fl.from_slot(slot, ty.elem)
        if self.kind == "tuple":
            slot = b.load(b.inttoptr(fl.slot_addr(self.obj, i, TUPLE_SLOTS), PTR), typ=I64)
            return fl.from_slot(slot, ty.elems[0])
        if ty is t.MEMORYVIEW:
            return fl.call_rt("memoryview_getitem", [self.obj, i], module="rt.bytesops")
        return fl.byte_at(self.obj, ty, i)  # 0 <= i < the length just read


class StrIter(Iterator):
    """A str, one code point (as a 1-character str) at a time, walking the UTF-8 bytes."""

    def start(self) -> None:
        fl = self.fl
        self.obj = fl.expr(self.it)
        self.pos = fl.entry_alloca(I64, "str.pos")
        fl.b.store(c64(0), self.pos)

    def next(self, done: ir.Block) -> ir.Value:
        fl, b = self.fl, self.fl.b
        pos = b.load(self.pos, typ=I64)
        nbytes = fl.load_at(self.obj, 8)
        body = fl.new_block("str.body")
        b.cbranch(b.icmp_signed("<", pos, nbytes), body, done)
        b.position_at_end(body)
        ch = fl.call_rt("str_iter_char", [self.obj, pos], module="rt.strings")
        b.store(fl.call_rt("str_iter_next", [self.obj, pos], module="rt.strings"), self.pos)
        return fl.adapt(ch, PTR)


class EnumerateIter(Iterator):
    def start(self) -> None:
        fl = self.fl
        self.inner = fl.iterator(self.it.args[0])
        self.inner.start()
        start = c64(0)
        for k in self.it.keywords:
            start = fl.as_int(fl.expr(k.value), k.value.ty)
        self.count = fl.entry_alloca(I64, "enum.i")
        fl.b.store(start, self.count)

    def next(self, done: ir.Block) -> ir.Value:
        fl, b = self.fl, self.fl.b
        item = self.inner.next(done)
        i = b.load(self.count, typ=I64)
        b.store(b.add(i, c64(1)), self.count)
        elem_ty = self.it.ty.elem.elems[1]
        return fl.make_tuple([i, item], [t.INT, elem_ty])


class ZipIter(Iterator):
    def start(self) -> None:
        self.inners = [self.fl.iterator(a) for a in self.it.args]
        for x in self.inners:
            x.start()

    def next(self, done: ir.Block) -> ir.Value:
        items = [x.next(done) for x in self.inners]
        return self.fl.make_tuple(items, list(self.it.ty.elem.elems))


class ReversedIter(Iterator):
    """reversed(list | tuple | str | range): an index counting down."""

    def start(self) -> None:
        fl = self.fl
        arg = self.it.args[0]
        self.arg_ty = arg.ty
        if isinstance(arg.ty, t.IterType):  # reversed(range(...))
            self.range_list = fl.call_rt("range_list", [
                *[fl.as_int(fl.expr(a), a.ty) for a in arg.args]] + [c64(0)] * (3 - len(arg.args))
                + [c64(len(arg.args))], module="rt.lists")
            self.obj = self.range_list
            self.kind = "list"
        else:
            self.obj = fl.b.ptrtoint(fl.expr(arg), I64)
            self.kind = "list" if isinstance(arg.ty, t.ListType) else (
                "tuple" if isinstance(arg.ty, t.TupleType) else "str")
        if self.kind == "str":
            self.obj = fl.call_rt("str_reversed_list", [self.obj], module="rt.strings")
            self.kind = "list"
        self.index = fl.entry_alloca(I64, "rev.i")
        fl.b.store(fl.load_at(self.obj, 8), self.index)

    def next(self, done: ir.Block) -> ir.Value:
        fl, b = self.fl, self.fl.b
        i = b.sub(b.load(self.index, typ=I64), c64(1))
        length = fl.load_at(self.obj, 8)
        body = fl.new_block("rev.body")
        # CPython's reversed list iterator stops if the list shrank below the index
        b.cbranch(b.and_(b.icmp_signed(">=", i, c64(0)), b.icmp_signed("<", i, length)), body,
                  done)
        b.position_at_end(body)
        b.store(i, self.index)
        elem = self.it.ty.elem
        if self.kind == "list":
            items = fl.load_at(self.obj, LIST_ITEMS)
            return fl.from_slot(b.load(b.inttoptr(fl.slot_addr(items, i, 8), PTR), typ=I64),
                                elem)
        return fl.from_slot(b.load(b.inttoptr(fl.slot_addr(self.obj, i, TUPLE_SLOTS), PTR),
                                   typ=I64), elem)


class FStringLowering:
    """Mixin of FunctionLowerer: f-strings build their text in a string builder."""

    def expr_JoinedStr(self: "FunctionLowerer", e: n.JoinedStr) -> ir.Value:
        parts = e.values
        if len(parts) == 1 and isinstance(parts[0], n.Constant):
            return self.prog.str_const(parts[0].value)
        # evaluate every field first (in order), then assemble
        pieces = []
        for part in parts:
            if isinstance(part, n.Constant):
                pieces.append(self.prog.str_const(part.value))
            else:
                pieces.append(self.formatted_value(part))
        if len(pieces) == 1:
            return pieces[0]
        sb = self.call_rt("sb_new", [])
        for p in pieces:
            self.call_rt("sb_add_str", [sb, p])
        return self.call_rt("sb_finish", [sb])

    def formatted_value(self: "FunctionLowerer", f: n.FormattedValue) -> ir.Value:
        from .reprs import repr_value, str_value

        v = self.expr(f.value)
        ty = f.value.ty
        spec = self.expr(f.format_spec) if f.format_spec is not None else None
        if f.conversion == "r":
            v, ty = repr_value(self, v, ty), t.STR
        elif f.conversion == "s":
            v, ty = str_value(self, v, ty), t.STR
        if spec is None:
            return str_value(self, v, ty)
        if ty is t.BOOL:  # a non-empty spec formats a bool as the int it is
            v, ty = self.as_int(v, ty), t.INT
        fn = {"int": "format_int", "float": "format_float", "str": "format_str"}[ty.name]
        if fn == "format_int" and _int_type_spec(f.format_spec):
            fn = "format_int_only"  # keeps float formatting out of the image
        r = self.call_rt(fn, [v, spec], module="rt.fmt")
        return self.adapt(r, PTR)


def _int_type_spec(spec: n.JoinedStr) -> bool:
    """True if `spec` is constant ASCII text whose presentation type is an integer one (or none).

    The type is the last character when that is a letter or '%' (a fill character is
    always followed by an align character, so it is never last).
    """
    if not all(isinstance(v, n.Constant) and isinstance(v.value, str) for v in spec.values):
        return False
    text = "".join(v.value for v in spec.values)
    if not text.isascii():  # format_int_only reads widths as ASCII digits only
        return False
    return not text or not (text[-1].isalpha() or text[-1] == "%") or text[-1] in "bcdoxXn"


class MapFilterIter(Iterator):
    """map(f, xs) calls f on each item; filter(f, xs) keeps the items f finds true."""

    def start(self) -> None:
        fl = self.fl
        fn_expr = self.it.args[0]
        self.fn = fl.expr(fn_expr) if fn_expr.ty is not t.NONE else None
        self.inner = fl.iterator(self.it.args[1])
        self.inner.start()
        self.elem_ty = fl.iter_item_type(self.it.args[1].ty)

    def next(self, done: ir.Block) -> ir.Value:
        fl, b = self.fl, self.fl.b
        fn_ty = self.it.args[0].ty
        if self.it.func.id == "map":
            item = self.inner.next(done)
            return fl.call_value(self.fn, fn_ty, [fl.coerce(item, self.elem_ty,
                                                             fn_ty.params[0])])
        # filter: loop until an item passes
        head = fl.new_block("filter.head")
        b.branch(head)
        b.position_at_end(head)
        item = self.inner.next(done)
        if self.fn is None:
            keep = fl.truthy(item, self.elem_ty)
        else:
            r = fl.call_value(self.fn, fn_ty, [fl.coerce(item, self.elem_ty, fn_ty.params[0])])
            keep = fl.truthy(r, fn_ty.ret)
        ok = fl.new_block("filter.ok")
        b.cbranch(keep, ok, head)
        b.position_at_end(ok)
        return item
