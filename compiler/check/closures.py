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
