"""Differential tests: hypothesis-generated programs, compiled by applc vs CPython.

In:  programs from `progen.programs()` (well-typed apy over int, float, bool).
Out: pass/fail. For each program the compiled executable (hosted target) must
     print the same stdout bytes and exit with the same status as CPython running
     the program instrumented by `progen.instrument_for_apy` -- the CPython model
     of apy's int64 overflow and `int ** -n` rules -- and, when that run died of
     an uncaught exception, name the same exception type on its last stderr line.

A failing example is shrunk by hypothesis to a small program, which the
failure message prints in full (with line numbers).

Examples per run come from APPLC_HYPOTHESIS_PROFILE (see tests/conftest.py):
`default` keeps this file to a few minutes, `ci` is derandomized, `thorough`
is for a long hunt. The other tests here check the CPython side only: that
the generator makes well-formed, well-typed programs and that the
instrumentation models apy's rules; they run without applc.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import progen

EXAMPLES = {"default": 40, "ci": 60, "thorough": 1000}
SELF_TEST_EXAMPLES = {"default": 60, "ci": 100, "thorough": 1000}
_PROFILE = os.environ.get("APPLC_HYPOTHESIS_PROFILE", "default")

# The only ways a generated program may end early: apy's checked arithmetic.
EXPECTED_EXCEPTIONS = {None, "ZeroDivisionError", "OverflowError", "ValueError"}

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]


def numbered(source: str) -> str:
    return "\n".join(f"{i:4} | {line}" for i, line in enumerate(source.splitlines(), 1))


# --------------------------------------------------------------------------- compiled vs CPython


@settings(max_examples=EXAMPLES[_PROFILE], deadline=None, suppress_health_check=_SLOW_OK)
@given(program=progen.programs())
def test_compiled_program_matches_cpython_model(program: progen.GeneratedProgram, apy) -> None:
    compare_with_oracle(program, apy, "applc-diff-", lambda expected: (
        expected.exc_type in EXPECTED_EXCEPTIONS, "generator bug:\n" + expected.describe()))


def compare_with_oracle(program: progen.GeneratedProgram, apy, prefix: str, oracle_ok) -> None:
    """Run the instrumented program under CPython (the oracle), check that run with
    `oracle_ok(outcome) -> (ok, message)`, then build the program with applc (hosted)
    and require the same stdout, exit status and exception."""
    from applc.diag import CompileError

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(tmp)
        source = work / "prog.apy"
        source.write_text(program.source)
        oracle = work / "oracle.py"
        oracle.write_text(progen.instrument_for_apy(program.source))

        expected = apy.cpython(oracle)
        ok, message = oracle_ok(expected)
        assert ok, message
        try:
            exe = apy.build(source, work / "prog.exe", cache=False)
        except CompileError as e:
            pytest.fail(f"applc rejected a well-typed program:\n{e.render()}\n\n{numbered(program.source)}")
        apy.assert_same(expected, apy.run_executable(exe), "program:\n" + numbered(program.source))


# --------------------------------------------------------------------------- the generator itself


@settings(max_examples=SELF_TEST_EXAMPLES[_PROFILE], deadline=None, suppress_health_check=_SLOW_OK)
@given(program=progen.programs())
def test_generated_programs_are_well_typed_python(program: progen.GeneratedProgram) -> None:
    """Run the program under CPython as apy is modelled (instrumented), watching
    every value's type, and plain.

    The instrumented run checks the generator: no NameError/TypeError/
    UnboundLocalError, arguments and results match their annotations, and no
    variable changes type (what apy's checker will demand). The plain run must
    agree with it up to the point where the instrumented one stops for an apy
    rule; after that point plain CPython may do anything (a float from
    `2 ** -1`, a big int), so nothing more is asked of it.
    """
    checked = run_in_process(progen.instrument_for_apy(program.source), trace_types=True)
    context = numbered(program.source)
    assert checked.error in EXPECTED_EXCEPTIONS, f"{checked.error}: {checked.message}\n{context}"
    plain = run_in_process(program.source)
    if checked.error is None:
        assert (plain.stdout, plain.error) == (checked.stdout, None), context
    else:
        assert plain.stdout.startswith(checked.stdout), context


class InProcessRun:
    def __init__(self, stdout: str, error: str | None, message: str) -> None:
        self.stdout, self.error, self.message = stdout, error, message


def run_in_process(source: str, trace_types: bool = False) -> InProcessRun:
    """exec a generated program as `__main__`, capturing stdout (generated programs
    terminate by construction and touch nothing but stdout)."""
    code = compile(source, "<generated>", "exec")
    namespace = {"__name__": "__main__"}
    tracer = TypeTracer(namespace) if trace_types else None
    out = io.StringIO()
    error, message = None, ""
    with contextlib.redirect_stdout(out):
        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            exec(code, namespace)
        except Exception as e:  # any type: the callers decide which ones are allowed
            error, message = type(e).__name__, str(e)
        finally:
            sys.settrace(old)
    if tracer and tracer.problems:
        error, message = "TypeError", "; ".join(tracer.problems[:5])
    return InProcessRun(out.getvalue(), error, message)


class TypeTracer:
    """A sys.settrace hook: checks annotations at calls and returns, and that no
    local variable of a generated function ever holds values of two types."""

    TYPES = {"int": int, "float": float, "bool": bool, "None": type(None)}

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace
        self.local_types: dict[tuple[str, str], type] = {}
        self.problems: list[str] = []

    def __call__(self, frame, event, arg):
        name = frame.f_code.co_name
        if frame.f_code.co_filename != "<generated>" or name == "<module>" or name.startswith("_apy_"):
            return None  # only the program's own functions; the model's checkers are untyped
        if event == "call":
            self.check_arguments(frame)
        return self.local

    def local(self, frame, event, arg):
        if event in ("line", "return"):
            self.check_locals(frame)
        if event == "return" and arg is not None:
            self.check_value(frame.f_code.co_name, "return", arg)
        return self.local

    def annotations(self, function: str) -> dict:
        return getattr(self.namespace.get(function), "__annotations__", {})

    def check_arguments(self, frame) -> None:
        for name, ann in self.annotations(frame.f_code.co_name).items():
            if name != "return" and name in frame.f_locals:
                self.check_value(frame.f_code.co_name, name, frame.f_locals[name])

    def check_value(self, function: str, name: str, value: object) -> None:
        ann = self.annotations(function).get(name)
        if ann is not None and type(value) is not self.TYPES[ann]:
            self.problems.append(f"{function}: {name} is {value!r}, annotated {ann}")

    def check_locals(self, frame) -> None:
        for name, value in frame.f_locals.items():
            key = (frame.f_code.co_name, name)
            seen = self.local_types.setdefault(key, type(value))
            if seen is not type(value):
                self.problems.append(f"{key[0]}: {name} held {seen.__name__}, then {value!r}")


# --------------------------------------------------------------------------- the CPython model of apy


@pytest.mark.parametrize(
    "snippet, error",
    [
        ("x = 2 ** 62\nx = x * 2", "OverflowError"),
        ("x = 2 ** 62\nx *= 2", "OverflowError"),
        ("x = 9223372036854775807\nx += 1", "OverflowError"),
        ("print(-(-9223372036854775807 - 1))", "OverflowError"),
        ("print((-9223372036854775807 - 1) // -1)", "OverflowError"),
        ("print(abs(-9223372036854775807 - 1))", "OverflowError"),
        ("print(1 << 63)", "OverflowError"),
        ("print(3 ** 40)", "OverflowError"),
        ("print(int(1e19))", "OverflowError"),
        ("print(round(9223372036854775807, -1))", "OverflowError"),
        ("print(2 ** -1)", "ValueError"),
        ("y = 3\ny **= -2", "ValueError"),
        ("print(0 << 100, 5 >> 100, -5 >> 100)", None),
        ("print(9223372036854775807 + 0, -9223372036854775807 - 1)", None),
        ("print((-9223372036854775807 - 1) % -1, 2.0 ** -1, 3 ** 39)", None),
        ("print(1e308 * 10.0, int(2.5e18), round(2.5), -7 // 2, -7 % 2)", None),
        ('print("ab" * 3, len("x" * 4))', None),
    ],
)
def test_instrumentation_models_apy_rules(snippet: str, error: str | None) -> None:
    plain = run_in_process(snippet) if error is None else None
    checked = run_in_process(progen.instrument_for_apy(snippet))
    assert checked.error == error, checked.message
    if plain is not None:
        assert checked.stdout == plain.stdout


def test_instrumentation_keeps_evaluation_order_and_module_layout() -> None:
    source = '''"""doc"""
from __future__ import annotations

def f(a: int) -> int:
    print("f", a)
    return a

x = 1
x += f(2) * f(3) - f(4) ** f(1)
print(x, __doc__)
'''
    instrumented = progen.instrument_for_apy(source)
    tree = ast.parse(instrumented)
    assert isinstance(tree.body[0], ast.Expr) and tree.body[1].module == "__future__"
    assert run_in_process(instrumented).stdout == run_in_process(source).stdout


def test_instrumentation_keeps_augmented_assignment_semantics() -> None:
    source = '''
class Box:
    def __init__(self) -> None:
        self.n = 1

def at(i: int) -> int:
    print("index", i)
    return i

def rhs(v: int) -> int:
    print("value", v)
    return v

xs = [1, 2, 3]
alias = xs
xs += [4]
xs[at(0)] += rhs(10)
xs[at(1):at(3)] += [rhs(7)]
b = Box()
b.n *= rhs(5)
print(alias, xs, b.n, alias is xs)
'''
    assert run_in_process(progen.instrument_for_apy(source)).stdout == run_in_process(source).stdout


@pytest.mark.parametrize(
    "snippet, error",
    [
        ("xs = [2 ** 62]\nxs[0] *= 2", "OverflowError"),
        ("class C:\n    n = 2 ** 62\nc = C()\nc.n += 2 ** 62", "OverflowError"),
        ("print(sum([2 ** 62, 2 ** 62, -(2 ** 62)]))", "OverflowError"),
        ("print(divmod(-9223372036854775807 - 1, -1))", "OverflowError"),
        ("print(pow(3, 40))", "OverflowError"),
        ("print(pow(2, -1))", "ValueError"),
        ("print(pow(3, 40, 7), sum([1.5, 2]), divmod(7, -2))", None),
    ],
)
def test_instrumentation_models_builtins_and_targets(snippet: str, error: str | None) -> None:
    checked = run_in_process(progen.instrument_for_apy(snippet))
    assert checked.error == error, checked.message
    if error is None:
        assert checked.stdout == run_in_process(snippet).stdout
