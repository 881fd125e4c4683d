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

import attrs

from ..diag import Diagnostics
from ..parse import nodes as n
from . import types as t
from .classes import (
    ClassChecks,
    ClassInfo,
    ClassType,
    builtin_exception_classes,
)
from .closures import ClosureChecks
from .heap import CompScope, ComprehensionChecks, FStringChecks, HeapChecks, MethodChecks
from .builtins import (
    BUILTIN_FUNCTIONS,
    BUILTIN_MODULES,
    FORBIDDEN,
    INTRINSICS,
    NOT_YET_BUILTINS,
)

ARITH = {"+", "-", "*", "/", "//", "%", "**"}
# expression kinds whose type depends on the context's expected type
EXPECTS_CONTEXT = {"ListExpr", "SetExpr", "TupleExpr", "DictExpr", "Subscript", "IfExp",
                   "BoolOp", "ListComp", "SetComp", "DictComp", "Call", "Lambda", "Attribute"}
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
        self.narrowed: dict[int, t.Type] = {}  # LocalVar id -> its narrowed type here
        self.handlers: list[n.ExceptHandler] = []  # the except handlers we are inside
        self.parent: Scope | None = None  # the enclosing function's scope (nested defs)

    @property
    def is_module(self) -> bool:
        return self.func is None


MACHINE_FORBIDDEN = ("module '_machine' gives raw hardware access and may only be imported "
                     "by applc's runtime and driver modules")
MACHINE_HINT = "applications reach devices through the stdlib's driver and platform APIs"


class Checker(HeapChecks, ComprehensionChecks, MethodChecks, ClassChecks, FStringChecks,
              ClosureChecks):
    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags
        self.modules: dict[str, t.ModuleInfo] = {}
        self.scope: Scope | None = None
        self.comp_scopes: list = []  # innermost comprehension last
        self.comp_counter = 0
        self.all_classes: list[ClassInfo] = []
        self.builtin_classes = builtin_exception_classes()
        self.current_module: t.ModuleInfo | None = None
        self.synthetic: dict = {}
        self.nested_counter = 0

    def compatible(self, actual: t.Type, expected: t.Type) -> bool:
        """May a value of type `actual` be used where `expected` is wanted?

        Only where CPython would behave the same: equal types; None or a T where
        `T | None` is wanted; a subclass instance where its base class is wanted.
        Containers are invariant (a list[Sub] is not a list[Base]), as in mypy.
        """
        if actual is t.ERROR or expected is t.ERROR or actual is t.NORETURN:
            return True
        if actual == expected:
            return True
        if isinstance(expected, t.OptionalType):
            if actual is t.NONE:
                return True
            inner = actual.inner if isinstance(actual, t.OptionalType) else actual
            return self.compatible(inner, expected.inner)
        return self.is_subclass_type(actual, expected)

    def container_elem(self, ty: t.Type) -> t.Type | None:
        """What `x in c` compares x with: the items (keys of a dict)."""
        if isinstance(ty, t.TupleType) and ty.elems:
            return ty.elems[0]  # mixed tuples compare x with each item of x's type
        if isinstance(ty, (t.ListType, t.SetType, t.DictType)):
            return t.item_type(ty)
        return None

    def resolve_class_operand(self, e: n.Expr) -> t.Type:
        """The class named by the second argument of isinstance()."""
        if isinstance(e, n.Name):
            simple = {"int": t.INT, "float": t.FLOAT, "bool": t.BOOL, "str": t.STR,
                      "bytes": t.BYTES, "bytearray": t.BYTEARRAY}
            if e.id in simple:
                return simple[e.id]
            cls = self.class_type(e.id)
            if cls is not None:
                return cls
        self.error(e, "isinstance() needs a class name here")
        return t.ERROR

    def error(self, node: n.Node | n.Span, msg: str, hint: str | None = None) -> None:
        span = node if isinstance(node, n.Span) else node.span
        self.diags.error(span, msg, hint)

    # ------------------------------------------------------------------ program

    def check_program(self, modules: list[t.ModuleInfo]) -> None:
        # the node -> function tables are per program: drop the previous build's trees
        from .closures import s_ref

        fd_ref.clear()
        s_ref.clear()
        for m in modules:
            self.modules[m.name] = m
        for m in modules:
            self.declare_class_names(m)
        for m in modules:
            self.declare_imported_classes(m)
        for c in list(self.all_classes):
            self.current_module = c.module
            self.declare_class_bases(c)
        for c in self.classes_base_first():
            self.declare_class_members(c)
        for m in modules:
            self.current_module = m
            self.declare_module(m)
        for m in modules:
            self.declare_imports(m)
        self.finish_classes()
        for m in modules:
            m.exception_classes = self.builtin_classes
        for m in modules:
            self.check_module_body(m)
        for m in modules:
            for sym in list(m.globals.values()):
                if isinstance(sym, t.Function) and sym.module is m:
                    self.check_function(sym)
        for c in self.all_classes:
            for f in c.methods.values():
                self.check_function(f)

    def classes_base_first(self) -> list[ClassInfo]:
        out: list[ClassInfo] = []
        seen: set[int] = set()

        def visit(c: ClassInfo, depth: int = 0) -> None:
            if id(c) in seen or c.builtin:
                return
            if depth > len(self.all_classes):
                self.error(c.node.name_span, f"class '{c.name}' inherits from itself")
                c.base = None
                return
            if c.base is not None:
                visit(c.base, depth + 1)
            seen.add(id(c))
            out.append(c)

        for c in self.all_classes:
            visit(c)
        return out

    # ------------------------------------------------------------------ pass 1: declare

    def declare_module(self, m: t.ModuleInfo) -> None:
        m.globals["__name__"] = t.GlobalVar("__name__", t.STR, m, m.tree.span, const=m.name)
        for stmt in m.tree.body:
            if not isinstance(stmt, n.ImportFrom):
                self.declare_stmt(m, stmt)

    def declare_imported_classes(self, m: t.ModuleInfo) -> None:
        """Bind imported classes and modules early: class bases and field annotations need them."""
        for stmt in m.tree.body:
            if isinstance(stmt, n.ImportFrom) and stmt.level == 0 and stmt.module in self.modules:
                src = self.modules[stmt.module]
                for alias in stmt.names:
                    sym = src.globals.get(alias.name)
                    if isinstance(sym, ClassInfo):
                        m.globals.setdefault(alias.asname or alias.name, sym)
            elif isinstance(stmt, n.Import):
                for alias in stmt.names:
                    if alias.name in self.modules:
                        top = alias.name if alias.asname else alias.name.split(".")[0]
                        m.globals.setdefault(alias.asname or top, t.ModuleRef(self.modules[top]))

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
                if alias.name in BUILTIN_MODULES:
                    m.globals[alias.asname or alias.name] = t.BuiltinModule(alias.name)
                elif alias.name in ("typing", "dataclasses", "__future__"):
                    m.globals[alias.asname or alias.name] = t.BuiltinModule(alias.name)
                elif alias.name in self.modules:
                    target = self.modules[alias.name]
                    if alias.asname is not None:
                        m.globals[alias.asname] = t.ModuleRef(target)
                    else:
                        # `import a.b` binds `a`; a.b is reached as an attribute of a
                        top = alias.name.split(".")[0]
                        m.globals.setdefault(top, t.ModuleRef(self.modules[top])
                                             if top in self.modules else None)
                elif alias.name == "_machine" and not m.privileged:
                    self.error(alias, MACHINE_FORBIDDEN, hint=MACHINE_HINT)
                elif alias.name == "_machine":
                    self.error(alias, "intrinsics are compiled inline: import them by name",
                               hint="from _machine import inb, outb")
                else:
                    self.error(alias, f"no module named '{alias.name}'")
        elif isinstance(stmt, n.If):
            # `if __name__ == "__main__":` and friends: definitions inside count
            for s in stmt.body + stmt.orelse:
                if isinstance(s, (n.FunctionDef, n.ImportFrom, n.Import)):
                    self.error(s, "definitions inside an 'if' are not supported by apy (yet)")

    def declare_import_from(self, m: t.ModuleInfo, stmt: n.ImportFrom) -> None:
        if stmt.module == "_machine" and stmt.level == 0:
            if not m.privileged:
                self.error(stmt, MACHINE_FORBIDDEN, hint=MACHINE_HINT)
                return
            for alias in stmt.names:
                intr = INTRINSICS.get(alias.name)
                if intr is None:
                    self.error(alias, f"module '_machine' has no intrinsic '{alias.name}'")
                    continue
                m.globals[alias.asname or alias.name] = intr
            return
        if stmt.level == 0 and stmt.module in self.modules and not stmt.module.startswith("rt."):
            src = self.modules[stmt.module]
            for alias in stmt.names:
                if alias.name == "*":
                    self.error(alias, "'from ... import *' is not supported by apy")
                    continue
                sym = src.globals.get(alias.name)
                if sym is None and f"{stmt.module}.{alias.name}" in self.modules:
                    sym = t.ModuleRef(self.modules[f"{stmt.module}.{alias.name}"])
                if sym is None or alias.name.startswith("__"):
                    self.error(alias, f"cannot import name '{alias.name}' from '{stmt.module}'")
                    continue
                m.globals[alias.asname or alias.name] = sym
            return
        if stmt.module in ("__future__", "typing", "dataclasses") and stmt.level == 0:
            for alias in stmt.names:
                if stmt.module == "dataclasses" and alias.name not in ("dataclass",):
                    self.error(alias, f"'dataclasses.{alias.name}' is not supported by apy (yet)")
            return  # decorators and annotations: the compiler knows them by name
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
        func = self.make_function(m, fd)
        if func is None:
            return
        if fd.name in m.globals and not isinstance(m.globals[fd.name], t.Function):
            self.error(fd.name_span, f"'{fd.name}' is already defined")
            return
        if fd.name in m.globals:
            self.error(fd.name_span, f"function '{fd.name}' is defined twice")
            return
        m.globals[fd.name] = func

    def make_function(self, m: t.ModuleInfo, fd: n.FunctionDef,
                      cls: "ClassInfo | None" = None) -> t.Function | None:
        """A Function from a `def`: parameters and return type from its annotations."""
        export = None
        static = False
        for dec in fd.decorators:
            if cls is not None and isinstance(dec, n.Name) and dec.id == "staticmethod":
                static = True
                continue
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
        for i, a in enumerate(fd.args.args):
            if cls is not None and not static and i == 0:
                if a.annotation is not None:
                    self.error(a, "leave 'self' unannotated: its type is the class")
                params.append(t.Param(a.name, cls.ty, None, "normal", a.span))
                continue
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
        if cls is not None and not static and not fd.args.args:
            self.error(fd.name_span, f"method '{fd.name}' needs a 'self' parameter")
            return None
        if fd.returns is None and cls is not None and fd.name == "__init__":
            ret = t.NONE
        elif fd.returns is None:
            self.error(
                fd.name_span,
                f"function '{fd.name}' needs a return type annotation",
                hint="write '-> None' if it returns nothing",
            )
            ret = t.ERROR
        else:
            ret = self.resolve_annotation(fd.returns)
        func = t.Function(fd.name, m, params, ret, fd, export=export, cls=cls, is_static=static)
        fd_ref[id(fd)] = func
        return func

    def resolve_annotation(self, e: n.Expr) -> t.Type:
        """The type an annotation denotes: `int`, `list[str]`, `dict[str, int] | None`..."""
        if isinstance(e, n.Constant) and e.value is None:
            return t.NONE
        if isinstance(e, n.Constant) and isinstance(e.value, str):
            inner = annotation_from_string(e)
            if inner is None:
                self.error(e, f"cannot read the annotation '{e.value}'")
                return t.ERROR
            return self.resolve_annotation(inner)
        if isinstance(e, n.Name):
            simple = {"int": t.INT, "float": t.FLOAT, "bool": t.BOOL, "str": t.STR,
                      "None": t.NONE, "bytes": t.BYTES, "bytearray": t.BYTEARRAY,
                      "memoryview": t.MEMORYVIEW}
            if e.id in simple:
                return simple[e.id]
            cls = self.class_type(e.id)
            if cls is not None:
                return cls
            if e.id in ("list", "dict", "set", "tuple", "List", "Dict", "Set", "Tuple"):
                self.error(e, f"'{e.id}' needs its element types, like '{e.id.lower()}[int]'")
                return t.ERROR
            if e.id in ("object", "Any"):
                self.error(e, f"type '{e.id}' is not supported by apy: every value has one static type")
                return t.ERROR
            self.error(e, f"unknown type '{e.id}'")
            return t.ERROR
        if isinstance(e, n.BinOp) and e.op == "|":
            left = self.resolve_annotation(e.left)
            right = self.resolve_annotation(e.right)
            if right is t.NONE:
                return t.optional(left)
            if left is t.NONE:
                return t.optional(right)
            if t.ERROR in (left, right):
                return t.ERROR
            self.error(e, "unions other than 'T | None' are not supported by apy")
            return t.ERROR
        if isinstance(e, n.Subscript) and isinstance(e.value, n.Name):
            return self.resolve_generic(e, e.value.id.lower() if e.value.id in (
                "List", "Dict", "Set", "Tuple") else e.value.id)
        if isinstance(e, n.Attribute) and isinstance(e.value, n.Name) and e.value.id == "typing":
            return self.resolve_annotation(n.Name(e.attr, span=e.span))
        if isinstance(e, n.Attribute):
            scope_saved = self.scope
            if self.scope is None:
                self.scope = Scope(self.current_module, None)
            member = self.module_member(e)
            self.scope = scope_saved
            if isinstance(member, ClassInfo):
                return member.ty
        self.error(e, "this kind of type annotation is not supported by apy (yet)")
        return t.ERROR

    def resolve_generic(self, e: n.Subscript, head: str) -> t.Type:
        args = e.index.elts if isinstance(e.index, n.TupleExpr) else [e.index]

        def arity(k: int) -> bool:
            if len(args) != k:
                self.error(e, f"'{head}' takes {k} type argument{'s' if k > 1 else ''}")
                return False
            return True

        if head == "list" and arity(1):
            return t.list_of(self.resolve_annotation(args[0]))
        if head == "set" and arity(1):
            return t.set_of(self.resolve_annotation(args[0]))
        if head == "dict" and arity(2):
            return t.dict_of(self.resolve_annotation(args[0]), self.resolve_annotation(args[1]))
        if head == "Optional" and arity(1):
            return t.optional(self.resolve_annotation(args[0]))
        if head == "tuple":
            if len(args) == 2 and isinstance(args[1], n.Constant) and args[1].value is Ellipsis:
                return t.tuple_of((self.resolve_annotation(args[0]),), variadic=True)
            if len(args) == 1 and isinstance(args[0], n.TupleExpr) and not args[0].elts:
                return t.tuple_of(())
            return t.tuple_of(tuple(self.resolve_annotation(a) for a in args))
        if head == "Callable":
            if len(args) == 2 and isinstance(args[0], n.ListExpr):
                params = tuple(self.resolve_annotation(a) for a in args[0].elts)
                return t.callable_of(params, self.resolve_annotation(args[1]))
            self.error(e, "write Callable[[ArgType, ...], ReturnType]")
            return t.ERROR
        if head in ("list", "set", "dict", "Optional"):
            return t.ERROR
        self.error(e, f"unknown generic type '{head}'")
        return t.ERROR

    # ------------------------------------------------------------------ pass 2: module bodies

    def check_module_body(self, m: t.ModuleInfo) -> None:
        self.scope = Scope(m, None)
        self.check_block(m.tree.body)
        self.scope = None

    # ------------------------------------------------------------------ pass 3: functions

    def check_function(self, f: t.Function) -> None:
        fd = f.node
        # defaults are evaluated in the enclosing (module) scope, once
        outer = Scope(f.module, None)
        outer.defined = set(f.module.globals)
        for p in f.params:
            if p.default is not None:
                self.scope = outer
                dt = self.check_expr(p.default, p.ty)
                self.expect_type(p.default, dt, p.ty, f"default value of parameter '{p.name}'")
        self.scope = self.new_function_scope(f)
        self.collect_globals(f, fd.body)
        end = self.check_block(fd.body)
        self.check_missing_return(f, end)
        self.scope = None

    def new_function_scope(self, f: t.Function) -> Scope:
        scope = Scope(f.module, f)
        for p in f.params:
            f.locals[p.name] = t.LocalVar(p.name, p.ty, p.span, is_param=True)
            scope.defined.add(p.name)
        return scope

    def check_missing_return(self, f: t.Function, end) -> None:
        if not isinstance(end, _Terminated) and f.ret not in (t.NONE, t.ERROR):
            self.error(
                f.node.name_span,
                f"missing return statement: '{f.name}' must return '{f.ret}' on every path",
            )

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
                if f.parent is None:
                    self.error(s, "'nonlocal' is only allowed in nested functions")
                f.nonlocals.update(s.names)

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

    def stmt_Delete(self, s: n.Delete) -> None:
        for target in s.targets:
            if isinstance(target, n.Name):
                self.check_expr(target)
                self.scope.defined.discard(target.id)  # reading it again is an error
            elif isinstance(target, n.Subscript):
                tt = self.check_expr(target)
                ct = target.value.ty
                if isinstance(ct, t.DictType) or (isinstance(ct, t.ListType) and target.ref in (
                        "index", "slice")) or (ct is t.BYTEARRAY and target.ref == "index"):
                    continue
                if tt is not t.ERROR:
                    self.error(target, f"'{ct}' object doesn't support item deletion")
            else:
                self.error(target, "this kind of 'del' target is not supported by apy")

    def stmt_ClassDef(self, s: n.ClassDef) -> None:
        if not self.scope.is_module:
            self.error(s.name_span, "classes inside functions are not supported by apy (yet)")
            return
        info = self.scope.module.globals.get(s.name)
        if not isinstance(info, ClassInfo) or info.node is not s:
            return
        # class constants and field defaults are evaluated when the class statement runs
        for name, g in info.consts.items():
            value = next(st.value for st in s.body if isinstance(st, n.Assign)
                         and isinstance(st.targets[0], n.Name) and st.targets[0].id == name)
            g.ty = self.check_expr(value)
            if g.ty is t.NONE:
                self.error(value, f"cannot infer a type for '{name}' from None")
        for name, default in info.field_defaults.items():
            if default.ty is not None:
                continue  # checked with the base class
            dt = self.check_expr(default, info.fields[name])
            if not self.compatible(dt, info.fields[name]):
                self.error(default, f"default of field '{name}' has type '{dt}', expected "
                           f"'{info.fields[name]}'")
            if isinstance(dt, (t.ListType, t.DictType, t.SetType)) and info.is_dataclass:
                self.error(default, f"mutable default {dt} for field '{name}' is not allowed: "
                           "use default_factory", hint="dataclasses reject mutable defaults too")

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

    def stmt_Pass(self, s: n.Pass) -> None:
        pass

    def stmt_ImportFrom(self, s: n.ImportFrom) -> None:
        if not self.scope.is_module:
            self.error(s, "imports inside functions are not supported by apy (yet)")

    def stmt_Import(self, s: n.Import) -> None:
        if not self.scope.is_module:
            self.error(s, "imports inside functions are not supported by apy (yet)")

    def stmt_Nonlocal(self, s: n.Nonlocal) -> None:
        pass  # collected by collect_globals

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
            ty = self.check_expr(s.value, f.ret)
            self.expect_type(s.value, ty, f.ret, "return value")
        self.terminate()

    def expect_type(self, e: n.Node, actual: t.Type, expected: t.Type, what: str) -> bool:
        if self.compatible(actual, expected):
            return True
        hint = conversion_hint(actual, expected)
        self.error(e, f"{what} has type '{actual}', expected '{expected}'", hint)
        return False

    def stmt_Raise(self, s: n.Raise) -> None:
        if s.cause is not None:
            self.error(s.cause, "'raise ... from' is not supported by apy (yet)")
        if s.exc is None:
            if not self.scope.handlers:
                self.error(s, "bare 'raise' outside an 'except' handler is not supported by apy")
        else:
            self.check_exception_value(s.exc)
        self.terminate()

    def stmt_Try(self, s: n.Try) -> None:
        """try/except/else/finally; each `except E as e` binds a fresh variable that only
        its handler sees (Python unbinds `e` when the handler ends)."""
        sc = self.scope
        before = set(sc.defined)
        after_body = self.check_block(s.body)
        if s.orelse:
            after_body = self.check_block(s.orelse)
        ends = [after_body]
        for h in s.handlers:
            sc.defined = set(before)  # an exception may come before any assignment
            classes = self.handler_classes(h)
            scope = CompScope()
            if h.name is not None:
                ty = classes[0].ty if len(classes) == 1 else self.common_exception_type(classes)
                self.comp_counter += 1
                var = t.LocalVar(f"{h.name}.exc{self.comp_counter}", ty, h.span)
                self.register_hidden_local(var)
                scope.names[h.name] = var
                h.ref = var
            self.comp_scopes.append(scope)
            sc.handlers.append(h)
            ends.append(self.check_block(h.body))
            sc.handlers.pop()
            self.comp_scopes.pop()
        after = ends[0]
        for e_ in ends[1:]:
            after = _meet(after, e_)
        if s.finalbody:
            sc.defined = set(before) if not isinstance(after, _Terminated) else set(before)
            fin_end = self.check_block(s.finalbody)
            if isinstance(fin_end, _Terminated):
                after = _Terminated()
            elif not isinstance(after, _Terminated):
                after = after | fin_end
        sc.defined = after

    def handler_classes(self, h: n.ExceptHandler) -> list:
        if h.type is None:
            return [self.builtin_classes["BaseException"]]
        exprs = h.type.elts if isinstance(h.type, n.TupleExpr) else [h.type]
        out = []
        for x in exprs:
            info = self.lookup_class(x) if isinstance(x, n.Name) else None
            if info is None or not info.is_exception:
                self.error(x, "an 'except' clause needs exception classes")
                continue
            x.ref = info
            x.ty = info.ty
            out.append(info)
        h.type.ty = t.ERROR
        return out or [self.builtin_classes["BaseException"]]

    def common_exception_type(self, classes: list) -> t.Type:
        common = classes[0].ty
        for c in classes[1:]:
            common = self.common_base_class(common, c.ty) or self.builtin_classes[
                "BaseException"].ty
        return common

    def check_exception_value(self, e: n.Expr) -> None:
        """`raise X(...)`, `raise X` (a class: raised with no arguments) or `raise obj`."""
        if isinstance(e, n.Name):
            sym = self.lookup(e.id, e, quiet=True)
            if isinstance(sym, ClassInfo):
                e.ref = sym
                e.ty = sym.ty
                if not sym.is_exception:
                    self.error(e, "exceptions must derive from BaseException")
                elif not sym.builtin and sym.find_method("__init__") is not None and len(
                        sym.find_method("__init__").params) > 1:
                    self.error(e, f"{sym.name}() needs arguments: raise {sym.name}(...)")
                return
        ty = self.check_expr(e)
        if ty is t.ERROR:
            return
        if not (isinstance(ty, ClassType) and ty.info.is_exception):
            self.error(e, f"exceptions must derive from BaseException, not '{ty}'")

    def stmt_Assert(self, s: n.Assert) -> None:
        when_true, _ = self.check_cond(s.test)
        if s.msg is not None:
            mt = self.check_expr(s.msg)
            self.expect_type(s.msg, mt, t.STR, "the assertion message")
        self.apply_narrowing(when_true)

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
        when_true, when_false = self.check_cond(s.test)
        before = set(sc.defined)
        narrowed = dict(sc.narrowed)
        self.apply_narrowing(when_true)
        after_body = self.check_block(s.body)
        body_narrowed = sc.narrowed
        sc.defined = set(before)
        sc.narrowed = dict(narrowed)
        self.apply_narrowing(when_false)
        after_else = self.check_block(s.orelse)
        else_narrowed = sc.narrowed
        sc.defined = _meet(after_body, after_else)
        # after the if: what holds on every path that gets here
        if isinstance(after_body, _Terminated):
            sc.narrowed = else_narrowed
        elif isinstance(after_else, _Terminated):
            sc.narrowed = body_narrowed
        else:
            sc.narrowed = {k: ty for k, ty in body_narrowed.items()
                           if else_narrowed.get(k) == ty}

    def stmt_While(self, s: n.While) -> None:
        sc = self.scope
        self.forget_narrowings_assigned_in(s.body + s.orelse)
        when_true, when_false = self.check_cond(s.test)
        before = set(sc.defined)
        infinite = is_true_constant(s.test)
        sc.loops.append([])
        narrowed = dict(sc.narrowed)
        self.apply_narrowing(when_true)
        self.check_block(s.body)
        sc.narrowed = narrowed
        self.forget_narrowings_assigned_in(s.body)
        if not any(isinstance(x, n.Break) for x in walk_stmts(s.body)):
            self.apply_narrowing(when_false)
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
        elem = self.check_iterable(s.iter)
        self.forget_narrowings_assigned_in(s.body + s.orelse)
        before = set(sc.defined)
        self.bind_target(s.target, elem, s.iter)
        sc.loops.append([])
        self.check_block(s.body)
        breaks = sc.loops.pop()
        sc.defined = set(before)
        if s.orelse:
            self.check_block(s.orelse)
        after = sc.defined
        for b in breaks:
            after = _meet(after, b)
        sc.defined = after

    def forget_narrowings_assigned_in(self, body: list[n.Stmt]) -> None:
        """A loop may run its body again: narrowings of what it assigns don't hold there."""
        sc = self.scope
        if not sc.narrowed:
            return
        names = {name for st in walk_stmts(body) for tgt in assigned_targets(st)
                 for name in names_in_target(tgt)}
        locals_ = sc.func.locals if sc.func else {}
        for name in names:
            var = locals_.get(name)
            if var is not None:
                sc.narrowed.pop(id(var), None)

    def check_iterable(self, it: n.Expr) -> t.Type:
        """Check what a for loop or comprehension iterates over; the type of its items."""
        ty = self.check_expr(it)
        return self.iter_elem_type(it, ty)

    def bind_target(self, target: n.Expr, elem: t.Type, value: n.Node) -> None:
        """Assign each item of an iteration to `target` (a name or a tuple of targets)."""
        if isinstance(target, n.Name):
            self.assign_name(target, elem, value)
        elif isinstance(target, (n.TupleExpr, n.ListExpr)):
            target.ty = elem
            if elem is t.ERROR:
                for x in target.elts:
                    self.bind_target(x, t.ERROR, value)
                return
            if not isinstance(elem, t.TupleType) or elem.variadic:
                self.error(target, f"cannot unpack '{elem}' into {len(target.elts)} names",
                           hint="apy unpacks fixed-size tuples")
                for x in target.elts:
                    self.bind_target(x, t.ERROR, value)
                return
            if len(elem.elems) != len(target.elts):
                self.error(target, f"cannot unpack a tuple of {len(elem.elems)} items into "
                           f"{len(target.elts)} names")
                return
            for x, ty in zip(target.elts, elem.elems):
                self.bind_target(x, ty, value)
        else:
            self.error(target, "this kind of loop target is not supported by apy (yet)")

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
        vt = self.check_expr(s.value, self.target_type(s.targets[0]))
        for target in s.targets:
            self.assign_target(target, vt, s.value)

    def stmt_AnnAssign(self, s: n.AnnAssign) -> None:
        if isinstance(s.target, n.Attribute) and s.value is not None:
            # `self.x: T = v` declares field x (see classes.infer_init_fields)
            declared = self.resolve_annotation(s.annotation)
            vt = self.check_expr(s.value, declared)
            self.assign_target(s.target, vt, s.value)
            return
        if not isinstance(s.target, n.Name):
            self.error(s.target, "annotated assignment to this target is not supported by apy (yet)")
            return
        declared = self.resolve_annotation(s.annotation)
        name = s.target.id
        sc = self.scope
        if sc.is_module:
            sym = sc.module.globals.get(name)
            if s.value is not None:
                vt = self.check_expr(s.value, declared)
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
            vt = self.check_expr(s.value, declared)
            self.expect_type(s.value, vt, declared, f"the value assigned to '{name}'")
            sc.defined.add(name)

    def target_type(self, target: n.Expr) -> t.Type | None:
        """The declared/inferred type of an assignment target, if it already has one."""
        if isinstance(target, n.Name):
            sc = self.scope
            if not sc.is_module and target.id not in sc.func.globals_declared:
                local = sc.func.locals.get(target.id)
                return local.ty if local is not None else None
            g = sc.module.globals.get(target.id)
            return g.ty if isinstance(g, t.GlobalVar) else None
        if isinstance(target, (n.Attribute, n.Subscript)) and isinstance(
                target.value, (n.Name, n.Attribute, n.Subscript)):
            # `self.items = []`, `self.table[k] = {}`: the field's or the dict's value type
            owner = self.target_type(target.value)
            if isinstance(target, n.Attribute) and isinstance(owner, ClassType):
                return owner.info.fields.get(target.attr)
            if isinstance(target, n.Subscript) and isinstance(owner, t.DictType):
                return owner.value
        return None

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
        if not isinstance(s.target, (n.Name, n.Attribute, n.Subscript)):
            self.error(s.target, "augmented assignment to this target is not supported by apy")
            self.check_expr(s.value)
            return
        tt = self.check_expr(s.target)
        if isinstance(tt, t.ListType) and s.op == "+":
            # `xs += iterable` extends the list in place (list.__iadd__)
            elem = self.check_iterable(s.value)
            if not self.compatible(elem, tt.elem):
                self.error(s.value, f"cannot extend '{tt}' with items of type '{elem}'")
            s.target.ty = tt
            if isinstance(s.target, n.Name):
                self.store_name_check(s.target)
            return
        vt = self.check_expr(s.value)
        rt = self.binop_type(s, s.op, tt, vt)
        what = s.target.id if isinstance(s.target, n.Name) else "the target"
        if rt is not t.ERROR and tt is not t.ERROR and not self.compatible(rt, tt):
            self.error(
                s,
                f"'{s.op}=' would change the type of {what} from '{tt}' to '{rt}'",
                hint=conversion_hint(rt, tt),
            )
        s.target.ty = tt
        if isinstance(s.target, n.Name):
            self.store_name_check(s.target)

    def store_name_check(self, target: n.Name) -> None:
        """A name that is assigned in a function must be a local or declared global."""
        sc = self.scope
        if sc.is_module or target.id in sc.func.nonlocals:
            return
        if target.id not in sc.func.locals and target.id not in sc.func.globals_declared:
            self.error(target, f"'{target.id}' is not a local variable here",
                       hint=f"declare 'global {target.id}' to assign the module variable")

    def assign_target(self, target: n.Expr, vt: t.Type, value: n.Expr) -> None:
        if isinstance(target, n.Name):
            self.assign_name(target, vt, value)
        elif isinstance(target, n.TupleExpr) or isinstance(target, n.ListExpr):
            self.bind_target(target, vt, value)
        elif isinstance(target, n.Attribute):
            tt = self.check_expr(target)
            if isinstance(target.ref, t.GlobalVar):
                self.error(target, "assigning class attributes or another module's variables "
                           "is not supported by apy")
            elif tt is not t.ERROR and not self.compatible(vt, tt):
                self.error(value, f"cannot assign '{vt}' to field '{target.attr}' of type '{tt}'",
                           conversion_hint(vt, tt))
            info = getattr(target.ref, "info", None)
            if info is not None and info.dc_frozen:
                self.error(target, f"cannot assign to field '{target.attr}' of a frozen dataclass")
        elif isinstance(target, n.Subscript):
            tt = self.check_expr(target)
            ct = target.value.ty
            bytes_like = (t.BYTES, t.BYTEARRAY, t.MEMORYVIEW)
            if target.ref == "slice" and ct in bytes_like and vt in bytes_like:
                tt = vt  # any bytes-like object fills a bytearray/memoryview slice
            if tt is not t.ERROR and not self.compatible(vt, tt):
                self.error(value, f"cannot assign '{vt}' to an item of type '{tt}'")
            if ct is t.STR or ct is t.BYTES or isinstance(ct, t.TupleType):
                self.error(target, f"'{ct}' object does not support item assignment")
            elif target.ref == "slice" and not isinstance(ct, t.ListType) and ct is not \
                    t.BYTEARRAY:
                self.error(target, "slice assignment is supported on lists and bytearrays")
        elif isinstance(target, n.Starred):
            self.error(target, "starred assignment is not supported by apy (yet)")
        else:
            self.error(target, "assignment to this kind of target is not supported by apy (yet)")

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
            if not self.compatible(vt, sym.ty):
                self.error(value, f"cannot assign '{vt}' to '{name}' of type '{sym.ty}'",
                           conversion_hint(vt, sym.ty))
            target.ref = sym
            target.ty = sym.ty
            sc.defined.add(name)
            sc.narrowed.pop(id(sym), None)
            if isinstance(sym.ty, t.OptionalType) and vt not in (t.ERROR, t.NONE) and \
                    not isinstance(vt, t.OptionalType):
                sc.narrowed[id(sym)] = sym.ty.inner
            return
        if name in sc.func.nonlocals:
            var = self.lookup_enclosing(name, target)
            if var is not None:
                if not self.compatible(vt, var.ty):
                    self.error(value, f"cannot assign '{vt}' to '{name}' of type '{var.ty}'")
                target.ref = var
                target.ty = var.ty
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
        elif not self.compatible(vt, local.ty):
            self.error(value, f"cannot assign '{vt}' to '{name}' of type '{local.ty}'",
                       conversion_hint(vt, local.ty))
        target.ref = local
        target.ty = local.ty
        sc.defined.add(name)
        # assigning re-narrows: `x = 5` makes an `int | None` x an int until changed again
        sc.narrowed.pop(id(local), None)
        if isinstance(local.ty, t.OptionalType) and vt is not t.ERROR and not isinstance(
                vt, t.OptionalType) and vt is not t.NONE and vt != local.ty:
            sc.narrowed[id(local)] = local.ty.inner

    # ------------------------------------------------------------------ expressions

    def check_cond(self, e: n.Expr) -> tuple[dict, dict]:
        """Check an expression used for its truth value (if/while/assert tests).

        Returns the narrowings it implies: (when true, when false), each a dict
        LocalVar id -> (LocalVar, narrowed type). `x is not None` narrows
        `x: T | None` to T when true; `not`, `and` and `or` combine narrowings.
        """
        if isinstance(e, n.BoolOp):
            e.ty = t.BOOL
            e.ref = "cond"
            saved = dict(self.scope.narrowed)
            trues: dict = {}
            falses: dict = {}
            for i, v in enumerate(e.values):
                vt, vf = self.check_cond(v)
                # later operands are checked knowing how the earlier ones came out
                self.scope.narrowed.update({k: ty for k, (_, ty) in (vt if e.op == "and"
                                                                       else vf).items()})
                if e.op == "and":
                    trues.update(vt)
                    falses = vf if i == 0 else {k: x for k, x in falses.items() if k in vf}
                else:
                    falses.update(vf)
                    trues = vt if i == 0 else {k: x for k, x in trues.items() if k in vt}
            self.scope.narrowed = saved
            return trues, falses
        if isinstance(e, n.UnaryOp) and e.op == "not":
            vt, vf = self.check_cond(e.operand)
            e.ty = t.BOOL
            return vf, vt
        ty = self.check_expr(e)
        self.check_truthy(e, ty)
        return self.narrowings_of(e, ty)

    def narrowings_of(self, e: n.Expr, ty: t.Type) -> tuple[dict, dict]:
        def local_of(x: n.Expr):
            # globals narrow too; their reads are re-checked at run time (a call in
            # between may have changed them), locals can only change where we see it
            if isinstance(x, n.Name) and isinstance(x.ref, (t.LocalVar, t.GlobalVar)):
                return x.ref
            return None

        var = local_of(e)
        if var is not None and isinstance(var.ty, t.OptionalType):
            return {id(var): (var, var.ty.inner)}, {}
        if isinstance(e, n.Compare) and len(e.ops) == 1 and e.ops[0] in ("is", "is not"):
            left, right = e.left, e.comparators[0]
            if isinstance(right, n.Constant) and right.value is None:
                var = local_of(left)
            elif isinstance(left, n.Constant) and left.value is None:
                var = local_of(right)
            else:
                var = None
            if var is not None and isinstance(var.ty, t.OptionalType):
                some = {id(var): (var, var.ty.inner)}
                return ({}, some) if e.ops[0] == "is" else (some, {})
        if isinstance(e, n.Call) and isinstance(e.func, n.Name) and e.func.id == "isinstance" \
                and len(e.args) == 2:
            var = local_of(e.args[0])
            cls = e.args[1].ty
            if var is not None and cls not in (None, t.ERROR) and not isinstance(
                    e.args[1], n.TupleExpr):
                return {id(var): (var, cls)}, {}
        return {}, {}

    def apply_narrowing(self, narrow: dict) -> None:
        for k, (_, ty) in narrow.items():
            self.scope.narrowed[k] = ty

    def check_truthy(self, e: n.Expr, ty: t.Type) -> None:
        if isinstance(ty, (t.IterType, t.CallableType)):
            self.error(e, f"'{ty}' has no truth value in apy")

    def check_expr(self, e: n.Expr, expected: t.Type | None = None) -> t.Type:
        """The type of `e`; `expected` is the type the context wants, if it knows one
        (it types empty displays and None; it is not checked here)."""
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
        elif type(e).__name__ in EXPECTS_CONTEXT:
            ty = method(e, expected)
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
            return t.BYTES
        self.error(e, "'...' is not supported by apy as a value")
        return t.ERROR

    def lookup(self, name: str, node: n.Node, quiet: bool = False):
        for cs in reversed(self.comp_scopes):
            if name in cs.names:
                return cs.names[name]
        sc = self.scope
        if not sc.is_module and name in sc.func.nonlocals:
            return self.lookup_enclosing(name, node)
        if not sc.is_module and name not in sc.func.globals_declared:
            if name in sc.func.locals:
                return sc.func.locals[name]
            if name in sc.func.assigned_names:
                if not quiet:
                    self.error(node, f"local variable '{name}' is used before it is assigned",
                               hint=f"it is local because this function assigns it; "
                               f"declare 'global {name}' to use the module variable")
                return None
        if sc.parent is not None and name not in sc.func.globals_declared:
            var = self.lookup_enclosing(name, node)
            if var is not None:
                return var
        sym = sc.module.globals.get(name)
        if sym is not None:
            return sym
        if name in BUILTIN_FUNCTIONS:
            return t.Builtin(name)
        if name in self.builtin_classes:
            return self.builtin_classes[name]
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
            narrowed = sc.narrowed.get(id(sym))
            if ".comp" in sym.name or ".exc" in sym.name:
                return narrowed or sym.ty
            if sc.func is not None and sc.func.locals.get(e.id) is not sym:
                return sym.ty  # captured from an enclosing function (checked at capture)
            if e.id not in sc.defined:
                if isinstance(sc.defined, _Terminated):
                    pass
                else:
                    self.error(
                        e,
                        f"local variable '{e.id}' may be used before it is assigned",
                        hint="assign it on every path before this line",
                    )
            return narrowed or sym.ty
        if isinstance(sym, t.GlobalVar):
            return self.scope.narrowed.get(id(sym)) or sym.ty
        if isinstance(sym, t.Function):
            from .closures import FunctionValue

            if sym.cls is not None or any(p.kind == "kwonly" for p in sym.params):
                self.error(e, f"'{e.id}' cannot be used as a value in apy (yet)")
                return t.ERROR
            e.ref = FunctionValue(sym)
            if self.scope.func is not None:
                self.scope.func.callees.append(sym)
            return self.callable_type(sym)
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
        if op == "+" and isinstance(lt, t.ListType) and lt == rt:
            return lt
        if op == "+" and isinstance(lt, t.TupleType) and isinstance(rt, t.TupleType):
            if lt.variadic and rt.variadic and lt == rt:
                return lt
            if not lt.variadic and not rt.variadic:
                return t.tuple_of(lt.elems + rt.elems)
        if op == "*" and ((isinstance(lt, (t.ListType, t.TupleType)) and rt in ints) or (
                lt in ints and isinstance(rt, (t.ListType, t.TupleType)))):
            seq = lt if lt not in ints else rt
            if isinstance(seq, t.TupleType) and not seq.variadic:
                if seq.elems and all(x == seq.elems[0] for x in seq.elems):
                    return t.tuple_of((seq.elems[0],), variadic=True)
                self.error(e, "repeating a tuple of mixed types is not supported by apy")
                return t.ERROR
            return seq
        if op in ("+", "*") and (lt in (t.BYTES, t.BYTEARRAY) or rt in (t.BYTES, t.BYTEARRAY)):
            if op == "+" and lt in (t.BYTES, t.BYTEARRAY) and rt in (t.BYTES, t.BYTEARRAY,
                                                                      t.MEMORYVIEW):
                return lt
            if op == "*" and ((lt in (t.BYTES, t.BYTEARRAY) and rt in ints) or (
                    rt in (t.BYTES, t.BYTEARRAY) and lt in ints)):
                return lt if lt not in ints else rt
        if op in ("|", "&", "-", "^") and isinstance(lt, t.SetType) and lt == rt:
            return lt
        if op == "|" and isinstance(lt, t.DictType) and lt == rt:
            return lt
        if op == "*" and ((lt is t.STR and rt in ints) or (lt in ints and rt is t.STR)):
            return t.STR
        if op == "%" and lt is t.STR:
            self.error(e, "'%' string formatting is not supported by apy (yet)",
                       hint="use an f-string (coming soon) or str()")
            return t.ERROR
        self.error(e, f"unsupported operand types for {op}: '{lt}' and '{rt}'",
                   hint=operand_hint(op, lt, rt))
        return t.ERROR

    def expr_BoolOp(self, e: n.BoolOp, expected: t.Type | None = None) -> t.Type:
        types = [self.check_expr(v, expected) for v in e.values]
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
                elem = self.container_elem(b)
                if elem is not None and (self.compatible(a, elem) or self.compatible(elem, a)):
                    continue
                if b in (t.BYTES, t.BYTEARRAY) and a in (t.INT, t.BOOL, t.BYTES, t.BYTEARRAY):
                    continue
                self.error(e, f"'{op}' between '{a}' and '{b}' is not supported by apy")
                continue
            if a in t.NUMERIC and b in t.NUMERIC:
                continue
            if a == b and a in (t.STR, t.NONE) and (op in ("==", "!=") or a is t.STR):
                continue
            if a == b and op not in ("==", "!="):
                from .builtins import orderable

                if orderable(a):
                    continue
            if op in ("==", "!="):
                continue  # different types: never equal, decided at compile time
            self.error(e, f"'{op}' not supported between instances of '{a}' and '{b}'")
        return t.BOOL

    def expr_IfExp(self, e: n.IfExp, expected: t.Type | None = None) -> t.Type:
        when_true, when_false = self.check_cond(e.test)
        saved = dict(self.scope.narrowed)
        self.apply_narrowing(when_true)
        bt = self.check_expr(e.body, expected)
        self.scope.narrowed = dict(saved)
        self.apply_narrowing(when_false)
        ot = self.check_expr(e.orelse, expected)
        self.scope.narrowed = saved
        if t.ERROR in (bt, ot):
            return t.ERROR
        if expected is not None and self.compatible(bt, expected) and self.compatible(ot, expected):
            return expected
        joined = self.join_types([bt, ot])
        if joined is None:
            self.error(e, f"the two branches of the conditional expression have different "
                       f"types '{bt}' and '{ot}'")
            return t.ERROR
        return joined

    def expr_Call(self, e: n.Call, expected: t.Type | None = None) -> t.Type:
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
                return check_builtin_call(self, e, sym.name, expected)
            if isinstance(sym, t.Intrinsic):
                return self.call_intrinsic(e, sym)
            if isinstance(sym, ClassInfo):
                if self.scope.func is not None:
                    self.scope.func.makes_calls = True
                    init = sym.find_method("__init__")
                    if init is not None:
                        self.scope.func.callees.append(init)
                return self.check_construct(e, sym)
            if isinstance(sym, (t.LocalVar, t.GlobalVar)):
                ft = self.check_expr(e.func)
                if isinstance(ft, t.CallableType):
                    return self.check_indirect_call(e, ft)
                if ft is not t.ERROR:
                    self.error(e.func, f"'{ft}' object is not callable")
                self.check_args_only(e)
                return t.ERROR
        if isinstance(e.func, n.Attribute) and isinstance(e.func.value, n.Attribute):
            from .builtins import check_stream_call, sys_stream

            stream = sys_stream(self, e.func.value)
            if stream is not None:
                return check_stream_call(self, e, stream)
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
            member = self.module_member(e.func)
            if member is t.ERROR:
                self.check_args_only(e)
                return t.ERROR
            if isinstance(member, t.Function):
                if self.scope.func is not None:
                    self.scope.func.makes_calls = True
                return self.call_function(e, member)
            if isinstance(member, ClassInfo):
                return self.check_construct(e, member)
            if member is not None:
                self.error(e.func, f"'{e.func.attr}' is not callable")
                self.check_args_only(e)
                return t.ERROR
        if isinstance(e.func, n.Attribute) and isinstance(e.func.value, n.Call) and \
                isinstance(e.func.value.func, n.Name) and e.func.value.func.id == "super" and \
                not e.func.value.args:
            return self.check_super_call(e)
        if isinstance(e.func, n.Attribute):
            if isinstance(e.func.value, n.Name) and e.func.value.id == "int" and \
                    e.func.attr == "from_bytes" and self.lookup("int", e.func.value, quiet=True):
                return self.check_int_from_bytes(e)
            if isinstance(e.func.value, n.Name) and isinstance(
                    self.lookup(e.func.value.id, e.func.value, quiet=True), ClassInfo):
                info = self.lookup(e.func.value.id, e.func.value)
                m = info.find_method(e.func.attr)
                if m is not None and m.is_static:
                    from .classes import MethodRef

                    bound = self.bind_method_args(e, m, skip_self=False)
                    if bound is not None:
                        e.ref = MethodRef(info, m, bound, static=True)
                    return m.ret
                self.error(e.func, f"calling '{info.name}.{e.func.attr}' is not supported "
                           "(only static methods can be called on the class)")
                self.check_args_only(e)
                return t.ERROR
            rt = self.check_expr(e.func.value)
            if rt is t.ERROR:
                self.check_args_only(e)
                return t.ERROR
            if isinstance(rt, ClassType):
                return self.check_method_call_on_class(e, e.func.value, rt, e.func.attr)
            return self.check_method_call(e, e.func.value, rt, e.func.attr)
        ft = self.check_expr(e.func)
        if isinstance(ft, t.CallableType):  # `make()(x)`, `handlers[k](x)`
            return self.check_indirect_call(e, ft)
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
            p = f.params[i]
            at = self.check_expr(a, p.ty)
            if not self.compatible(at, p.ty):
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

    def check_int_from_bytes(self, e: n.Call) -> t.Type:
        """`int.from_bytes(b, byteorder, signed=False)`."""
        from .heap import BoundMethodCall, _sig

        sig = _sig(("bytes", t.BYTES), ("byteorder", t.STR, False), ("signed", t.BOOL, False),
                   ret=t.INT)
        args: list[n.Expr | None] = [None] * 3
        for i, a in enumerate(e.args[:3]):
            args[i] = a
        for k in e.keywords:
            idx = {"bytes": 0, "byteorder": 1, "signed": 2}.get(k.arg)
            if idx is None:
                self.error(k, f"from_bytes() got an unexpected keyword argument '{k.arg}'")
                continue
            args[idx] = k.value
        for a, (pname, pty, _) in zip(args, sig.params):
            if a is not None:
                at = self.check_expr(a)
                if pname == "bytes" and at in (t.BYTES, t.BYTEARRAY, t.MEMORYVIEW):
                    continue
                if not self.compatible(at, pty):
                    self.error(a, f"argument '{pname}' of from_bytes() has type '{at}'")
        if args[0] is None:
            self.error(e, "from_bytes() missing required argument 'bytes'")
        e.ref = BoundMethodCall(t.INT, "from_bytes", sig, args)
        return t.INT

    def module_member(self, e: n.Attribute):
        """`mod.name` where mod is an imported module of the program: the symbol, or None."""
        base = e.value
        if isinstance(base, n.Name):
            sym = self.lookup(base.id, base, quiet=True)
        elif isinstance(base, n.Attribute):
            sym = self.module_member(base)
        else:
            return None
        if not isinstance(sym, t.ModuleRef):
            return None
        base.ref = sym
        base.ty = t.ERROR
        member = sym.module.globals.get(e.attr)
        if member is None and f"{sym.module.name}.{e.attr}" in self.modules:
            member = t.ModuleRef(self.modules[f"{sym.module.name}.{e.attr}"])
        if member is None:
            self.error(e, f"module '{sym.module.name}' has no attribute '{e.attr}'")
            return t.ERROR
        return member

    def expr_Attribute(self, e: n.Attribute, expected: t.Type | None = None) -> t.Type:
        member = self.module_member(e)
        if member is t.ERROR:
            return t.ERROR
        if member is not None:
            if isinstance(member, t.GlobalVar):
                e.ref = member
                return member.ty
            if isinstance(member, t.Function):
                from .closures import FunctionValue

                e.ref = FunctionValue(member)
                return self.callable_type(member)
            self.error(e, f"'{e.attr}' cannot be used as a value here")
            return t.ERROR
        if isinstance(e.value, n.Name):
            sym = self.lookup(e.value.id, e.value, quiet=True)
            from .closures import BUILTIN_RECEIVERS

            if isinstance(sym, t.Builtin) and sym.name in BUILTIN_RECEIVERS and \
                    method_signature_exists(BUILTIN_RECEIVERS[sym.name], e.attr):
                e.value.ref = sym
                return self.builtin_method_value(e, BUILTIN_RECEIVERS[sym.name], False, expected)
            if isinstance(sym, t.BuiltinModule):
                e.value.ref = sym
                if sym.name == "sys" and e.attr == "argv":
                    e.ref = "sys.argv"
                    return t.list_of(t.STR)
                if sym.name == "math":
                    from .builtins import math_constant

                    g = math_constant(self, e.attr)
                    if g is not None:
                        e.ref = g
                        return g.ty
                self.error(e, f"module '{sym.name}' has no attribute '{e.attr}' in apy (yet)")
                return t.ERROR
            if isinstance(sym, ClassInfo):
                e.value.ref = sym
                g = sym.find_const(e.attr)
                if g is not None:
                    e.ref = g
                    return g.ty
                self.error(e, f"type object '{sym.name}' has no attribute '{e.attr}'")
                return t.ERROR
        vt = self.check_expr(e.value)
        if vt is t.ERROR:
            return t.ERROR
        if isinstance(vt, ClassType):
            return self.class_attribute(e, vt)
        return self.attribute_type(e, vt, expected)

    def attribute_type(self, e: n.Attribute, vt: t.Type, expected: t.Type | None = None) -> t.Type:
        if method_signature_exists(vt, e.attr):
            if isinstance(e.value, (n.Name, n.Constant)):
                return self.builtin_method_value(e, vt, True, expected)
            self.error(e, "methods of this expression cannot be values in apy (yet)",
                       hint="assign the object to a variable first, or call the method")
            return t.ERROR
        self.error(e, f"'{vt}' object has no attribute '{e.attr}'")
        return t.ERROR

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
            if not self.compatible(at, pt):
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


def method_signature_exists(ty: t.Type, name: str) -> bool:
    from .heap import method_signature

    return method_signature(ty, name) is not None


def annotation_from_string(e: n.Constant) -> n.Expr | None:
    """The expression inside a forward-reference annotation `"Node | None"`, spanned at `e`."""
    from ..diag import CompileError
    from ..parse.parser import parse_module

    try:
        tree = parse_module(f"_: {e.value}\n", "<annotation>")
    except CompileError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], n.AnnAssign):
        return None
    expr = tree.body[0].annotation
    for node in walk_nodes(expr):
        node.span = e.span
    return expr


def walk_nodes(node: n.Node):
    yield node
    for field in attrs.fields(type(node)):
        v = getattr(node, field.name)
        if isinstance(v, n.Node):
            yield from walk_nodes(v)
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, n.Node):
                    yield from walk_nodes(x)


def assigned_targets(s: n.Stmt) -> list[n.Expr]:
    if isinstance(s, (n.FunctionDef, n.ClassDef)):
        return [n.Name(s.name, span=s.span)]
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
