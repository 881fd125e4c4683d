"""Random well-typed apy programs over heap types: lists, dicts, sets, str, bytes,
classes and exceptions.

`programs()` -- a hypothesis strategy.
In:  hypothesis draws.
Out: a `progen.GeneratedProgram` whose source is both an apy program and a
     Python 3.11 program. Its shape is always

         user exceptions  AppError(Exception), CodeError(ValueError) with a field
         classes          Box (fields n/name/items, methods weight/label/__repr__),
                          Crate(Box) overriding both through super(),
                          @dataclass(order=True) Pt
         h0 .. hN         generated functions: typed parameters, statements over
                          typed locals, a typed result
         main()           calls every hI inside try/except, printing what it
                          returns or which exception escaped (and its message)

     The statements and expressions are drawn by type, so every program is
     well typed by construction: list/dict/set/str/bytes operations and
     methods, indexing and slicing (also out of range, on purpose), slice and
     item assignment, `del`, comprehensions and generator expressions,
     lambdas as `key=`/`map`/`filter`, bound methods passed as Callables, f-strings with format specs, fields
     and methods of objects (overridden, via super()), isinstance, dataclass
     comparisons, try/except/else/finally with builtin and user exceptions,
     `raise`, printing of every container.

Many functions per program amortise one build (~3 s). Every loop is bounded
by a literal trip count and every value that can grow inside a loop is
truncated on assignment, so every program ends quickly and stays small.

The CPython side runs the program through `progen.instrument_for_apy`, which
models apy's int64 overflow; main() prints only the name of an OverflowError
(its message is the model's, not apy's).
"""

from __future__ import annotations

from typing import Callable

import attrs
from hypothesis import strategies as st

from progen import GeneratedProgram, indent, int_literal

INT, BOOL, FLOAT, STR, BYTES = "int", "bool", "float", "str", "bytes"
LINT, LSTR, DICT, SET = "list[int]", "list[str]", "dict[str, int]", "set[int]"
BOX, PT = "Box", "Pt"
TYPES = [INT, BOOL, STR, LINT, LSTR, DICT, SET, BYTES, BOX, PT, FLOAT]
PARAM_TYPES = [INT, STR, LINT, LSTR, DICT, SET, BOX, BOOL, BYTES]
MUTABLE = (LINT, LSTR, DICT, SET, BOX)

# Text that exercises repr quoting, unicode widths, splitting and digits.
STR_POOL = [
    "", "a", "ab", "abc", "Hello", "hello world", "a,b,,c", "  pad ", "12", "-7", "x1",
    "héllo", "naïve café", "ü", "ABC def", "it's", 'say "hi"', "tab\there", "line\nnext",
    "aaa", "ba", "0", "Zz",
]  # fmt: skip
SEPARATORS = [",", "a", " ", "ll"]
KEYS = ["a", "b", "c", "k1", "zz", "", "Hello"]
BYTES_POOL = [b"", b"a", b"abc", b"\x00\xff", b"hello", b"A,B", b"\x7f\x80 z"]
SMALL_FLOATS = [0.0, -0.5, 1.5, 2.675, 0.1, 1e-3, 123.456, -7.25, 1e16]

# The exceptions main() reports by name and message; anything else escaping a
# function (a TypeError, say) is a generator bug, which the test reports.
REPORTED = ["IndexError", "KeyError", "ZeroDivisionError", "CodeError", "ValueError", "AppError"]
# Handlers inside generated functions; LookupError and Exception catch families.
HANDLERS = ["IndexError", "KeyError", "ValueError", "ZeroDivisionError", "AppError",
            "CodeError", "LookupError", "(IndexError, KeyError)", "Exception"]  # fmt: skip

MAX_FUNCTIONS = 10
MAX_BLOCK_DEPTH = 2
MAX_EXPR_DEPTH = 3
MAX_TRIPS = 5
GROW_LIMIT = 12  # values assigned inside loops are cut to this many items

PRELUDE = '''"""A generated heap differential test program."""

from dataclasses import dataclass
from typing import Callable


class AppError(Exception):
    pass


class CodeError(ValueError):
    def __init__(self, code: int) -> None:
        super().__init__(f"code {{code}}")
        self.code = code


class Box:
    def __init__(self, n: int, name: str) -> None:
        self.n = n
        self.name = name
        self.items: list[int] = []

    def weight(self) -> int:
        return {box_weight}

    def label(self) -> str:
        return {box_label}

    def __repr__(self) -> str:
        return f"Box({{self.n}}, {{self.name!r}}, {{self.items}})"


class Crate(Box):
    def __init__(self, n: int, name: str, k: int) -> None:
        super().__init__(n, name)
        self.k = k

    def weight(self) -> int:
        return {crate_weight}

    def label(self) -> str:
        return {crate_label}


@dataclass(order=True)
class Pt:
    x: int
    tag: str = "p"


def call_int(f: Callable[[], int]) -> int:
    return f()


def call_str(f: Callable[[], str]) -> str:
    return f()

'''


@attrs.define
class Scope:
    """Variables visible while generating one block, and what may be done to them."""

    vars: dict[str, str]
    loop_depth: int = 0
    depth: int = 0
    frozen: frozenset[str] = frozenset()  # loop variables: never assigned

    def nested(self, extra: dict[str, str] | None = None, loop: bool = False) -> Scope:
        frozen = self.frozen | set(extra or ()) if loop else self.frozen
        return Scope({**self.vars, **(extra or {})}, self.loop_depth + loop, self.depth + 1, frozen)

    def of(self, ty: str) -> list[str]:
        return sorted(n for n, t in self.vars.items() if t == ty)


def programs() -> st.SearchStrategy[GeneratedProgram]:
    return _program()


@st.composite
def _program(draw: Callable) -> GeneratedProgram:
    return GeneratedProgram(_HeapGenerator(draw).program())


class _HeapGenerator:
    """Draws one program. Alternatives come simplest first, so that hypothesis
    shrinks a failing program towards literals and straight-line code."""

    def __init__(self, draw: Callable) -> None:
        self.draw = draw
        self.fresh = 0
        self.functions: list[tuple[str, list[tuple[str, str]], str]] = []
        self.ret: str | None = None
        self.in_class = False  # method bodies: fields only, no method calls (no recursion)

    # ----------------------------------------------------------------- program structure

    def program(self) -> str:
        out = [self.prelude()]
        for i in range(self.draw(st.integers(1, MAX_FUNCTIONS))):
            out += self.function(f"h{i}")
        out += self.main()
        return "\n".join(out) + "\n"

    def prelude(self) -> str:
        """The classes, with method bodies drawn over their own fields."""
        box = Scope({"self.n": INT, "self.name": STR, "self.items": LINT})
        crate = Scope({**box.vars, "self.k": INT, "super().weight()": INT, "super().label()": STR})
        self.in_class = True
        try:
            return self.class_bodies(box, crate)
        finally:
            self.in_class = False

    def class_bodies(self, box: Scope, crate: Scope) -> str:
        return PRELUDE.format(
            box_weight=self.expr(INT, box, 2), box_label=self.expr(STR, box, 2),
            crate_weight=self.expr(INT, crate, 2), crate_label=self.expr(STR, crate, 2),
        )

    def function(self, name: str) -> list[str]:
        params = [(f"p{i}", self.draw(st.sampled_from(PARAM_TYPES))) for i in range(self.draw(st.integers(0, 3)))]
        self.ret = self.draw(st.sampled_from([None, *TYPES]))
        scope = Scope(dict(params))
        body = self.block(scope, self.draw(st.integers(1, 6)))
        if self.ret is not None:
            body.append(f"return {self.expr(self.ret, scope)}")
        self.functions.append((name, params, self.ret or "None"))
        header = ", ".join(f"{p}: {t}" for p, t in params)
        return [f"def {name}({header}) -> {self.ret or 'None'}:", *indent(body), "", ""]

    def main(self) -> list[str]:
        self.ret = None
        body: list[str] = []
        for name, params, _ in self.functions:
            args = ", ".join(self.expr(t, Scope({}), 1) for _, t in params)
            body += ["try:", f'    print("{name}", {name}({args}))']
            for exc in REPORTED:
                body += [f"except {exc} as e:", f'    print("{name}", "{exc}", e)']
            body += ["except OverflowError:", f'    print("{name}", "OverflowError")']
        return ["def main() -> None:", *indent(body), "", "", 'if __name__ == "__main__":', "    main()"]

    # ----------------------------------------------------------------- statements

    def block(self, scope: Scope, count: int) -> list[str]:
        lines: list[str] = []
        for _ in range(count):
            lines += self.statement(scope)
        return lines or ["pass"]

    def statement(self, scope: Scope) -> list[str]:
        kinds: list[Callable[[Scope], list[str]]] = [self.s_print, self.s_declare, self.s_mutate]
        if self.assignable(scope):
            kinds += [self.s_assign, self.s_augassign]
        if scope.depth < MAX_BLOCK_DEPTH:
            kinds += [self.s_if, self.s_for, self.s_while, self.s_try, self.s_try]
        if scope.loop_depth:
            kinds.append(self.s_break_continue)
        kinds += [self.s_raise, self.s_early_return, self.s_unpack]
        return self.draw(st.sampled_from(kinds))(scope)

    def assignable(self, scope: Scope) -> list[str]:
        return sorted(n for n in scope.vars if n not in scope.frozen and n.startswith(("v", "p")))

    def s_print(self, scope: Scope) -> list[str]:
        items = [self.expr(self.any_type(), scope) for _ in range(self.draw(st.integers(1, 3)))]
        if self.draw(st.integers(0, 3)) == 0:
            items.append(f"sep={self.draw(st.sampled_from(['', ', ', '|']))!r}")
        return [f"print({', '.join(items)})"]

    def s_declare(self, scope: Scope) -> list[str]:
        ty = self.any_type()
        name = self.name("v")
        if ty in (LINT, LSTR, DICT, SET) and self.draw(st.integers(0, 3)) == 0:
            line = f"{name}: {ty} = {'set()' if ty == SET else '{}' if ty == DICT else '[]'}"
        elif ty == BOX:  # declared, or a Crate first would fix the variable's type to Crate
            line = f"{name}: Box = {self.expr(BOX, scope)}"
        else:
            line = f"{name} = {self.bounded(ty, scope)}"
        scope.vars[name] = ty
        return [line]

    def s_assign(self, scope: Scope) -> list[str]:
        name = self.draw(st.sampled_from(self.assignable(scope)))
        return [f"{name} = {self.bounded(scope.vars[name], scope)}"]

    def s_augassign(self, scope: Scope) -> list[str]:
        name = self.draw(st.sampled_from(self.assignable(scope)))
        ty = scope.vars[name]
        if ty == INT:
            op = self.draw(st.sampled_from(["+=", "-=", "*=", "//=", "%=", "&=", "|=", "^="]))
            return [f"{name} {op} {self.expr(INT, scope, 2)}"]
        if ty == FLOAT:
            return [f"{name} {self.draw(st.sampled_from(['+=', '-=', '*=']))} {self.expr(FLOAT, scope, 1)}"]
        if ty in (STR, LINT, LSTR, BYTES):
            rhs = self.expr(ty, scope, 2)
            if scope.loop_depth:  # linear growth only, and not much of it
                rhs = f"{self.wrap(rhs)}[:3]"
            return [f"{name} += {rhs}"]
        if ty == SET:
            op = self.draw(st.sampled_from(["|=", "&=", "-=", "^="]))
            return [f"{name} {op} {self.expr(SET, scope, 2)}"]
        if ty == DICT:
            key = self.expr(STR, scope, 1)
            return [f"{name}[{key}] += {self.expr(INT, scope, 1)}"]  # KeyError when missing
        if ty == BOX:
            return [f"{name}.n += {self.expr(INT, scope, 1)}"]
        return [f"{name} = {self.expr(ty, scope)}"]

    def s_mutate(self, scope: Scope) -> list[str]:
        """A method call or item/slice store on a mutable value."""
        targets = [n for n in sorted(scope.vars) if scope.vars[n] in MUTABLE]
        if not targets:
            return self.s_print(scope)
        name = self.draw(st.sampled_from(targets))
        ty = scope.vars[name]
        if ty == BOX:
            form = self.draw(st.integers(0, 2))
            if form == 0:
                return [f"{name}.items.append({self.expr(INT, scope, 1)})"]
            if form == 1:
                return [f"{name}.name = {self.expr(STR, scope, 1)}"]
            return [f"{name}.items = {self.wrap(self.expr(LINT, scope, 2))}[:4]"]
        if ty == DICT:
            return [self.dict_mutation(name, scope)]
        if ty == SET:
            meth = self.draw(st.sampled_from(["add", "discard", "remove", "clear", "update"]))
            arg = "" if meth == "clear" else self.expr(LINT if meth == "update" else INT, scope, 1)
            return [f"{name}.{meth}({arg})"]
        return [self.list_mutation(name, LINT if ty == LINT else LSTR, scope)]

    def list_mutation(self, name: str, ty: str, scope: Scope) -> str:
        elem = INT if ty == LINT else STR
        form = self.draw(st.integers(0, 11))
        if form == 0:
            return f"{name}.append({self.expr(elem, scope, 1)})"
        if form == 1:
            return f"{name}.extend({self.wrap(self.expr(ty, scope, 1))}[:3])"
        if form == 2:
            return f"{name}.insert({self.index(scope)}, {self.expr(elem, scope, 1)})"
        if form == 3:
            return f"print({name}.pop({self.draw(st.sampled_from(['', self.index(scope)]))}))"
        if form == 4:
            return f"{name}.remove({self.expr(elem, scope, 1)})"
        if form == 5:
            return f"{name}.sort(reverse={self.draw(st.sampled_from(['False', 'True']))})"
        if form == 6:
            return f"{name}.reverse()"
        if form == 7:
            return f"{name}[{self.index(scope)}] = {self.expr(elem, scope, 1)}"
        if form == 8:
            return f"del {name}[{self.index(scope)}]"
        if form == 9:
            return f"{name}[{self.slice(scope)}] = {self.wrap(self.expr(ty, scope, 1))}[:3]"
        if form == 10:
            return f"del {name}[{self.slice(scope)}]"
        return f"{name}.clear()"

    def dict_mutation(self, name: str, scope: Scope) -> str:
        form = self.draw(st.integers(0, 5))
        key = self.key(scope)
        if form == 0:
            return f"{name}[{key}] = {self.expr(INT, scope, 1)}"
        if form == 1:
            return f"del {name}[{key}]"
        if form == 2:
            return f"print({name}.pop({key}, {self.expr(INT, scope, 1)}))"
        if form == 3:
            return f"print({name}.setdefault({key}, {self.expr(INT, scope, 1)}))"
        if form == 4:
            return f"{name}.update({self.expr(DICT, scope, 1)})"
        return f"print({name}.pop({key}))"

    def s_if(self, scope: Scope) -> list[str]:
        lines = [f"if {self.condition(scope)}:", *self.branch(scope)]
        if self.draw(st.booleans()):
            lines += [f"elif {self.condition(scope)}:", *self.branch(scope)]
        if self.draw(st.booleans()):
            lines += ["else:", *self.branch(scope)]
        return lines

    def branch(self, scope: Scope, loop: bool = False, extra: dict[str, str] | None = None) -> list[str]:
        return indent(self.block(scope.nested(extra, loop), self.draw(st.integers(1, 3))))

    def s_for(self, scope: Scope) -> list[str]:
        """Loops over copies or fresh values, so that the body's mutations cannot
        make the iteration endless."""
        form = self.draw(st.integers(0, 6))
        a, b = self.name("x"), self.name("y")
        if form == 0:
            head, extra = f"for {a} in range({self.draw(st.integers(0, MAX_TRIPS))}):", {a: INT}
        elif form == 1:
            head, extra = f"for {a} in {self.wrap(self.expr(LINT, scope, 2))}[:{MAX_TRIPS}]:", {a: INT}
        elif form == 2:
            head, extra = f"for {a} in {self.wrap(self.expr(STR, scope, 2))}[:{MAX_TRIPS}]:", {a: STR}
        elif form == 3:
            source = self.wrap(self.expr(LSTR, scope, 2))
            head, extra = f"for {a}, {b} in enumerate({source}[:{MAX_TRIPS}]):", {a: INT, b: STR}
        elif form == 4:
            head = f"for {b}, {a} in list({self.expr(DICT, scope, 1)}.items())[:{MAX_TRIPS}]:"
            extra = {b: STR, a: INT}
        elif form == 5:
            head = f"for {a} in sorted({self.expr(SET, scope, 1)})[:{MAX_TRIPS}]:"
            extra = {a: INT}
        else:
            left, right = self.wrap(self.expr(LINT, scope, 1)), self.wrap(self.expr(LSTR, scope, 1))
            head, extra = f"for {a}, {b} in zip({left}[:{MAX_TRIPS}], {right}):", {a: INT, b: STR}
        lines = [head, *self.branch(scope, True, extra)]
        if self.draw(st.integers(0, 4)) == 0:
            lines += ["else:", *self.branch(scope)]
        return lines

    def s_while(self, scope: Scope) -> list[str]:
        counter = self.name("w")
        trips = self.draw(st.integers(0, MAX_TRIPS))
        body = [f"{counter} += 1", *self.block(scope.nested({counter: INT}, loop=True), self.draw(st.integers(1, 3)))]
        return [f"{counter} = 0", f"while {counter} < {trips}:", *indent(body)]

    def s_try(self, scope: Scope) -> list[str]:
        lines = ["try:", *self.branch(scope)]
        handlers = self.draw(st.lists(st.sampled_from(HANDLERS), min_size=0, max_size=3, unique=True))
        finally_ = self.draw(st.booleans()) or not handlers
        for h in handlers:
            if h == "Exception":  # its message may be the int64 model's: print the tag only
                lines += ["except Exception:", f'    print("caught {self.name("any")}")']
                continue
            var = self.name("e")
            lines += [f"except {h} as {var}:", f'    print("caught", {var})']
            if h == "CodeError" and self.draw(st.booleans()):
                lines.append(f"    print({var}.code)")
            if self.draw(st.integers(0, 4)) == 0:
                lines += indent(self.block(scope.nested(), 1))
        if handlers and self.draw(st.booleans()):
            lines += ["else:", *self.branch(scope)]
        if finally_:
            lines += ["finally:", *self.branch(scope)]
        return lines

    def s_break_continue(self, scope: Scope) -> list[str]:
        return [f"if {self.condition(scope)}:", f"    {self.draw(st.sampled_from(['break', 'continue']))}"]

    def s_raise(self, scope: Scope) -> list[str]:
        form = self.draw(st.integers(0, 3))
        if form == 0:
            exc = f"AppError({self.expr(STR, scope, 1)})"
        elif form == 1:
            exc = f"CodeError({self.expr(INT, scope, 1)})"
        elif form == 2:
            exc = f"KeyError({self.expr(STR, scope, 1)})"
        else:
            exc = f"IndexError({self.expr(STR, scope, 1)})"
        return [f"if {self.condition(scope)}:", f"    raise {exc}"]

    def s_early_return(self, scope: Scope) -> list[str]:
        value = "" if self.ret is None else " " + self.expr(self.ret, scope)
        return [f"if {self.condition(scope)}:", f"    return{value}"]

    def s_unpack(self, scope: Scope) -> list[str]:
        a, b = self.name("v"), self.name("v")
        form = self.draw(st.integers(0, 2))
        if form == 0:
            line = f"{a}, {b} = divmod({self.expr(INT, scope, 1)}, {self.expr(INT, scope, 1)})"
            scope.vars.update({a: INT, b: INT})
        elif form == 1:
            line = f"{a}, {b} = {self.expr(STR, scope, 1)}, {self.expr(INT, scope, 1)}"
            scope.vars.update({a: STR, b: INT})
        else:
            line = f"{a}, _, {b} = {self.wrap(self.expr(STR, scope, 1))}.partition({self.expr(STR, scope, 0)})"
            scope.vars.update({a: STR, b: STR})
        return [line]

    # ----------------------------------------------------------------- expressions

    def expr(self, ty: str, scope: Scope, depth: int = MAX_EXPR_DEPTH) -> str:
        if depth <= 0:
            return self.atom(ty, scope)
        builders = getattr(self, "b_" + self.slug(ty))()
        return self.draw(st.sampled_from(builders))(scope, depth - 1)

    def bounded(self, ty: str, scope: Scope) -> str:
        """An expression to store; inside a loop, cut so that repeated
        assignments cannot double a value's size on every trip."""
        value = self.expr(ty, scope)
        if scope.loop_depth and ty in (STR, LINT, LSTR, BYTES):
            return f"{self.wrap(value)}[:{GROW_LIMIT}]"
        return value

    def e_atom(self, ty: str) -> Callable[[Scope, int], str]:
        return lambda scope, depth: self.atom(ty, scope)

    def atom(self, ty: str, scope: Scope) -> str:
        names = scope.of(ty)
        if names and self.draw(st.integers(0, 2)) > 0:
            return self.draw(st.sampled_from(names))
        return self.literal(ty)

    def literal(self, ty: str) -> str:
        if ty == INT:
            return int_literal(self.draw(st.one_of(st.integers(-3, 12), st.sampled_from([0, 255, 2**31, 2**62, -(2**63)]))))
        if ty == BOOL:
            return self.draw(st.sampled_from(["False", "True"]))
        if ty == FLOAT:
            value = self.draw(st.sampled_from(SMALL_FLOATS))
            return f"({value!r})" if value < 0 else repr(value)
        if ty == STR:
            return repr(self.draw(st.sampled_from(STR_POOL)))
        if ty == BYTES:
            return repr(self.draw(st.sampled_from(BYTES_POOL)))
        if ty == LINT:
            return repr(self.draw(st.lists(st.integers(-5, 9), min_size=1, max_size=5)))
        if ty == LSTR:
            return repr(self.draw(st.lists(st.sampled_from(STR_POOL), min_size=1, max_size=4)))
        if ty == DICT:
            keys = self.draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True))
            return "{" + ", ".join(f"{k!r}: {self.draw(st.integers(-5, 20))}" for k in keys) + "}"
        if ty == SET:
            items = self.draw(st.lists(st.integers(-4, 40), min_size=1, max_size=5))
            return "{" + ", ".join(int_literal(i) for i in items) + "}"
        if ty == BOX:
            return f"Box({self.literal(INT)}, {self.literal(STR)})"
        if ty == PT:
            return f"Pt({self.literal(INT)})"
        raise AssertionError(ty)

    # Builders take (scope, depth) and return source text of their type.

    def b_int(self) -> list[Callable[[Scope, int], str]]:
        return [self.e_atom(INT), self.e_int_arith, self.e_len, self.e_int_index, self.e_int_method,
                self.e_dict_lookup, self.e_int_reduce, self.e_int_conv, self.e_ifexp(INT),
                self.e_box_int, self.e_sum_gen]  # fmt: skip

    def b_bool(self) -> list[Callable[[Scope, int], str]]:
        return [self.e_atom(BOOL), self.e_compare, self.e_contains, self.e_str_pred, self.e_not,
                self.e_boolop, self.e_isinstance, self.e_any_all, self.e_eq_heap]  # fmt: skip

    def b_float(self) -> list[Callable[[Scope, int], str]]:
        return [self.e_atom(FLOAT), self.e_float]

    def b_str(self) -> list[Callable[[Scope, int], str]]:
        return [self.e_atom(STR), self.e_str_conv, self.e_fstring, self.e_str_concat, self.e_str_index,
                self.e_str_method, self.e_join, self.e_box_str, self.e_ifexp(STR), self.e_str_elem]  # fmt: skip

    def b_bytes(self) -> list[Callable[[Scope, int], str]]:
        return [self.e_atom(BYTES), self.e_bytes]

    def b_list_int(self) -> list[Callable[[Scope, int], str]]:
        return [self.e_atom(LINT), self.e_list_display(INT), self.e_lint_ops, self.e_list_slice(LINT),
                self.e_lint_comp, self.e_lint_conv, self.e_sorted(LINT)]  # fmt: skip

    def b_list_str(self) -> list[Callable[[Scope, int], str]]:
        return [self.e_atom(LSTR), self.e_list_display(STR), self.e_lstr_ops, self.e_list_slice(LSTR),
                self.e_sorted(LSTR)]  # fmt: skip

    def b_dict(self) -> list[Callable[[Scope, int], str]]:
        return [self.e_atom(DICT), self.e_dict]

    def b_set(self) -> list[Callable[[Scope, int], str]]:
        return [self.e_atom(SET), self.e_set]

    def b_box(self) -> list[Callable[[Scope, int], str]]:
        return [self.e_atom(BOX), lambda s, d: f"Box({self.expr(INT, s, d)}, {self.expr(STR, s, d)})", self.e_crate]

    def b_pt(self) -> list[Callable[[Scope, int], str]]:
        return [self.e_atom(PT), lambda s, d: f"Pt({self.expr(INT, s, d)}, {self.expr(STR, s, d)})",
                lambda s, d: f"Pt(x={self.expr(INT, s, d)})"]

    # -- int

    def e_int_arith(self, scope: Scope, depth: int) -> str:
        op = self.draw(st.sampled_from(["+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>"]))
        left = self.expr(INT, scope, depth)
        if op in ("<<", ">>"):
            return f"({left} {op} {self.draw(st.integers(0, 9))})"
        return f"({left} {op} {self.expr(INT, scope, depth)})"

    def e_len(self, scope: Scope, depth: int) -> str:
        return f"len({self.expr(self.draw(st.sampled_from([STR, LINT, LSTR, DICT, SET, BYTES])), scope, depth)})"

    def e_int_index(self, scope: Scope, depth: int) -> str:
        form = self.draw(st.integers(0, 2))
        if form == 0:
            return f"{self.wrap(self.expr(LINT, scope, depth))}[{self.index(scope)}]"
        if form == 1:
            return f"{self.wrap(self.expr(BYTES, scope, depth))}[{self.index(scope)}]"
        return f"ord({self.wrap(self.expr(STR, scope, depth))}[{self.index(scope)}])"

    def e_int_method(self, scope: Scope, depth: int) -> str:
        form = self.draw(st.integers(0, 4))
        if form == 0:
            return f"{self.wrap(self.expr(LINT, scope, depth))}.count({self.expr(INT, scope, 0)})"
        if form == 1:
            return f"{self.wrap(self.expr(LINT, scope, depth))}.index({self.expr(INT, scope, 0)})"
        meth = self.draw(st.sampled_from(["find", "count", "index", "rfind"]))
        return f"{self.wrap(self.expr(STR, scope, depth))}.{meth}({self.expr(STR, scope, 0)})"

    def e_dict_lookup(self, scope: Scope, depth: int) -> str:
        d = self.wrap(self.expr(DICT, scope, depth))
        if self.draw(st.booleans()):
            return f"{d}[{self.key(scope)}]"
        return f"{d}.get({self.key(scope)}, {self.expr(INT, scope, 0)})"

    def e_int_reduce(self, scope: Scope, depth: int) -> str:
        fn = self.draw(st.sampled_from(["sum", "min", "max", "min", "max"]))
        xs = self.expr(LINT, scope, depth)
        if fn != "sum" and self.draw(st.booleans()):
            return f"{fn}({xs}, default={self.expr(INT, scope, 0)})"
        if fn != "sum" and self.draw(st.booleans()):
            return f"{fn}({xs}, key=lambda q: (q % 3, -q))"
        return f"{fn}({xs})"

    def e_int_conv(self, scope: Scope, depth: int) -> str:
        form = self.draw(st.integers(0, 5))
        if form > 3:
            return f"int(str({self.expr(INT, scope, depth)}))"
        if form == 0:
            return f"int({self.expr(STR, scope, depth)})"  # ValueError for most strs
        if form == 1:
            return f"int(str({self.expr(INT, scope, depth)}))"
        if form == 2:
            return f"int({self.expr(FLOAT, scope, depth)})"
        return f"int({self.expr(STR, scope, depth)}, 16)"

    def e_box_int(self, scope: Scope, depth: int) -> str:
        box = self.wrap(self.expr(BOX, scope, depth))
        forms = [f"{box}.n", f"len({box}.items)", f"{self.wrap(self.expr(PT, scope, depth))}.x"]
        methods = [f"{box}.weight()", f"call_int({box}.weight)"]  # called, and bound as a value
        return self.draw(st.sampled_from(forms + ([] if self.in_class else methods)))

    def e_sum_gen(self, scope: Scope, depth: int) -> str:
        xs = self.expr(LINT, scope, depth)
        return f"sum({self.name('q')} * 2 for {self.last()} in {xs} if {self.last()} % 2 == 0)"

    # -- bool

    def e_compare(self, scope: Scope, depth: int) -> str:
        ty = self.draw(st.sampled_from([INT, INT, STR, LINT, PT, BYTES]))
        op = self.draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return f"({self.expr(ty, scope, depth)} {op} {self.expr(ty, scope, depth)})"

    def e_contains(self, scope: Scope, depth: int) -> str:
        form = self.draw(st.integers(0, 4))
        op = self.draw(st.sampled_from(["in", "not in"]))
        if form == 0:
            return f"({self.expr(INT, scope, depth)} {op} {self.expr(LINT, scope, depth)})"
        if form == 1:
            return f"({self.key(scope)} {op} {self.expr(DICT, scope, depth)})"
        if form == 2:
            return f"({self.expr(INT, scope, depth)} {op} {self.expr(SET, scope, depth)})"
        if form == 3:
            return f"({self.expr(STR, scope, depth)} {op} {self.expr(LSTR, scope, depth)})"
        return f"({self.expr(STR, scope, depth)} {op} {self.expr(STR, scope, depth)})"

    def e_str_pred(self, scope: Scope, depth: int) -> str:
        s = self.wrap(self.expr(STR, scope, depth))
        meth = self.draw(st.sampled_from(["isdigit", "isalpha", "isspace", "isupper", "islower", "isalnum"]))
        if self.draw(st.booleans()):
            return f"{s}.{meth}()"
        return f"{s}.{self.draw(st.sampled_from(['startswith', 'endswith']))}({self.expr(STR, scope, 0)})"

    def e_not(self, scope: Scope, depth: int) -> str:
        return f"(not {self.expr(self.draw(st.sampled_from([BOOL, INT, STR, LINT, DICT, SET])), scope, depth)})"

    def e_boolop(self, scope: Scope, depth: int) -> str:
        op = self.draw(st.sampled_from(["and", "or"]))
        return f"({self.expr(BOOL, scope, depth)} {op} {self.expr(BOOL, scope, depth)})"

    def e_isinstance(self, scope: Scope, depth: int) -> str:
        return f"isinstance({self.expr(BOX, scope, depth)}, {self.draw(st.sampled_from(['Crate', 'Box']))})"

    def e_any_all(self, scope: Scope, depth: int) -> str:
        fn = self.draw(st.sampled_from(["any", "all"]))
        var = self.name("q")
        return f"{fn}({var} > {self.expr(INT, scope, 0)} for {var} in {self.expr(LINT, scope, depth)})"

    def e_eq_heap(self, scope: Scope, depth: int) -> str:
        ty = self.draw(st.sampled_from([DICT, SET, LSTR]))
        op = self.draw(st.sampled_from(["==", "!="]))
        return f"({self.expr(ty, scope, depth)} {op} {self.expr(ty, scope, depth)})"

    # -- float

    def e_float(self, scope: Scope, depth: int) -> str:
        form = self.draw(st.integers(0, 3))
        if form == 0:
            return f"({self.expr(INT, scope, depth)} / {self.expr(INT, scope, depth)})"
        if form == 1:
            return f"float({self.expr(INT, scope, depth)})"
        if form == 2:
            return f"({self.expr(FLOAT, scope, depth)} * {self.expr(FLOAT, scope, depth)})"
        return f"sum([{self.expr(FLOAT, scope, depth)}, 0.5], 0.0)"

    # -- str

    def e_str_conv(self, scope: Scope, depth: int) -> str:
        fn = self.draw(st.sampled_from(["str", "repr"]))
        return f"{fn}({self.expr(self.any_type(), scope, depth)})"

    def e_fstring(self, scope: Scope, depth: int) -> str:
        """Fields are names only: nested quotes would not be valid 3.11 syntax."""
        parts = []
        for _ in range(self.draw(st.integers(1, 3))):
            ty = self.draw(st.sampled_from([INT, STR, FLOAT, LINT, DICT, BOX, BOOL]))
            names = scope.of(ty)
            if not names:
                parts.append(self.draw(st.sampled_from(["x", "-", " = ", "{{", "}}"])))
                continue
            spec = self.draw(st.sampled_from(FSTRING_SPECS.get(ty, ["", "!r"])))
            parts.append(f"{{{self.draw(st.sampled_from(names))}{spec}}}")
            parts.append(self.draw(st.sampled_from(["", "|", " "])))
        return 'f"' + "".join(parts) + '"'

    def e_str_concat(self, scope: Scope, depth: int) -> str:
        if self.draw(st.integers(0, 3)) == 0:
            return f"({self.expr(STR, scope, depth)} * {self.draw(st.integers(-1, 3))})"
        return f"({self.expr(STR, scope, depth)} + {self.expr(STR, scope, depth)})"

    def e_str_index(self, scope: Scope, depth: int) -> str:
        s = self.wrap(self.expr(STR, scope, depth))
        if self.draw(st.booleans()):
            return f"{s}[{self.index(scope)}]"
        return f"{s}[{self.slice(scope)}]"

    def e_str_method(self, scope: Scope, depth: int) -> str:
        s = self.wrap(self.expr(STR, scope, depth))
        form = self.draw(st.integers(0, 4))
        if form == 0:
            meth = self.draw(st.sampled_from(["upper", "lower", "strip", "lstrip", "rstrip", "title",
                                              "swapcase", "capitalize"]))
            return f"{s}.{meth}()"
        if form == 1:
            return f"{s}.replace({self.expr(STR, scope, 0)}, {self.expr(STR, scope, 0)})"
        if form == 2:
            meth = self.draw(st.sampled_from(["ljust", "rjust", "center", "zfill"]))
            return f"{s}.{meth}({self.draw(st.integers(-1, 9))})"
        if form == 3:
            return f"{s}.strip({self.expr(STR, scope, 0)})"
        return f"{self.wrap(self.expr(BYTES, scope, depth))}.hex()"

    def e_join(self, scope: Scope, depth: int) -> str:
        sep = self.draw(st.sampled_from(["''", "', '", "'-'", "' '"]))
        if self.draw(st.booleans()):
            return f"{sep}.join({self.expr(LSTR, scope, depth)})"
        var = self.name("q")
        return f"{sep}.join(str({var}) for {var} in {self.expr(LINT, scope, depth)})"

    def e_box_str(self, scope: Scope, depth: int) -> str:
        box = self.wrap(self.expr(BOX, scope, depth))
        forms = [f"{box}.name", f"{self.wrap(self.expr(PT, scope, depth))}.tag"]
        methods = [f"{box}.label()", f"call_str({box}.label)"]
        return self.draw(st.sampled_from(forms + ([] if self.in_class else methods)))

    def e_str_elem(self, scope: Scope, depth: int) -> str:
        return f"{self.wrap(self.expr(LSTR, scope, depth))}[{self.index(scope)}]"

    # -- bytes

    def e_bytes(self, scope: Scope, depth: int) -> str:
        form = self.draw(st.integers(0, 6))
        if form >= 4 and self.draw(st.booleans()):
            form = 0
        if form == 0:
            return f"{self.wrap(self.expr(STR, scope, depth))}.encode()"
        if form == 1:
            var = self.name("q")
            return f"bytes([{var} % 256 for {var} in {self.expr(LINT, scope, depth)}])"
        if form == 2:
            return f"{self.wrap(self.expr(BYTES, scope, depth))}[{self.slice(scope)}]"
        if form == 3:
            return f"({self.expr(BYTES, scope, depth)} + {self.expr(BYTES, scope, depth)})"
        return f"bytes({self.wrap(self.expr(LINT, scope, depth))}[:2])"  # ValueError outside 0..255

    # -- lists

    def e_list_display(self, elem: str) -> Callable[[Scope, int], str]:
        def build(scope: Scope, depth: int) -> str:
            return "[" + ", ".join(self.expr(elem, scope, depth) for _ in range(self.draw(st.integers(1, 3)))) + "]"
        return build

    def e_list_slice(self, ty: str) -> Callable[[Scope, int], str]:
        def build(scope: Scope, depth: int) -> str:
            return f"{self.wrap(self.expr(ty, scope, depth))}[{self.slice(scope)}]"
        return build

    def e_sorted(self, ty: str) -> Callable[[Scope, int], str]:
        def build(scope: Scope, depth: int) -> str:
            xs = self.expr(ty, scope, depth)
            form = self.draw(st.integers(0, 2))
            if form == 0:
                return f"sorted({xs})"
            if form == 1:
                return f"sorted({xs}, reverse=True)"
            key = "lambda q: -q" if ty == LINT else "lambda q: len(q)"
            return f"sorted({xs}, key={key})"
        return build

    def e_lint_ops(self, scope: Scope, depth: int) -> str:
        form = self.draw(st.integers(0, 3))
        if form == 0:
            return f"({self.expr(LINT, scope, depth)} + {self.expr(LINT, scope, depth)})"
        if form == 1:
            return f"({self.expr(LINT, scope, depth)} * {self.draw(st.integers(0, 2))})"
        if form == 2:
            return f"list(reversed({self.expr(LINT, scope, depth)}))"
        return f"{self.wrap(self.expr(BOX, scope, depth))}.items"

    def e_lint_comp(self, scope: Scope, depth: int) -> str:
        var = self.name("q")
        form = self.draw(st.integers(0, 3))
        if form == 0:
            return f"[{var} * {self.draw(st.integers(-2, 3))} for {var} in {self.expr(LINT, scope, depth)} if {var} != {self.draw(st.integers(-2, 5))}]"
        if form == 1:
            return f"[ord({var}) for {var} in {self.expr(STR, scope, depth)}]"
        if form == 2:
            return f"list(map(lambda {var}: {var} + 1, {self.expr(LINT, scope, depth)}))"
        return f"list(filter(lambda {var}: {var} % 2 == 1, {self.expr(LINT, scope, depth)}))"

    def e_lint_conv(self, scope: Scope, depth: int) -> str:
        form = self.draw(st.integers(0, 4))
        if form == 0:
            return f"list(range({self.draw(st.integers(-3, 3))}, {self.draw(st.integers(0, 8))}))"
        if form == 1:
            return f"list({self.expr(DICT, scope, depth)}.values())"
        if form == 2:
            return f"list({self.expr(BYTES, scope, depth)})"
        if form == 3:
            return f"list({self.expr(SET, scope, depth)})"
        return f"[len({self.name('q')}) for {self.last()} in {self.expr(LSTR, scope, depth)}]"

    def e_lstr_ops(self, scope: Scope, depth: int) -> str:
        form = self.draw(st.integers(0, 5))
        if form == 0:
            return f"{self.wrap(self.expr(STR, scope, depth))}.split()"
        if form == 1:
            sep = self.draw(st.sampled_from(SEPARATORS))
            return f"{self.wrap(self.expr(STR, scope, depth))}.split({sep!r})"
        if form == 2:
            return f"list({self.expr(DICT, scope, depth)}.keys())"
        if form == 3:
            var = self.name("q")
            return f"[str({var}) for {var} in {self.expr(LINT, scope, depth)}]"
        if form == 4:
            return f"list({self.expr(STR, scope, depth)})"
        return f"({self.expr(LSTR, scope, depth)} + {self.expr(LSTR, scope, depth)})"

    # -- dict, set, objects

    def e_dict(self, scope: Scope, depth: int) -> str:
        form = self.draw(st.integers(0, 3))
        if form == 0:
            return "{" + ", ".join(f"{self.key(scope)}: {self.expr(INT, scope, depth)}" for _ in range(self.draw(st.integers(1, 3)))) + "}"
        if form == 1:
            var = self.name("q")
            return f"{{{var}: len({var}) for {var} in {self.expr(LSTR, scope, depth)}}}"
        if form == 2:
            return f"dict(zip({self.expr(LSTR, scope, depth)}, {self.expr(LINT, scope, depth)}))"
        return f"dict({self.expr(DICT, scope, depth)})"

    def e_set(self, scope: Scope, depth: int) -> str:
        form = self.draw(st.integers(0, 3))
        if form == 0:
            return "{" + ", ".join(self.expr(INT, scope, depth) for _ in range(self.draw(st.integers(1, 3)))) + "}"
        if form == 1:
            return f"set({self.expr(LINT, scope, depth)})"
        if form == 2:
            op = self.draw(st.sampled_from(["|", "&", "-", "^"]))
            return f"({self.expr(SET, scope, depth)} {op} {self.expr(SET, scope, depth)})"
        var = self.name("q")
        return f"{{{var} % 7 for {var} in {self.expr(LINT, scope, depth)}}}"

    def e_crate(self, scope: Scope, depth: int) -> str:
        return f"Crate({self.expr(INT, scope, depth)}, {self.expr(STR, scope, depth)}, {self.expr(INT, scope, depth)})"

    def e_ifexp(self, ty: str) -> Callable[[Scope, int], str]:
        def build(scope: Scope, depth: int) -> str:
            return f"({self.expr(ty, scope, depth)} if {self.condition(scope)} else {self.expr(ty, scope, depth)})"
        return build

    # ----------------------------------------------------------------- helpers

    def condition(self, scope: Scope) -> str:
        return self.expr(BOOL, scope, 2)

    def index(self, scope: Scope) -> str:
        """Mostly in range for short values, sometimes out of range or negative."""
        form = self.draw(st.integers(0, 5))
        if form == 0:
            return self.expr(INT, scope, 1)
        if form == 1:
            return int_literal(self.draw(st.integers(-6, 6)))
        return int_literal(self.draw(st.integers(-1, 1)))

    def slice(self, scope: Scope) -> str:
        def bound() -> str:
            return self.draw(st.sampled_from(["", "", int_literal(self.draw(st.integers(-6, 8)))]))
        step = self.draw(st.sampled_from(["", "", ":2", ":-1", ":-2", ":3"]))
        return f"{bound()}:{bound()}{step}"

    def key(self, scope: Scope) -> str:
        if self.draw(st.integers(0, 3)) == 0:
            return self.expr(STR, scope, 1)
        return repr(self.draw(st.sampled_from(KEYS)))

    def wrap(self, source: str) -> str:
        """Parenthesise unless already an atom, for a following `.attr`/`[i]`."""
        simple = source.replace("_", "").replace(".", "").isalnum()
        return source if simple or (source[:1] in "([{" and source[-1:] in ")]}" and _balanced(source)) else f"({source})"

    def any_type(self) -> str:
        return self.draw(st.sampled_from(TYPES))

    def slug(self, ty: str) -> str:
        return {INT: "int", BOOL: "bool", FLOAT: "float", STR: "str", BYTES: "bytes", LINT: "list_int",
                LSTR: "list_str", DICT: "dict", SET: "set", BOX: "box", PT: "pt"}[ty]

    def name(self, prefix: str) -> str:
        self.fresh += 1
        return f"{prefix}{self.fresh}"

    def last(self) -> str:
        return f"q{self.fresh}"


FSTRING_SPECS = {
    INT: ["", ":>5", ":05d", ":x", ":+d", ":<4", ":^7", "!r", ":,"],
    STR: ["", "!r", ":>8", ":<6", ":^7", ":.2"],
    FLOAT: ["", ":.2f", ":>10.3f", ":e", ":.3g", ":+.1f", "!r"],
    BOOL: ["", "!r"],
}


def _balanced(source: str) -> bool:
    """Whether the opening bracket at source[0] closes at source[-1] (quotes aware enough
    for generated text, whose string literals come from repr())."""
    depth, quote, i = 0, None, 0
    while i < len(source):
        c = source[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0 and i != len(source) - 1:
                return False
        i += 1
    return True
