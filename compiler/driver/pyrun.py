"""Run an apy program under CPython (the oracle): `applc pyrun prog.apy [args]`.

In:  an apy program (any number of .apy modules) and its arguments.
Out: the program run by CPython itself, with an import hook that finds `.apy`
     modules next to the program and in stdlib/ (as applc does), and the
     `_machine` stand-in (runtime/pyshim) for stdlib modules that use it.

Single-file programs need none of this (`python3 prog.apy` works); this is
for programs split over several .apy files.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import runpy
import sys
from pathlib import Path


class ApyFinder(importlib.abc.MetaPathFinder):
    """Finds `name.apy` (or `name/__init__.apy`) under the given roots."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = roots

    def find_spec(self, fullname, path=None, target=None):
        rel = Path(*fullname.split("."))
        for root in self.roots:
            for candidate, is_pkg in ((root / rel.with_suffix(".apy"), False),
                                      (root / rel / "__init__.apy", True)):
                if candidate.is_file():
                    loader = importlib.machinery.SourceFileLoader(fullname, str(candidate))
                    return importlib.util.spec_from_file_location(
                        fullname, str(candidate), loader=loader,
                        submodule_search_locations=[str(candidate.parent)] if is_pkg else None)
        return None


def install(program: Path) -> None:
    import applc.runtime
    import applc.stdlib

    stdlib = Path(applc.stdlib.__file__).resolve().parent
    shim = Path(applc.runtime.__file__).resolve().parent / "pyshim"
    sys.path.insert(0, str(shim))
    sys.meta_path.insert(0, ApyFinder([program.resolve().parent, stdlib]))


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: applc pyrun PROGRAM.apy [ARGS...]", file=sys.stderr)
        return 2
    program = Path(argv[0])
    if not program.is_file():
        print(f"applc: error: no such file: '{program}'", file=sys.stderr)
        return 2
    install(program)
    sys.argv = [str(program)] + list(argv[1:])
    try:
        runpy.run_path(str(program), run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
