"""Load runtime/*.apy modules under CPython the way the compiler links them.

In:  the short name of a runtime module ("strings", "core", ...).
Out: `load(name)`: that module executed by CPython, once per test process, with

     * `from _machine import ...` served by runtime/pyshim/_machine.py;
     * `from core import f` (any runtime module by short name) served by the
       runtime module of that name, loaded the same way -- never by a Python
       module of the same name (runtime/gc.apy is not Python's `gc`), and
       without putting runtime modules into sys.modules;
     * every int operation range-checked like compiled code
       (apy_cpython.guard_int64: a result outside int64 raises OverflowError).

Unlike apy_cpython.load_runtime this applies no subset check beyond the int64
guard: modules that use strs and call each other are checked by the compiler
itself (tests/compiler/test_golden.py type-checks every runtime module with
every program).

The helpers below move apy str objects between Python and shim memory; they go
through runtime/core.apy (`new_str`), so objects are made as the runtime makes
them.
"""

from __future__ import annotations

import ast
import builtins
import types
from pathlib import Path

import apy_cpython  # puts runtime/pyshim on sys.path
from apy_cpython import RUNTIME, guard_int64

import _machine  # noqa: E402,I001

_loaded: dict[str, types.ModuleType] = {}


class _ApyUnicodeError:
    """apy's UnicodeDecodeError/UnicodeEncodeError are raised with one message
    (the text CPython's str() of the exception gives); CPython's constructors
    want five fields. Runtime modules under test raise these subclasses, which
    tests catch as the CPython exception and whose str() is that message."""

    def __init__(self, message: str) -> None:
        BaseException.__init__(self, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ApyUnicodeDecodeError(_ApyUnicodeError, UnicodeDecodeError):
    pass


class ApyUnicodeEncodeError(_ApyUnicodeError, UnicodeEncodeError):
    pass


# named like the exceptions they stand for, as tracebacks and tests show them
ApyUnicodeDecodeError.__name__ = ApyUnicodeDecodeError.__qualname__ = "UnicodeDecodeError"
ApyUnicodeEncodeError.__name__ = ApyUnicodeEncodeError.__qualname__ = "UnicodeEncodeError"


def _runtime_builtins() -> dict:
    names = dict(vars(builtins))
    names["__import__"] = _import
    names["UnicodeDecodeError"] = ApyUnicodeDecodeError
    names["UnicodeEncodeError"] = ApyUnicodeEncodeError
    return names


def runtime_names() -> set[str]:
    return {p.stem for p in RUNTIME.glob("*.apy")}


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    """`__import__` for runtime modules: runtime names first, then Python's."""
    if level == 0 and name == "_machine":
        return _machine
    if level == 0 and name in runtime_names():
        return load(name)
    return builtins.__import__(name, globals, locals, fromlist, level)


def load(name: str) -> types.ModuleType:
    """runtime/<name>.apy, executed once (later calls return the same module)."""
    module = _loaded.get(name)
    if module is not None:
        return module
    path: Path = RUNTIME / f"{name}.apy"
    source = path.read_text(encoding="utf-8")
    tree = guard_int64(ast.parse(source, filename=str(path)))
    module = types.ModuleType(f"apy_runtime.{name}")
    module.__file__ = str(path)
    module.__dict__["__int64"] = apy_cpython._int64
    module.__dict__["__builtins__"] = _runtime_builtins()
    _loaded[name] = module  # before executing: a cycle then fails loudly in CPython
    try:
        exec(compile(tree, str(path), "exec"), module.__dict__)
    except BaseException:
        del _loaded[name]
        raise
    return module


# --------------------------------------------------------------------------- heap


def reset_heap() -> None:
    """Forget every heap object. Tests call this between examples, when they hold
    no object: under CPython no root can see the Python variables that hold
    addresses, so objects stay valid only until the next reset."""
    core = load("core")
    if "gc_alloc" in vars(core):
        load("gc").gc_collect()  # no stack or data roots are set: everything goes
    elif core._heap_ptr != 0:
        # core's bump allocator starts again, over zeroed memory as alloc() promises
        start = (_machine.plat_heap_start() + 15) & -16
        _machine.memset(start, 0, core._heap_ptr - start)
        core._heap_ptr = 0


# --------------------------------------------------------------------------- str objects


def make_str(text: str) -> int:
    """A heap str object (made by core.new_str) holding `text`; its address."""
    data = text.encode("utf-8", "surrogatepass")
    a = load("core").new_str(len(data), len(text))
    _machine.write_bytes(a + 24, data)
    return a


def read_str(addr: int) -> str:
    """The text of the str object at `addr`, checking the object's invariants:
    ncodepoints matches the UTF-8, and the NUL after the data is there."""
    nbytes = _machine.load64(addr + 8)
    ncp = _machine.load64(addr + 16)
    data = _machine.read_bytes(addr + 24, nbytes + 1)
    assert data[-1] == 0, f"str object at {addr:#x} lacks its NUL"
    text = data[:-1].decode("utf-8", "surrogatepass")
    assert len(text) == ncp, f"str object at {addr:#x}: ncodepoints {ncp}, text {text!r}"
    assert _machine.load64(addr) & 0xFFFF == 1, f"object at {addr:#x} is not TAG_STR"
    return text
