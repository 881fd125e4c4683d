"""Run runtime apy modules under CPython, with the checks the compiler would make.

In:  the name of a module in runtime/ ("numfmt", "fmath").
Out: `load_runtime(name)`: the module, executed by CPython with
     runtime/pyshim/_machine.py standing in for the intrinsics, after two checks:

     * `subset_problems(tree)` lists every place where the file leaves the
       restricted subset the numeric runtime is written in: module constants
       and static buffers, functions over int/float/bool/None, one type per
       local, no strings but docstrings and `raise E("literal")`, no mixed
       int/float arithmetic, bool conditions. It is stricter than apy itself,
       so code that passes it is code the first compiler accepts.
     * `guard_int64(tree)` rewrites every operation that can overflow so that a result
       outside [-2**63, 2**63 - 1] raises OverflowError, as the compiled code
       does. Without it CPython's unbounded ints would hide overflow bugs.

     `memory_buffer(n)`, `read_ascii` and `write_ascii` move text in and out of
     the simulated memory.
"""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "runtime"
PYSHIM = RUNTIME / "pyshim"
if str(PYSHIM) not in sys.path:
    sys.path.insert(0, str(PYSHIM))

import _machine  # noqa: E402  (found through PYSHIM)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

INT, FLOAT, BOOL, NONE = "int", "float", "bool", "None"
SCALARS = {INT, FLOAT, BOOL}

# `_machine` intrinsics: parameter types, result type
INTRINSICS: dict[str, tuple[tuple[str, ...], str]] = {
    **{f"load{w}": ((INT,), INT) for w in (8, 16, 32, 64)},
    **{f"store{w}": ((INT, INT), NONE) for w in (8, 16, 32, 64)},
    "static_buffer": ((INT,), INT),
    "f64_bits": ((FLOAT,), INT),
    "f64_from_bits": ((INT,), FLOAT),
    **{name: ((INT, INT), INT) for name in ("wrap_add", "wrap_sub", "wrap_mul", "umulhi", "udiv", "urem", "lshr")},
}
EXCEPTIONS = {"ValueError", "OverflowError", "ZeroDivisionError"}

_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)
_BITWISE = (ast.LShift, ast.RShift, ast.BitAnd, ast.BitOr, ast.BitXor)
_ORDER = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_EQUALITY = (ast.Eq, ast.NotEq)


# =========================================================================== subset check


class _Subset:
    """Walks one module, collecting (line, message) problems."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []
        self.constants: dict[str, str] = {}  # module-level scalars: name -> type
        self.functions: dict[str, tuple[tuple[str, ...], str]] = {}
        self.intrinsics: dict[str, tuple[tuple[str, ...], str]] = {}
        # per function
        self.locals: dict[str, str] = {}
        self.globals_declared: set[str] = set()
        self.ret = NONE

    def bad(self, node: ast.AST, msg: str) -> str:
        self.problems.append((getattr(node, "lineno", 0), msg))
        return "?"

    # ------------------------------------------------------------------ module level

    def module(self, tree: ast.Module) -> None:
        body = tree.body
        if body and _is_docstring(body[0]):
            body = body[1:]
        for s in body:
            if isinstance(s, ast.FunctionDef):
                self.functions[s.name] = self.signature(s)
        for s in body:
            if isinstance(s, ast.ImportFrom):
                self.import_from(s)
            elif isinstance(s, ast.AnnAssign):
                self.module_scalar(s)
            elif isinstance(s, ast.FunctionDef):
                self.function(s)
            else:
                self.bad(s, f"{type(s).__name__} at module level")

    def import_from(self, s: ast.ImportFrom) -> None:
        if s.module != "_machine" or s.level != 0:
            self.bad(s, f"import from {s.module!r} (only _machine)")
            return
        for alias in s.names:
            if alias.name not in INTRINSICS or alias.asname:
                self.bad(s, f"unknown or renamed intrinsic {alias.name!r}")
            else:
                self.intrinsics[alias.name] = INTRINSICS[alias.name]

    def module_scalar(self, s: ast.AnnAssign) -> None:
        if not isinstance(s.target, ast.Name) or s.value is None:
            self.bad(s, "module-level annotation without a simple target and value")
            return
        ty = self.annotation(s.annotation, s)
        v = s.value
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "static_buffer":
            if len(v.args) != 1 or self.constant_expr(v.args[0]) != INT or ty != INT:
                self.bad(s, "static_buffer() needs one constant int size and an int target")
        elif self.constant_expr(v) != ty:
            self.bad(s, f"module scalar {s.target.id!r} is not a constant {ty} expression")
        self.constants[s.target.id] = ty

    def constant_expr(self, e: ast.expr) -> str:
        """Type of a constant expression of literals and earlier constants."""
        if isinstance(e, ast.Constant):
            return self.literal(e)
        if isinstance(e, ast.Name):
            return self.constants.get(e.id) or self.bad(e, f"{e.id!r} is not an earlier constant")
        if isinstance(e, (ast.UnaryOp, ast.BinOp)):
            for sub in ast.iter_child_nodes(e):
                if isinstance(sub, ast.expr):
                    self.constant_expr(sub)
            return self.expr(e)
        return self.bad(e, f"{type(e).__name__} in a constant expression")

    # ------------------------------------------------------------------ functions

    def annotation(self, a: ast.expr | None, where: ast.AST) -> str:
        if isinstance(a, ast.Name) and a.id in SCALARS:
            return a.id
        if isinstance(a, ast.Constant) and a.value is None:
            return NONE
        return self.bad(where, "annotation must be int, float, bool or None")

    def signature(self, f: ast.FunctionDef) -> tuple[tuple[str, ...], str]:
        a = f.args
        if a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg or a.defaults or f.decorator_list:
            self.bad(f, f"{f.name}: only plain positional parameters, no decorators")
        params = []
        for p in a.args:
            ty = self.annotation(p.annotation, p)
            if ty == NONE:
                self.bad(p, "a parameter cannot be None")
            params.append(ty)
        return tuple(params), self.annotation(f.returns, f)

    def function(self, f: ast.FunctionDef) -> None:
        params, self.ret = self.functions[f.name]
        self.locals = {p.arg: ty for p, ty in zip(f.args.args, params)}
        self.globals_declared = set()
        body = f.body[1:] if _is_docstring(f.body[0]) else f.body
        self.block(body)

    def block(self, body: list[ast.stmt]) -> None:
        for s in body:
            method = getattr(self, "stmt_" + type(s).__name__, None)
            if method is None:
                self.bad(s, f"{type(s).__name__} statement")
            else:
                method(s)

    # ------------------------------------------------------------------ statements

    def stmt_Global(self, s: ast.Global) -> None:
        for name in s.names:
            if name not in self.constants:
                self.bad(s, f"global {name!r} is not a module scalar")
            self.globals_declared.add(name)

    def stmt_Assign(self, s: ast.Assign) -> None:
        if len(s.targets) != 1:
            self.bad(s, "chained assignment")
            return
        target = s.targets[0]
        if isinstance(target, ast.Tuple):
            if not isinstance(s.value, ast.Tuple) or len(s.value.elts) != len(target.elts):
                self.bad(s, "tuple assignment needs a tuple of the same length")
                return
            tys = [self.expr(v) for v in s.value.elts]
            for t, ty in zip(target.elts, tys):
                self.assign(t, ty)
            return
        self.assign(target, self.expr(s.value))

    def assign(self, target: ast.expr, ty: str) -> None:
        if not isinstance(target, ast.Name):
            self.bad(target, "assignment to something other than a name")
            return
        name = target.id
        if ty not in SCALARS:
            self.bad(target, f"cannot store a {ty} in {name!r}")
        if name in self.globals_declared:
            if self.constants[name] != ty:
                self.bad(target, f"global {name!r} is {self.constants[name]}, assigned {ty}")
        elif name in self.constants or name in self.functions or name in self.intrinsics:
            self.bad(target, f"local {name!r} shadows a module name")
        elif name in self.locals:
            if self.locals[name] != ty:
                self.bad(target, f"local {name!r} is {self.locals[name]}, assigned {ty}")
        else:
            self.locals[name] = ty

    def stmt_AugAssign(self, s: ast.AugAssign) -> None:
        if not isinstance(s.target, ast.Name):
            self.bad(s, "augmented assignment to something other than a name")
            return
        load = ast.Name(id=s.target.id, ctx=ast.Load(), lineno=s.lineno)
        ty = self.expr(ast.BinOp(left=load, op=s.op, right=s.value, lineno=s.lineno))
        self.assign(s.target, ty)

    def stmt_If(self, s: ast.If) -> None:
        self.condition(s.test)
        self.block(s.body)
        self.block(s.orelse)

    def stmt_While(self, s: ast.While) -> None:
        self.condition(s.test)
        if s.orelse:
            self.bad(s, "while ... else")
        self.block(s.body)

    def stmt_For(self, s: ast.For) -> None:
        it = s.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and 2 <= len(it.args) <= 3 and not it.keywords):
            self.bad(s, "for loops must be over range(a, b) or range(a, b, step)")
        else:
            for a in it.args:
                if self.expr(a) != INT:
                    self.bad(a, "range() argument is not an int")
        if s.orelse:
            self.bad(s, "for ... else")
        self.assign(s.target, INT)
        self.block(s.body)

    def stmt_Return(self, s: ast.Return) -> None:
        ty = NONE if s.value is None else self.expr(s.value)
        if ty != self.ret:
            self.bad(s, f"returns {ty}, declared {self.ret}")

    def stmt_Raise(self, s: ast.Raise) -> None:
        e = s.exc
        ok = (isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in EXCEPTIONS
              and len(e.args) == 1 and not e.keywords and isinstance(e.args[0], ast.Constant)
              and isinstance(e.args[0].value, str) and s.cause is None)
        if not ok:
            self.bad(s, "raise must be ValueError/OverflowError/ZeroDivisionError('literal')")

    def stmt_Expr(self, s: ast.Expr) -> None:
        if not isinstance(s.value, ast.Call):
            self.bad(s, "expression statement that is not a call")
        else:
            self.expr(s.value)

    def stmt_Pass(self, s: ast.Pass) -> None:
        pass

    def stmt_Break(self, s: ast.Break) -> None:
        pass

    def stmt_Continue(self, s: ast.Continue) -> None:
        pass

    def condition(self, e: ast.expr) -> None:
        ty = self.expr(e)
        if ty != BOOL:
            self.bad(e, f"condition is {ty}, not bool")

    # ------------------------------------------------------------------ expressions

    def literal(self, e: ast.Constant) -> str:
        v = e.value
        if isinstance(v, bool):
            return BOOL
        if isinstance(v, int):
            if not INT64_MIN <= v <= INT64_MAX:
                self.bad(e, f"int literal {v} does not fit in int64")
            return INT
        if isinstance(v, float):
            return FLOAT
        if v is None:
            return NONE
        return self.bad(e, f"{type(v).__name__} literal")

    def expr(self, e: ast.expr) -> str:
        method = getattr(self, "expr_" + type(e).__name__, None)
        if method is None:
            return self.bad(e, f"{type(e).__name__} expression")
        return method(e)

    def expr_Constant(self, e: ast.Constant) -> str:
        return self.literal(e)

    def expr_Name(self, e: ast.Name) -> str:
        if e.id in self.locals and e.id not in self.globals_declared:
            return self.locals[e.id]
        if e.id in self.constants:
            return self.constants[e.id]
        return self.bad(e, f"unknown name {e.id!r}")

    def expr_BinOp(self, e: ast.BinOp) -> str:
        lt, rt = self.expr(e.left), self.expr(e.right)
        op = e.op
        if lt != rt:
            return self.bad(e, f"{type(op).__name__} of {lt} and {rt} (convert explicitly)")
        if isinstance(op, _ARITH) and lt in (INT, FLOAT):
            return lt
        if isinstance(op, ast.Div) and lt == FLOAT:
            return FLOAT
        if isinstance(op, _BITWISE) and lt == INT:
            return INT
        if isinstance(op, ast.Pow):
            if lt == INT and isinstance(e.right, ast.Constant) and e.right.value >= 0:
                return INT
            if lt == FLOAT:
                return FLOAT
        return self.bad(e, f"{type(op).__name__} on {lt}")

    def expr_UnaryOp(self, e: ast.UnaryOp) -> str:
        ty = self.expr(e.operand)
        if isinstance(e.op, (ast.USub, ast.UAdd)) and ty in (INT, FLOAT):
            return ty
        if isinstance(e.op, ast.Invert) and ty == INT:
            return INT
        if isinstance(e.op, ast.Not) and ty == BOOL:
            return BOOL
        return self.bad(e, f"{type(e.op).__name__} on {ty}")

    def expr_BoolOp(self, e: ast.BoolOp) -> str:
        for v in e.values:
            self.condition(v)
        return BOOL

    def expr_Compare(self, e: ast.Compare) -> str:
        if len(e.ops) != 1:
            return self.bad(e, "chained comparison")
        lt, rt = self.expr(e.left), self.expr(e.comparators[0])
        op = e.ops[0]
        if lt != rt:
            return self.bad(e, f"comparison of {lt} and {rt}")
        if isinstance(op, _EQUALITY) and lt in SCALARS:
            return BOOL
        if isinstance(op, _ORDER) and lt in (INT, FLOAT):
            return BOOL
        return self.bad(e, f"{type(op).__name__} on {lt}")

    def expr_IfExp(self, e: ast.IfExp) -> str:
        self.condition(e.test)
        a, b = self.expr(e.body), self.expr(e.orelse)
        return a if a == b else self.bad(e, f"conditional expression of {a} and {b}")

    def expr_Call(self, e: ast.Call) -> str:
        if not isinstance(e.func, ast.Name) or e.keywords:
            return self.bad(e, "only calls of plain names, without keywords")
        name = e.func.id
        args = [self.expr(a) for a in e.args]
        if name in self.functions or name in self.intrinsics:
            params, ret = self.functions.get(name) or self.intrinsics[name]
            if tuple(args) != params:
                self.bad(e, f"{name}({', '.join(args)}) but it takes ({', '.join(params)})")
            if name == "static_buffer":
                self.bad(e, "static_buffer() inside a function")
            return ret
        if name == "int" and args == [FLOAT]:
            return INT
        if name == "float" and args == [INT]:
            return FLOAT
        if name == "abs" and len(args) == 1 and args[0] in (INT, FLOAT):
            return args[0]
        if name in ("min", "max") and len(args) == 2 and args[0] == args[1] and args[0] in (INT, FLOAT):
            return args[0]
        return self.bad(e, f"call {name}({', '.join(args)})")


def _is_docstring(s: ast.stmt) -> bool:
    return isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)


def subset_problems(tree: ast.Module) -> list[str]:
    """'line N: message' for every departure from the runtime's apy subset."""
    checker = _Subset()
    checker.module(tree)
    return [f"line {line}: {msg}" for line, msg in checker.problems]


# =========================================================================== int64 guard


def _int64(v):
    """Stand-in for compiled int arithmetic: ints must stay in int64."""
    if type(v) is int and not INT64_MIN <= v <= INT64_MAX:
        raise OverflowError("int64 overflow (the compiled runtime raises here)")
    return v


# Operations whose int result can leave int64 when the operands are in it
# (& | ^ >> ~ and % cannot; // can, as -2**63 // -1).
_MAY_OVERFLOW = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Pow, ast.LShift)


class _Int64Guard(ast.NodeTransformer):
    """Wraps every operation that can overflow an int in a call to _int64."""

    def wrap(self, node: ast.expr) -> ast.expr:
        call = ast.Call(func=ast.Name(id="__int64", ctx=ast.Load()), args=[node], keywords=[])
        return ast.copy_location(call, node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        return self.wrap(node) if isinstance(node.op, _MAY_OVERFLOW) else node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        self.generic_visit(node)
        return self.wrap(node) if isinstance(node.op, ast.USub) else node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in ("int", "abs"):
            return self.wrap(node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        self.generic_visit(node)
        if not isinstance(node.op, _MAY_OVERFLOW):
            return node
        target = node.target
        assert isinstance(target, ast.Name), "the subset check allows only names"
        value = ast.BinOp(left=ast.Name(id=target.id, ctx=ast.Load()), op=node.op, right=node.value)
        assign = ast.Assign(targets=[ast.Name(id=target.id, ctx=ast.Store())], value=self.wrap(value))
        return ast.copy_location(assign, node)


def guard_int64(tree: ast.Module) -> ast.Module:
    """`tree` with every int-valued operation range-checked (call `__int64`)."""
    return ast.fix_missing_locations(_Int64Guard().visit(tree))


# =========================================================================== loading


def parse_runtime(name: str) -> tuple[Path, ast.Module]:
    path = RUNTIME / f"{name}.apy"
    return path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def load_source(name: str, source: str, filename: str, guarded: bool = True) -> types.ModuleType:
    """Execute apy `source` as a fresh module (int64-guarded unless told otherwise)."""
    tree = ast.parse(source, filename=filename)
    if guarded:
        tree = guard_int64(tree)
    module = types.ModuleType(name)
    module.__file__ = filename
    module.__dict__["__int64"] = _int64
    exec(compile(tree, filename, "exec"), module.__dict__)
    return module


def load_runtime(name: str, guarded: bool = True) -> types.ModuleType:
    """runtime/<name>.apy as a module; AssertionError if it leaves the subset."""
    path, tree = parse_runtime(name)
    problems = subset_problems(tree)
    assert not problems, f"{path.name} leaves the apy subset:\n" + "\n".join(problems)
    return load_source(name, path.read_text(encoding="utf-8"), str(path), guarded)


# =========================================================================== memory


def memory_buffer(nbytes: int) -> int:
    return _machine.static_buffer(nbytes)


def read_ascii(addr: int, n: int) -> str:
    return _machine.read_bytes(addr, n).decode("ascii")


def write_ascii(addr: int, text: str) -> int:
    data = text.encode("ascii")
    _machine.write_bytes(addr, data)
    return len(data)
