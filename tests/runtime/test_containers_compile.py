"""Every function of the container runtime compiles, not only the ones a program uses.

The compiler lowers runtime functions on demand, so a function no test program
reaches would only fail to compile the day a program first calls it. Here each
function of runtime/hashes.apy, lists.apy and dicts.apy is marked exported (so
it is lowered), and the whole module goes through LLVM's verifier, optimiser
and code generator for the hosted target. (objhooks.apy is left out: the
compiler generates those three functions itself.)
"""

from __future__ import annotations

MODULES = ("rt.hashes", "rt.lists", "rt.dicts")


def test_every_container_runtime_function_compiles():
    from pathlib import Path

    from applc.check import types as t
    from applc.driver import build

    program = Path(__file__).resolve().parents[1] / "golden" / "fizzbuzz.apy"
    modules = build.check_file(str(program))
    exported = []
    for m in modules:
        if m.name not in MODULES:
            continue
        for sym in m.globals.values():
            if isinstance(sym, t.Function) and sym.module is m:
                sym.export = f"applc_test_{m.name[3:]}_{sym.name}"
                exported.append(sym.export)
    assert len(exported) > 150, "the container runtime modules are not in the program"
    target = build.load_target("hosted")
    obj, text = build.compile_ir(build.lower_program(modules, target), target)
    missing = [name for name in exported if f"@{name}(" not in text]
    assert not missing, f"not compiled: {missing[:5]}"
    assert len(obj) > 10000
