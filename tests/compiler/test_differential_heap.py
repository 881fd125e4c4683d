"""Differential tests over heap types: hypothesis-generated programs with lists,
dicts, sets, str, bytes, classes and exceptions, compiled by applc vs CPython.

In:  programs from `progen_heap.programs()` (see its docstring for what they
     contain; each has up to ten generated functions, to amortise one build).
Out: pass/fail. The compiled executable (hosted target, in-process build)
     must print the same stdout bytes and exit with the same status as CPython
     running the program through `progen.instrument_for_apy` (apy's int64
     model), and name the same uncaught exception, if any.

Examples per run come from APPLC_HYPOTHESIS_PROFILE (tests/conftest.py):
`default`/`ci` keep this file well under two minutes of CPU, `thorough`
hunts for a long time. The generator's self-test runs the programs under
CPython only: generated programs must be valid Python that ends only by the
exceptions main() reports.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings

import progen
import progen_heap
from test_differential import compare_with_oracle, numbered, run_in_process

EXAMPLES = {"default": 10, "ci": 10, "thorough": 400}
SELF_TEST_EXAMPLES = {"default": 20, "ci": 20, "thorough": 400}
_PROFILE = os.environ.get("APPLC_HYPOTHESIS_PROFILE", "default")

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]


@settings(max_examples=EXAMPLES[_PROFILE], deadline=None, suppress_health_check=_SLOW_OK)
@given(program=progen_heap.programs())
def test_compiled_heap_program_matches_cpython(program: progen.GeneratedProgram, apy) -> None:
    compare_with_oracle(program, apy, "applc-heap-", lambda expected: (
        expected.status == 0,
        "generator bug:\n" + expected.describe() + "\n" + numbered(program.source)))


@settings(max_examples=SELF_TEST_EXAMPLES[_PROFILE], deadline=None, suppress_health_check=_SLOW_OK)
@given(program=progen_heap.programs())
def test_generated_heap_programs_are_valid_python(program: progen.GeneratedProgram) -> None:
    """main() reports every exception the programs may raise on purpose; any
    other (NameError, TypeError, UnboundLocalError...) is a generator bug."""
    run = run_in_process(progen.instrument_for_apy(program.source))
    assert run.error is None, f"{run.error}: {run.message}\n{numbered(program.source)}"
    assert run.stdout.count("\n") >= len(program.source.split("\ndef h")) - 1


def test_generator_covers_the_heap_language() -> None:
    """Across a few programs, the constructs the generator exists for all appear."""
    sources = []

    @settings(max_examples=15, deadline=None, suppress_health_check=_SLOW_OK, database=None, derandomize=True)
    @given(program=progen_heap.programs())
    def collect(program: progen.GeneratedProgram) -> None:
        sources.append(program.source)

    collect()
    text = "\n".join(sources)
    for construct in ["try:", "except ", "finally:", "raise ", "super()", "isinstance(", ".append(",
                      "sorted(", " for ", "f\"", "{'", "[", ":-1]", ".items()", "lambda "]:
        assert construct in text, construct
