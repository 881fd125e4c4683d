"""The str/bytes/format runtime modules compile: every function type-checks, lowers
to LLVM IR that LLVM verifies, and becomes machine code.

The other runtime tests run these modules under CPython; this one makes sure the
compiler accepts the same source. A program only lowers the runtime functions it
uses, so here every function of the modules is lowered on purpose, and the
result is compiled without optimisation (which would drop the unused ones).
"""

from __future__ import annotations

import pytest

from apy_cpython import REPO

MODULES = ["unidata", "strings", "fmt", "bytesops"]


@pytest.fixture
def with_modules(monkeypatch):
    # until the compiler links them into every program by itself
    monkeypatch.setenv("APPLC_EXTRA_RUNTIME", ",".join(MODULES))


def test_every_function_lowers_and_compiles(with_modules):
    from applc.check import types as t
    from applc.driver import build
    from applc.lower.codegen import FunctionLowerer, ProgramLowerer

    modules = build.check_file(REPO / "tests" / "golden" / "fib.apy")
    target = build.load_target("hosted")
    tm = build.target_machine(target)
    prog = ProgramLowerer(modules, triple=target.triple, data_layout=str(tm.target_data),
                          no_red_zone=target.no_red_zone)
    prog.lower()
    lowered = 0
    for name in MODULES:
        m = prog.by_name["rt." + name]
        for sym in list(m.globals.values()):
            if isinstance(sym, t.Function) and sym.module is m:
                prog.function(sym)
                lowered += 1
    # the same work list ProgramLowerer.lower() drains
    while prog.pending or prog.generated_pending:
        if prog.pending:
            f = prog.pending.pop()
            FunctionLowerer(prog, f.module, f).lower_function()
        else:
            prog.generated_pending.pop()()
    obj, _ = build.compile_ir(str(prog.module), target, opt=0)
    assert lowered > 200 and len(obj) > 100_000  # sanity: the modules really were lowered
