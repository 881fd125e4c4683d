"""The type checker: resolves names, infers and checks types, annotates the AST.

In:  parsed modules (`ModuleInfo` with their `nodes.Module` trees) and a
     `Diagnostics` sink.
Out: the same trees with every expression's `ty` set and names/calls resolved in
     `ref` (LocalVar, GlobalVar, Function, Builtin, Intrinsic, BoundCall...);
     each module's `globals` table and each Function's `locals`. Errors go to the
     sink; checking goes on after an error (the bad expression gets type ERROR,
     which is compatible with everything, so one mistake gives one message).

Passes, per program:
  1. declare: every module's functions (signatures from annotations), globals
     with annotations, imports. Functions can be called before their `def`.
  2. module bodies, top to bottom: the types of unannotated globals come from
     their first assignment here.
  3. function bodies.

The rules that make "accepted by apy" imply "behaves as under CPython":
  * a variable keeps one type for its whole life (inferred from its first
    assignment, or declared);
  * no implicit conversions: `int` is not a `float`, `bool` is not an `int`
    where a value is stored (arithmetic on bools gives ints, as in Python);
  * a local variable must be definitely assigned before it is read;
  * a function with a non-None return type must not fall off its end.
"""

from __future__ import annotations

from typing import Callable, Iterable

from ..diag import Diagnostics
from ..parse import nodes as n
from . import types as t
from .builtins import (
    BUILTIN_FUNCTIONS,
    BUILTIN_MODULES,
    EXCEPTION_NAMES,
    FORBIDDEN,
    INTRINSICS,
    NOT_YET_BUILTINS,
)

ARITH = {"+", "-", "*", "/", "//", "%", "**"}
BITWISE = {"<<", ">>", "&", "|", "^"}


class _Terminated(set):
    """The 'defined names' of a point the program can't reach: intersects to anything."""


def _meet(a: set[str], b: set[str]) -> set[str]:
    if isinstance(a, _Terminated):
        return set(b) if not isinstance(b, _Terminated) else _Terminated()
    if isinstance(b, _Terminated):
        return set(a)
    return a & b


class Scope:
    """Where names are looked up while checking one function (or a module body)."""

    def __init__(self, module: t.ModuleInfo, func: t.Function | None) -> None:
        self.module = module
        self.func = func
        self.defined: set[str] = set()  # definitely-assigned locals here
        self.loops: list[list[set[str]]] = []  # defined-sets at each `break`

    @property
    def is_module(self) -> bool:
        return self.func is None


class Checker:
    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags
        self.modules: dict[str, t.ModuleInfo] = {}
        self.scope: Scope | None = None

    def error(self, node: n.Node | n.Span, msg: str, hint: str | None = None) -> None:
        span = node if isinstance(node, n.Span) else node.span
        self.diags.error(span, msg, hint)

    # ------------------------------------------------------------------ program

    def check_program(self, modules: list[t.ModuleInfo]) -> None:
        for m in modules:
            self.modules[m.name] = m
        for m in modules:
            self.declare_module(m)
        for m in modules:
            self.declare_imports(m)
        for m in modules:
            self.check_module_body(m)
        for m in modules:
            for sym in list(m.globals.values()):
                if isinstance(sym, t.Function) and sym.module is m:
                    self.check_function(sym)

    # ------------------------------------------------------------------ pass 1: declare

    def declare_module(self, m: t.ModuleInfo) -> None:
        m.globals["__name__"] = t.GlobalVar("__name__", t.STR, m, m.tree.span, const=m.name)
        for stmt in m.tree.body:
            if not isinstance(stmt, n.ImportFrom):
                self.declare_stmt(m, stmt)

    def declare_imports(self, m: t.ModuleInfo) -> None:
        for stmt in m.tree.body:
            if isinstance(stmt, n.ImportFrom):
                self.declare_stmt(m, stmt)

    def declare_stmt(self, m: t.ModuleInfo, stmt: n.Stmt) -> None:
        if isinstance(stmt, n.FunctionDef):
            self.declare_function(m, stmt)
        elif isinstance(stmt, n.AnnAssign) and isinstance(stmt.target, n.Name):
            ty = self.resolve_annotation(stmt.annotation)
            name = stmt.target.id
            if name in m.globals:
                self.error(stmt.target, f"'{name}' is already defined")
            else:
                m.globals[name] = t.GlobalVar(name, ty, m, stmt.target.span)
        elif isinstance(stmt, n.ImportFrom):
            self.declare_import_from(m, stmt)
        elif isinstance(stmt, n.Import):
            for alias in stmt.names:
                if alias.name in BUILTIN_MODULES and alias.asname is None:
                    m.globals[alias.name] = t.BuiltinModule(alias.name)
                else:
                    self.error(alias, f"importing '{alias.name}' is not supported by apy (yet)")
        elif isinstance(stmt, n.If):
            # `if __name__ == "__main__":` and friends: definitions inside count
            for s in stmt.body + stmt.orelse:
                if isinstance(s, (n.FunctionDef, n.ImportFrom, n.Import)):
                    self.error(s, "definitions inside an 'if' are not supported by apy (yet)")

    def declare_import_from(self, m: t.ModuleInfo, stmt: n.ImportFrom) -> None:
        if stmt.module == "_machine" and stmt.level == 0:
            if not m.privileged:
                self.error(
                    stmt,
                    "module '_machine' gives raw hardware access and may only be imported "
                    "by applc's runtime and driver modules",
                    hint="applications reach devices through the stdlib's driver and platform APIs",
                )
                return
            for alias in stmt.names:
                intr = INTRINSICS.get(alias.name)
                if intr is None:
                    self.error(alias, f"module '_machine' has no intrinsic '{alias.name}'")
                    continue
                m.globals[alias.asname or alias.name] = intr
            return
        if stmt.module in ("__future__", "typing") and stmt.level == 0:
            return  # annotations-only imports: nothing to do at run time
        runtime = self.modules.get("rt." + (stmt.module or ""))
        if m.privileged and runtime is not None and stmt.level == 0:
            # runtime modules import each other by their short names
            for alias in stmt.names:
                sym = runtime.globals.get(alias.name)
                if not isinstance(sym, t.Function):
                    self.error(alias, f"cannot import name '{alias.name}' from '{stmt.module}'")
                    continue
                m.globals[alias.asname or alias.name] = sym
            return
        self.error(stmt, "import statements are not supported by apy (yet)")

    def declare_function(self, m: t.ModuleInfo, fd: n.FunctionDef) -> None:
        export = None
        for dec in fd.decorators:
            if (
                m.privileged
                and isinstance(dec, n.Call)
                and isinstance(dec.func, n.Name)
                and dec.func.id == "export"
                and len(dec.args) == 1
                and isinstance(dec.args[0], n.Constant)
                and isinstance(dec.args[0].value, str)
            ):
                export = dec.args[0].value
            else:
                self.error(dec, "decorators are not supported by apy (yet)")
        if fd.is_async:
            self.error(fd.name_span, "'async def' is not supported by apy (yet)")
        params: list[t.Param] = []
        for a in fd.args.args:
            if a.kind in ("vararg", "kwarg"):
                star = "*" if a.kind == "vararg" else "**"
                self.error(a, f"'{star}{a.name}' parameters are not supported by apy (yet)")
                continue
            if a.annotation is None:
                self.error(
                    a,
                    f"parameter '{a.name}' of '{fd.name}' needs a type annotation",
                    hint=f"write e.g. '{a.name}: int'",
                )
                ty = t.ERROR
            else:
                ty = self.resolve_annotation(a.annotation)
            params.append(t.Param(a.name, ty, a.default, a.kind, a.span))
        if fd.returns is None:
            self.error(
                fd.name_span,
                f"function '{fd.name}' needs a return type annotation",
                hint="write '-> None' if it returns nothing",
            )
            ret = t.ERROR
        else:
            ret = self.resolve_annotation(fd.returns)
        func = t.Function(fd.name, m, params, ret, fd, export=export)
        if fd.name in m.globals and not isinstance(m.globals[fd.name], t.Function):
            self.error(fd.name_span, f"'{fd.name}' is already defined as a variable")
            return
        if fd.name in m.globals:
            self.error(fd.name_span, f"function '{fd.name}' is defined twice")
            return
        m.globals[fd.name] = func
        fd_ref[id(fd)] = func

    def resolve_annotation(self, e: n.Expr) -> t.Type:
        if isinstance(e, n.Constant) and e.value is None:
            return t.NONE
        if isinstance(e, n.Constant) and isinstance(e.value, str):
            self.error(e, "string (forward-reference) annotations are not supported by apy (yet)")
            return t.ERROR
        if isinstance(e, n.Name):
            simple = {"int": t.INT, "float": t.FLOAT, "bool": t.BOOL, "str": t.STR, "None": t.NONE}
            if e.id in simple:
                return simple[e.id]
            if e.id in ("list", "dict", "set", "tuple", "bytes", "bytearray", "memoryview",
                        "object", "Any", "Optional", "Callable"):
                self.error(e, f"type '{e.id}' is not supported by apy (yet)")
                return t.ERROR
            self.error(e, f"unknown type '{e.id}'")
            return t.ERROR
        self.error(e, "this kind of type annotation is not supported by apy (yet)")
        return t.ERROR

    # ------------------------------------------------------------------ pass 2: module bodies

    def check_module_body(self, m: t.ModuleInfo) -> None:
        self.scope = Scope(m, None)
        self.check_block(m.tree.body)
        self.scope = None

    # ------------------------------------------------------------------ pass 3: functions

    def check_function(self, f: t.Function) -> None:
        scope = Scope(f.module, f)
        self.scope = scope
        fd = f.node
        # defaults are evaluated in the enclosing (module) scope, once
        outer = Scope(f.module, None)
        outer.defined = set(f.module.globals)
        for p in f.params:
            if p.default is not None:
                self.scope = outer
                dt = self.check_expr(p.default)
                self.expect_type(p.default, dt, p.ty, f"default value of parameter '{p.name}'")
                self.scope = scope
        for p in f.params:
            f.locals[p.name] = t.LocalVar(p.name, p.ty, p.span, is_param=True)
            scope.defined.add(p.name)
        self.collect_globals(f, fd.body)
        end = self.check_block(fd.body)
        if not isinstance(end, _Terminated) and f.ret not in (t.NONE, t.ERROR):
            self.error(
                fd.name_span,
                f"missing return statement: '{f.name}' must return '{f.ret}' on every path",
            )
        self.scope = None

    def collect_globals(self, f: t.Function, body: list[n.Stmt]) -> None:
        """Find `global` declarations and the names the body assigns.

        As in Python, a name assigned anywhere in a function is local to the
        whole function (reading it before its assignment is an error, not a
        read of the global).
        """
        for s in walk_stmts(body):
            for target in assigned_targets(s):
                for name in names_in_target(target):
                    f.assigned_names.add(name)
            if isinstance(s, n.Global):
                for name in s.names:
                    sym = f.module.globals.get(name)
                    if not isinstance(sym, t.GlobalVar):
                        self.error(s, f"global variable '{name}' is not defined at module level")
                    f.globals_declared.add(name)
            elif isinstance(s, n.Nonlocal):
                self.error(s, "'nonlocal' is not supported by apy (yet)")

    # ------------------------------------------------------------------ statements

    def check_block(self, body: list[n.Stmt]) -> set[str]:
        """Check statements in order; return the defined-set at the block's end."""
        sc = self.scope
        assert sc is not None
        for stmt in body:
            if isinstance(sc.defined, _Terminated):
                # unreachable code is still checked, with everything assumed defined
                sc.defined = _Terminated(sc.defined)
            method: Callable[[n.Stmt], None] | None = getattr(
                self, "stmt_" + type(stmt).__name__, None
            )
            if method is None:
                self.unsupported_stmt(stmt)
            else:
                method(stmt)
        return sc.defined

    def unsupported_stmt(self, stmt: n.Stmt) -> None:
        what = {
            "ClassDef": "class definitions",
            "Try": "'try' statements",
            "With": "'with' statements",
            "Delete": "'del' statements",
            "Nonlocal": "'nonlocal'",
        }.get(type(stmt).__name__, f"'{type(stmt).__name__}' statements")
        self.error(stmt, f"{what} are not supported by apy (yet)")

    def terminate(self) -> None:
        assert self.scope is not None
        self.scope.defined = _Terminated()

    def stmt_FunctionDef(self, s: n.FunctionDef) -> None:
        if not self.scope.is_module:
            self.error(s.name_span, "nested functions are not supported by apy (yet)")

    def stmt_Pass(self, s: n.Pass) -> None:
        pass

    def stmt_ImportFrom(self, s: n.ImportFrom) -> None:
        if not self.scope.is_module:
            self.error(s, "imports inside functions are not supported by apy (yet)")

    def stmt_Import(self, s: n.Import) -> None:
        if not self.scope.is_module:
            self.error(s, "imports inside functions are not supported by apy (yet)")

    def stmt_Global(self, s: n.Global) -> None:
        if self.scope.is_module:
            return  # `global` at module level is legal Python and means nothing

    def stmt_ExprStmt(self, s: n.ExprStmt) -> None:
        if isinstance(s.value, n.Constant) and isinstance(s.value.value, str):
            s.value.ty = t.STR
            return  # a docstring
        ty = self.check_expr(s.value)
        if ty is t.NORETURN:
            self.terminate()

    def stmt_Return(self, s: n.Return) -> None:
        sc = self.scope
        if sc.is_module:
            self.error(s, "'return' outside function")
            return
        f = sc.func
        if s.value is None:
            if f.ret not in (t.NONE, t.ERROR):
                self.error(s, f"return value has type 'None', expected '{f.ret}'")
        else:
            ty = self.check_expr(s.value)
            self.expect_type(s.value, ty, f.ret, "return value")
        self.terminate()

    def expect_type(self, e: n.Node, actual: t.Type, expected: t.Type, what: str) -> bool:
        if compatible(actual, expected):
            return True
        hint = conversion_hint(actual, expected)
        self.error(e, f"{what} has type '{actual}', expected '{expected}'", hint)
        return False

    def stmt_Raise(self, s: n.Raise) -> None:
        if s.cause is not None:
            self.error(s.cause, "'raise ... from' is not supported by apy (yet)")
        if s.exc is None:
            self.error(s, "bare 'raise' is not supported by apy (yet)")
        else:
            self.check_exception_value(s.exc)
        self.terminate()

    def check_exception_value(self, e: n.Expr) -> None:
        target = e.func if isinstance(e, n.Call) else e
        if not (isinstance(target, n.Name) and target.id in EXCEPTION_NAMES):
            self.error(e, "only builtin exceptions can be raised in apy (yet)",
                       hint="raise ValueError('message'), for example")
            return
        target.ref = t.ExceptionClass(target.id)
        target.ty = t.ERROR
        if isinstance(e, n.Call):
            if e.keywords or len(e.args) > 1:
                self.error(e, f"{target.id}() takes at most one argument in apy (yet)")
            for a in e.args:
                at = self.check_expr(a)
                self.expect_type(a, at, t.STR, f"the message of {target.id}")
        e.ty = t.ERROR
        e.ref = t.ExceptionClass(target.id)

    def stmt_Assert(self, s: n.Assert) -> None:
        self.check_cond(s.test)
        if s.msg is not None:
            mt = self.check_expr(s.msg)
            self.expect_type(s.msg, mt, t.STR, "the assertion message")

    def stmt_Break(self, s: n.Break) -> None:
        sc = self.scope
        if not sc.loops:
            self.error(s, "'break' outside loop")
            return
        sc.loops[-1].append(set(sc.defined))
        self.terminate()

    def stmt_Continue(self, s: n.Continue) -> None:
        if not self.scope.loops:
            self.error(s, "'continue' not properly in loop")
            return
        self.terminate()

    def stmt_If(self, s: n.If) -> None:
        sc = self.scope
        self.check_cond(s.test)
        before = set(sc.defined)
        after_body = self.check_block(s.body)
        sc.defined = set(before)
        after_else = self.check_block(s.orelse)
        sc.defined = _meet(after_body, after_else)

    def stmt_While(self, s: n.While) -> None:
        sc = self.scope
        self.check_cond(s.test)
        before = set(sc.defined)
        infinite = is_true_constant(s.test)
        sc.loops.append([])
        self.check_block(s.body)
        breaks = sc.loops.pop()
        sc.defined = set(before)
        if s.orelse:
            self.check_block(s.orelse)
        after = _Terminated() if infinite else sc.defined
        for b in breaks:
            after = _meet(after, b)
        sc.defined = after

    def stmt_For(self, s: n.For) -> None:
        sc = self.scope
        if s.is_async:
            self.error(s, "'async for' is not supported by apy (yet)")
        self.check_range_iter(s.iter)
        if not isinstance(s.target, n.Name):
            self.error(s.target, "only a simple name can be the target of a 'for' over range() in apy (yet)")
        else:
            self.assign_name(s.target, t.INT, s.target)
        before = set(sc.defined)
        sc.loops.append([])
        if isinstance(s.target, n.Name):
            sc.defined.add(s.target.id)
        self.check_block(s.body)
        breaks = sc.loops.pop()
        sc.defined = set(before)
        if s.orelse:
            self.check_block(s.orelse)
        after = sc.defined
        for b in breaks:
            after = _meet(after, b)
        sc.defined = after

    def check_range_iter(self, it: n.Expr) -> None:
        if (
            isinstance(it, n.Call)
            and isinstance(it.func, n.Name)
            and it.func.id == "range"
            and self.lookup(it.func.id, it.func, quiet=True) is not None
            and isinstance(self.lookup(it.func.id, it.func, quiet=True), t.Builtin)
        ):
            it.func.ref = t.Builtin("range")
            if it.keywords:
                self.error(it, "range() takes no keyword arguments")
            if not 1 <= len(it.args) <= 3:
                self.error(it, f"range expected at most 3 arguments, got {len(it.args)}"
                           if it.args else "range expected at least 1 argument, got 0")
            for a in it.args:
                at = self.check_expr(a)
                if at not in (t.INT, t.BOOL, t.ERROR):
                    self.error(a, f"'{at}' object cannot be interpreted as an integer")
            it.ty = t.ERROR
            it.ref = t.Builtin("range")
            return
        ty = self.check_expr(it)
        if ty is not t.ERROR:
            self.error(it, f"iterating over '{ty}' is not supported by apy (yet)",
                       hint="apy loops over range(...) for now")

    def stmt_Assign(self, s: n.Assign) -> None:
        if (
            len(s.targets) == 1
            and isinstance(s.targets[0], (n.TupleExpr, n.ListExpr))
            and isinstance(s.value, n.TupleExpr)
            and len(s.value.elts) == len(s.targets[0].elts)
        ):
            # `a, b = b, a % b`: every value is computed before any target is stored
            for v in s.value.elts:
                self.check_expr(v)
            s.value.ty = t.ERROR
            for tgt, v in zip(s.targets[0].elts, s.value.elts):
                self.assign_target(tgt, v.ty, v)
            return
        vt = self.check_expr(s.value)
        for target in s.targets:
            self.assign_target(target, vt, s.value)

    def stmt_AnnAssign(self, s: n.AnnAssign) -> None:
        if not isinstance(s.target, n.Name):
            self.error(s.target, "annotated assignment to this target is not supported by apy (yet)")
            return
        declared = self.resolve_annotation(s.annotation)
        name = s.target.id
        sc = self.scope
        if sc.is_module:
            sym = sc.module.globals.get(name)
            if s.value is not None:
                vt = self.check_expr(s.value)
                self.expect_type(s.value, vt, declared, f"the value assigned to '{name}'")
                if isinstance(sym, t.GlobalVar) and sym.ty is declared:
                    self.mark_constant(sym, s.value)
            s.target.ref = sym
            s.target.ty = declared
            if s.value is not None:
                sc.defined.add(name)
            return
        local = sc.func.locals.get(name)
        if local is not None and local.ty != declared:
            self.error(s.target, f"'{name}' was already declared with type '{local.ty}'")
        elif local is None:
            local = t.LocalVar(name, declared, s.target.span)
            sc.func.locals[name] = local
        s.target.ref = local
        s.target.ty = declared
        if s.value is not None:
            vt = self.check_expr(s.value)
            self.expect_type(s.value, vt, declared, f"the value assigned to '{name}'")
            sc.defined.add(name)

    def mark_constant(self, g: t.GlobalVar, value: n.Expr) -> None:
        """Runtime modules: `_BUF: int = static_buffer(N)` and literal constants fold."""
        if not g.module.privileged:
            return
        if (
            isinstance(value, n.Call)
            and isinstance(value.ref, t.Intrinsic)
            and value.ref.name == "static_buffer"
        ):
            size = const_value(value.args[0], g.module) if value.args else None
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                size = None
            if size is None:
                self.error(value, "static_buffer() needs a constant size")
            else:
                g.static_buffer = size
            return
        c = const_value(value, g.module)
        if c is not None:
            g.const = c

    def stmt_AugAssign(self, s: n.AugAssign) -> None:
        if not isinstance(s.target, n.Name):
            self.error(s.target, "augmented assignment to this target is not supported by apy (yet)")
            self.check_expr(s.value)
            return
        tt = self.check_expr(s.target)
        vt = self.check_expr(s.value)
        rt = self.binop_type(s, s.op, tt, vt)
        if rt is not t.ERROR and tt is not t.ERROR and rt != tt:
            self.error(
                s,
                f"'{s.target.id} {s.op}= ...' would change the type of '{s.target.id}' "
                f"from '{tt}' to '{rt}'",
                hint=conversion_hint(rt, tt),
            )
        s.target.ty = tt
        self.store_name_check(s.target)

    def store_name_check(self, target: n.Name) -> None:
        """A name that is assigned in a function must be a local or declared global."""
        sc = self.scope
        if sc.is_module:
            return
        if target.id not in sc.func.locals and target.id not in sc.func.globals_declared:
            self.error(target, f"'{target.id}' is not a local variable here",
                       hint=f"declare 'global {target.id}' to assign the module variable")

    def assign_target(self, target: n.Expr, vt: t.Type, value: n.Expr) -> None:
        if isinstance(target, n.Name):
            self.assign_name(target, vt, value)
        elif isinstance(target, n.TupleExpr) or isinstance(target, n.ListExpr):
            if vt is not t.ERROR:
                self.error(
                    target,
                    "tuple assignment needs a tuple display of the same length on the "
                    "right in apy (yet)",
                )
        elif isinstance(target, n.Starred):
            self.error(target, "starred assignment is not supported by apy (yet)")
        else:
            self.error(target, f"assignment to this kind of target is not supported by apy (yet)")

    def assign_name(self, target: n.Name, vt: t.Type, value: n.Node) -> None:
        sc = self.scope
        name = target.id
        if vt is t.NORETURN:
            vt = t.ERROR
        if sc.is_module or name in sc.func.globals_declared:
            m = sc.module
            sym = m.globals.get(name)
            if sym is None:
                if not sc.is_module:
                    return  # already reported by collect_globals
                if vt is t.NONE:
                    self.error(value, f"cannot infer a useful type for '{name}' from None",
                               hint=f"annotate it: '{name}: int | None = None' (coming soon)")
                sym = t.GlobalVar(name, vt, m, target.span)
                m.globals[name] = sym
            if not isinstance(sym, t.GlobalVar) or name == "__name__":
                self.error(target, f"cannot assign to '{name}': it is a {describe(sym)}")
                return
            if not compatible(vt, sym.ty):
                self.error(value, f"cannot assign '{vt}' to '{name}' of type '{sym.ty}'",
                           conversion_hint(vt, sym.ty))
            target.ref = sym
            target.ty = sym.ty
            sc.defined.add(name)
            return
        local = sc.func.locals.get(name)
        if local is None:
            if name in sc.module.globals and isinstance(sc.module.globals[name], t.Function):
                self.error(target, f"cannot assign to '{name}': it is a function")
                return
            if vt is t.NONE:
                self.error(value, f"cannot infer a useful type for '{name}' from None")
            local = t.LocalVar(name, vt, target.span)
            sc.func.locals[name] = local
        elif not compatible(vt, local.ty):
            self.error(value, f"cannot assign '{vt}' to '{name}' of type '{local.ty}'",
                       conversion_hint(vt, local.ty))
        target.ref = local
        target.ty = local.ty
        sc.defined.add(name)

    # ------------------------------------------------------------------ expressions

    def check_cond(self, e: n.Expr) -> t.Type:
        """An expression used only for its truth value (if/while/assert tests)."""
        if isinstance(e, n.BoolOp):
            for v in e.values:
                self.check_cond(v)
            e.ty = t.BOOL
            e.ref = "cond"
            return t.BOOL
        if isinstance(e, n.UnaryOp) and e.op == "not":
            self.check_cond(e.operand)
            e.ty = t.BOOL
            return t.BOOL
        ty = self.check_expr(e)
        self.check_truthy(e, ty)
        return ty

    def check_truthy(self, e: n.Expr, ty: t.Type) -> None:
        if ty not in (t.INT, t.FLOAT, t.BOOL, t.STR, t.NONE, t.ERROR):
            self.error(e, f"'{ty}' has no truth value in apy")

    def check_expr(self, e: n.Expr) -> t.Type:
        method = getattr(self, "expr_" + type(e).__name__, None)
        if method is None:
            what = {
                "Lambda": "lambda expressions",
                "ListExpr": "lists",
                "DictExpr": "dicts",
                "SetExpr": "sets",
                "TupleExpr": "tuples",
                "ListComp": "list comprehensions",
                "DictComp": "dict comprehensions",
                "SetComp": "set comprehensions",
                "GeneratorExp": "generator expressions",
                "JoinedStr": "f-strings",
                "Subscript": "indexing and slicing",
                "Attribute": "attribute access",
                "Await": "'await'",
                "Yield": "'yield'",
                "YieldFrom": "'yield from'",
                "NamedExpr": "assignment expressions (':=')",
                "Starred": "starred expressions",
                "Slice": "slices",
            }.get(type(e).__name__, type(e).__name__)
            verb = "is" if what.startswith("'") else "are"
            self.error(e, f"{what} {verb} not supported by apy (yet)")
            ty = t.ERROR
        else:
            ty = method(e)
        e.ty = ty
        return ty

    def expr_Constant(self, e: n.Constant) -> t.Type:
        v = e.value
        if v is None:
            return t.NONE
        if isinstance(v, bool):
            return t.BOOL
        if isinstance(v, int):
            if not -(2**63) <= v < 2**63:
                self.error(e, "integer literal does not fit in 64 bits",
                           hint="apy ints are signed 64-bit integers")
                return t.ERROR
            return t.INT
        if isinstance(v, float):
            return t.FLOAT
        if isinstance(v, str):
            return t.STR
        if isinstance(v, complex):
            self.error(e, "complex numbers are not supported by apy")
            return t.ERROR
        if isinstance(v, bytes):
            self.error(e, "bytes are not supported by apy (yet)")
            return t.ERROR
        self.error(e, "'...' is not supported by apy as a value")
        return t.ERROR

    def lookup(self, name: str, node: n.Node, quiet: bool = False):
        sc = self.scope
        if not sc.is_module and name not in sc.func.globals_declared:
            if name in sc.func.locals:
                return sc.func.locals[name]
            if name in sc.func.assigned_names:
                if not quiet:
                    self.error(node, f"local variable '{name}' is used before it is assigned",
                               hint=f"it is local because this function assigns it; "
                               f"declare 'global {name}' to use the module variable")
                return None
        sym = sc.module.globals.get(name)
        if sym is not None:
            return sym
        if name in BUILTIN_FUNCTIONS:
            return t.Builtin(name)
        if name in EXCEPTION_NAMES:
            return t.ExceptionClass(name)
        if not quiet:
            if name in FORBIDDEN:
                self.error(node, f"'{name}' is not supported by apy", hint=FORBIDDEN[name])
            elif name in NOT_YET_BUILTINS:
                self.error(node, f"'{name}' is not supported by apy (yet)")
            else:
                self.error(node, f"name '{name}' is not defined")
        return None

    def expr_Name(self, e: n.Name) -> t.Type:
        sym = self.lookup(e.id, e)
        e.ref = sym
        if sym is None:
            return t.ERROR
        if isinstance(sym, t.LocalVar):
            sc = self.scope
            if e.id not in sc.defined:
                if isinstance(sc.defined, _Terminated):
                    pass
                else:
                    self.error(
                        e,
                        f"local variable '{e.id}' may be used before it is assigned",
                        hint="assign it on every path before this line",
                    )
            return sym.ty
        if isinstance(sym, t.GlobalVar):
            return sym.ty
        if isinstance(sym, t.Function):
            self.error(e, "functions as values are not supported by apy (yet)")
            return t.ERROR
        if isinstance(sym, t.BuiltinModule):
            self.error(e, "modules as values are not supported by apy (yet)")
            return t.ERROR
        if isinstance(sym, (t.Builtin, t.ExceptionClass, t.Intrinsic)):
            self.error(e, f"'{e.id}' can only be called in apy (yet)")
            return t.ERROR
        return t.ERROR

    def expr_UnaryOp(self, e: n.UnaryOp) -> t.Type:
        if e.op == "not":
            ot = self.check_expr(e.operand)
            self.check_truthy(e.operand, ot)
            return t.BOOL
        ot = self.check_expr(e.operand)
        if ot is t.ERROR:
            return t.ERROR
        if e.op in ("-", "+"):
            if ot in (t.INT, t.BOOL):
                return t.INT
            if ot is t.FLOAT:
                return t.FLOAT
        if e.op == "~" and ot in (t.INT, t.BOOL):
            return t.INT
        self.error(e, f"bad operand type for unary {e.op}: '{ot}'")
        return t.ERROR

    def expr_BinOp(self, e: n.BinOp) -> t.Type:
        lt = self.check_expr(e.left)
        rt = self.check_expr(e.right)
        return self.binop_type(e, e.op, lt, rt)

    def binop_type(self, e: n.Node, op: str, lt: t.Type, rt: t.Type) -> t.Type:
        if t.ERROR in (lt, rt):
            return t.ERROR
        ints = (t.INT, t.BOOL)
        if op in ARITH and lt in t.NUMERIC and rt in t.NUMERIC:
            if op == "/":
                return t.FLOAT
            if t.FLOAT in (lt, rt):
                return t.FLOAT
            return t.INT
        if op in BITWISE and lt in ints and rt in ints:
            if op in ("&", "|", "^") and lt is t.BOOL and rt is t.BOOL:
                return t.BOOL
            return t.INT
        if op == "+" and lt is t.STR and rt is t.STR:
            return t.STR
        if op == "*" and ((lt is t.STR and rt in ints) or (lt in ints and rt is t.STR)):
            return t.STR
        if op == "%" and lt is t.STR:
            self.error(e, "'%' string formatting is not supported by apy (yet)",
                       hint="use an f-string (coming soon) or str()")
            return t.ERROR
        self.error(e, f"unsupported operand types for {op}: '{lt}' and '{rt}'",
                   hint=operand_hint(op, lt, rt))
        return t.ERROR

    def expr_BoolOp(self, e: n.BoolOp) -> t.Type:
        types = [self.check_expr(v) for v in e.values]
        for v, ty in zip(e.values, types):
            self.check_truthy(v, ty)
        known = [ty for ty in types if ty is not t.ERROR]
        if not known:
            return t.ERROR
        first = known[0]
        for v, ty in zip(e.values, types):
            if ty is not t.ERROR and ty != first:
                self.error(
                    e,
                    f"operands of '{e.op}' have different types '{first}' and '{ty}'",
                    hint=f"'{e.op}' returns one of its operands, so they must have one type "
                    "(in an if/while test any types are fine)",
                )
                return t.ERROR
        return first

    def expr_Compare(self, e: n.Compare) -> t.Type:
        operands = [e.left] + e.comparators
        types = [self.check_expr(o) for o in operands]
        for i, op in enumerate(e.ops):
            a, b = types[i], types[i + 1]
            if t.ERROR in (a, b):
                continue
            if op in ("is", "is not"):
                if a is not t.NONE and b is not t.NONE:
                    self.error(e, f"'{op}' is only supported with None in apy",
                               hint="use '==' to compare values")
                continue
            if op in ("in", "not in"):
                if a is t.STR and b is t.STR:
                    continue
                self.error(e, f"'{op}' between '{a}' and '{b}' is not supported by apy (yet)")
                continue
            if a in t.NUMERIC and b in t.NUMERIC:
                continue
            if a == b and a in (t.STR, t.NONE) and (op in ("==", "!=") or a is t.STR):
                continue
            if op in ("==", "!="):
                continue  # different types: never equal, decided at compile time
            self.error(e, f"'{op}' not supported between instances of '{a}' and '{b}'")
        return t.BOOL

    def expr_IfExp(self, e: n.IfExp) -> t.Type:
        self.check_cond(e.test)
        bt = self.check_expr(e.body)
        ot = self.check_expr(e.orelse)
        if t.ERROR in (bt, ot):
            return t.ERROR
        if bt != ot:
            self.error(e, f"the two branches of the conditional expression have different "
                       f"types '{bt}' and '{ot}'")
            return t.ERROR
        return bt

    # ------------------------------------------------------------------ calls

    def expr_Call(self, e: n.Call) -> t.Type:
        if isinstance(e.func, n.Name):
            sym = self.lookup(e.func.id, e.func)
            e.func.ref = sym
            if sym is None:
                self.check_args_only(e)
                return t.ERROR
            if isinstance(sym, t.Function):
                self.scope.func and setattr(self.scope.func, "makes_calls", True)
                return self.call_function(e, sym)
            if isinstance(sym, t.Builtin):
                from .builtins import check_builtin_call

                self.scope.func and setattr(self.scope.func, "makes_calls", True)
                return check_builtin_call(self, e, sym.name)
            if isinstance(sym, t.Intrinsic):
                return self.call_intrinsic(e, sym)
            if isinstance(sym, t.ExceptionClass):
                self.error(e, "exception objects can only be raised in apy (yet)")
                self.check_args_only(e)
                return t.ERROR
            if isinstance(sym, (t.LocalVar, t.GlobalVar)):
                self.error(e.func, f"'{sym.ty}' object is not callable")
                self.check_args_only(e)
                return t.ERROR
        if (
            isinstance(e.func, n.Attribute)
            and isinstance(e.func.value, n.Name)
            and isinstance(self.lookup(e.func.value.id, e.func.value, quiet=True), t.BuiltinModule)
        ):
            from .builtins import check_module_call

            mod = self.lookup(e.func.value.id, e.func.value)
            e.func.value.ref = mod
            return check_module_call(self, e, mod.name, e.func.attr)
        if isinstance(e.func, n.Attribute):
            self.check_expr(e.func.value)
            self.error(e.func, "method calls are not supported by apy (yet)")
            self.check_args_only(e)
            return t.ERROR
        ft = self.check_expr(e.func)
        if ft is not t.ERROR:
            self.error(e.func, f"'{ft}' object is not callable")
        self.check_args_only(e)
        return t.ERROR

    def check_args_only(self, e: n.Call) -> None:
        for a in e.args:
            self.check_expr(a.value if isinstance(a, n.Starred) else a)
        for k in e.keywords:
            self.check_expr(k.value)

    def call_function(self, e: n.Call, f: t.Function) -> t.Type:
        args: list[n.Expr | None] = [None] * len(f.params)
        order: list[int] = []
        ok = True
        positional = [a for a in e.args]
        for a in positional:
            if isinstance(a, n.Starred):
                self.error(a, "'*' arguments are not supported by apy (yet)")
                self.check_expr(a.value)
                ok = False
        if not ok:
            for k in e.keywords:
                self.check_expr(k.value)
            return f.ret
        n_positional_params = sum(1 for p in f.params if p.kind != "kwonly")
        if len(positional) > n_positional_params:
            self.error(
                e,
                f"{f.name}() takes {plural(n_positional_params, 'positional argument')} "
                f"but {len(positional)} were given",
            )
            ok = False
        for i, a in enumerate(positional[:n_positional_params]):
            args[i] = a
            order.append(i)
        for k in e.keywords:
            if k.arg is None:
                self.error(k, "'**' arguments are not supported by apy (yet)")
                self.check_expr(k.value)
                ok = False
                continue
            idx = next((i for i, p in enumerate(f.params) if p.name == k.arg), None)
            if idx is None or f.params[idx].kind == "positional":
                self.error(k, f"{f.name}() got an unexpected keyword argument '{k.arg}'")
                self.check_expr(k.value)
                ok = False
                continue
            if args[idx] is not None:
                self.error(k, f"{f.name}() got multiple values for argument '{k.arg}'")
                self.check_expr(k.value)
                ok = False
                continue
            args[idx] = k.value
            order.append(idx)
        missing = [p.name for i, p in enumerate(f.params) if args[i] is None and p.default is None]
        if missing and ok:
            names = " and ".join(f"'{m}'" for m in missing) if len(missing) <= 2 else ", ".join(
                f"'{m}'" for m in missing
            )
            self.error(
                e,
                f"{f.name}() missing {len(missing)} required "
                f"argument{'s' if len(missing) > 1 else ''}: {names}",
            )
            ok = False
        for i in order:
            a = args[i]
            at = self.check_expr(a)
            p = f.params[i]
            if not compatible(at, p.ty):
                pos = i + 1
                self.error(
                    a,
                    f"argument {pos} to '{f.name}' has type '{at}', expected '{p.ty}'"
                    if p.kind != "kwonly" and a in positional
                    else f"argument '{p.name}' to '{f.name}' has type '{at}', expected '{p.ty}'",
                    conversion_hint(at, p.ty),
                )
        if ok:
            e.ref = t.BoundCall(f, args, order)
            if self.scope.func is not None:
                self.scope.func.callees.append(f)
        return f.ret

    def call_intrinsic(self, e: n.Call, intr: t.Intrinsic) -> t.Type:
        if e.keywords:
            self.error(e, f"{intr.name}() takes no keyword arguments")
        if len(e.args) != len(intr.params):
            self.error(e, f"{intr.name}() takes {plural(len(intr.params), 'argument')} "
                       f"but {len(e.args)} were given")
            self.check_args_only(e)
            return intr.ret
        for i, (a, pt) in enumerate(zip(e.args, intr.params)):
            at = self.check_expr(a)
            if not compatible(at, pt):
                self.error(a, f"argument {i + 1} to '{intr.name}' has type '{at}', expected '{pt}'")
        e.ref = intr
        return intr.ret


# ---------------------------------------------------------------------------- helpers

fd_ref: dict[int, t.Function] = {}


def compatible(actual: t.Type, expected: t.Type) -> bool:
    if actual is t.ERROR or expected is t.ERROR or actual is t.NORETURN:
        return True
    return actual == expected


def conversion_hint(actual: t.Type, expected: t.Type) -> str | None:
    if actual is t.INT and expected is t.FLOAT:
        return ("apy never turns an int into a float implicitly (CPython would keep the int); "
                "write a float literal like 2.0, or float(...)")
    if actual is t.BOOL and expected is t.INT:
        return "a bool stays a bool in Python (it prints as True/False); convert with int(...)"
    if expected is t.STR and actual in t.NUMERIC:
        return "convert with str(...)"
    if actual is t.FLOAT and expected is t.INT:
        return "convert with int(...) (truncates) or round(...)"
    return None


def operand_hint(op: str, lt: t.Type, rt: t.Type) -> str | None:
    if op == "+" and t.STR in (lt, rt):
        return "convert the other operand with str(...) first"
    return None


def plural(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def describe(sym: object) -> str:
    return {
        t.Function: "function",
        t.Builtin: "builtin",
        t.Intrinsic: "intrinsic",
    }.get(type(sym), "constant")


def is_true_constant(e: n.Expr) -> bool:
    return isinstance(e, n.Constant) and e.value is True or (
        isinstance(e, n.Constant) and isinstance(e.value, int) and not isinstance(e.value, bool)
        and e.value != 0
    )


def const_int(e: n.Expr) -> int | None:
    v = const_value(e, None)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def const_value(e: n.Expr, module: t.ModuleInfo | None):
    """Fold a constant expression of literals (and earlier constants of `module`)."""
    if isinstance(e, n.Constant) and isinstance(e.value, (int, float, bool)):
        return e.value
    if isinstance(e, n.UnaryOp) and e.op in ("-", "+", "~"):
        v = const_value(e.operand, module)
        if v is None:
            return None
        return {"-": lambda x: -x, "+": lambda x: +x, "~": lambda x: ~x}[e.op](v)
    if isinstance(e, n.Name) and module is not None:
        g = module.globals.get(e.id)
        if isinstance(g, t.GlobalVar) and g.const is not None:
            return g.const
        return None
    if isinstance(e, n.BinOp):
        a, b = const_value(e.left, module), const_value(e.right, module)
        if a is None or b is None:
            return None
        try:
            v = {
                "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                "<<": lambda: a << b, ">>": lambda: a >> b, "&": lambda: a & b,
                "|": lambda: a | b, "^": lambda: a ^ b, "//": lambda: a // b,
                "%": lambda: a % b, "**": lambda: a ** b, "/": lambda: a / b,
            }[e.op]()
        except (KeyError, ArithmeticError, ValueError):
            return None
        if isinstance(v, int) and not -(2**63) <= v < 2**63:
            return None
        return v
    return None


def assigned_targets(s: n.Stmt) -> list[n.Expr]:
    if isinstance(s, n.Assign):
        return s.targets
    if isinstance(s, (n.AugAssign, n.AnnAssign, n.For)):
        return [s.target]
    return []


def names_in_target(e: n.Expr) -> list[str]:
    if isinstance(e, n.Name):
        return [e.id]
    if isinstance(e, (n.TupleExpr, n.ListExpr)):
        return [x for elt in e.elts for x in names_in_target(elt)]
    if isinstance(e, n.Starred):
        return names_in_target(e.value)
    return []


def walk_stmts(body: Iterable[n.Stmt]):
    """Every statement in a body, nested blocks included (not nested functions)."""
    for s in body:
        yield s
        for attr in ("body", "orelse", "finalbody"):
            sub = getattr(s, attr, None)
            if isinstance(sub, list) and not isinstance(s, (n.FunctionDef, n.ClassDef)):
                yield from walk_stmts(sub)
        if isinstance(s, n.Try):
            for h in s.handlers:
                yield from walk_stmts(h.body)
