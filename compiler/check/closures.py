"""Functions as values: nested functions, lambdas, closures, calls through Callable.

In:  nested `def`s and `lambda`s inside functions, names of functions used as
     values, and calls of values of type `Callable[[A, B], R]` (a mixin of the Checker).
Out: a Function per nested def/lambda, with `parent` and `captures` (the outer
     variables it uses, which the lowering keeps in heap cells shared by both
     functions: Python closures capture variables, not values); refs
     `FunctionValue` (a function used as a value) and `IndirectCall`.

A captured variable must be assigned before the nested function is defined
(or be the function's own name): CPython would raise NameError when the
closure runs too early; apy rejects that at compile time instead.
"""

from __future__ import annotations

import attrs

from ..parse import nodes as n
from . import types as t


@attrs.define(eq=False)
class FunctionValue:
    func: t.Function


@attrs.define(eq=False)
class IndirectCall:
    ty: t.CallableType


@attrs.define(eq=False)
class SyntheticExpr:
    """An expression the checker wrote in place of this one (lowered instead of it)."""

    node: n.Expr


# `str.lower`: the type a builtin type's name stands for as a method's receiver
BUILTIN_RECEIVERS = {"str": t.STR, "bytes": t.BYTES, "int": t.INT, "float": t.FLOAT}
RECV = "__apy_recv"


class ClosureChecks:
    """Mixin of the Checker."""

    def callable_type(self, f: t.Function) -> t.CallableType:
        return t.callable_of(tuple(p.ty for p in f.params), f.ret)

    # ---------------------------------------------------------------- nested def

    def stmt_FunctionDef(self, s: n.FunctionDef) -> None:
        sc = self.scope
        if sc.is_module:
            return  # top-level functions are declared in pass 1
        outer = sc.func
        inner = self.make_function(sc.module, s)
        if inner is None:
            return
        inner.parent = outer
        self.nested_counter += 1
        inner.nested_id = self.nested_counter
        for p in inner.params:
            if p.kind in ("kwonly", "positional") or p.default is not None:
                self.error(p.span, "nested functions take plain positional parameters in apy "
                           "(no defaults or keyword-only parameters yet)")
        ty = self.callable_type(inner)
        # the def binds its name in the enclosing function, then the body is checked
        name_node = n.Name(s.name, span=s.name_span)
        self.assign_name(name_node, ty, s)
        inner.binding = name_node.ref
        s_ref[id(s)] = inner
        outer.nested.append(inner)
        self.check_nested(inner)

    def check_nested(self, f: t.Function) -> None:
        outer_scope = self.scope
        saved_comp = self.comp_scopes
        self.comp_scopes = []
        scope = self.new_function_scope(f)
        scope.parent = outer_scope
        self.scope = scope
        self.collect_globals(f, f.node.body if isinstance(f.node, n.FunctionDef) else [])
        if isinstance(f.node, n.FunctionDef):
            end = self.check_block(f.node.body)
            self.check_missing_return(f, end)
        self.scope = outer_scope
        self.comp_scopes = saved_comp

    # ---------------------------------------------------------------- lambda

    def expr_Lambda(self, e: n.Lambda, expected: t.Type | None = None) -> t.Type:
        if expected is None:  # a lambda the checker wrote (builtin_method_value)
            expected = getattr(self, "lambda_hints", {}).pop(id(e), None)
        sc = self.scope
        args = e.args.args
        if not isinstance(expected, t.CallableType) or len(expected.params) != len(args):
            self.error(e, "cannot infer the parameter types of this lambda",
                       hint="use it where a Callable[[...], R] is expected, or write a def "
                       "with annotations")
            return t.ERROR
        for a in args:
            if a.kind != "normal" or a.default is not None:
                self.error(a, "lambda parameters must be plain names in apy")
                return t.ERROR
        params = [t.Param(a.name, pt, None, "normal", a.span) for a, pt in zip(args,
                                                                             expected.params)]
        f = t.Function("<lambda>", sc.module, params, t.ERROR, e)
        f.parent = sc.func
        self.nested_counter += 1
        f.nested_id = self.nested_counter
        outer_scope = self.scope
        saved_comp = self.comp_scopes
        self.comp_scopes = []
        scope = self.new_function_scope(f)
        scope.parent = outer_scope
        self.scope = scope
        want = expected.ret if expected.ret is not t.ERROR else None
        rt = self.check_expr(e.body, want)
        self.scope = outer_scope
        self.comp_scopes = saved_comp
        if want is not None and not self.compatible(rt, want):
            self.error(e.body, f"lambda returns '{rt}', expected '{want}'")
        f.ret = want if want is not None else rt
        if sc.func is not None:
            sc.func.nested.append(f)
        else:
            sc.module.lambdas.append(f)
        e.ref = f
        return self.callable_type(f)

    # ---------------------------------------------------------------- builtin methods

    def builtin_method_value(self, e: n.Attribute, recv_ty: t.Type, bound: bool,
                             expected: t.Type | None) -> t.Type:
        """A builtin type's method as a value, written as the lambda that calls it:
            str.lower  ->  lambda __apy_recv: __apy_recv.lower()
            s.split    ->  (lambda __apy_recv: lambda a0: __apy_recv.split(a0))(s)
        (the receiver is evaluated once, when the attribute is read, as in CPython).
        The extra parameters come from the Callable type the context expects."""
        if isinstance(expected, t.CallableType):
            extra = list(expected.params[1:] if not bound else expected.params)
        else:
            extra = required_params(recv_ty, e.attr)
        sp = e.span
        names = [f"__apy_a{i}" for i in range(len(extra))]
        call = n.Call(n.Attribute(n.Name(RECV, span=sp), e.attr, span=sp),
                      [n.Name(a, span=sp) for a in names], [], span=sp)
        inner = n.Lambda(n.Arguments([n.Arg(a, None, span=sp) for a in names], span=sp), call,
                         span=sp)
        recv_arg = n.Arg(RECV, None, span=sp)
        if not bound:
            lam = n.Lambda(n.Arguments([recv_arg] + inner.args.args, span=sp), call, span=sp)
            ty = self.check_expr(lam, t.callable_of((recv_ty, *extra), t.ERROR))
            e.ref = SyntheticExpr(lam)
            return ty
        if not hasattr(self, "lambda_hints"):
            self.lambda_hints = {}
        self.lambda_hints[id(inner)] = t.callable_of(tuple(extra), t.ERROR)
        outer = n.Lambda(n.Arguments([recv_arg], span=sp), inner, span=sp)
        outer_ty = self.check_expr(outer, t.callable_of((recv_ty,), t.ERROR))
        if not isinstance(outer_ty, t.CallableType):
            return t.ERROR
        bind = n.Call(outer, [e.value], [], span=sp)
        bind.ty = self.check_indirect_call(bind, outer_ty)
        e.ref = SyntheticExpr(bind)
        return bind.ty

    # ---------------------------------------------------------------- capture

    def lookup_enclosing(self, name: str, node: n.Node):
        """A name of an enclosing function, seen from a nested one: capture it."""
        sc = self.scope
        chain = []
        parent = sc.parent
        while parent is not None and not parent.is_module:
            chain.append(parent)
            f = parent.func
            if name in f.locals and name not in f.globals_declared:
                var = f.locals[name]
                if name not in parent.defined and var is not getattr(sc.func, "binding", None):
                    self.error(node, f"'{name}' must be assigned before the nested function "
                               "that uses it is defined")
                var.captured = True
                for s in [sc] + chain[:-1]:  # every function between the two captures it
                    if var not in s.func.captures:
                        s.func.captures.append(var)
                return var
            if name in f.assigned_names and name not in f.globals_declared:
                self.error(node, f"'{name}' must be assigned before the nested function "
                           "that uses it is defined")
                return None
            parent = parent.parent
        return None

    # ---------------------------------------------------------------- calls

    def check_indirect_call(self, e: n.Call, ct: t.CallableType) -> t.Type:
        if e.keywords:
            self.error(e.keywords[0], "a Callable value takes positional arguments only")
        if len(e.args) != len(ct.params):
            self.error(e, f"this function takes {len(ct.params)} argument"
                       f"{'s' if len(ct.params) != 1 else ''} but {len(e.args)} were given")
            self.check_args_only(e)
            return ct.ret
        for i, (a, pt) in enumerate(zip(e.args, ct.params)):
            at = self.check_expr(a, pt)
            if not self.compatible(at, pt):
                self.error(a, f"argument {i + 1} has type '{at}', expected '{pt}'")
        e.ref = IndirectCall(ct)
        if self.scope.func is not None:
            self.scope.func.indirect_calls = True
        return ct.ret


s_ref: dict[int, t.Function] = {}


def required_params(recv: t.Type, name: str) -> list[t.Type]:
    """The types of a builtin method's required parameters (an iterable of X as list[X])."""
    from .heap import method_signature

    sig = method_signature(recv, name)
    params = [ty for _, ty, required in sig.params if required] if sig else []
    return [t.list_of(ty.elem) if isinstance(ty, t.IterType) else ty for ty in params]
