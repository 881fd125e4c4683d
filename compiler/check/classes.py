"""Classes: declarations, fields, methods, construction, attribute access, exceptions.

In:  `class` statements of every module (and the builtin exception hierarchy,
     which is made of ClassInfos too), through the Checker (a mixin of it).
Out: a ClassInfo per class (fields in layout order, methods, class constants,
     dataclass options, class id range for isinstance) and the `ref` of:
     `Call` -> Construct | MethodRef | SuperCall, `Attribute` -> FieldRef | ClassConst.

Fields are the class-level annotations (`x: int`, with an optional default) and
the attributes `__init__` assigns (`self.x = x`), whose type is the annotation
(`self.x: list[int] = []`), the parameter assigned, or a literal; anything
else needs an annotation. A subclass's fields follow its base's, so a method
of the base reads a subclass instance at the same offsets.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..parse import nodes as n
from . import types as t
from .builtins import EXCEPTION_PARENTS


@attrs.define(eq=False)
class ClassInfo:
    name: str
    module: t.ModuleInfo | None
    node: n.ClassDef | None
    base: "ClassInfo | None" = None
    fields: dict[str, t.Type] = attrs.Factory(dict)  # inherited first, in layout order
    field_defaults: dict[str, n.Expr] = attrs.Factory(dict)
    methods: dict[str, t.Function] = attrs.Factory(dict)  # this class's own
    consts: dict[str, t.GlobalVar] = attrs.Factory(dict)
    subclasses: list["ClassInfo"] = attrs.Factory(list)
    is_dataclass: bool = False
    dc_order: bool = False
    dc_eq: bool = True
    dc_frozen: bool = False
    builtin: bool = False
    cid: int = 0
    cid_end: int = 0
    ty: Any = None

    @property
    def is_exception(self) -> bool:
        c: ClassInfo | None = self
        while c is not None:
            if c.name == "BaseException" and c.builtin:
                return True
            c = c.base
        return False

    @property
    def qualname(self) -> str:
        return self.name

    def ancestors(self):
        c: ClassInfo | None = self
        while c is not None:
            yield c
            c = c.base

    def find_method(self, name: str) -> t.Function | None:
        for c in self.ancestors():
            if name in c.methods:
                return c.methods[name]
        return None

    def find_const(self, name: str) -> t.GlobalVar | None:
        for c in self.ancestors():
            if name in c.consts:
                return c.consts[name]
        return None

    def is_subclass_of(self, other: "ClassInfo") -> bool:
        return any(c is other for c in self.ancestors())

    def field_index(self, name: str) -> int:
        return list(self.fields).index(name)

    def overriders(self, method: str) -> list["ClassInfo"]:
        """Subclasses (at any depth) that define `method` themselves, deepest first."""
        out: list[ClassInfo] = []

        def walk(c: ClassInfo) -> None:
            for s in c.subclasses:
                walk(s)
                if method in s.methods:
                    out.append(s)

        walk(self)
        out.sort(key=lambda c: -sum(1 for _ in c.ancestors()))
        return out


class ClassType(t.Type):
    """The type of instances of one class; equal only to itself."""

    def __init__(self, info: ClassInfo) -> None:
        object.__setattr__(self, "name", info.name)
        object.__setattr__(self, "info", info)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"ClassType({self.name})"

    @property
    def has_lt(self) -> bool:
        """`<` is defined: by `__lt__`, or by `@dataclass(order=True)` (field tuples)."""
        info = self.info
        return info.find_method("__lt__") is not None or (info.is_dataclass and info.dc_order)


# exception fields every exception instance has (runtime/core.apy reads them)
EXCEPTION_FIELDS = {"__cls": t.INT, "__name": t.STR, "__msg": t.STR, "__has_msg": t.BOOL,
                    "__code": t.INT}


def builtin_exception_classes() -> dict[str, ClassInfo]:
    classes: dict[str, ClassInfo] = {}
    for name, parent in EXCEPTION_PARENTS.items():
        info = ClassInfo(name, None, None, base=classes[parent] if parent else None,
                         builtin=True)
        info.fields = dict(EXCEPTION_FIELDS)
        info.ty = ClassType(info)
        if parent:
            classes[parent].subclasses.append(info)
        classes[name] = info
    return classes


def builtin_exception_ids() -> dict[str, int]:
    """The class id of each builtin exception (they are numbered first, in preorder)."""
    classes = builtin_exception_classes()
    assign_class_ids([classes["BaseException"]])
    return {name: c.cid for name, c in classes.items()}


@attrs.define(eq=False)
class Construct:
    """`C(args)`: allocate, set defaults, call __init__ (if any) with `args`."""

    info: ClassInfo
    init: t.Function | None
    call: t.BoundCall | None
    exc_message: n.Expr | None = None  # builtin exceptions: the message argument


@attrs.define(eq=False)
class MethodRef:
    """`obj.m(args)`: dispatch on obj's class among the overriders of m."""

    info: ClassInfo  # the static class of obj
    method: t.Function
    call: t.BoundCall
    static: bool = False  # super().m(...): no dispatch


@attrs.define(eq=False)
class BoundMethodValue:
    """`obj.m` not called: a closure holding obj, calling the m of obj's class."""

    info: ClassInfo  # the static class of obj
    method: t.Function


@attrs.define(eq=False)
class FieldRef:
    info: ClassInfo
    name: str
    index: int


def assign_class_ids(roots: list[ClassInfo]) -> None:
    """Preorder numbering: C's subclasses have ids in [C.cid, C.cid_end)."""
    counter = 1

    def visit(c: ClassInfo) -> None:
        nonlocal counter
        c.cid = counter
        counter += 1
        for s in c.subclasses:
            visit(s)
        c.cid_end = counter

    for r in roots:
        visit(r)


class ClassChecks:
    """Mixin of the Checker."""

    # ---------------------------------------------------------------- declaration

    def declare_class_names(self, m: t.ModuleInfo) -> None:
        for stmt in m.tree.body:
            if isinstance(stmt, n.ClassDef):
                if stmt.name in m.globals:
                    self.error(stmt.name_span, f"'{stmt.name}' is already defined")
                    continue
                info = ClassInfo(stmt.name, m, stmt)
                info.ty = ClassType(info)
                m.globals[stmt.name] = info
                self.all_classes.append(info)

    def declare_class_bases(self, info: ClassInfo) -> None:
        node = info.node
        for dec in node.decorators:
            self.class_decorator(info, dec)
        if node.keywords:
            self.error(node.keywords[0], "class keywords (metaclass=...) are not supported by apy")
        if len(node.bases) > 1:
            self.error(node.bases[1], "multiple inheritance is not supported by apy")
        if node.bases:
            b = node.bases[0]
            base = self.lookup_class(b)
            if base is None:
                self.error(b, "a base class must be a class defined in this program or a "
                           "builtin exception")
            else:
                info.base = base
                base.subclasses.append(info)

    def class_decorator(self, info: ClassInfo, dec: n.Expr) -> None:
        target = dec.func if isinstance(dec, n.Call) else dec
        if isinstance(target, n.Name) and target.id == "dataclass" or (
                isinstance(target, n.Attribute) and target.attr == "dataclass"):
            info.is_dataclass = True
            if isinstance(dec, n.Call):
                for k in dec.keywords:
                    v = k.value.value if isinstance(k.value, n.Constant) else None
                    if k.arg in ("order", "eq", "frozen") and isinstance(v, bool):
                        setattr(info, f"dc_{k.arg}", v)
                    else:
                        self.error(k, f"dataclass({k.arg}=...) is not supported by apy (yet)")
            return
        self.error(dec, "this class decorator is not supported by apy (yet)")

    def lookup_class(self, e: n.Expr) -> ClassInfo | None:
        if isinstance(e, n.Name):
            sym = self.scope.module.globals.get(e.id) if self.scope else None
            if sym is None and self.current_module is not None:
                sym = self.current_module.globals.get(e.id)
            if isinstance(sym, ClassInfo):
                return sym
            return self.builtin_classes.get(e.id)
        if isinstance(e, n.Attribute) and isinstance(e.value, n.Name):  # module.Class
            m = self.scope.module if self.scope else self.current_module
            ref = m.globals.get(e.value.id) if m else None
            if isinstance(ref, t.ModuleRef):
                sym = ref.module.globals.get(e.attr)
                if isinstance(sym, ClassInfo):
                    return sym
        return None

    def class_type(self, name: str) -> t.Type | None:
        m = self.scope.module if self.scope else self.current_module
        sym = m.globals.get(name) if m else None
        if isinstance(sym, ClassInfo):
            return sym.ty
        if name in self.builtin_classes:
            return self.builtin_classes[name].ty
        return None

    def declare_class_members(self, info: ClassInfo) -> None:
        """Fields, methods and constants; the base's members first (call in base order)."""
        if info.base is not None:
            info.fields = dict(info.base.fields)
            info.field_defaults = dict(info.base.field_defaults)
        m = info.module
        self.current_module = m
        for stmt in info.node.body:
            if isinstance(stmt, n.AnnAssign) and isinstance(stmt.target, n.Name):
                name = stmt.target.id
                ty = self.resolve_annotation(stmt.annotation)
                if isinstance(stmt.annotation, n.Subscript) and isinstance(
                        stmt.annotation.value, n.Name) and stmt.annotation.value.id == "ClassVar":
                    self.error(stmt, "ClassVar is not supported by apy (yet)")
                    continue
                if name in info.fields and name not in (info.base.fields if info.base else {}):
                    self.error(stmt.target, f"field '{name}' is declared twice")
                info.fields[name] = ty
                if stmt.value is not None:
                    info.field_defaults[name] = stmt.value
            elif isinstance(stmt, n.FunctionDef):
                f = self.make_function(m, stmt, cls=info)
                if f is not None:
                    if stmt.name in info.methods:
                        self.error(stmt.name_span, f"method '{stmt.name}' is defined twice")
                    info.methods[stmt.name] = f
            elif isinstance(stmt, n.Assign) and len(stmt.targets) == 1 and isinstance(
                    stmt.targets[0], n.Name) and stmt.targets[0].id in info.fields:
                # a subclass re-setting an inherited class-level default
                info.field_defaults[stmt.targets[0].id] = stmt.value
            elif isinstance(stmt, n.Assign) and len(stmt.targets) == 1 and isinstance(
                    stmt.targets[0], n.Name):
                name = stmt.targets[0].id
                g = t.GlobalVar(f"{info.name}.{name}", t.ERROR, m, stmt.targets[0].span)
                g.class_const_of = info
                info.consts[name] = g
            elif isinstance(stmt, n.ExprStmt) and isinstance(stmt.value, n.Constant):
                continue  # docstring or ...
            elif isinstance(stmt, n.Pass):
                continue
            else:
                self.error(stmt, "only fields, methods and constants are supported in a class "
                           "body by apy (yet)")
        init = info.methods.get("__init__")
        if init is not None:
            self.infer_init_fields(info, init)
        if info.is_dataclass:
            self.check_dataclass_defaults(info)

    def infer_init_fields(self, info: ClassInfo, init: t.Function) -> None:
        """Fields that __init__ assigns (`self.x = ...`) without a class-level annotation."""
        from .checker import walk_stmts

        params = {p.name: p.ty for p in init.params}
        self_name = init.node.args.args[0].name if init.node.args.args else "self"
        for st in walk_stmts(init.node.body):
            target, value, ann = None, None, None
            if isinstance(st, n.Assign) and len(st.targets) == 1:
                target, value = st.targets[0], st.value
            elif isinstance(st, n.AnnAssign):
                target, value, ann = st.target, st.value, st.annotation
            if not (isinstance(target, n.Attribute) and isinstance(target.value, n.Name)
                    and target.value.id == self_name):
                continue
            name = target.attr
            if name in info.fields:
                if ann is not None:
                    self.error(target, f"field '{name}' is already declared")
                continue
            if ann is not None:
                info.fields[name] = self.resolve_annotation(ann)
                continue
            ty = self.literal_type(value, params)
            if ty is None:
                self.error(target, f"cannot infer the type of field '{name}' from this value",
                           hint=f"annotate it: 'self.{name}: T = ...', or declare '{name}: T' "
                           "in the class body")
                ty = t.ERROR
            info.fields[name] = ty

    def literal_type(self, value: n.Expr | None, params: dict[str, t.Type]) -> t.Type | None:
        if isinstance(value, n.Name) and value.id in params:
            return params[value.id]
        if isinstance(value, n.Constant):
            v = value.value
            if isinstance(v, bool):
                return t.BOOL
            if isinstance(v, int):
                return t.INT
            if isinstance(v, float):
                return t.FLOAT
            if isinstance(v, str):
                return t.STR
            if isinstance(v, bytes):
                return t.BYTES
            return None
        if isinstance(value, n.UnaryOp) and value.op == "-":
            return self.literal_type(value.operand, params)
        if isinstance(value, n.Call) and isinstance(value.func, n.Name):
            cls = self.class_type(value.func.id)
            if cls is not None:
                return cls
            if value.func.id in ("bytearray", "bytes"):
                return t.BYTEARRAY if value.func.id == "bytearray" else t.BYTES
        return None

    def check_dataclass_defaults(self, info: ClassInfo) -> None:
        seen_default = False
        for name in info.fields:
            if name in info.field_defaults:
                seen_default = True
            elif seen_default:
                self.error(info.node.name_span,
                           f"non-default argument '{name}' follows default argument")
                return

    def finish_classes(self) -> None:
        roots = [self.builtin_classes["BaseException"]] + [
            c for c in self.all_classes if c.base is None]
        assign_class_ids(roots)
        for c in self.all_classes:
            for name, m in c.methods.items():
                base_m = c.base.find_method(name) if c.base is not None else None
                if base_m is not None and name != "__init__":
                    self.check_override(c, m, base_m)

    def check_override(self, info: ClassInfo, m: t.Function, base_m: t.Function) -> None:
        """An override is called wherever the base method is (dispatch on the object's
        class), with the base's argument types, and its result is used as the base's:
        so the parameters must match and the result must fit the base's return type."""
        where = f"'{base_m.cls.name}.{base_m.name}'" if getattr(base_m, "cls", None) else \
            f"'{base_m.name}'"
        span = getattr(m.node, "name_span", None) or m.node.span
        if getattr(m, "is_static", False) != getattr(base_m, "is_static", False):
            self.error(span, f"'{m.name}' overrides {where}: both or neither must be static")
            return
        if len(m.params) != len(base_m.params):
            self.error(span, f"'{m.name}' takes {len(m.params)} parameters but overrides "
                             f"{where}, which takes {len(base_m.params)}")
            return
        skip = 0 if getattr(m, "is_static", False) else 1
        for p, bp in zip(m.params[skip:], base_m.params[skip:]):
            if p.ty != bp.ty and t.ERROR not in (p.ty, bp.ty):
                self.error(p.span, f"parameter '{p.name}' has type '{p.ty}' but overrides "
                                   f"{where}, where it is '{bp.ty}'")
        if not self.compatible(m.ret, base_m.ret) or (
                m.ret is t.NONE and base_m.ret not in (t.NONE, t.ERROR)):
            self.error(span, f"'{m.name}' returns '{m.ret}' but overrides {where}, "
                             f"which returns '{base_m.ret}'")

    # ---------------------------------------------------------------- rules

    def is_subclass_type(self, actual: t.Type, expected: t.Type) -> bool:
        return (isinstance(actual, ClassType) and isinstance(expected, ClassType)
                and actual.info.is_subclass_of(expected.info))

    def common_base_class(self, a: t.Type, b: t.Type) -> t.Type | None:
        if isinstance(a, ClassType) and isinstance(b, ClassType):
            for c in a.info.ancestors():
                if b.info.is_subclass_of(c):
                    return c.ty
        return None

    def check_construct(self, e: n.Call, info: ClassInfo) -> t.Type:
        if info.builtin or (info.is_exception and info.find_method("__init__") is None):
            # builtin exceptions, and exception classes that keep their __init__, take an
            # optional message
            if e.keywords or len(e.args) > 1:
                self.error(e, f"{info.name}() takes at most one argument (the message) in apy")
                self.check_args_only(e)
                return info.ty
            msg = e.args[0] if e.args else None
            if msg is not None:
                mt = self.check_expr(msg)
                if mt not in (t.STR, t.ERROR):
                    self.error(msg, f"the message of {info.name} must be a str in apy, not "
                               f"'{mt}'", hint="convert it with str(...) or an f-string")
            e.ref = Construct(info, None, None, exc_message=msg)
            return info.ty
        init = info.find_method("__init__")
        if init is None:
            if info.is_dataclass:
                init = self.dataclass_init(info)
            else:
                init = self.exception_init(info) if info.is_exception else None
        if init is None:
            if e.args or e.keywords:
                self.error(e, f"{info.name}() takes no arguments")
                self.check_args_only(e)
            e.ref = Construct(info, None, None)
            return info.ty
        bound = self.bind_method_args(e, init, skip_self=True)
        e.ref = Construct(info, init, bound)
        return info.ty

    def exception_init(self, info: ClassInfo) -> t.Function | None:
        """A user exception without __init__ takes the builtin's optional message."""
        return None

    def dataclass_init(self, info: ClassInfo) -> t.Function:
        """The __init__ @dataclass generates: one parameter per field, with its default."""
        key = ("dcinit", id(info))
        f = self.synthetic.get(key)
        if f is None:
            params = [t.Param("self", info.ty, None, "normal", info.node.span)]
            for name, ty in info.fields.items():
                params.append(t.Param(name, ty, info.field_defaults.get(name), "normal",
                                      info.node.span))
            f = t.Function("__init__", info.module, params, t.NONE, info.node)
            f.synthetic = "dataclass_init"
            f.cls = info
            self.synthetic[key] = f
        return f

    def bind_method_args(self, e: n.Call, f: t.Function, skip_self: bool) -> t.BoundCall | None:
        """Match a call's arguments to f's parameters, leaving out `self`."""
        shown = t.Function(f.name, f.module, f.params[1:] if skip_self else f.params, f.ret,
                           f.node)
        ret = self.call_function(e, shown)
        bound = e.ref if isinstance(e.ref, t.BoundCall) else None
        if bound is None:
            return None
        args = ([None] + bound.args) if skip_self else bound.args
        order = [i + 1 for i in bound.order] if skip_self else bound.order
        del ret
        return t.BoundCall(f, args, order)

    def check_method_call_on_class(self, e: n.Call, obj: n.Expr, ct: ClassType,
                                   name: str) -> t.Type:
        info = ct.info
        m = info.find_method(name)
        if m is None:
            if name in info.fields and isinstance(info.fields[name], t.CallableType):
                # an instance attribute holding a function: called as is, no self
                e.func.ref = FieldRef(info, name, info.field_index(name))
                return self.check_indirect_call(e, info.fields[name])
            if name in info.fields:
                self.error(e.func, f"'{info.fields[name]}' object is not callable")
            else:
                self.error(e.func, f"'{info.name}' object has no attribute '{name}'")
            self.check_args_only(e)
            return t.ERROR
        if getattr(m, "is_static", False):
            bound = self.bind_method_args(e, m, skip_self=False)
        else:
            bound = self.bind_method_args(e, m, skip_self=True)
        if bound is not None:
            e.ref = MethodRef(info, m, bound)
            if self.scope.func is not None:
                self.scope.func.callees.append(m)
                for o in info.overriders(name):
                    self.scope.func.callees.append(o.methods[name])
        return m.ret

    def check_super_call(self, e: n.Call) -> t.Type:
        """`super().name(args)` in a method: the base class's method, called directly."""
        f = self.scope.func
        cls = getattr(f, "cls", None) if f else None
        name = e.func.attr
        if cls is None or cls.base is None:
            self.error(e.func, "super() is only supported in methods of a subclass")
            self.check_args_only(e)
            return t.ERROR
        base = cls.base
        if base.builtin and name == "__init__":
            if e.keywords or len(e.args) > 1:
                self.error(e, "an exception's __init__ takes at most one argument (the message)")
            for a in e.args:
                at = self.check_expr(a)
                if at not in (t.STR, t.ERROR):
                    self.error(a, "the message of an exception must be a str in apy")
            e.ref = SuperExcInit(e.args[0] if e.args else None)
            return t.NONE
        m = base.find_method(name)
        if m is None:
            if name == "__init__":
                if e.args or e.keywords:
                    self.error(e, f"{base.name}.__init__() takes no arguments")
                e.ref = SuperExcInit(None, noop=True)
                return t.NONE
            self.error(e.func, f"'super' object has no attribute '{name}'")
            self.check_args_only(e)
            return t.ERROR
        bound = self.bind_method_args(e, m, skip_self=True)
        if bound is not None:
            e.ref = MethodRef(base, m, bound, static=True)
            f.callees.append(m)
        return m.ret

    def class_attribute(self, e: n.Attribute, ct: ClassType) -> t.Type:
        info = ct.info
        if e.attr in info.fields:
            e.ref = FieldRef(info, e.attr, info.field_index(e.attr))
            return info.fields[e.attr]
        g = info.find_const(e.attr)
        if g is not None:
            e.ref = g
            return g.ty
        m = info.find_method(e.attr)
        if m is not None:
            return self.bound_method_value(e, info, m)
        if info.is_exception and e.attr == "args":
            self.error(e, "exception .args is not supported by apy (yet): use str(e)")
            return t.ERROR
        self.error(e, f"'{info.name}' object has no attribute '{e.attr}'")
        return t.ERROR

    def bound_method_value(self, e: n.Attribute, info: ClassInfo, m: t.Function) -> t.Type:
        """`obj.m` as a value: Callable[[params after self], ret]."""
        if getattr(m, "is_static", False):
            self.error(e, "static methods as values are not supported by apy (yet)")
            return t.ERROR
        params = m.params[1:]
        if any(p.kind == "kwonly" for p in params):
            self.error(e, f"method '{m.name}' has keyword-only parameters: it cannot be "
                          "used as a value in apy", hint="wrap it in a lambda")
            return t.ERROR
        e.ref = BoundMethodValue(info, m)
        if self.scope.func is not None:
            self.scope.func.callees.append(m)
            for o in info.overriders(m.name):
                self.scope.func.callees.append(o.methods[m.name])
        return t.callable_of(tuple(p.ty for p in params), m.ret)


@attrs.define(eq=False)
class SuperExcInit:
    """`super().__init__(msg)` in a subclass of a builtin exception (or of a class
    without __init__, where it does nothing)."""

    message: n.Expr | None
    noop: bool = False
