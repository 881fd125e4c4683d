"""The types of apy, and the symbols that names resolve to.

In:  nothing (definitions only).
Out: `Type` values (INT, FLOAT, BOOL, NONE, STR, FuncType, ...) and the symbol
     classes the checker attaches to `Name.ref`/`Call.ref`: `LocalVar`,
     `GlobalVar`, `Function`, `Builtin`, `Intrinsic`, `ModuleRef`, `BoundCall`.

Types are compared by identity for the primitive ones and structurally for the
composite ones (attrs frozen classes give both). There are no implicit
conversions between types: an `int` is not accepted where a `float` is
expected, because CPython would keep the int (and print `2`, not `2.0`).
"""

from __future__ import annotations

from typing import Any

import attrs

from ..parse import nodes as n


@attrs.frozen
class Type:
    name: str

    def __str__(self) -> str:
        return self.name


INT = Type("int")
FLOAT = Type("float")
BOOL = Type("bool")
NONE = Type("None")
STR = Type("str")
# the type of an expression that already had an error: suppresses follow-on errors
ERROR = Type("<error>")
# a call that never returns (sys.exit, an always-raising runtime helper)
NORETURN = Type("NoReturn")

BYTES = Type("bytes")
BYTEARRAY = Type("bytearray")
MEMORYVIEW = Type("memoryview")

NUMERIC = (INT, FLOAT, BOOL)
SCALARS = (INT, FLOAT, BOOL, NONE)


@attrs.frozen
class FuncType(Type):
    params: tuple[Type, ...] = ()
    ret: Type = NONE


@attrs.frozen
class ListType(Type):
    elem: Type = NONE


@attrs.frozen
class SetType(Type):
    elem: Type = NONE


@attrs.frozen
class DictType(Type):
    key: Type = NONE
    value: Type = NONE


@attrs.frozen
class TupleType(Type):
    """`tuple[A, B]` (fixed) or `tuple[T, ...]` (homogeneous, `elems == (T,)`, variadic)."""

    elems: tuple[Type, ...] = ()
    variadic: bool = False


@attrs.frozen
class OptionalType(Type):
    """`T | None`."""

    inner: Type = NONE


@attrs.frozen
class CallableType(Type):
    params: tuple[Type, ...] = ()
    ret: Type = NONE


@attrs.frozen
class IterType(Type):
    """What range(), enumerate(), zip(), reversed(), d.items()... return: usable only
    where Python iterates once (a for loop, a comprehension, list()/sum()/...)."""

    elem: Type = NONE
    kind: str = ""


def iter_of(kind: str, elem: Type) -> IterType:
    return IterType(f"{kind}[{elem}]" if kind != "range" else "range", elem, kind)


def list_of(elem: Type) -> ListType:
    return ListType(f"list[{elem}]", elem)


def set_of(elem: Type) -> SetType:
    return SetType(f"set[{elem}]", elem)


def dict_of(key: Type, value: Type) -> DictType:
    return DictType(f"dict[{key}, {value}]", key, value)


def tuple_of(elems: tuple[Type, ...], variadic: bool = False) -> TupleType:
    if variadic:
        return TupleType(f"tuple[{elems[0]}, ...]", elems, True)
    inner = ", ".join(str(e) for e in elems) if elems else "()"
    return TupleType(f"tuple[{inner}]", elems, False)


def optional(inner: Type) -> Type:
    if inner is NONE or isinstance(inner, OptionalType) or inner is ERROR:
        return inner
    return OptionalType(f"{inner} | None", inner)


def callable_of(params: tuple[Type, ...], ret: Type) -> CallableType:
    ps = ", ".join(str(p) for p in params)
    return CallableType(f"Callable[[{ps}], {ret}]", params, ret)


def item_type(ty: Type) -> Type | None:
    """The type of the items a for loop over `ty` gets (a dict's keys), or None when
    `ty` is not iterable or is a tuple whose items have different types."""
    if isinstance(ty, (ListType, SetType, IterType)):
        return ty.elem
    if isinstance(ty, DictType):
        return ty.key
    if ty is STR:
        return STR
    if ty in (BYTES, BYTEARRAY, MEMORYVIEW):
        return INT
    if isinstance(ty, TupleType) and ty.elems and all(x == ty.elems[0] for x in ty.elems):
        return ty.elems[0]
    return None


def is_numeric(t: Type) -> bool:
    return t in NUMERIC


def is_object(t: Type) -> bool:
    """Is a value of this type a pointer to a heap object (or None for optionals)?"""
    return t not in (INT, FLOAT, BOOL, NONE, ERROR, NORETURN)


def is_boxed_optional(t: Type) -> bool:
    return isinstance(t, OptionalType) and t.inner in (INT, FLOAT, BOOL)


# --------------------------------------------------------------------------- symbols


@attrs.define(eq=False)
class LocalVar:
    name: str
    ty: Type
    span: n.Span
    is_param: bool = False
    captured: bool = False  # used by a nested function: lives in a heap cell


@attrs.define(eq=False)
class GlobalVar:
    name: str
    ty: Type
    module: "ModuleInfo"
    span: n.Span
    # set when the value is a compile-time constant (module constants of the
    # runtime, `static_buffer` addresses): the lowering folds it
    const: Any = None
    static_buffer: int | None = None  # byte size, for `X = static_buffer(N)`
    class_const_of: Any = None  # the ClassInfo whose class attribute this is

    @property
    def llvm_name(self) -> str:
        return f"{self.module.name}.{self.name}"


@attrs.define(eq=False)
class Param:
    name: str
    ty: Type
    default: n.Expr | None
    kind: str  # "normal", "positional", "kwonly"
    span: n.Span


@attrs.define(eq=False)
class Function:
    name: str
    module: "ModuleInfo"
    params: list[Param]
    ret: Type
    node: n.FunctionDef
    locals: dict[str, LocalVar] = attrs.Factory(dict)
    globals_declared: set[str] = attrs.Factory(set)
    assigned_names: set[str] = attrs.Factory(set)  # every name the body assigns
    # filled by the checker: does it call anything, and which apy functions
    makes_calls: bool = False
    callees: list["Function"] = attrs.Factory(list)
    # an exported C-level symbol name (`@export("floor")` in runtime modules)
    export: str | None = None
    cls: Any = None  # the ClassInfo of a method
    is_static: bool = False  # @staticmethod
    synthetic: str | None = None  # generated by the compiler ("dataclass_init", ...)
    # nested functions and lambdas
    parent: Any = None  # the enclosing Function
    nested: list["Function"] = attrs.Factory(list)
    captures: list[LocalVar] = attrs.Factory(list)  # outer variables it uses
    nonlocals: set[str] = attrs.Factory(set)
    nested_id: int = 0
    binding: Any = None  # the outer variable a nested def's name is bound to
    indirect_calls: bool = False  # calls Callable values (may recurse through them)

    @property
    def llvm_name(self) -> str:
        if self.export:
            return self.export
        if self.cls is not None:
            return f"{self.module.name}.{self.cls.name}.{self.name}"
        if self.nested_id:
            return f"{self.module.name}.<locals>.{self.name}.{self.nested_id}"
        return f"{self.module.name}.{self.name}"

    @property
    def qualname(self) -> str:
        return f"{self.cls.name}.{self.name}" if self.cls is not None else self.name

    @property
    def ty(self) -> FuncType:
        return FuncType("function", tuple(p.ty for p in self.params), self.ret)


@attrs.define(eq=False)
class Builtin:
    """A builtin function (`print`, `len`, ...) or type used as a function (`int`)."""

    name: str


@attrs.define(eq=False)
class Intrinsic:
    """A `_machine` intrinsic: lowered inline, usable by privileged modules only."""

    name: str
    params: tuple[Type, ...]
    ret: Type


@attrs.define(eq=False)
class ModuleRef:
    module: "ModuleInfo"


@attrs.define(eq=False)
class BuiltinModule:
    """A module the compiler provides itself (`sys`)."""

    name: str


@attrs.define(eq=False)
class ExceptionClass:
    """A builtin exception class (ValueError...): callable to make an exception."""

    name: str


@attrs.define(eq=False)
class BoundCall:
    """A call to a known Function with its arguments matched to parameters.

    `args[i]` is the expression for parameter i, or None to use its default.
    `order` lists the parameter indices in the order the source evaluates them.
    """

    func: Function
    args: list[n.Expr | None]
    order: list[int]


@attrs.define(eq=False)
class ModuleInfo:
    name: str  # dotted module name; "__main__" for the program's file
    path: str
    tree: n.Module
    privileged: bool = False  # runtime/, stdlib drivers: may import _machine
    globals: dict[str, Any] = attrs.Factory(dict)  # name -> symbol
    init_locals: dict[str, LocalVar] = attrs.Factory(dict)
    # the program's builtin exception ClassInfos (their class ids depend on the
    # user's exception subclasses, which are numbered inside their subtrees)
    exception_classes: dict = attrs.Factory(dict)
    lambdas: list = attrs.Factory(list)  # lambdas in module-level code
