"""Builtin functions, exceptions and `_machine` intrinsics, as the checker sees them.

In:  a `Call` node whose callee resolved to a builtin, and the checker.
Out: the call's result type (and `ref` on the call telling the lowering which
     variant to emit, e.g. `("round", 2)` for `round(x, n)`).

What each builtin means at run time is in `applc.lower.builtins`; this file
only decides which calls are well typed. Names that Python has but apy will
never support (exec, eval...) and names that are coming (list, dict...) get
their own messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parse import nodes as n
from . import types as t

if TYPE_CHECKING:
    from .checker import Checker

BUILTIN_FUNCTIONS = {
    "print", "len", "abs", "min", "max", "round", "int", "float", "str", "bool",
    "hex", "bin", "oct", "range",
}

# Modules the compiler provides, and what they export.
BUILTIN_MODULES = {"sys": {"exit"}}

# The builtin exception hierarchy (child -> parent), as in CPython.
EXCEPTION_PARENTS: dict[str, str | None] = {
    "BaseException": None,
    "Exception": "BaseException",
    "SystemExit": "BaseException",
    "KeyboardInterrupt": "BaseException",
    "ArithmeticError": "Exception",
    "ZeroDivisionError": "ArithmeticError",
    "OverflowError": "ArithmeticError",
    "FloatingPointError": "ArithmeticError",
    "AssertionError": "Exception",
    "AttributeError": "Exception",
    "LookupError": "Exception",
    "IndexError": "LookupError",
    "KeyError": "LookupError",
    "NameError": "Exception",
    "UnboundLocalError": "NameError",
    "RuntimeError": "Exception",
    "RecursionError": "RuntimeError",
    "NotImplementedError": "RuntimeError",
    "TypeError": "Exception",
    "ValueError": "Exception",
    "UnicodeError": "ValueError",
    "UnicodeDecodeError": "UnicodeError",
    "UnicodeEncodeError": "UnicodeError",
    "StopIteration": "Exception",
    "MemoryError": "Exception",
    "OSError": "Exception",
    "EOFError": "Exception",
    "BufferError": "Exception",
}
EXCEPTION_NAMES = set(EXCEPTION_PARENTS)

FORBIDDEN = {
    "exec": "apy compiles the whole program ahead of time; there is no code at run time",
    "eval": "apy compiles the whole program ahead of time; there is no code at run time",
    "compile": "apy compiles the whole program ahead of time; there is no code at run time",
    "getattr": "attributes are resolved at compile time in apy",
    "setattr": "attributes are resolved at compile time in apy",
    "delattr": "attributes are resolved at compile time in apy",
    "globals": "apy has no run-time namespace dictionaries",
    "locals": "apy has no run-time namespace dictionaries",
    "vars": "apy has no run-time namespace dictionaries",
    "__import__": "imports are resolved at compile time in apy",
    "open": "an apy appliance has no file system",
    "input": "an apy appliance has no interactive stdin",
}

NOT_YET_BUILTINS = {
    "list", "dict", "set", "frozenset", "tuple", "enumerate", "zip", "sorted", "reversed",
    "sum", "any", "all", "isinstance", "issubclass", "ord", "chr", "repr", "hash", "map",
    "filter", "iter", "next", "divmod", "pow", "bytes", "bytearray", "memoryview", "object",
    "type", "super", "id", "format", "callable", "ascii", "slice", "property",
    "staticmethod", "classmethod",
}

I, F, B, N, S = t.INT, t.FLOAT, t.BOOL, t.NONE, t.STR


def _intr(name: str, params: tuple[t.Type, ...], ret: t.Type) -> t.Intrinsic:
    return t.Intrinsic(name, params, ret)


# `_machine`: the privileged module. Each is lowered inline (applc.lower.intrinsics).
INTRINSICS: dict[str, t.Intrinsic] = {
    x.name: x
    for x in [
        _intr("load8", (I,), I), _intr("load16", (I,), I), _intr("load32", (I,), I),
        _intr("load64", (I,), I),
        _intr("store8", (I, I), N), _intr("store16", (I, I), N), _intr("store32", (I, I), N),
        _intr("store64", (I, I), N),
        _intr("static_buffer", (I,), I),
        _intr("f64_bits", (F,), I), _intr("f64_from_bits", (I,), F),
        _intr("wrap_add", (I, I), I), _intr("wrap_sub", (I, I), I), _intr("wrap_mul", (I, I), I),
        _intr("umulhi", (I, I), I), _intr("udiv", (I, I), I), _intr("urem", (I, I), I),
        _intr("lshr", (I, I), I),
        _intr("sqrt", (F,), F),
        _intr("memcpy", (I, I, I), N), _intr("memset", (I, I, I), N),
        # objects <-> addresses (runtime modules build strings by hand)
        _intr("str_addr", (S,), I), _intr("str_at", (I,), S),
        # the platform interface (docs/platform.md)
        _intr("plat_write", (I, I, I), N), _intr("plat_exit", (I,), t.NORETURN),
        _intr("plat_heap_start", (), I), _intr("plat_heap_end", (), I),
    ]
}


def check_builtin_call(ck: "Checker", e: n.Call, name: str) -> t.Type:
    if name == "range":
        ck.error(e, "range() is only supported directly in a 'for' loop in apy (yet)")
        ck.check_args_only(e)
        return t.ERROR
    if name == "print":
        return _print(ck, e)
    for a in e.args:
        if isinstance(a, n.Starred):
            ck.error(a, "'*' arguments are not supported by apy (yet)")
            ck.check_args_only(e)
            return t.ERROR
    if e.keywords and name not in ("print",):
        if not (name in ("min", "max") and False):
            ck.error(e.keywords[0], f"{name}() takes no keyword arguments in apy (yet)")
            ck.check_args_only(e)
            return t.ERROR
    types = [ck.check_expr(a) for a in e.args]
    if t.ERROR in types:
        return t.ERROR if name not in ("str", "bool", "hex", "bin", "oct", "len") else {
            "str": S, "bool": B, "hex": S, "bin": S, "oct": S, "len": I}[name]
    return BUILTIN_CHECKS[name](ck, e, types)


def _nargs(ck: "Checker", e: n.Call, name: str, lo: int, hi: int) -> bool:
    k = len(e.args)
    if lo <= k <= hi:
        return True
    if lo == hi:
        ck.error(e, f"{name}() takes exactly {_pl(lo)} ({k} given)")
    elif k < lo:
        ck.error(e, f"{name}() expected at least {_pl(lo)}, got {k}")
    else:
        ck.error(e, f"{name}() expected at most {_pl(hi)}, got {k}")
    return False


def _pl(k: int) -> str:
    return f"{k} argument" + ("" if k == 1 else "s")


def _print(ck: "Checker", e: n.Call) -> t.Type:
    for a in e.args:
        if isinstance(a, n.Starred):
            ck.error(a, "'*' arguments are not supported by apy (yet)")
            ck.check_expr(a.value)
            continue
        at = ck.check_expr(a)
        if at not in (I, F, B, N, S, t.ERROR):
            ck.error(a, f"printing a '{at}' is not supported by apy (yet)")
    for k in e.keywords:
        kt = ck.check_expr(k.value)
        if k.arg in ("sep", "end"):
            if kt not in (S, N, t.ERROR):
                ck.error(k.value, f"{k.arg} must be None or a string, not {kt}")
        elif k.arg in ("file", "flush"):
            ck.error(k, f"print(..., {k.arg}=...) is not supported by apy (yet)")
        else:
            ck.error(k, f"'{k.arg}' is an invalid keyword argument for print()")
    return N


def _len(ck, e, types):
    if not _nargs(ck, e, "len", 1, 1):
        return I
    if types[0] is not S:
        ck.error(e.args[0], f"object of type '{types[0]}' has no len()")
    return I


def _abs(ck, e, types):
    if not _nargs(ck, e, "abs", 1, 1):
        return t.ERROR
    if types[0] in (I, B):
        return I
    if types[0] is F:
        return F
    ck.error(e.args[0], f"bad operand type for abs(): '{types[0]}'")
    return t.ERROR


def _minmax(ck, e, types):
    name = e.func.id
    if len(types) < 2:
        ck.error(e, f"{name}() of a single value needs an iterable, which apy does not "
                 "support (yet)" if types else f"{name} expected at least 1 argument, got 0")
        return t.ERROR
    first = types[0]
    if first not in (I, F, B, S):
        ck.error(e.args[0], f"{name}() of '{first}' values is not supported by apy (yet)")
        return t.ERROR
    for a, ty in zip(e.args[1:], types[1:]):
        if ty != first:
            ck.error(a, f"all arguments of {name}() must have one type in apy: "
                     f"'{first}' and '{ty}' differ",
                     hint=f"{name}() returns one of its arguments unchanged, so mixing types "
                     "would make its result type depend on the values")
            return t.ERROR
    return first


def _round(ck, e, types):
    if not _nargs(ck, e, "round", 1, 2):
        return t.ERROR
    x = types[0]
    if x not in (I, F, B):
        ck.error(e.args[0], f"type {x} doesn't define __round__ method")
        return t.ERROR
    if len(types) == 2:
        if types[1] not in (I, B):
            ck.error(e.args[1], f"'{types[1]}' object cannot be interpreted as an integer")
            return t.ERROR
        return F if x is F else I
    return I


def _int(ck, e, types):
    if not _nargs(ck, e, "int", 0, 1):
        return I
    if types and types[0] not in (I, F, B):
        ck.error(e.args[0], f"int() of a '{types[0]}' is not supported by apy (yet)")
    return I


def _float(ck, e, types):
    if not _nargs(ck, e, "float", 0, 1):
        return F
    if types and types[0] not in (I, F, B, S):
        ck.error(e.args[0], f"float() argument must be a string or a real number, not '{types[0]}'")
    return F


def _str(ck, e, types):
    if not _nargs(ck, e, "str", 0, 1):
        return S
    if types and types[0] not in (I, F, B, S, N):
        ck.error(e.args[0], f"str() of a '{types[0]}' is not supported by apy (yet)")
    return S


def _bool(ck, e, types):
    if not _nargs(ck, e, "bool", 0, 1):
        return B
    if types:
        ck.check_truthy(e.args[0], types[0])
    return B


def _radix(ck, e, types):
    name = e.func.id
    if not _nargs(ck, e, name, 1, 1):
        return S
    if types[0] not in (I, B):
        ck.error(e.args[0], f"'{types[0]}' object cannot be interpreted as an integer")
    return S


BUILTIN_CHECKS = {
    "len": _len, "abs": _abs, "min": _minmax, "max": _minmax, "round": _round,
    "int": _int, "float": _float, "str": _str, "bool": _bool,
    "hex": _radix, "bin": _radix, "oct": _radix,
}


def check_module_call(ck: "Checker", e: n.Call, module: str, attr: str) -> t.Type:
    """`sys.exit(...)`."""
    if attr not in BUILTIN_MODULES[module]:
        ck.error(e.func, f"module '{module}' has no attribute '{attr}' in apy (yet)")
        ck.check_args_only(e)
        return t.ERROR
    e.ref = f"{module}.{attr}"
    if e.keywords:
        ck.error(e.keywords[0], f"{module}.{attr}() takes no keyword arguments")
    if len(e.args) > 1:
        ck.error(e, f"exit expected at most 1 argument, got {len(e.args)}")
    for a in e.args:
        at = ck.check_expr(a)
        if at not in (I, B, S, N, t.ERROR):
            ck.error(a, f"sys.exit() takes an int, a str or None in apy, not '{at}'")
    return t.NORETURN
