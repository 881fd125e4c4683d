"""The apy abstract syntax tree: what the parser produces and every later phase reads.

In:  nothing (this module only defines the node classes).
Out: attrs classes, one per construct of the Python syntax that apy accepts.

Every node carries a `span` (file, line, column, end line, end column; lines and
columns are 1-based, like the diagnostics that point at them). The tree mirrors
Python's own `ast` module closely enough that anyone who knows one knows the
other, with two differences:

* operators are plain strings (`"+"`, `"//"`, `"not in"`), not classes;
* expression nodes have mutable `ty` and `ref` slots that the type checker
  fills in (its type, and what a name or call resolved to); the lowering phase
  reads them. `None` means "not checked yet".

Constructs that are valid Python but that apy does not compile (yet) still get
nodes here, so that the checker can say "X is not supported by apy (yet)" at the
right place instead of the parser failing with a syntax error.
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.define(frozen=True)
class Span:
    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NO_SPAN = Span("<none>", 0, 0, 0, 0)


@attrs.define(eq=False)
class Node:
    span: Span = attrs.field(kw_only=True, default=NO_SPAN)


# --------------------------------------------------------------------------- expressions


@attrs.define(eq=False)
class Expr(Node):
    ty: Any = attrs.field(kw_only=True, default=None)
    # what the checker resolved this expression to (a variable, a function, a
    # bound call...); the lowering phase reads it. None before checking.
    ref: Any = attrs.field(kw_only=True, default=None)


@attrs.define(eq=False)
class Name(Expr):
    id: str


@attrs.define(eq=False)
class Constant(Expr):
    """int, float, str, bytes, bool, None or Ellipsis (`...`) literal."""

    value: Any


@attrs.define(eq=False)
class FormattedValue(Expr):
    """One `{value!conversion:format_spec}` field of an f-string."""

    value: Expr
    conversion: str | None  # "r", "s", "a" or None
    format_spec: JoinedStr | None


@attrs.define(eq=False)
class JoinedStr(Expr):
    """An f-string: literal text (Constant str) and FormattedValue parts, in order."""

    values: list[Expr]


@attrs.define(eq=False)
class BinOp(Expr):
    op: str  # + - * / // % ** << >> & | ^ @
    left: Expr
    right: Expr


@attrs.define(eq=False)
class UnaryOp(Expr):
    op: str  # - + ~ not
    operand: Expr


@attrs.define(eq=False)
class BoolOp(Expr):
    op: str  # and / or
    values: list[Expr]


@attrs.define(eq=False)
class Compare(Expr):
    """`left op0 c0 op1 c1 ...`; ops among < <= > >= == != in, not in, is, is not."""

    left: Expr
    ops: list[str]
    comparators: list[Expr]


@attrs.define(eq=False)
class IfExp(Expr):
    test: Expr
    body: Expr
    orelse: Expr


@attrs.define(eq=False)
class Keyword(Node):
    arg: str | None  # None for **kwargs
    value: Expr


@attrs.define(eq=False)
class Call(Expr):
    func: Expr
    args: list[Expr]  # may contain Starred
    keywords: list[Keyword]


@attrs.define(eq=False)
class Attribute(Expr):
    value: Expr
    attr: str


@attrs.define(eq=False)
class Slice(Expr):
    lower: Expr | None
    upper: Expr | None
    step: Expr | None


@attrs.define(eq=False)
class Subscript(Expr):
    value: Expr
    index: Expr  # a Slice, a Tuple for `a[i, j]`, or any expression


@attrs.define(eq=False)
class Starred(Expr):
    value: Expr


@attrs.define(eq=False)
class ListExpr(Expr):
    elts: list[Expr]


@attrs.define(eq=False)
class TupleExpr(Expr):
    elts: list[Expr]


@attrs.define(eq=False)
class SetExpr(Expr):
    elts: list[Expr]


@attrs.define(eq=False)
class DictExpr(Expr):
    keys: list[Expr | None]  # None marks a `**mapping` entry
    values: list[Expr]


@attrs.define(eq=False)
class Comprehension(Node):
    target: Expr
    iter: Expr
    ifs: list[Expr]
    is_async: bool = False


@attrs.define(eq=False)
class ListComp(Expr):
    elt: Expr
    generators: list[Comprehension]


@attrs.define(eq=False)
class SetComp(Expr):
    elt: Expr
    generators: list[Comprehension]


@attrs.define(eq=False)
class GeneratorExp(Expr):
    elt: Expr
    generators: list[Comprehension]


@attrs.define(eq=False)
class DictComp(Expr):
    key: Expr
    value: Expr
    generators: list[Comprehension]


@attrs.define(eq=False)
class Lambda(Expr):
    args: Arguments
    body: Expr


@attrs.define(eq=False)
class Await(Expr):
    value: Expr


@attrs.define(eq=False)
class Yield(Expr):
    value: Expr | None


@attrs.define(eq=False)
class YieldFrom(Expr):
    value: Expr


@attrs.define(eq=False)
class NamedExpr(Expr):
    """The walrus `target := value`."""

    target: Name
    value: Expr


# --------------------------------------------------------------------------- functions


@attrs.define(eq=False)
class Arg(Node):
    name: str
    annotation: Expr | None
    default: Expr | None = None
    # "positional" (before `/`), "normal", "vararg" (*args), "kwonly", "kwarg" (**kw)
    kind: str = "normal"


@attrs.define(eq=False)
class Arguments(Node):
    args: list[Arg]


# --------------------------------------------------------------------------- statements


@attrs.define(eq=False)
class Stmt(Node):
    pass


@attrs.define(eq=False)
class FunctionDef(Stmt):
    name: str
    args: Arguments
    returns: Expr | None
    body: list[Stmt]
    decorators: list[Expr]
    is_async: bool = False
    # span of the `def name` header only (for diagnostics that should not point
    # at the whole body)
    name_span: Span = attrs.field(kw_only=True, default=NO_SPAN)


@attrs.define(eq=False)
class ClassDef(Stmt):
    name: str
    bases: list[Expr]
    keywords: list[Keyword]
    body: list[Stmt]
    decorators: list[Expr]
    name_span: Span = attrs.field(kw_only=True, default=NO_SPAN)


@attrs.define(eq=False)
class Return(Stmt):
    value: Expr | None


@attrs.define(eq=False)
class Delete(Stmt):
    targets: list[Expr]


@attrs.define(eq=False)
class Assign(Stmt):
    """`t1 = t2 = value`: targets in source order."""

    targets: list[Expr]
    value: Expr


@attrs.define(eq=False)
class AugAssign(Stmt):
    target: Expr
    op: str  # the binary operator: "+" for `+=`
    value: Expr


@attrs.define(eq=False)
class AnnAssign(Stmt):
    target: Expr
    annotation: Expr
    value: Expr | None


@attrs.define(eq=False)
class For(Stmt):
    target: Expr
    iter: Expr
    body: list[Stmt]
    orelse: list[Stmt]
    is_async: bool = False


@attrs.define(eq=False)
class While(Stmt):
    test: Expr
    body: list[Stmt]
    orelse: list[Stmt]


@attrs.define(eq=False)
class If(Stmt):
    """`elif` chains are nested Ifs in `orelse`, as in Python's ast."""

    test: Expr
    body: list[Stmt]
    orelse: list[Stmt]


@attrs.define(eq=False)
class WithItem(Node):
    context: Expr
    target: Expr | None


@attrs.define(eq=False)
class With(Stmt):
    items: list[WithItem]
    body: list[Stmt]
    is_async: bool = False


@attrs.define(eq=False)
class Raise(Stmt):
    exc: Expr | None
    cause: Expr | None


@attrs.define(eq=False)
class ExceptHandler(Node):
    type: Expr | None
    name: str | None
    body: list[Stmt]
    # the variable `as name` binds (set by the checker)
    ref: Any = attrs.field(kw_only=True, default=None)


@attrs.define(eq=False)
class Try(Stmt):
    body: list[Stmt]
    handlers: list[ExceptHandler]
    orelse: list[Stmt]
    finalbody: list[Stmt]


@attrs.define(eq=False)
class Assert(Stmt):
    test: Expr
    msg: Expr | None


@attrs.define(eq=False)
class Alias(Node):
    name: str  # dotted for `import a.b`
    asname: str | None


@attrs.define(eq=False)
class Import(Stmt):
    names: list[Alias]


@attrs.define(eq=False)
class ImportFrom(Stmt):
    module: str | None  # None for `from . import x`
    names: list[Alias]  # a single Alias("*") for `import *`
    level: int  # number of leading dots


@attrs.define(eq=False)
class Global(Stmt):
    names: list[str]


@attrs.define(eq=False)
class Nonlocal(Stmt):
    names: list[str]


@attrs.define(eq=False)
class ExprStmt(Stmt):
    value: Expr


@attrs.define(eq=False)
class Pass(Stmt):
    pass


@attrs.define(eq=False)
class Break(Stmt):
    pass


@attrs.define(eq=False)
class Continue(Stmt):
    pass


@attrs.define(eq=False)
class Module(Node):
    path: str  # the file it was parsed from
    body: list[Stmt]
