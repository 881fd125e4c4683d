"""Lowering of classes: construction, fields, method dispatch, exceptions, special methods.

In:  checked trees whose refs are classes.Construct / MethodRef / FieldRef /
     SuperExcInit (a mixin of FunctionLowerer).
Out: IR over the instance layout of docs/runtime-abi.md:
        header (TAG_INSTANCE | HAS_PTRS | class id << 32) | field slots...
     A method call on an object whose static class C has subclasses overriding
     the method becomes a comparison of the object's class id with the id
     ranges of those subclasses (deepest first), each a direct call: no vtables,
     and a call whose target is known statically is a plain direct call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..check import types as t
from ..check.classes import (BoundMethodValue, ClassInfo, ClassType, Construct, FieldRef, MethodRef,
                              SuperExcInit)
from ..parse import nodes as n

if TYPE_CHECKING:
    from .codegen import FunctionLowerer

I64 = ir.IntType(64)
I1 = ir.IntType(1)
I8 = ir.IntType(8)
PTR = ir.PointerType()
TAG_INSTANCE = 16
HAS_PTRS = 1 << 16
EXC_CLS, EXC_NAME, EXC_MSG, EXC_HAS_MSG = 0, 1, 2, 3  # field indices


def c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def field_offset(index: int) -> int:
    return 8 + 8 * index


class ClassLowering:
    """Mixin of FunctionLowerer."""

    # ---------------------------------------------------------------- construction

    def new_instance(self: "FunctionLowerer", info: ClassInfo) -> ir.Value:
        header = TAG_INSTANCE | HAS_PTRS | (info.cid << 32)
        obj = self.call_rt("alloc", [c64(8 + 8 * max(len(info.fields), 1)), c64(header)])
        if info.is_exception:
            self.store_at(obj, field_offset(EXC_CLS), c64(info.cid))
            # tracebacks name user exceptions with their module, like CPython
            qual = info.name if info.builtin or info.module.name == "__main__" else \
                f"{info.module.name}.{info.name}"
            self.store_at(obj, field_offset(EXC_NAME),
                          self.b.ptrtoint(self.prog.str_const(qual), I64))
            self.store_at(obj, field_offset(EXC_MSG),
                          self.b.ptrtoint(self.prog.str_const(""), I64))
        return obj

    def lower_construct(self: "FunctionLowerer", e: n.Call, c: Construct) -> ir.Value:
        info = c.info
        if info.builtin or (info.is_exception and c.init is None):
            msg = self.expr(c.exc_message) if c.exc_message is not None else None
            obj = self.new_instance(info)
            if msg is not None:
                # the runtime raises KeyError with the key's repr already made (2)
                self.set_exception_message(obj, msg, 2 if self.module.privileged and
                                           info.name == "KeyError" else 1)
            return self.b.inttoptr(obj, PTR)
        # arguments first (Python evaluates them before the object exists)
        values = self.bound_values(c.call, skip=1) if c.call is not None else []
        obj = self.new_instance(info)
        for name, default in info.field_defaults.items():
            if c.init is not None and c.init.synthetic == "dataclass_init":
                break  # the dataclass __init__ stores every field
            ty = info.fields[name]
            v = self.coerce(self.expr(default), default.ty, ty)
            self.store_at(obj, field_offset(info.field_index(name)), self.to_slot(v, ty))
        objp = self.b.inttoptr(obj, PTR)
        if c.init is not None:
            self.call_method_direct(c.init, [objp] + values)
        return objp

    def set_exception_message(self: "FunctionLowerer", obj: ir.Value, msg: ir.Value,
                              how: int = 1) -> None:
        """how: 1 = the argument is this str; 2 = the str is the repr of a KeyError's key."""
        self.store_at(obj, field_offset(EXC_MSG), self.b.ptrtoint(msg, I64))
        self.store_at(obj, field_offset(EXC_HAS_MSG), c64(how))

    def bound_values(self: "FunctionLowerer", bc: t.BoundCall, skip: int = 0) -> list[ir.Value]:
        """Evaluate a call's arguments in source order; defaults for the missing ones."""
        f = bc.func
        values: list[ir.Value | None] = [None] * len(bc.args)
        for i in bc.order:
            a = bc.args[i]
            values[i] = self.coerce(self.expr(a), a.ty, f.params[i].ty)
        for i in range(skip, len(values)):
            if values[i] is None:
                d = f.params[i].default
                if self.is_const_default(d):
                    values[i] = self.const_default(d, f.params[i].ty)
                elif f.synthetic == "dataclass_init":
                    values[i] = self.coerce(self.expr(d), d.ty, f.params[i].ty)
                else:
                    values[i] = self.b.load(self.prog.default_slot(f, i),
                                            typ=self.llvm_type(f.params[i].ty))
        return values[skip:]

    def call_method_direct(self: "FunctionLowerer", f: t.Function, args: list[ir.Value]) -> ir.Value:
        res = self.b.call(self.prog.function(f), args)
        self.check_exc()
        return res

    # ---------------------------------------------------------------- methods

    def lower_method_ref(self: "FunctionLowerer", e: n.Call, mr: MethodRef) -> ir.Value:
        m = mr.method
        if m.is_static:
            values = self.bound_values(mr.call)
            return self.result_of(m, self.call_method_direct(m, values))
        if mr.static:  # super().m(...): the receiver is self
            recv = self.load_var(self.func.locals[self.func.params[0].name])
        else:
            recv = self.expr(e.func.value)
            recv = self.coerce(recv, e.func.value.ty, mr.info.ty)
        values = self.bound_values(mr.call, skip=1)
        if mr.static:
            return self.result_of(m, self.call_method_direct(m, [recv] + values))
        return self.result_of(m, self.dispatch(mr.info, m.name, recv, values))

    def result_of(self, f: t.Function, v: ir.Value) -> ir.Value:
        if f.ret in (t.NONE, t.NORETURN):
            return ir.Constant(I8, 0)
        return v

    def dispatch(self: "FunctionLowerer", info: ClassInfo, name: str, recv: ir.Value,
                 args: list[ir.Value]) -> ir.Value:
        """Call method `name` of recv's class (known to be `info` or a subclass)."""
        base_method = info.find_method(name)
        overriders = info.overriders(name)
        if not overriders:
            return self.call_method_direct(base_method, [recv] + args)
        b = self.b
        cid = b.lshr(self.load_at(recv, 0), c64(32))
        end = self.new_block("dispatch.end")
        results = []
        for sub in overriders:
            hit = b.and_(b.icmp_unsigned(">=", cid, c64(sub.cid)),
                         b.icmp_unsigned("<", cid, c64(sub.cid_end)))
            yes, no = self.new_block(f"is.{sub.name}"), self.new_block("next")
            b.cbranch(hit, yes, no)
            b.position_at_end(yes)
            r = self.call_method_direct(sub.methods[name], [recv] + args)
            results.append((r, b.block))
            b.branch(end)
            b.position_at_end(no)
        r = self.call_method_direct(base_method, [recv] + args)
        results.append((r, b.block))
        b.branch(end)
        b.position_at_end(end)
        if base_method.ret in (t.NONE, t.NORETURN):
            return ir.Constant(I8, 0)
        phi = b.phi(results[0][0].type)
        for r, bb in results:
            phi.add_incoming(r, bb)
        return phi

    def lower_super_exc_init(self: "FunctionLowerer", e: n.Call, s: SuperExcInit) -> ir.Value:
        if s.noop:
            return ir.Constant(I8, 0)
        recv = self.load_var(self.func.locals[self.func.params[0].name])
        if s.message is not None:
            self.set_exception_message(recv, self.expr(s.message))
        return ir.Constant(I8, 0)

    # ---------------------------------------------------------------- fields

    def expr_Attribute(self: "FunctionLowerer", e: n.Attribute) -> ir.Value:
        ref = e.ref
        if ref == "sys.argv":
            return self.b.inttoptr(self.call_rt("get_argv", []), PTR)
        if isinstance(ref, t.GlobalVar):
            if not isinstance(e.value.ref, (ClassInfo, t.ModuleRef, t.BuiltinModule)):
                self.expr(e.value)  # `self.CONST`: evaluate the object for its effects
            return self.prog.global_value(self.b, ref)
        from ..check.closures import FunctionValue

        if isinstance(ref, FunctionValue):
            return self.function_value(ref)
        if isinstance(ref, BoundMethodValue):
            return self.bound_method(e, ref)
        from ..check.closures import SyntheticExpr

        if isinstance(ref, SyntheticExpr):  # a builtin method as a value: its lambda
            return self.expr(ref.node)
        if isinstance(ref, FieldRef):
            obj = self.coerce(self.expr(e.value), e.value.ty, ref.info.ty)
            slot = self.load_at(obj, field_offset(ref.index))
            return self.from_slot(slot, ref.info.fields[ref.name])
        raise NotImplementedError(f"attribute {e.attr}")

    def bound_method(self: "FunctionLowerer", e: n.Attribute, ref: BoundMethodValue) -> ir.Value:
        """`obj.m` as a value: a closure (docs/runtime-abi.md) whose one cell word is obj
        itself and whose code calls the m of obj's class, chosen now, as CPython
        binds it when the attribute is read."""
        from .closures import CLOSURE_CELLS, CLOSURE_CODE, HAS_PTRS, TAG_CLOSURE

        obj = self.coerce(self.expr(e.value), e.value.ty, ref.info.ty)
        name = ref.method.name
        b = self.b
        code = self.method_thunk(ref.method).ptrtoint(I64)
        overriders = ref.info.overriders(name)
        if overriders:
            cid = b.lshr(self.load_at(obj, 0), c64(32))
            for sub in reversed(overriders):  # the most derived class wins
                hit = b.and_(b.icmp_unsigned(">=", cid, c64(sub.cid)),
                             b.icmp_unsigned("<", cid, c64(sub.cid_end)))
                code = b.select(hit, self.method_thunk(sub.methods[name]).ptrtoint(I64), code)
        clo = self.call_rt("alloc", [c64(CLOSURE_CELLS + 8), c64(TAG_CLOSURE | HAS_PTRS)])
        self.store_at(clo, CLOSURE_CODE, code)
        self.store_at(clo, 16, c64(1))
        self.store_at(clo, CLOSURE_CELLS, b.ptrtoint(obj, I64))
        return b.inttoptr(clo, PTR)

    def method_thunk(self: "FunctionLowerer", m: t.Function) -> ir.Function:
        """The code of a bound method's closure: (closure, args...) -> m(self, args...)."""
        from .closures import CLOSURE_CELLS

        prog = self.prog
        key = ("bound-method", id(m))
        thunk = prog.generated.get(key)
        if thunk is not None:
            return thunk
        target = prog.function(m)
        self_ty, *arg_tys = target.function_type.args
        ty = ir.FunctionType(target.function_type.return_type, [PTR] + arg_tys)
        thunk = ir.Function(prog.module, ty, f"{m.llvm_name}.bound")
        thunk.linkage = "internal"
        prog.add_attributes(thunk)
        prog.generated[key] = thunk
        b = ir.IRBuilder(thunk.append_basic_block("entry"))
        cell = b.gep(thunk.args[0], [c64(CLOSURE_CELLS)], source_etype=ir.IntType(8))
        recv = b.load(cell, typ=I64)
        recv = b.inttoptr(recv, self_ty) if isinstance(self_ty, ir.PointerType) else recv
        r = b.call(target, [recv] + list(thunk.args[1:]))
        if isinstance(ty.return_type, ir.VoidType):
            b.ret_void()
        else:
            b.ret(r)
        return thunk

    def store_complex_target(self: "FunctionLowerer", target: n.Expr, v: ir.Value,
                             vty: t.Type) -> None:
        if isinstance(target, n.Attribute) and isinstance(target.ref, FieldRef):
            ref = target.ref
            obj = self.coerce(self.expr(target.value), target.value.ty, ref.info.ty)
            fty = ref.info.fields[ref.name]
            self.store_at(obj, field_offset(ref.index), self.to_slot(self.coerce(v, vty, fty), fty))
            return
        if isinstance(target, n.Subscript):
            self.store_subscript(target, v, vty)
            return
        raise NotImplementedError(f"store to {type(target).__name__}")

    def store_subscript(self: "FunctionLowerer", target: n.Subscript, v: ir.Value,
                        vty: t.Type) -> None:
        ct = target.value.ty
        obj = self.expr(target.value)
        if isinstance(ct, t.ListType) and target.ref == "index":
            idx = self.as_int(self.expr(target.index), target.index.ty)
            self.list_store(obj, idx, self.to_slot(self.coerce(v, vty, ct.elem), ct.elem))
            return
        if isinstance(ct, t.DictType):
            key = self.coerce(self.expr(target.index), target.index.ty, ct.key)
            self.dict_setitem(obj, ct, key, self.coerce(v, vty, ct.value))
            return
        from .methods import store_runtime_subscript

        store_runtime_subscript(self, target, obj, ct, v, vty)

    # ---------------------------------------------------------------- isinstance

    def lower_isinstance(self: "FunctionLowerer", e: n.Call) -> ir.Value:
        v = self.expr(e.args[0])
        vty = e.args[0].ty
        classes = e.args[1].elts if isinstance(e.args[1], n.TupleExpr) else [e.args[1]]
        b = self.b
        result = ir.Constant(I1, 0)
        for c in classes:
            cty = c.ty
            if isinstance(cty, ClassType) and (isinstance(vty, ClassType) or (
                    isinstance(vty, t.OptionalType) and isinstance(vty.inner, ClassType))):
                addr = b.ptrtoint(v, I64)
                nonnull = b.icmp_unsigned("!=", addr, c64(0))
                cur = b.block
                check, done = self.new_block("isinst"), self.new_block("isinst.end")
                b.cbranch(nonnull, check, done)
                b.position_at_end(check)
                cid = b.lshr(self.load_at(addr, 0), c64(32))
                hit = b.and_(b.icmp_unsigned(">=", cid, c64(cty.info.cid)),
                             b.icmp_unsigned("<", cid, c64(cty.info.cid_end)))
                check_end = b.block
                b.branch(done)
                b.position_at_end(done)
                phi = b.phi(I1)
                phi.add_incoming(ir.Constant(I1, 0), cur)
                phi.add_incoming(hit, check_end)
                result = b.or_(result, phi)
            else:
                # static types decide (apy values have one static type)
                inner = vty.inner if isinstance(vty, t.OptionalType) else vty
                same = inner == cty or (cty is t.INT and inner is t.BOOL)
                if isinstance(vty, t.OptionalType) and same:
                    result = b.or_(result, b.icmp_unsigned("!=", b.ptrtoint(v, I64), c64(0)))
                else:
                    result = b.or_(result, ir.Constant(I1, int(same)))
        return result

    # ---------------------------------------------------------------- raise

    def raise_object(self: "FunctionLowerer", exc: ir.Value) -> None:
        self.b.call(self.rt("raise_instance"), [self.adapt(exc, self.rt(
            "raise_instance").function_type.args[0])])
        self.add_traceback()
        self.b.branch(self.current_unwind())
        self.b.position_at_end(self.new_block("dead"))

    # ---------------------------------------------------------------- special methods

    def special(self, ty: t.Type, name: str) -> t.Function | None:
        if isinstance(ty, ClassType):
            return ty.info.find_method(name)
        return None

    def call_special(self: "FunctionLowerer", ty: ClassType, name: str, recv: ir.Value,
                     args: list[ir.Value]) -> ir.Value:
        return self.dispatch(ty.info, name, recv, args)

    def class_str(self: "FunctionLowerer", v: ir.Value, ty: t.Type) -> ir.Value | None:
        if not isinstance(ty, ClassType):
            return None
        info = ty.info
        if info.find_method("__str__") is not None:
            return self.call_special(ty, "__str__", v, [])
        if info.is_exception:
            msg = self.from_slot(self.load_at(v, field_offset(EXC_MSG)), t.STR)
            key_error = self.prog.modules[0].exception_classes["KeyError"]
            if self.is_key_error(info) or info.cid <= key_error.cid < info.cid_end:
                # str(KeyError(x)) is repr(x), unless the runtime already made the repr;
                # `except LookupError as e` may hold a KeyError: ask the class id
                from .reprs import repr_value

                how = self.load_at(v, field_offset(EXC_HAS_MSG))
                quote = self.b.icmp_unsigned("==", how, c64(1))
                if not self.is_key_error(info):
                    cid = self.b.lshr(self.load_at(v, 0), c64(32))
                    quote = self.b.and_(quote, self.b.and_(
                        self.b.icmp_unsigned(">=", cid, c64(key_error.cid)),
                        self.b.icmp_unsigned("<", cid, c64(key_error.cid_end))))
                quoted = repr_value(self, msg, t.STR)
                return self.b.select(quote, quoted, msg)
            return msg
        return self.class_repr(v, ty)

    def is_key_error(self, info: ClassInfo) -> bool:
        return any(c.name == "KeyError" and c.builtin for c in info.ancestors())

    def class_repr(self: "FunctionLowerer", v: ir.Value, ty: t.Type) -> ir.Value | None:
        if not isinstance(ty, ClassType):
            return None
        info = ty.info
        if info.find_method("__repr__") is not None:
            return self.call_special(ty, "__repr__", v, [])
        from .reprs import repr_value

        sb = self.call_rt("sb_new", [])
        add = lambda text: self.call_rt("sb_add_str", [sb, self.prog.str_const(text)])  # noqa
        if info.is_exception:
            # ValueError('msg') / ValueError(): the class of the object, at run time
            name = self.from_slot(self.load_at(v, field_offset(EXC_NAME)), t.STR)
            self.call_rt("sb_add_str", [sb, self.call_rt("exc_short_name", [name])])
            add("(")
            how = self.load_at(v, field_offset(EXC_HAS_MSG))
            msg = self.from_slot(self.load_at(v, field_offset(EXC_MSG)), t.STR)
            with self.b.if_then(self.b.icmp_unsigned("==", how, c64(1))):
                self.call_rt("sb_add_str", [sb, repr_value(self, msg, t.STR)])
            with self.b.if_then(self.b.icmp_unsigned("==", how, c64(2))):
                self.call_rt("sb_add_str", [sb, msg])
            add(")")
            return self.call_rt("sb_finish", [sb])
        if info.is_dataclass:
            add(info.name + "(")
            for i, (fname, fty) in enumerate(info.fields.items()):
                add((", " if i else "") + fname + "=")
                fv = self.from_slot(self.load_at(v, field_offset(i)), fty)
                self.call_rt("sb_add_str", [sb, repr_value(self, fv, fty)])
            add(")")
            return self.call_rt("sb_finish", [sb])
        return None

    def class_eq(self: "FunctionLowerer", a: ir.Value, b_: ir.Value, ty: t.Type) -> ir.Value | None:
        if not isinstance(ty, ClassType):
            return None
        info = ty.info
        if info.find_method("__eq__") is not None:
            return self.call_special(ty, "__eq__", a, [b_])
        if info.is_dataclass and info.dc_eq:
            from .reprs import equal_values

            b = self.b
            # other must be of exactly the same class
            same_cls = b.icmp_unsigned("==", b.lshr(self.load_at(a, 0), c64(32)),
                                       b.lshr(self.load_at(b_, 0), c64(32)))
            result = same_cls
            for i, (fname, fty) in enumerate(info.fields.items()):
                fa = self.from_slot(self.load_at(a, field_offset(i)), fty)
                fb = self.from_slot(self.load_at(b_, field_offset(i)), fty)
                result = b.and_(result, equal_values(self, fa, fb, fty))
            return result
        return self.b.icmp_unsigned("==", self.b.ptrtoint(a, I64), self.b.ptrtoint(b_, I64))

    def class_lt(self: "FunctionLowerer", a: ir.Value, b_: ir.Value, ty: t.Type) -> ir.Value:
        """a < b for instances: __lt__, or a dataclass(order=True)'s field tuples."""
        info = ty.info
        if info.find_method("__lt__") is not None:
            return self.call_special(ty, "__lt__", a, [b_])
        if info.is_dataclass and info.dc_order:
            fields = list(info.fields.values())
            tty = t.tuple_of(tuple(fields))
            ta = self.make_tuple([self.from_slot(self.load_at(a, field_offset(i)), f)
                                  for i, f in enumerate(fields)], fields)
            tb = self.make_tuple([self.from_slot(self.load_at(b_, field_offset(i)), f)
                                  for i, f in enumerate(fields)], fields)
            kind = self.prog.kinds.kind_word(self.b, tty)
            return self.call_rt("tuple_richcompare", [self.b.ptrtoint(ta, I64),
                                                      self.b.ptrtoint(tb, I64), kind, c64(0)],
                                module="rt.hashes")
        self.raise_exc("TypeError", f"'<' not supported between instances of '{info.name}'")
        self.b.position_at_end(self.new_block("dead"))
        return ir.Constant(I1, 0)
