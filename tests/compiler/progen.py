"""Random well-typed apy programs, and the CPython model of apy's deliberate deviations.

Two halves, used together by the differential tests:

* `programs()` -- a hypothesis strategy.
  In:  hypothesis draws.
  Out: a `GeneratedProgram`: source text that is both an apy program and a
       valid Python 3.11 program over int, float and bool. It has module
       globals, a handful of helper functions (annotated parameters, defaults,
       keyword calls, `global` writes, if/elif/else, bounded for/while loops
       with break/continue, early returns) and a `main()` that calls them and
       prints intermediate values. Every loop has a literal trip bound and no
       function calls itself, so every program terminates quickly.

* `instrument_for_apy(source)` -- the oracle side.
  In:  Python source text.
  Out: Python source text that, run under CPython, behaves the way apy is
       specified to behave where apy deliberately differs from CPython and the
       difference is decidable per operation:
         - an int result outside int64 raises OverflowError (CPython would
           give a big int);
         - `int ** negative int` raises ValueError (CPython gives a float).
       Every arithmetic operation, unary minus, augmented assignment and
       abs/int/round/divmod/pow/sum call is wrapped in a checker, so the
       instrumented run dies at exactly the operation where the compiled
       program must die:
           x = a * b + c      ->   x = _apy_int64(_apy_int64(a * b) + c)
           y **= k            ->   y = _apy_inplace("**", y, k)
       Evaluation order is unchanged (a checker runs after its operands), and
       so is aliasing (`xs += ys` still extends the list in place).

The differential test compares the compiled program against the instrumented
CPython run: same stdout bytes, same exit status, same exception type.
"""

from __future__ import annotations

import ast
from typing import Callable

import attrs
from hypothesis import strategies as st

INT, FLOAT, BOOL = "int", "float", "bool"
NUMERIC = (INT, FLOAT)
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# Values where int64 arithmetic and float conversion have their corner cases.
EDGE_INTS = [
    0, 1, -1, 2, -2, 7, 63, 64, 65, 255, 2**31 - 1, 2**31, 2**32, 2**53, 2**53 + 1,
    3037000499, 3037000500, -3037000500, 2**62, -(2**62), INT64_MAX, INT64_MAX - 1,
    INT64_MIN, INT64_MIN + 1,
]  # fmt: skip
EDGE_FLOATS = [
    0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 0.1, 0.2, 1 / 3, 2.675, 1e-7, 1e16, 1e22, 1e308,
    5e-324, 2.0**53, 9.223372036854776e18, -9.223372036854776e18, 123456.789,
]  # fmt: skip
# Infinities and NaN have no literal; these expressions make them.
SPECIAL_FLOAT_EXPRS = ["(1e308 * 10.0)", "(-1e308 * 10.0)", "((1e308 * 10.0) - (1e308 * 10.0))"]

# Literal distributions, as a list of strategies to pick from (repeats weigh more):
# mostly small values, so that programs run on, sometimes edges and extremes,
# so that overflow, conversion and rounding corners are reached.
_SMALL_INTS = st.integers(-10, 10)
INT_LITERALS = [_SMALL_INTS] * 6 + [st.integers(-1000, 1000)] * 3 + [st.sampled_from(EDGE_INTS)] * 2 + [
    st.integers(-(2**40), 2**40),
    st.integers(INT64_MIN, INT64_MAX),
]
FLOAT_LITERALS = [st.floats(-100.0, 100.0)] * 3 + [st.sampled_from(EDGE_FLOATS)] * 2 + [
    st.floats(-1e6, 1e6),
    st.floats(allow_nan=False, allow_infinity=False),
]
SHIFT_COUNTS = [st.integers(0, 8)] * 6 + [st.integers(0, 66)] * 3 + [st.integers(-2, 200)]
POW_EXPONENTS = [st.integers(0, 3)] * 8 + [st.integers(0, 5)] * 3 + [st.integers(-2, -1)]

MAX_FUNCTIONS = 6
MAX_BLOCK_DEPTH = 2
MAX_EXPR_DEPTH = 3
MAX_TRIPS = 8


# --------------------------------------------------------------------------- the generated program


@attrs.frozen
class GeneratedProgram:
    source: str

    def __repr__(self) -> str:
        return "GeneratedProgram('''\n" + self.source + "''')"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        # Hypothesis prints a falsifying example with this hook: show the program
        # as code, not as one long escaped string.
        printer.text(repr(self))


@attrs.define
class Signature:
    name: str
    params: list[tuple[str, str, str | None]]  # (name, type, default as source or None)
    ret: str
    simple: bool  # no loops and no calls: cheap enough to call inside a loop


@attrs.define
class Block:
    """What is visible while generating one block of statements."""

    vars: dict[str, str]
    loop_depth: int = 0
    depth: int = 0

    def nested(self, extra: dict[str, str] | None = None, loop: bool = False) -> Block:
        return Block({**self.vars, **(extra or {})}, self.loop_depth + loop, self.depth + 1)


def programs() -> st.SearchStrategy[GeneratedProgram]:
    return _program()


@st.composite
def _program(draw: Callable) -> GeneratedProgram:
    return GeneratedProgram(_Generator(draw).program())


# --------------------------------------------------------------------------- the generator


class _Generator:
    """Draws one program. Alternatives are listed simplest first, so that
    hypothesis shrinks a failing program towards literals and straight-line code."""

    def __init__(self, draw: Callable) -> None:
        self.draw = draw
        self.lines: list[str] = []
        self.globals: dict[str, str] = {}
        self.functions: list[Signature] = []
        self.fresh = 0
        # Per function being generated:
        self.ret: str | None = None
        self.writable: set[str] = set()
        self.uses_loop = False
        self.uses_call = False
        self.call_budget = 0

    # ----------------------------------------------------------------- program structure

    def program(self) -> str:
        out = ['"""A generated differential test program."""', ""]
        for i in range(self.draw(st.integers(0, 3))):
            ty = self.draw(st.sampled_from([INT, FLOAT, BOOL]))
            self.globals[f"G{i}"] = ty
            out.append(f"G{i} = {self.literal(ty)}")
        out.append("")
        for i in range(self.draw(st.integers(1, MAX_FUNCTIONS))):
            out += self.function(f"f{i}")
        out += self.main()
        return "\n".join(out) + "\n"

    def function(self, name: str) -> list[str]:
        params = self.parameters()
        self.ret = self.draw(st.sampled_from([INT, FLOAT, BOOL]))
        self.uses_loop = self.uses_call = False
        self.call_budget = 2
        self.writable = self.written_globals()
        visible = {**self.globals, **{p: t for p, t, _ in params}}
        header = ", ".join(f"{p}: {t}" + (f" = {d}" if d is not None else "") for p, t, d in params)
        body = [f"global {g}" for g in sorted(self.writable)]
        body += self.block(Block(visible), self.draw(st.integers(1, 6)))
        body.append(f"return {self.expr(self.ret, Block(visible))}")
        self.functions.append(Signature(name, params, self.ret, not (self.uses_loop or self.uses_call)))
        return [f"def {name}({header}) -> {self.ret}:", *indent(body), "", ""]

    def written_globals(self) -> set[str]:
        """Globals a function declares `global` (and so may assign)."""
        if not self.globals:
            return set()
        return set(self.draw(st.sets(st.sampled_from(sorted(self.globals)), max_size=2)))

    def parameters(self) -> list[tuple[str, str, str | None]]:
        params = []
        count = self.draw(st.integers(0, 4))
        defaults_from = self.draw(st.integers(0, count))  # parameters after this one have defaults
        for i in range(count):
            ty = self.draw(st.sampled_from([INT, FLOAT, BOOL]))
            params.append((f"p{i}", ty, self.literal(ty) if i >= defaults_from else None))
        return params

    def main(self) -> list[str]:
        self.ret, self.writable = None, set(self.globals)
        self.call_budget = len(self.functions) * 3
        body = [f"global {g}" for g in sorted(self.writable)]
        body += self.block(Block(dict(self.globals)), self.draw(st.integers(0, 3)))
        for sig in self.functions:
            body.append(f"print({self.call(sig, Block(dict(self.globals)))})")
        body += [f"print({g})" for g in sorted(self.globals)]
        return ["def main() -> None:", *indent(body), "", "", 'if __name__ == "__main__":', "    main()"]

    # ----------------------------------------------------------------- statements

    def block(self, scope: Block, count: int) -> list[str]:
        lines: list[str] = []
        for _ in range(count):
            lines += self.statement(scope)
        return lines or ["pass"]

    def statement(self, scope: Block) -> list[str]:
        kinds: list[Callable[[Block], list[str]]] = [self.s_print, self.s_declare]
        if self.assignable(scope):
            kinds += [self.s_assign, self.s_augassign]
        if scope.depth < MAX_BLOCK_DEPTH:
            kinds += [self.s_if, self.s_for, self.s_while]
        if scope.loop_depth:
            kinds.append(self.s_break_continue)
        kinds.append(self.s_early_return)
        return self.draw(st.sampled_from(kinds))(scope)

    def assignable(self, scope: Block) -> list[str]:
        """Locals (v*), parameters (p*) and the globals this function declared `global`.
        Loop variables and while counters are never assigned: the trip bounds rely on it."""
        return sorted(n for n in scope.vars if n.startswith(("v", "p")) or n in self.writable)

    def s_print(self, scope: Block) -> list[str]:
        form = self.draw(st.integers(0, 3))
        if form == 0:
            return [f"print({self.expr(self.any_type(), scope)})"]
        if form == 1:
            a, b = self.expr(self.any_type(), scope), self.expr(self.any_type(), scope)
            sep = self.draw(st.sampled_from(['" "', '", "', '""', '" | "']))
            end = self.draw(st.sampled_from(['"\\n"', '";\\n"', '" <\\n"']))
            return [f"print({a}, {b}, sep={sep}, end={end})"]
        if form == 2:
            x = self.expr(INT, scope)
            return [f"print(hex({x}), bin({x}), oct({x}))"]
        return [f'print("{self.name("tag")}", {self.expr(self.any_type(), scope)}, end="\\n")']

    def s_declare(self, scope: Block) -> list[str]:
        ty = self.any_type()
        name = self.name("v")
        line = f"{name} = {self.expr(ty, scope)}"
        scope.vars[name] = ty  # visible to the rest of this block and blocks nested in it
        return [line]

    def s_assign(self, scope: Block) -> list[str]:
        name = self.draw(st.sampled_from(self.assignable(scope)))
        return [f"{name} = {self.expr(scope.vars[name], scope)}"]

    def s_augassign(self, scope: Block) -> list[str]:
        name = self.draw(st.sampled_from(self.assignable(scope)))
        ty = scope.vars[name]
        if ty == BOOL:
            return [f"{name} = {self.expr(BOOL, scope)}"]
        if ty == INT:
            op = self.draw(st.sampled_from(["+=", "-=", "*=", "//=", "%=", "&=", "|=", "^="]))
            rhs = self.divisor(INT, scope) if op in ("//=", "%=") else self.expr(INT, scope)
            return [f"{name} {op} {rhs}"]
        op = self.draw(st.sampled_from(["+=", "-=", "*=", "/="]))
        rhs_ty = self.draw(st.sampled_from([FLOAT, INT]))
        rhs = self.divisor(rhs_ty, scope) if op == "/=" else self.expr(rhs_ty, scope)
        return [f"{name} {op} {rhs}"]

    def s_if(self, scope: Block) -> list[str]:
        lines = [f"if {self.condition(scope)}:", *self.branch(scope)]
        for _ in range(self.draw(st.integers(0, 1))):
            lines += [f"elif {self.condition(scope)}:", *self.branch(scope)]
        if self.draw(st.booleans()):
            lines += ["else:", *self.branch(scope)]
        return lines

    def branch(self, scope: Block) -> list[str]:
        return indent(self.block(scope.nested(), self.small_count()))

    def s_for(self, scope: Block) -> list[str]:
        self.uses_loop = True
        var = self.name("i")
        body = self.block(scope.nested({var: INT}, loop=True), self.small_count())
        return [f"for {var} in range({self.range_args()}):", *indent(body)]

    def s_while(self, scope: Block) -> list[str]:
        # The counter is bumped first, so `continue` cannot make the loop endless.
        self.uses_loop = True
        counter = self.name("w")
        trips = self.draw(st.integers(0, MAX_TRIPS))
        body = [f"{counter} += 1", *self.block(scope.nested({counter: INT}, loop=True), self.small_count())]
        return [f"{counter} = 0", f"while {counter} < {trips}:", *indent(body)]

    def s_break_continue(self, scope: Block) -> list[str]:
        word = self.draw(st.sampled_from(["break", "continue"]))
        return [f"if {self.condition(scope)}:", f"    {word}"]

    def s_early_return(self, scope: Block) -> list[str]:
        value = "" if self.ret is None else " " + self.expr(self.ret, scope)
        return [f"if {self.condition(scope)}:", f"    return{value}"]

    def range_args(self) -> str:
        form = self.draw(st.integers(0, 2))
        if form == 0:
            return str(self.draw(st.integers(0, MAX_TRIPS)))
        start = self.draw(st.integers(-5, 5))
        if form == 1:
            return f"{start}, {start + self.draw(st.integers(-2, MAX_TRIPS))}"
        step = self.draw(st.sampled_from([1, 2, 3, -1, -2, -3]))
        stop = start + step * self.draw(st.integers(-1, MAX_TRIPS))
        return f"{start}, {stop}, {step}"

    def small_count(self) -> int:
        return self.draw(st.integers(1, 3))

    # ----------------------------------------------------------------- expressions

    def expr(self, ty: str, scope: Block, depth: int = MAX_EXPR_DEPTH) -> str:
        if depth <= 0:
            return self.atom(ty, scope)
        builders = {INT: self.int_builders, FLOAT: self.float_builders, BOOL: self.bool_builders}[ty]()
        if self.callable_returning(ty, scope):
            builders.append(self.e_call)
        return self.draw(st.sampled_from(builders))(ty, scope, depth - 1)

    def atom(self, ty: str, scope: Block, depth: int = 0) -> str:
        names = sorted(n for n, t in scope.vars.items() if t == ty)
        if names and self.draw(st.booleans()):
            return self.draw(st.sampled_from(names))
        return self.literal(ty)

    def literal(self, ty: str) -> str:
        if ty == BOOL:
            return self.draw(st.sampled_from(["False", "True"]))
        if ty == INT:
            return int_literal(self.weighted(INT_LITERALS))
        if self.draw(st.integers(0, 19)) == 0:
            return self.draw(st.sampled_from(SPECIAL_FLOAT_EXPRS))
        text = repr(self.weighted(FLOAT_LITERALS))
        return f"({text})" if text.startswith("-") else text

    def weighted(self, classes: list[st.SearchStrategy]) -> object:
        """A value from one of several strategies; the list repeats the common ones.
        Hypothesis shrinks the choice towards the first (simplest) class."""
        return self.draw(self.draw(st.sampled_from(classes)))

    def int_builders(self) -> list[Callable[[str, Block, int], str]]:
        return [self.atom, self.e_arith, self.e_unary, self.e_builtin_int, self.e_shift,
                self.e_bitwise, self.e_pow, self.e_ifexp, self.e_boolop]  # fmt: skip

    def float_builders(self) -> list[Callable[[str, Block, int], str]]:
        return [self.atom, self.e_arith, self.e_mixed, self.e_unary, self.e_builtin_float,
                self.e_truediv, self.e_ifexp, self.e_boolop]  # fmt: skip

    def bool_builders(self) -> list[Callable[[str, Block, int], str]]:
        return [self.atom, self.e_compare, self.e_not, self.e_boolop, self.e_chain, self.e_ifexp]

    def e_arith(self, ty: str, scope: Block, depth: int) -> str:
        op = self.draw(st.sampled_from(["+", "-", "*", "//", "%"] + (["/"] if ty == FLOAT else [])))
        left = self.expr(ty, scope, depth)
        right = self.divisor(ty, scope, depth) if op in ("//", "%", "/") else self.expr(ty, scope, depth)
        return f"({left} {op} {right})"

    def e_mixed(self, ty: str, scope: Block, depth: int) -> str:
        """int/float mixing: one operand of each type, either order."""
        op = self.draw(st.sampled_from(["+", "-", "*", "/", "//", "%"]))
        int_first = self.draw(st.booleans())
        lt, rt = (INT, FLOAT) if int_first else (FLOAT, INT)
        left = self.expr(lt, scope, depth)
        right = self.divisor(rt, scope, depth) if op in ("/", "//", "%") else self.expr(rt, scope, depth)
        return f"({left} {op} {right})"

    def e_truediv(self, ty: str, scope: Block, depth: int) -> str:
        return f"({self.expr(INT, scope, depth)} / {self.divisor(INT, scope, depth)})"

    def divisor(self, ty: str, scope: Block, depth: int = 1) -> str:
        """Mostly a divisor that cannot be zero, so that programs run on past their
        first division; sometimes a raw one, to test ZeroDivisionError."""
        value = self.expr(ty, scope, depth)
        if self.draw(st.integers(0, 4)) == 0:
            return value
        return f"({value} | 1)" if ty == INT else f"(abs({value}) + 1.0)"

    def e_unary(self, ty: str, scope: Block, depth: int) -> str:
        ops = ["-", "~"] if ty == INT else ["-"]
        return f"({self.draw(st.sampled_from(ops))}{self.expr(ty, scope, depth)})"

    def e_builtin_int(self, ty: str, scope: Block, depth: int) -> str:
        form = self.draw(st.integers(0, 5))
        if form == 0:
            return f"abs({self.expr(INT, scope, depth)})"
        if form in (1, 2):
            fn = "min" if form == 1 else "max"
            args = [self.expr(INT, scope, depth) for _ in range(self.draw(st.integers(2, 3)))]
            return f"{fn}({', '.join(args)})"
        if form == 3:
            return f"int({self.expr(FLOAT, scope, depth)})"
        if form == 4:
            return f"round({self.expr(FLOAT, scope, depth)})"
        return f"round({self.expr(INT, scope, depth)}, {self.draw(st.integers(-4, 1))})"

    def e_builtin_float(self, ty: str, scope: Block, depth: int) -> str:
        form = self.draw(st.integers(0, 4))
        if form == 0:
            return f"abs({self.expr(FLOAT, scope, depth)})"
        if form in (1, 2):
            fn = "min" if form == 1 else "max"
            return f"{fn}({self.expr(FLOAT, scope, depth)}, {self.expr(FLOAT, scope, depth)})"
        if form == 3:
            return f"float({self.expr(INT, scope, depth)})"
        return f"round({self.expr(FLOAT, scope, depth)}, {self.draw(st.integers(-3, 5))})"

    def e_shift(self, ty: str, scope: Block, depth: int) -> str:
        op = self.draw(st.sampled_from(["<<", ">>"]))
        form = self.draw(st.integers(0, 2))
        if form == 0:
            count = int_literal(self.weighted(SHIFT_COUNTS))
        else:  # a computed count, kept bounded (Python's % of a positive modulus is >= 0)
            count = f"({self.expr(INT, scope, depth)} % {self.draw(st.sampled_from([64, 8, 70]))})"
        return f"({self.expr(INT, scope, depth)} {op} {count})"

    def e_bitwise(self, ty: str, scope: Block, depth: int) -> str:
        op = self.draw(st.sampled_from(["&", "|", "^"]))
        return f"({self.expr(INT, scope, depth)} {op} {self.expr(INT, scope, depth)})"

    def e_pow(self, ty: str, scope: Block, depth: int) -> str:
        return f"({self.expr(INT, scope, depth)} ** {int_literal(self.weighted(POW_EXPONENTS))})"

    def e_ifexp(self, ty: str, scope: Block, depth: int) -> str:
        a, c, b = self.expr(ty, scope, depth), self.condition(scope, depth), self.expr(ty, scope, depth)
        return f"({a} if {c} else {b})"

    def e_boolop(self, ty: str, scope: Block, depth: int) -> str:
        """`and`/`or` with value semantics (`0 or 5` is 5), both operands of one type."""
        op = self.draw(st.sampled_from(["or", "and"]))
        return f"({self.expr(ty, scope, depth)} {op} {self.expr(ty, scope, depth)})"

    def e_compare(self, ty: str, scope: Block, depth: int) -> str:
        op = self.draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        lt, rt = self.draw(st.sampled_from(NUMERIC)), self.draw(st.sampled_from(NUMERIC))
        return f"({self.expr(lt, scope, depth)} {op} {self.expr(rt, scope, depth)})"

    def e_chain(self, ty: str, scope: Block, depth: int) -> str:
        ops = [self.draw(st.sampled_from(["<", "<=", "==", "!=", ">"])) for _ in range(2)]
        a, b, c = (self.expr(self.draw(st.sampled_from(NUMERIC)), scope, depth) for _ in range(3))
        return f"({a} {ops[0]} {b} {ops[1]} {c})"

    def e_not(self, ty: str, scope: Block, depth: int) -> str:
        # `not` of an int or float tests its truthiness.
        return f"(not {self.expr(self.any_type(), scope, depth)})"

    def condition(self, scope: Block, depth: int = 2) -> str:
        if self.draw(st.integers(0, 5)) == 0:  # a bare int as a condition: truthiness
            return self.expr(INT, scope, depth)
        return self.expr(BOOL, scope, depth)

    # ----------------------------------------------------------------- calls

    def callable_returning(self, ty: str, scope: Block) -> list[Signature]:
        """Earlier functions only (so no recursion); inside loops only the cheap ones."""
        if self.call_budget <= 0:
            return []
        return [s for s in self.functions if s.ret == ty and (s.simple or not scope.loop_depth)]

    def e_call(self, ty: str, scope: Block, depth: int) -> str:
        sig = self.draw(st.sampled_from(self.callable_returning(ty, scope)))
        return self.call(sig, scope)

    def call(self, sig: Signature, scope: Block) -> str:
        """Positional arguments for a prefix, keywords (any order) for the rest,
        defaulted parameters sometimes left out."""
        self.uses_call = True
        self.call_budget -= 1
        n_positional = self.draw(st.integers(0, len(sig.params)))
        args = [self.expr(t, scope, 1) for _, t, _ in sig.params[:n_positional]]
        rest = [p for p in sig.params[n_positional:] if p[2] is None or self.draw(st.booleans())]
        for p, t, _ in self.draw(st.permutations(rest)):
            args.append(f"{p}={self.expr(t, scope, 1)}")
        return f"{sig.name}({', '.join(args)})"

    # ----------------------------------------------------------------- helpers

    def any_type(self) -> str:
        return self.draw(st.sampled_from([INT, FLOAT, BOOL]))

    def name(self, prefix: str) -> str:
        self.fresh += 1
        return f"{prefix}{self.fresh}"


def int_literal(value: int) -> str:
    if value == INT64_MIN:  # its magnitude alone is no int64: spell it as arithmetic
        return "(-9223372036854775807 - 1)"
    return f"({value})" if value < 0 else str(value)


def indent(lines: list[str]) -> list[str]:
    return ["    " + ln if ln else ln for ln in lines]


# --------------------------------------------------------------------------- the CPython model of apy

PRELUDE = '''
import operator as _apy_operator


def _apy_int64(value):
    """apy ints are int64: a result outside raises where the compiled program does."""
    if isinstance(value, int) and not -9223372036854775808 <= value <= 9223372036854775807:
        raise OverflowError("int64 overflow (instrumented CPython models apy here)")
    if type(value) is tuple:  # divmod
        for item in value:
            _apy_int64(item)
    return value


def _apy_pow(base, exponent, *modulus):
    """apy's int ** negative int raises ValueError (CPython would give a float)."""
    if not modulus and isinstance(base, int) and isinstance(exponent, int) and exponent < 0:
        raise ValueError("int ** negative int (instrumented CPython models apy here)")
    return _apy_int64(pow(base, exponent, *modulus))


_APY_INPLACE = {
    "+": _apy_operator.iadd, "-": _apy_operator.isub, "*": _apy_operator.imul,
    "/": _apy_operator.itruediv, "//": _apy_operator.ifloordiv, "%": _apy_operator.imod,
    "<<": _apy_operator.ilshift, ">>": _apy_operator.irshift, "&": _apy_operator.iand,
    "|": _apy_operator.ior, "^": _apy_operator.ixor, "@": _apy_operator.imatmul,
}


def _apy_inplace(op, current, value):
    """`current op= value`, in place where the type does it in place (lists)."""
    if op == "**":
        return _apy_pow(current, value)
    return _apy_int64(_APY_INPLACE[op](current, value))


def _apy_aug_attr(obj, name, op, value):
    setattr(obj, name, _apy_inplace(op, getattr(obj, name), value()))


def _apy_aug_item(obj, index, op, value):
    obj[index] = _apy_inplace(op, obj[index], value())


def _apy_sum(iterable, start=0):
    """sum() accumulating left to right, so an intermediate overflow raises as in apy."""
    total = start
    for item in iterable:
        total = _apy_int64(total + item)
    return total
'''

CHECKED_BUILTINS = frozenset({"abs", "int", "round", "divmod"})
OPERATORS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|",
    ast.BitXor: "^", ast.MatMult: "@",
}  # fmt: skip


def instrument_for_apy(source: str, filename: str = "<program>") -> str:
    """Rewrite `source` so CPython follows apy's int64 and `int ** -n` rules (see module doc)."""
    tree = ast.parse(source, filename)
    tree = _Int64Checks().visit(tree)
    prelude = ast.parse(PRELUDE).body
    at = _prelude_position(tree.body)
    tree.body[at:at] = prelude
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _prelude_position(body: list[ast.stmt]) -> int:
    """After the docstring and `from __future__` imports, which must stay first."""
    at = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        at = 1
    while at < len(body) and isinstance(body[at], ast.ImportFrom) and body[at].module == "__future__":
        at += 1
    return at


def _call(function: str, args: list[ast.expr], like: ast.AST) -> ast.expr:
    return ast.copy_location(ast.Call(ast.Name(function, ast.Load()), args, []), like)


def _checked(node: ast.expr) -> ast.expr:
    return _call("_apy_int64", [node], node)


class _Int64Checks(ast.NodeTransformer):
    """Wraps every operation whose int result apy range-checks (see the module doc).

    Augmented assignments become calls that keep CPython's order (target
    object, index, current value, right-hand side, operation, store) and its
    in-place behaviour (`xs += ys` extends the list `xs` is bound to):
        x += v        ->  x = _apy_inplace("+", x, v)
        o.f *= v      ->  _apy_aug_attr(o, "f", "*", lambda: v)
        a[i] -= v     ->  _apy_aug_item(a, i, "-", lambda: v)
    """

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        if _folds_in_range(node):
            return node  # CPython folds it into a constant (which changes set displays)
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow):
            return _call("_apy_pow", [node.left, node.right], node)
        return _checked(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        if _folds_in_range(node):
            return node
        self.generic_visit(node)
        return _checked(node) if isinstance(node.op, ast.USub) else node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name == "pow" and not node.keywords:
            return _call("_apy_pow", node.args, node)
        if name == "sum" and not node.keywords:
            return _call("_apy_sum", node.args, node)
        if name in CHECKED_BUILTINS:
            return _checked(node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        op = ast.Constant(OPERATORS[type(node.op)])
        value = self.visit(node.value)
        target = node.target
        if isinstance(target, ast.Name):
            combined = _call("_apy_inplace", [op, ast.Name(target.id, ast.Load()), value], node)
            return ast.copy_location(ast.Assign([ast.Name(target.id, ast.Store())], combined), node)
        thunk = ast.Lambda(ast.arguments([], [], None, [], [], None, []), value)
        if isinstance(target, ast.Attribute):
            args = [self.visit(target.value), ast.Constant(target.attr), op, thunk]
            return ast.copy_location(ast.Expr(_call("_apy_aug_attr", args, node)), node)
        if isinstance(target, ast.Subscript):
            args = [self.visit(target.value), _index(self.visit(target.slice)), op, thunk]
            return ast.copy_location(ast.Expr(_call("_apy_aug_item", args, node)), node)
        raise NotImplementedError(f"line {node.lineno}: augmented assignment to {type(target).__name__}")


_FOLDED_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
               ast.Mult: lambda a, b: a * b, ast.USub: lambda a: -a, ast.UAdd: lambda a: +a}


def _folds_in_range(node: ast.expr) -> bool:
    """Whether `node` is arithmetic on int literals that CPython's compiler folds into
    one constant and whose every step fits int64 (so apy computes the same value).
    Left unwrapped, it stays a constant in the model too: a set display of constants
    is built differently by CPython than one of computed values (its order can differ)."""
    try:
        return INT64_MIN <= _fold(node) <= INT64_MAX
    except (ValueError, TypeError):
        return False


def _fold(node: ast.expr) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _FOLDED_OPS:
        value = _FOLDED_OPS[type(node.op)](_fold(node.operand))
    elif isinstance(node, ast.BinOp) and type(node.op) in _FOLDED_OPS:
        value = _FOLDED_OPS[type(node.op)](_fold(node.left), _fold(node.right))
    else:
        raise TypeError("not a folded int constant")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("leaves int64")
    return value


def _index(node: ast.expr) -> ast.expr:
    """A subscript as an ordinary expression: `a[1:n]` indexes with `slice(1, n, None)`."""
    if not isinstance(node, ast.Slice):
        return node
    parts = [part if part is not None else ast.Constant(None) for part in (node.lower, node.upper, node.step)]
    return _call("slice", parts, node)
