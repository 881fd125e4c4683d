"""Tests of the apy parser (applc.parse.parser), with CPython's `ast` as the oracle.

In:  snippets of Python source, hand-written and hypothesis-generated.
Out: pass/fail. For a snippet that `ast.parse` accepts, our tree, turned into
     an `ast` tree by `to_ast`, must dump identically, and every node's span
     must equal ast's position where the two mean the same thing. For a
     snippet it rejects, we must raise CompileError (never a lark exception)
     whose span points at the offending token.
"""

from __future__ import annotations

import ast
import re
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from applc.diag import SOURCES, CompileError, format_diagnostic
from applc.parse import nodes as n
from applc.parse.parser import parse_module

REPO = Path(__file__).resolve().parents[2]

# ============================================================ the oracle

BINOPS = {
    "+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div, "//": ast.FloorDiv,
    "%": ast.Mod, "**": ast.Pow, "<<": ast.LShift, ">>": ast.RShift, "&": ast.BitAnd,
    "|": ast.BitOr, "^": ast.BitXor, "@": ast.MatMult,
}
UNARYOPS = {"-": ast.USub, "+": ast.UAdd, "~": ast.Invert, "not": ast.Not}
CMPOPS = {
    "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE, "==": ast.Eq, "!=": ast.NotEq,
    "in": ast.In, "not in": ast.NotIn, "is": ast.Is, "is not": ast.IsNot,
}


def to_ast(node):
    """Our node as the equivalent `ast` node, positions copied from our spans."""
    if node is None:
        return None
    if isinstance(node, list):
        return [to_ast(x) for x in node]
    result = _convert(node)
    if "lineno" in result._attributes and node.span.line:
        s = node.span
        result.lineno, result.col_offset = s.line, s.col - 1
        result.end_lineno, result.end_col_offset = s.end_line, s.end_col - 1
    return result


def _convert(x):  # noqa: C901 - one case per node class, like ast itself
    c = to_ast
    match x:
        case n.Module():
            return ast.Module(c(x.body), [])
        case n.Name():
            return ast.Name(x.id, ast.Load())
        case n.Constant():
            return ast.Constant(x.value)
        case n.FormattedValue():
            conv = ord(x.conversion) if x.conversion else -1
            return ast.FormattedValue(c(x.value), conv, c(x.format_spec))
        case n.JoinedStr():
            return ast.JoinedStr(c(x.values))
        case n.BinOp():
            return ast.BinOp(c(x.left), BINOPS[x.op](), c(x.right))
        case n.UnaryOp():
            return ast.UnaryOp(UNARYOPS[x.op](), c(x.operand))
        case n.BoolOp():
            return ast.BoolOp(ast.And() if x.op == "and" else ast.Or(), c(x.values))
        case n.Compare():
            return ast.Compare(c(x.left), [CMPOPS[op]() for op in x.ops], c(x.comparators))
        case n.IfExp():
            return ast.IfExp(c(x.test), c(x.body), c(x.orelse))
        case n.Keyword():
            return ast.keyword(x.arg, c(x.value))
        case n.Call():
            return ast.Call(c(x.func), c(x.args), c(x.keywords))
        case n.Attribute():
            return ast.Attribute(c(x.value), x.attr, ast.Load())
        case n.Slice():
            return ast.Slice(c(x.lower), c(x.upper), c(x.step))
        case n.Subscript():
            return ast.Subscript(c(x.value), c(x.index), ast.Load())
        case n.Starred():
            return ast.Starred(c(x.value), ast.Load())
        case n.ListExpr():
            return ast.List(c(x.elts), ast.Load())
        case n.TupleExpr():
            return ast.Tuple(c(x.elts), ast.Load())
        case n.SetExpr():
            return ast.Set(c(x.elts))
        case n.DictExpr():
            return ast.Dict(c(x.keys), c(x.values))
        case n.Comprehension():
            return ast.comprehension(c(x.target), c(x.iter), c(x.ifs), int(x.is_async))
        case n.ListComp():
            return ast.ListComp(c(x.elt), c(x.generators))
        case n.SetComp():
            return ast.SetComp(c(x.elt), c(x.generators))
        case n.GeneratorExp():
            return ast.GeneratorExp(c(x.elt), c(x.generators))
        case n.DictComp():
            return ast.DictComp(c(x.key), c(x.value), c(x.generators))
        case n.Lambda():
            return ast.Lambda(_arguments(x.args), c(x.body))
        case n.Await():
            return ast.Await(c(x.value))
        case n.Yield():
            return ast.Yield(c(x.value))
        case n.YieldFrom():
            return ast.YieldFrom(c(x.value))
        case n.NamedExpr():
            return ast.NamedExpr(c(x.target), c(x.value))
        case n.Arg():
            return ast.arg(x.name, c(x.annotation))
        case n.FunctionDef():
            cls = ast.AsyncFunctionDef if x.is_async else ast.FunctionDef
            return cls(x.name, _arguments(x.args), c(x.body), c(x.decorators), c(x.returns))
        case n.ClassDef():
            return ast.ClassDef(x.name, c(x.bases), c(x.keywords), c(x.body), c(x.decorators))
        case n.Return():
            return ast.Return(c(x.value))
        case n.Delete():
            return ast.Delete(c(x.targets))
        case n.Assign():
            return ast.Assign(c(x.targets), c(x.value))
        case n.AugAssign():
            return ast.AugAssign(c(x.target), BINOPS[x.op](), c(x.value))
        case n.AnnAssign():
            return ast.AnnAssign(c(x.target), c(x.annotation), c(x.value), 0)
        case n.For():
            cls = ast.AsyncFor if x.is_async else ast.For
            return cls(c(x.target), c(x.iter), c(x.body), c(x.orelse))
        case n.While():
            return ast.While(c(x.test), c(x.body), c(x.orelse))
        case n.If():
            return ast.If(c(x.test), c(x.body), c(x.orelse))
        case n.WithItem():
            return ast.withitem(c(x.context), c(x.target))
        case n.With():
            cls = ast.AsyncWith if x.is_async else ast.With
            return cls(c(x.items), c(x.body))
        case n.Raise():
            return ast.Raise(c(x.exc), c(x.cause))
        case n.ExceptHandler():
            return ast.ExceptHandler(c(x.type), x.name, c(x.body))
        case n.Try():
            return ast.Try(c(x.body), c(x.handlers), c(x.orelse), c(x.finalbody))
        case n.Assert():
            return ast.Assert(c(x.test), c(x.msg))
        case n.Alias():
            return ast.alias(x.name, x.asname)
        case n.Import():
            return ast.Import(c(x.names))
        case n.ImportFrom():
            return ast.ImportFrom(x.module, c(x.names), x.level)
        case n.Global():
            return ast.Global(x.names)
        case n.Nonlocal():
            return ast.Nonlocal(x.names)
        case n.ExprStmt():
            return ast.Expr(c(x.value))
        case n.Pass():
            return ast.Pass()
        case n.Break():
            return ast.Break()
        case n.Continue():
            return ast.Continue()
    raise AssertionError(f"no ast equivalent for {type(x).__name__}")


def _arguments(args: n.Arguments) -> ast.arguments:
    """ast splits parameters by kind and keeps defaults apart; so do we here."""
    by_kind = {"positional": [], "normal": [], "vararg": [], "kwonly": [], "kwarg": []}
    for a in args.args:
        by_kind[a.kind].append(a)
    positional = by_kind["positional"] + by_kind["normal"]
    return ast.arguments(
        posonlyargs=to_ast(by_kind["positional"]),
        args=to_ast(by_kind["normal"]),
        vararg=to_ast(by_kind["vararg"][0]) if by_kind["vararg"] else None,
        kwonlyargs=to_ast(by_kind["kwonly"]),
        kw_defaults=[to_ast(a.default) for a in by_kind["kwonly"]],
        kwarg=to_ast(by_kind["kwarg"][0]) if by_kind["kwarg"] else None,
        defaults=[to_ast(a.default) for a in positional if a.default is not None],
    )


def _normalize(tree: ast.AST) -> ast.AST:
    """Forget what our AST does not record: load/store context, `u` kinds, `simple`."""
    for node in ast.walk(tree):
        if hasattr(node, "ctx"):
            node.ctx = ast.Load()
        if isinstance(node, ast.Constant):
            node.kind = None
        if isinstance(node, ast.AnnAssign):
            node.simple = 0
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Assign, ast.For,
                             ast.AsyncFor, ast.With, ast.AsyncWith, ast.arg)):
            node.type_comment = None
    return tree


def _fstring_parts(tree: ast.AST) -> set[int]:
    """Nodes whose positions CPython 3.11 does not give exactly (inside f-strings).

    3.11 gives the f-string's literal parts, fields and format specs the span
    of the whole string; we give each its own. Expressions inside fields do
    get real positions in 3.11 and are compared.
    """
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.JoinedStr, ast.FormattedValue)) or (
                        isinstance(inner, ast.Constant) and isinstance(inner.value, str)):
                    if inner is not node:
                        skip.add(id(inner))
    return skip


def ours(src: str) -> ast.Module:
    return to_ast(parse_module(src, "t.apy"))


def theirs(src: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(src)


def assert_same(src: str, positions: bool = True) -> None:
    """Our tree equals ast's for src, spans included."""
    expected = _normalize(theirs(src))
    actual = _normalize(ours(src))
    assert ast.dump(actual, indent=1) == ast.dump(expected, indent=1), src
    if positions:
        assert_same_positions(actual, expected, src)


def assert_same_positions(actual: ast.AST, expected: ast.AST, src: str) -> None:
    skip = _fstring_parts(expected)
    lines = [line.encode() for line in re.split(r"\r\n|\r|\n", src.removeprefix("\ufeff"))]

    def chars(line: int, byte_col: int) -> int:  # ast counts UTF-8 bytes, we count characters
        return len(lines[line - 1][:byte_col].decode())

    for mine, cpython in zip(ast.walk(actual), ast.walk(expected)):
        if "lineno" not in cpython._attributes or id(cpython) in skip:
            continue
        want = (cpython.lineno, chars(cpython.lineno, cpython.col_offset),
                cpython.end_lineno, chars(cpython.end_lineno, cpython.end_col_offset))
        got = (mine.lineno, mine.col_offset, mine.end_lineno, mine.end_col_offset)
        assert got == want, f"{type(cpython).__name__} in {src!r}: {got} != {want}"


# ======================================================== every construct

STATEMENTS = [
    # simple statements
    "pass", "break", "continue", "return", "return x", "return x, y", "return *a, b",
    "del x", "del x, y", "del x,", "del (a), [b]", "del (a, b)", "del a.b, c[0], d[1:2]",
    "x = 1", "a = b = c", "a, b = c", "(a, b) = c", "[a, b] = c", "a, = c", "*a, b = c",
    "a, *b, c = d", "a.b, c[0] = 1, 2", "[a, (b, c)] = x", "x = yield", "x = yield y",
    "a = b = yield c", "x = yield from y", "x = *a, b", "() = x", "[] = x",
    "x: int", "x: int = 3", "x.y: list[int] = []", "x[0]: int = 1", "(x): int = 3",
    "x: int = *a, b", "x: int = yield",
    "x += 1", "x -= 1", "x *= 1", "x @= 1", "x /= 1", "x %= 1", "x &= 1", "x |= 1",
    "x ^= 1", "x <<= 1", "x >>= 1", "x **= 1", "x //= 1", "a.b += 1", "a[i] //= 2",
    "(a) += 1", "x += yield",
    "raise", "raise E", "raise E(1) from None", "raise E from e",
    "assert x", "assert x, 'message'", "assert (x, y)",
    "import a", "import a.b.c", "import a as b, c.d as e", "import a.b as c",
    "from a import b", "from a.b import c as d, e", "from . import x", "from .. import *",
    "from .a import (b, c as d,)", "from ...a.b import (c)", "from ....a import c",
    "from .... import c", "from a import *", "from a import (b)",
    "global a", "global a, b", "nonlocal x", "nonlocal x, y",
    "x; y", "x = 1; y = 2;", "f()", "a.b.c(d)[e]", "...", "'docstring'",
    "(yield)", "yield x", "yield", "yield from x", "yield x, y", "await x",
    # compound statements
    "if x: y",
    "if x:\n    y\n",
    "if x:\n    a\nelse:\n    b\n",
    "if x:\n    a\nelif y:\n    b\nelif z:\n    c\nelse:\n    d\n",
    "if x:\n    a\nelif y:\n    b\n",
    "if (n := f()) > 1: pass",
    "while x: pass",
    "while x:\n    a\nelse:\n    b\n",
    "for x in y: pass",
    "for x, y in z: pass",
    "for (x, y) in z: pass",
    "for x, in z: pass",
    "for *a, b in z: pass",
    "for x.a, y[0] in z: pass",
    "for x in a, b: pass",
    "for x in *a, b: pass",
    "for x in y:\n    a\nelse:\n    b\n",
    "for i in range(10):\n    if i % 2:\n        continue\n    break\n",
    "with a: pass",
    "with a as b: pass",
    "with a as b, c as d: pass",
    "with a as (b, c): pass",
    "with a as [b, c]: pass",
    "with a as b.c: pass",
    "with a, b: pass",
    "with (a): pass",
    "with (a, b): pass",
    "with (a, b,): pass",
    "with (a as b, c as d): pass",
    "with (a as b, c as d,): pass",
    "with (a, b) as c: pass",
    "with (a, b) as c, d: pass",
    "with (a, b), c: pass",
    "with (a)(b) as c: pass",
    "with (a).b: pass",
    "with (yield x): pass",
    "with (a := b): pass",
    "with (*a, b): pass",
    "with (): pass",
    "with (a for a in b): pass",
    "with ((a, b)): pass",
    "with (\n    open(x) as f,\n    open(y) as g,\n):\n    pass\n",
    "try:\n    a\nexcept:\n    b\n",
    "try:\n    a\nexcept E:\n    b\n",
    "try:\n    a\nexcept E as e:\n    b\n",
    "try:\n    a\nexcept (A, B) as e:\n    b\nexcept C:\n    c\n",
    "try:\n    a\nexcept E:\n    b\nelse:\n    c\n",
    "try:\n    a\nexcept E:\n    b\nelse:\n    c\nfinally:\n    d\n",
    "try:\n    a\nexcept E:\n    b\nfinally:\n    d\n",
    "try:\n    a\nfinally:\n    d\n",
    "try: a\nexcept E: b\nfinally: c\n",
    "def f(): pass",
    "def f():\n    return 1\n",
    "def f(a, b): pass",
    "def f(a, b=1, *args, c, d=2, **kw): pass",
    "def f(a, /): pass",
    "def f(a, /, b): pass",
    "def f(a=1, /, b=2, *c, d, e=3, **f): pass",
    "def f(a, *, b): pass",
    "def f(*, b=1, c): pass",
    "def f(*args): pass",
    "def f(**kw): pass",
    "def f(**kw,): pass",
    "def f(a,): pass",
    "def f(a: int = 1, *b: str, c: int, **d: float) -> None: pass",
    "def f(a: 'str') -> list[int]:\n    return [a]\n",
    "@d\ndef f(): pass",
    "@a.b(c)\n@d\ndef f(): pass",
    "@(yield)\ndef f(): pass",
    "@x[0].y\ndef f(): pass",
    "async def f():\n    await x\n",
    "async def f():\n    async for x in y:\n        pass\n    async with a as b, c:\n        pass\n",
    "@d\nasync def f(): pass",
    "class A: pass",
    "class A(): pass",
    "class A(B): pass",
    "class A(B, C, metaclass=M, **kw): pass",
    "class A(*bases): pass",
    "@dataclass\nclass A:\n    x: int\n    y: int = 0\n\n    def f(self) -> int:\n        return self.x\n",
    "class A:\n    '''doc'''\n    def __init__(self, x: int) -> None:\n        self.x = x\n",
    "def f():\n    def g():\n        nonlocal x\n        x = 1\n    return g\n",
    "if a:\n    if b:\n        c\n    d\ne\n",
    "if a:\n    pass\n\n\n# comment\n\nb = 1\n",
    "while True:\n    x = 1; y = 2\n",
    "def f():\n    x = 1;\n",                 # a compound statement ends after the `;`
    "if x: a;\nelif y: b;\nelse: c;\n",
]

EXPRESSIONS = [
    # literals
    "1", "0", "00", "0_0", "1_000_000", "0x1F", "0XdeadBEEF", "0x_1f", "0o17", "0O7_7", "0b1010",
    "0B_1", "1.5", "1.", ".5", "5.e3", "1e-7", "1E+7", "1_0.2_5e1_0", "3j", "1.5J", "1e3j",
    ".5j", "0j", "1_000j", "123456789012345678901234567890", "0x" + "f" * 40,
    "True", "False", "None", "...",
    "'a'", '"a"', "'''a\nb'''", '"""a\nb"""', "''", '""', "''''''", "'\"'", '"\'"',
    "'a' 'b'", "'a' \"b\" '''c'''", "('a'\n 'b')", "b'a'", "b'a' b'b'", "B'x'", "br'\\x'",
    "rb'\\x'", "Rb'\\n'", "bR'\\n'", "BR'\\n'", "r'\\n'", "R'\\n\\''", "u'x'", "U'x'",
    r"'\n\t\r\a\b\f\v\\\'\"'", r"'\x41\x7e'", r"'\101\0\7\77\777'", r"'\u00e9\U0001F600'",
    r"'\N{LATIN SMALL LETTER E WITH ACUTE}'", r"'\N{latin small letter a}'",
    r"'\N{EM DASH}x'", r"'\q\d\w\ '", r"b'\x00\xff\101\777'", r"b'\u1234\N{x}'",
    "'a\\\nb'", "'é'", "'日本'", "'\\\\'",
    # f-strings
    "f''", "f'a'", "f'{x}'", "f'{x!r}'", "f'{x!s}'", "f'{x!a}'", "f'{x:>10}'",
    "f'{x:{w}.{p}f}'", "f'{x!r:^{w}}'", "f'{{'", "f'}}'", "f'{{x}}'", "f'a{x}b{y}c'",
    "f'{x=}'", "f'{x = }'", "f'{x=!s}'", "f'{x=:>10}'", "f'{x=:}'", "f'{x:}'",
    "f'{a + b=}'", "f'{a[\"k\"]}'", "f'{a[0]}'", "f'{f(x, y)}'",
    "f'{x if y else z}'", "f'{(lambda: 1)()}'", "f'{a, b}'", "f'{x for x in y}'",
    "f'{yield}'", "f'{a != b}'", "f'{a == b}'", "f'{a <= b}'", "f'{a > b}'", "f'{ x }'",
    "f'{x:{{}}}'", "'a' f'{x}' 'b'", "f'{x}' f'{y}'", "'' f''", "f'' 'a'", "rf'\\n{x}'",
    "fr'{x}\\n'", "F'{x}'", "Rf'{x}'", "f'\\n{x}\\t'", "f'\\{x}'", "f'\\N{EM DASH}{x}'",
    "f'''{\nx\n}'''", "f'''a\n{x}\nb'''", "f'{x:%Y-%m-%d}'", "f'{x:{w}}'", "f'{3.14:.2f}'",
    "f'{\"a\"}'", "f\"{'a'}\"", "f'''{\"a\"}'''", "f'{x!r:{w}}'",
    "f'{f\"{x}\"}'",
    # operators and precedence
    "a + b * c", "(a + b) * c", "a - b - c", "a - (b - c)", "a ** b ** c", "(a ** b) ** c",
    "-a ** b", "(-a) ** b", "a ** -b", "-2 ** 2", "- - a", "~a", "+a", "not a", "not not a",
    "a * b / c // d % e @ f", "a << b >> c", "a & b ^ c | d", "a | b & c", "a + b << c",
    "a < b", "a < b < c", "a == b != c", "a <= b >= c > d", "a in b", "a not in b",
    "a is b", "a is not b", "not a in b", "not a is not b", "a < (b < c)", "(a < b) < c",
    "a and b", "a and b and c", "a or b or c", "a and b or c", "a or b and c",
    "(a or b) or c", "a or (b or c)", "not a and b", "a if b else c",
    "a if b else c if d else e", "(a if b else c) if d else e", "lambda: 0",
    "lambda x: x", "lambda x, y=1, *a, z, **k: x", "lambda x, /, y: 0", "lambda *, k: k",
    "lambda *a: a", "lambda **k: k", "lambda: lambda: 0", "lambda: (yield)",
    "lambda x=lambda: 1: x", "a if b else lambda: c", "(x := 1)", "(x := (y := 1))",
    "f(x := 1)", "[y := 1, y]", "a[x := 1]", "a[x:=1, y]", "await a + b", "await a ** b",
    "-await a", "await a.b()", "(yield x)", "(yield from x)", "(yield)",
    "a + (b)", "(a) + b", "((a)) + (b)", "(a)(b)", "(a).b", "(a)[b]",
    # primaries
    "a.b", "a.b.c", "a()", "a(b)", "a(b, c)", "a(b,)", "a(*b)", "a(**b)", "a(b=1)",
    "a(b, *c, d=1, **e)", "a(*b, c)", "a(x=1, *b)", "a(**k, x=1)", "a(b, *c, d=1, *e, **f, g=2)",
    "a(x for x in y)", "a(x for x in y if z)", "a((x for x in y), z)", "a[b]", "a[b, c]",
    "a[b,]", "a[()]", "a[b:c]", "a[:]", "a[::]", "a[b:]", "a[:c]", "a[::d]", "a[b:c:d]",
    "a[b::d]", "a[:c:]", "a[1:2, ::3]", "a[b:c, d]", "a[*b]", "a[*b, c]", "a[b:c, *d]",
    "a[b][c]", "a.b[c](d).e", "a[lambda: 1]", "a[b if c else d]",
    # displays
    "()", "(a,)", "(a, b)", "(a, b,)", "(*a, b)", "(*a,)", "[]", "[a]", "[a, b,]", "[*a, *b]",
    "{a}", "{a, b}", "{*a, b}", "{}", "{a: b}", "{a: b, c: d,}", "{**a}", "{**a, 'b': 1, **c}",
    "[x for x in y]", "[x for x in y if a if b]", "[x for x in y for z in x]",
    "[x for x, y in z]", "[x for (x, y) in z]", "[x for *x, y in z]",
    "[x async for x in y]", "{x for x in y}", "{k: v for k, v in d.items()}",
    "(x for x in y)", "[x if c else d for x in y]", "[(lambda: x) for x in y]",
    "[x for x in (lambda: y)]", "[x for x in a or b]", "[x for x in y if not z]",
    "[[y for y in x] for x in z]", "{a: [b for b in c] for a in d}",
    # layout
    "(a +\n b)", "[a,\n b,\n]", "{\n  'a': 1,  # comment\n  'b': 2,\n}", "f(\n  a,\n  b\n)",
    "a + \\\n b", "x = [1, 2,\n     3]",
]

SPECIAL_SOURCES = [
    "x = 1\r\ny = 2\r\n",                      # CRLF
    "if a:\r\n    b\r\n",
    "x = 1",                                   # no final newline
    "if a:\n    b",
    "if a:\n    b\n    # trailing comment",
    "# only a comment",
    "",
    "\n\n\n",
    "   \n",
    "if a:\n\tb\n\tc\n",                       # tabs
    "if a:\n\tif b:\n\t\tc\n\td\n",
    "if a:\n\tb\n\tc\n\td\n",                   # a tab is 8 columns
    "x = '''a\r\nb'''\r\n",                    # CRLF inside a string becomes \n
    "x = 1  # comment\n",
    "x = (1,  # comment\n     2)\n",
    "def f():\n    return 1\n\n\n\ndef g():\n    pass\n",
    "if a:\n    b\n  # comment at odd indentation\n    c\n",
    "x = \\\n  1\n",
    "class A:\n\n    x: int\n\n\n    def f(self): pass\n",
    "if x:\n    pass\n\x0c\ny = 1\n",          # form feed
    "x = 1;",
    "mañana = 1\nnaïve = mañana\n",
]


@pytest.mark.parametrize("src", STATEMENTS)
def test_statement_matches_ast(src):
    assert_same(src)


@pytest.mark.parametrize("src", EXPRESSIONS)
def test_expression_matches_ast(src):
    assert_same(src)
    assert_same(f"x = {src}\n")


@pytest.mark.parametrize("src", SPECIAL_SOURCES)
def test_layout_matches_ast(src):
    assert_same(src)


def test_byte_order_mark_is_ignored():
    # CPython ignores a BOM at the start of a file (ast.parse of a str does not)
    assert_same("x = 1\n")
    assert to_dump(parse_module("\ufeffx = 1\n", "t.apy")) == to_dump(parse_module("x = 1\n", "t.apy"))


def to_dump(module: n.Module) -> str:
    return ast.dump(to_ast(module), include_attributes=True)


def test_identifiers_are_nfkc_normalized():
    # PEP 3131: `ﬁ` (a ligature) and `fi` are the same name
    assert_same("ﬁ = 1\n", positions=False)
    assert parse_module("ﬁ = 1\n", "t.apy").body[0].targets[0].id == "fi"


# ======================================================= node details


def only_expr(src: str) -> n.Expr:
    stmt = parse_module(src, "t.apy").body[0]
    assert isinstance(stmt, n.ExprStmt)
    return stmt.value


def test_operators_are_strings():
    e = only_expr("a not in b is not c\n")
    assert e.ops == ["not in", "is not"]
    assert only_expr("a // b\n").op == "//"
    assert only_expr("not a\n").op == "not"
    stmt = parse_module("a **= 2\n", "t.apy").body[0]
    assert isinstance(stmt, n.AugAssign) and stmt.op == "**"


def test_negative_literal_is_unary_minus():
    e = only_expr("-1\n")
    assert isinstance(e, n.UnaryOp) and e.op == "-"
    assert isinstance(e.operand, n.Constant) and e.operand.value == 1


def test_constant_types():
    cases = {"1": int, "1.0": float, "1j": complex, "'a'": str, "b'a'": bytes,
             "True": bool, "None": type(None), "...": type(Ellipsis)}
    for src, ty in cases.items():
        assert type(only_expr(src + "\n").value) is ty, src


def test_argument_kinds_and_defaults():
    fn = parse_module("def f(a, b=1, /, c=2, *d, e, f=3, **g): pass\n", "t.apy").body[0]
    kinds = [(a.name, a.kind, a.default.value if a.default else None) for a in fn.args.args]
    assert kinds == [("a", "positional", None), ("b", "positional", 1), ("c", "normal", 2),
                     ("d", "vararg", None), ("e", "kwonly", None), ("f", "kwonly", 3),
                     ("g", "kwarg", None)]


def test_function_name_span_is_the_header():
    src = "@dec\nasync def compute(x):\n    return x\n"
    fn = parse_module(src, "t.apy").body[0]
    assert (fn.name_span.line, fn.name_span.col, fn.name_span.end_col) == (2, 1, 18)
    assert (fn.span.line, fn.span.end_line) == (2, 3)
    cls = parse_module("class Point(Base):\n    x: int\n", "t.apy").body[0]
    assert (cls.name_span.col, cls.name_span.end_col) == (1, 12)


def test_fstring_spans_are_exact():
    src = 'x = f"ab{value!r:>{width}}cd"\n'
    js = parse_module(src, "t.apy").body[0].value
    lit, field, tail = js.values
    assert (lit.span.col, lit.span.end_col) == (7, 9)
    assert (field.span.col, field.span.end_col) == (9, 27)
    assert (field.value.span.col, field.value.span.end_col) == (10, 15)
    width = field.format_spec.values[1].value
    assert isinstance(width, n.Name) and (width.span.col, width.span.end_col) == (20, 25)
    assert (tail.span.col, tail.span.end_col) == (27, 29)


def test_fstring_expression_spans_in_multiline_strings():
    src = 'x = f"""\n  {a +\n b}"""\n'
    field = parse_module(src, "t.apy").body[0].value.values[1]
    binop = field.value
    assert (binop.span.line, binop.span.col, binop.span.end_line, binop.span.end_col) == (2, 4, 3, 3)


def test_module_records_path_and_source():
    m = parse_module("x = 1\n", "pkg/mod.apy")
    assert m.path == "pkg/mod.apy"
    assert m.body[0].span.file == "pkg/mod.apy"
    assert SOURCES.line("pkg/mod.apy", 1) == "x = 1"


# ============================================================= errors

# (source, line, column, part of the message); each is also a SyntaxError for CPython.
ERRORS = [
    ("x = )\n", 1, 5, "unmatched ')'"),
    ("x = (1, 2\n", 1, 5, "'(' was never closed"),
    ("x = [1,\n  2,\n", 1, 5, "'[' was never closed"),
    ("(]\n", 1, 2, "closing parenthesis ']' does not match opening parenthesis '('"),
    ("f(a b)\n", 1, 5, "invalid syntax: unexpected name 'b'"),
    ("x = 1 +\n", 1, 8, "invalid syntax: unexpected end of line"),
    ("x = ,\n", 1, 5, "invalid syntax: unexpected ','"),
    ("if x\n    y\n", 1, 5, "invalid syntax"),
    ("  x = 1\n", 1, 3, "unexpected indent"),
    ("x = 1\n    y = 2\n", 2, 5, "unexpected indent"),
    ("if x:\n  a\n b\n", 3, 2, "unindent does not match any outer indentation level"),
    ("if x:\ny\n", 2, 1, "expected an indented block"),
    ("if x:\n", 1, 6, "expected an indented block"),
    ("def f():\n", 1, 9, "expected an indented block"),
    ("if x:\n        a\n\tb\n", 3, 2, "inconsistent use of tabs and spaces"),
    ('x = "abc\n', 1, 5, "unterminated string literal (detected at line 1)"),
    ("x = b'abc\n", 1, 5, "unterminated string literal"),
    ("x = '''ab\nc\n", 1, 5, "unterminated triple-quoted string literal (detected at line 2)"),
    ("x = $\n", 1, 5, "invalid syntax"),
    ("x = 1 \\ 2\n", 1, 7, "unexpected character after line continuation character"),
    ("x = €\n", 1, 5, "invalid character '€' (U+20AC)"),
    ("a + 1 = 2\n", 1, 1, "cannot assign to expression"),
    ("f() = 1\n", 1, 1, "cannot assign to function call"),
    ("x, f() = 1, 2\n", 1, 4, "cannot assign to function call"),
    ("True = 1\n", 1, 1, "cannot assign to True"),
    ("... = 1\n", 1, 1, "cannot assign to ellipsis"),
    ("a if b else c = 1\n", 1, 1, "cannot assign to conditional expression"),
    ("x = yield = 3\n", 1, 5, "assignment to yield expression not possible"),
    ("for f() in y: pass\n", 1, 5, "cannot assign to function call"),
    ("[x for 1 in y]\n", 1, 8, "cannot assign to literal"),
    ("with a as f(): pass\n", 1, 11, "cannot assign to function call"),
    ("del f()\n", 1, 5, "cannot delete function call"),
    ("del a + b\n", 1, 5, "cannot delete expression"),
    ("del *a\n", 1, 5, "invalid syntax"),
    ("a, b += 1\n", 1, 1, "'tuple' is an illegal expression for augmented assignment"),
    ("f() += 1\n", 1, 1, "'function call' is an illegal expression for augmented assignment"),
    ("a, b: int\n", 1, 1, "only single target (not tuple) can be annotated"),
    ("[a]: int\n", 1, 1, "only single target (not list) can be annotated"),
    ("(*a) = b\n", 1, 2, "cannot use starred expression here"),
    ("x := 1\n", 1, 3, "invalid syntax: unexpected ':='"),
    ("f(a.b=1)\n", 1, 6, "invalid syntax: unexpected '='"),
    ("f(a=1, b)\n", 1, 8, "positional argument follows keyword argument"),
    ("f(**k, b)\n", 1, 8, "positional argument follows keyword argument unpacking"),
    ("f(**k, *a)\n", 1, 8, "iterable argument unpacking follows keyword argument unpacking"),
    ("f(x, a for a in b)\n", 1, 8, "invalid syntax: unexpected 'for'"),
    ("class A(x for x in y): pass\n", 1, 11, "invalid syntax: unexpected 'for'"),
    ("def f(a=1, b): pass\n", 1, 12, "non-default argument follows default argument"),
    ("lambda x=1, y: 0\n", 1, 13, "non-default argument follows default argument"),
    ("def f(*, **k): pass\n", 1, 10, "named arguments must follow bare *"),
    ("def f(*): pass\n", 1, 7, "named arguments must follow bare *"),
    ("lambda *,: 0\n", 1, 8, "named arguments must follow bare *"),
    ("def f(**k, a): pass\n", 1, 12, "arguments cannot follow var-keyword argument"),
    ("def f(*a, /): pass\n", 1, 11, "/ must be ahead of *"),
    ("def f(a, /, b, /): pass\n", 1, 16, "/ may appear only once"),
    ("def f(*a, *b): pass\n", 1, 11, "* argument may appear only once"),
    ("def f(/): pass\n", 1, 7, "invalid syntax"),
    ("def f(**k=1): pass\n", 1, 10, "invalid syntax"),
    ("x = 0777\n", 1, 5, "leading zeros in decimal integer literals"),
    ("x = 1__0\n", 1, 6, "invalid syntax"),
    ('x = "a" b"b"\n', 1, 9, "cannot mix bytes and nonbytes literals"),
    ("x = b'é'\n", 1, 5, "bytes can only contain ASCII literal characters"),
    (r"x = '\x4'" + "\n", 1, 6, "(unicode error) truncated \\xXX escape"),
    (r"x = '\u12'" + "\n", 1, 6, "(unicode error) truncated \\uXXXX escape"),
    (r"x = '\U00110000'" + "\n", 1, 6, "(unicode error) illegal Unicode character"),
    (r"x = '\N{NO SUCH NAME}'" + "\n", 1, 6, "(unicode error) unknown Unicode character name"),
    (r"x = '\N'" + "\n", 1, 6, "(unicode error) malformed \\N character escape"),
    (r"x = b'\xZZ'" + "\n", 1, 7, "(value error) invalid \\x escape"),
    ("x = f'}'\n", 1, 7, "f-string: single '}' is not allowed"),
    ("x = f'{}'\n", 1, 7, "f-string: empty expression not allowed"),
    ("x = f'{ }'\n", 1, 7, "f-string: empty expression not allowed"),
    ("x = f'{x!z}'\n", 1, 10, "f-string: invalid conversion character"),
    ("x = f'{x'\n", 1, 8, "f-string: expecting '}'"),
    ("x = f'{x:{y:{z}}}'\n", 1, 13, "f-string: expressions nested too deeply"),
    ("x = f'{a b}'\n", 1, 10, "invalid syntax: f-string: unexpected name 'b'"),
    ("x = f'{a)}'\n", 1, 9, "f-string: unmatched ')'"),
    ("x = f'{(a]}'\n", 1, 10, "f-string: closing parenthesis ']' does not match"),
    ("x = f'{a #}'\n", 1, 10, "f-string expression part cannot include '#'"),
    ("x = f'{a[\\'k\\']}'\n", 1, 10, "f-string expression part cannot include a backslash"),
    ("x = f'{*a}'\n", 1, 8, "f-string: cannot use starred expression here"),
    ("x = f'''{\n a $ b}'''\n", 2, 4, "f-string: unexpected character '$'"),
    ("import\n", 1, 7, "invalid syntax: unexpected end of line"),
    ("from a import b,\n", 1, 17, "invalid syntax"),
    ("from import b\n", 1, 1, "invalid syntax"),
    ("x = 1 if y\n", 1, 11, "invalid syntax"),
    ("else: pass\n", 1, 1, "invalid syntax: unexpected 'else'"),
    ("def f[T](): pass\n", 1, 6, "invalid syntax: unexpected '['"),
    ("print 'x'\n", 1, 7, "invalid syntax: unexpected string literal"),
    ("@d\nx = 1\n", 2, 1, "invalid syntax: unexpected name 'x'"),
    ("try:\n    pass\n", 2, 9, "invalid syntax: unexpected end of file"),
    ("x = [1 for x in y, z]\n", 1, 18, "invalid syntax: unexpected ','"),
    ("(" * 201 + ")" * 201 + "\n", 1, 201, "too many nested parentheses"),
    ("class A:\n  def f(self):\n   pass\n  x\n    y\n", 5, 5, "unexpected indent"),
    ("if x:\n    a\n  else:\n    b\n", 3, 3, "unindent does not match"),
    ("".join(" " * i + "if x:\n" for i in range(100)) + " " * 100 + "pass\n", 101, 101,
     "too many levels of indentation"),
    ("x = 1\0\n", 1, 6, "source code cannot contain null bytes"),
    ("x = f'{a +}'\n", 1, 11, "f-string: unexpected end of expression"),
]


# The errors CPython's tokenizer reports keep its words; all others are
# "invalid syntax: ..." (the diagnostics tests match on that).
TOKENIZER_ERRORS = (
    "unexpected indent", "unindent does not match any outer indentation level",
    "expected an indented block", "inconsistent use of tabs and spaces in indentation",
    "too many levels of indentation", "too many nested parentheses",
    "unterminated string literal", "unterminated triple-quoted string literal",
    "invalid character", "source code cannot contain null bytes",
    "unexpected character after line continuation character",
)


@pytest.mark.parametrize("src,line,col,message", ERRORS)
def test_syntax_error(src, line, col, message):
    with pytest.raises(SyntaxError):
        theirs(src)
    with pytest.raises(CompileError) as info:
        parse_module(src, "bad.apy")
    (d,) = info.value.diagnostics
    assert message in d.message
    assert d.message.startswith(("invalid syntax: ",) + TOKENIZER_ERRORS), d.message
    assert (d.span.file, d.span.line, d.span.col) == ("bad.apy", line, col), format_diagnostic(d)
    assert d.span.end_line > d.span.line or d.span.end_col >= d.span.col
    format_diagnostic(d)  # quoting the line must work for every error


@pytest.mark.parametrize("src", [
    "x = " + "-" * 1000 + "a\n",
    "x = " + "2 ** " * 1000 + "2\n",
    "x = " + " + ".join(["a"] * 3000) + "\n",
    "x = " + "a" + ".b" * 1000 + "\n",
    "".join(" " * i + "if x:\n" for i in range(99)) + " " * 99 + "pass\n",
    "if a:\n    pass\n" + "elif b:\n    pass\n" * 1000,
    "x = " + "(" * 199 + "a" + ")" * 199 + "\n",
])
def test_deep_nesting_is_not_limited_by_recursion(src):
    module = parse_module(src, "deep.apy")
    assert len(module.body) == 1


def test_error_is_rendered_with_the_line_and_a_caret():
    with pytest.raises(CompileError) as info:
        parse_module("x = 1\ny = f(a b)\n", "show.apy")
    text = info.value.render()
    assert text.splitlines() == [
        "show.apy:2:9: error: invalid syntax: unexpected name 'b'",
        "    y = f(a b)",
        "            ^",
    ]


def test_assignment_errors_carry_a_hint():
    with pytest.raises(CompileError) as info:
        parse_module("f(x) = 1\n", "t.apy")
    assert "==" in info.value.diagnostics[0].hint


@pytest.mark.parametrize("src", [
    "match x:\n    case 1:\n        pass\n",
    "try:\n    pass\nexcept* E:\n    pass\n",
])
def test_python_syntax_outside_apy_is_rejected(src):
    theirs(src)  # valid Python 3.11, but not part of apy (nor of nodes.py)
    with pytest.raises(CompileError):
        parse_module(src, "t.apy")


# ========================================================= properties

NAMES = st.sampled_from(["a", "b", "x", "y1", "_z"])
ATOMS = st.one_of(
    NAMES,
    st.sampled_from(["0", "1", "2.5", "0x1F", "1e3", "3j", "'s'", "b'b'", "None", "True",
                     "...", "f'{a}'", "'a' 'b'", "()", "[]", "{}"]),
    st.integers(min_value=0, max_value=10**30).map(str),
)
BINARY = ["+", "-", "*", "/", "//", "%", "**", "@", "<<", ">>", "&", "|", "^", "and", "or",
          "<", "<=", ">", ">=", "==", "!=", "in", "not in", "is", "is not"]
UNARY = ["-", "+", "~", "not ", "await "]


def _compose(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(children, children)
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), children).map(lambda t: " ".join(t)),
        st.tuples(st.sampled_from(UNARY), children).map("".join),
        children.map(lambda s: f"({s})"),
        st.tuples(children, st.lists(children, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(children, children, NAMES).map(lambda t: f"{t[0]}({t[1]}, {t[2]}={t[0]})"),
        pair.map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(children, children, children).map(lambda t: f"{t[0]}[{t[1]}:{t[2]}]"),
        pair.map(lambda t: f"{t[0]}[{t[1]}, ::{t[0]}]"),
        st.tuples(children, children, children).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
        children.map(lambda s: f"{s}.attr"),
        children.map(lambda s: f"lambda x, *y: {s}"),
        st.lists(children, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(children, min_size=1, max_size=3).map(lambda xs: "{" + ", ".join(xs) + "}"),
        pair.map(lambda t: f"{{{t[0]}: {t[1]}}}"),
        pair.map(lambda t: f"({t[0]}, {t[1]})"),
        pair.map(lambda t: f"[{t[0]} for x in {t[1]}]"),
        pair.map(lambda t: f"({t[0]} for x in {t[1]} if x)"),
        children.map(lambda s: f"*{s}"),
        children.map(lambda s: f"(x := {s})"),
        children.map(lambda s: f"f'{{{s}}}'"),
    )


EXPRS = st.recursive(ATOMS, _compose, max_leaves=10)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS)
def test_random_expressions_parse_like_cpython(text):
    """Precedence, associativity, spans; and both reject the same texts."""
    src = text + "\n"
    try:
        theirs(src)
    except SyntaxError:
        with pytest.raises(CompileError):
            parse_module(src, "t.apy")
        return
    assert_same(src)


ESCAPE_PIECES = st.sampled_from([
    "a", "é", "\\n", "\\t", "\\\\", "\\'", '\\"', "\\x41", "\\x4", "\\101", "\\0", "\\777",
    "\\u00e9", "\\U0001F600", "\\N{EM DASH}", "\\N{BOGUS}", "\\q", "\\", "{", "}", "{x}",
    "\\{", "{{", "}}", "\\N", " ", "\\8", "\\a\\b\\f\\v\\r", "\\\n",
])


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["", "r", "b", "rb", "f", "rf", "u", "B", "Rb", "F"]),
       st.sampled_from(["'", '"', "'''", '"""']),
       st.lists(ESCAPE_PIECES, max_size=8))
def test_random_string_literals_decode_like_cpython(prefix, quote, pieces):
    src = f"x = {prefix}{quote}{''.join(pieces)}{quote}\n"
    try:
        theirs(src)
    except SyntaxError:
        with pytest.raises(CompileError):
            parse_module(src, "t.apy")
        return
    assert_same(src, positions="\n" not in src[:-1])


# ======================================================= files and speed


def _apy_files() -> list[Path]:
    skip = {".git", "node_modules", ".applc-cache", "build", "dist"}
    return sorted(p for p in REPO.rglob("*.apy") if not skip & set(p.relative_to(REPO).parts))


@pytest.mark.parametrize("path", _apy_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_repository_apy_files_parse(path):
    text = path.read_text(encoding="utf-8")
    try:
        expected = theirs(text)
    except SyntaxError as e:  # a deliberately broken file (tests/diagnostics)
        with pytest.raises(CompileError) as info:
            parse_module(text, str(path))
        assert info.value.diagnostics[0].span.line == e.lineno
        return
    module = parse_module(text, str(path))
    assert module.path == str(path)
    assert ast.dump(_normalize(to_ast(module))) == ast.dump(_normalize(expected))


# Real code, for breadth: CPython's own modules must give CPython's own trees.
STDLIB_MODULES = ["textwrap", "heapq", "bisect", "fractions", "ipaddress", "string",
                  "contextlib", "functools", "enum", "tokenize", "asyncio.tasks", "argparse"]


@pytest.mark.parametrize("name", STDLIB_MODULES)
def test_cpython_stdlib_module_parses_like_cpython(name):
    import importlib.util

    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin, name
    assert_same(Path(spec.origin).read_text(encoding="utf-8"))


def _program(lines: int) -> str:
    chunk = '''
@dataclass
class Point{i}:
    x: int
    y: int = 0

    def norm(self, scale: float = 1.0) -> float:
        """Length of the vector."""
        total = self.x * self.x + self.y * self.y
        if total > 100 and not self.x in (1, 2, 3):
            return total ** 0.5 * scale
        for k, v in enumerate([a for a in range(10) if a % 2]):
            total += k * v
        return f"{{total:.2f}}" if total else -1.0
'''
    out = []
    i = 0
    while sum(s.count("\n") for s in out) < lines:
        out.append(chunk.format(i=i))
        i += 1
    return "".join(out)


def test_parsing_a_200_line_program():
    """A realistic 200-line program parses completely (its speed is measured by
    benchmarks/compile_time.py: timing thresholds in tests flake on shared machines)."""
    src = _program(200)
    tree = parse_module(src, "big.apy")
    assert tree.body
    assert max(st.span.end_line for st in tree.body) == src.rstrip("\n").count("\n") + 1
