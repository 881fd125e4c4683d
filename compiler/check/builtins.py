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
    "hex", "bin", "oct", "range", "enumerate", "zip", "reversed", "sorted", "list", "tuple",
    "set", "dict", "sum", "any", "all", "ord", "chr", "repr", "hash", "divmod", "pow",
    "isinstance", "bytes", "bytearray", "memoryview", "map", "filter",
}

# Modules the compiler provides, and what they export.
BUILTIN_MODULES = {"sys": {"exit", "argv"}, "math": set()}  # math: runtime/mathmod.apy

# math functions whose Python signature differs from the runtime function's
MATH_SPECIAL = {"log", "modf", "frexp", "isclose", "fsum", "prod", "floor", "ceil", "trunc",
                "pow", "exp2", "sqrt"}

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
    "BlockingIOError": "OSError",
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
    "frozenset", "issubclass", "iter", "next", "object",
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
        _intr("plat_argc", (), I), _intr("plat_argv", (I,), I), _intr("plat_devarg", (I,), I),
        # what the collector needs: where the roots are
        _intr("stack_pointer", (), I), _intr("stack_top", (), I), _intr("data_start", (), I),
        _intr("data_end", (), I), _intr("spill_registers", (), N),
        # hardware access for drivers (docs/platform.md "Machine intrinsics")
        _intr("inb", (I,), I), _intr("inw", (I,), I), _intr("inl", (I,), I),
        _intr("outb", (I, I), N), _intr("outw", (I, I), N), _intr("outl", (I, I), N),
        _intr("mmio_read8", (I,), I), _intr("mmio_read16", (I,), I),
        _intr("mmio_read32", (I,), I), _intr("mmio_read64", (I,), I),
        _intr("mmio_write8", (I, I), N), _intr("mmio_write16", (I, I), N),
        _intr("mmio_write32", (I, I), N), _intr("mmio_write64", (I, I), N),
        _intr("mb", (), N), _intr("rmb", (), N), _intr("wmb", (), N),
        _intr("rdtsc", (), I), _intr("cpuid", (I, I, I), I),
        _intr("rdmsr", (I,), I), _intr("wrmsr", (I, I), N),
        _intr("irq_enable", (), N), _intr("irq_disable", (), N),
        _intr("halt_until_interrupt", (), N),
        _intr("dma_alloc", (I,), I), _intr("phys_addr", (I,), I),
        _intr("bytearray_addr", (t.BYTEARRAY,), I), _intr("bytes_addr", (t.BYTES,), I),
        _intr("target_name", (), S),
        _intr("syscall", (I, I, I, I, I, I, I), I),
        _intr("plat_monotonic_ns", (), I), _intr("plat_tsc_hz", (), I),
        _intr("plat_irq_pending", (), I), _intr("flush_stdout", (), N),
    ]
}


# builtins whose arguments are checked by their handler (keywords, iterables, context)
SELF_CHECKED = {"range", "enumerate", "zip", "reversed", "sorted", "list", "tuple", "set",
                "dict", "sum", "any", "all", "min", "max", "isinstance", "bytes", "bytearray",
                "memoryview", "map", "filter"}


def check_builtin_call(ck: "Checker", e: n.Call, name: str,
                       expected: t.Type | None = None) -> t.Type:
    if name == "print":
        return _print(ck, e)
    for a in e.args:
        if isinstance(a, n.Starred):
            ck.error(a, "'*' arguments are not supported by apy (yet)")
            ck.check_args_only(e)
            return t.ERROR
    if name in SELF_CHECKED:
        return ITER_CHECKS[name](ck, e, expected)
    if e.keywords:
        ck.error(e.keywords[0], f"{name}() takes no keyword arguments in apy (yet)")
        ck.check_args_only(e)
        return t.ERROR
    types = [ck.check_expr(a) for a in e.args]
    if t.ERROR in types:
        return t.ERROR if name not in ("str", "bool", "hex", "bin", "oct", "len", "repr") else {
            "str": S, "bool": B, "hex": S, "bin": S, "oct": S, "len": I, "repr": S}[name]
    return BUILTIN_CHECKS[name](ck, e, types)


def _keywords(ck: "Checker", e: n.Call, allowed: dict[str, t.Type | None]) -> dict[str, t.Type]:
    """Check keyword arguments against `allowed` (name -> expected type or None for any)."""
    out: dict[str, t.Type] = {}
    name = e.func.id
    for k in e.keywords:
        if k.arg not in allowed:
            ck.error(k, f"'{k.arg}' is an invalid keyword argument for {name}()")
            ck.check_expr(k.value)
            continue
        out[k.arg] = ck.check_expr(k.value, allowed[k.arg])
    return out


def _iter_arg(ck: "Checker", a: n.Expr) -> t.Type:
    return ck.check_iterable(a)


def _range(ck, e, expected):
    if e.keywords:
        ck.error(e, "range() takes no keyword arguments")
    if not 1 <= len(e.args) <= 3:
        ck.error(e, f"range expected at most 3 arguments, got {len(e.args)}"
                 if e.args else "range expected at least 1 argument, got 0")
    for a in e.args:
        at = ck.check_expr(a)
        if at not in (I, B, t.ERROR):
            ck.error(a, f"'{at}' object cannot be interpreted as an integer")
    return t.iter_of("range", I)


def _enumerate(ck, e, expected):
    kws = _keywords(ck, e, {"start": I})
    if len(e.args) == 2 and not kws:  # enumerate(xs, 1): the start as a keyword, as CPython
        e.keywords.append(n.Keyword("start", e.args.pop(), span=e.span))
        kws = _keywords(ck, n.Call(e.func, [], e.keywords[-1:], span=e.span), {"start": I})
    if len(e.args) != 1:
        ck.error(e, f"enumerate() takes 1 positional argument, got {len(e.args)}")
        return t.ERROR
    elem = _iter_arg(ck, e.args[0])
    if kws.get("start", I) not in (I, B, t.ERROR):
        ck.error(e, "enumerate(start=...) must be an int")
    return t.ERROR if elem is t.ERROR else t.iter_of("enumerate", t.tuple_of((I, elem)))


def _zip(ck, e, expected):
    _keywords(ck, e, {"strict": B})
    elems = [_iter_arg(ck, a) for a in e.args]
    if not elems:
        ck.error(e, "zip() of nothing is not supported by apy")
        return t.ERROR
    if t.ERROR in elems:
        return t.ERROR
    return t.iter_of("zip", t.tuple_of(tuple(elems)))


def _reversed(ck, e, expected):
    if e.keywords or len(e.args) != 1:
        ck.error(e, "reversed() takes exactly one argument")
        ck.check_args_only(e)
        return t.ERROR
    ty = ck.check_expr(e.args[0])
    if ty is t.ERROR:
        return t.ERROR
    if isinstance(ty, t.ListType) or ty in (S, t.BYTES, t.BYTEARRAY) or (
            isinstance(ty, t.TupleType) and ty.variadic) or (
            isinstance(ty, t.IterType) and ty.kind == "range"):
        return t.iter_of("reversed", ck.iter_elem_type(e.args[0], ty))
    if isinstance(ty, t.DictType):
        return t.iter_of("reversed", ty.key)
    ck.error(e.args[0], f"'{ty}' object is not reversible")
    return t.ERROR


def _key_function(ck, e, elem: t.Type) -> None:
    for k in e.keywords:
        if k.arg == "key":
            kt = k.value.ty
            if isinstance(kt, t.CallableType):
                if len(kt.params) != 1 or not ck.compatible(elem, kt.params[0]):
                    ck.error(k.value, f"key function must take one '{elem}'")
                elif not orderable(kt.ret) and kt.ret is not t.ERROR:
                    ck.error(k.value, f"key function returns '{kt.ret}', which has no order")
            elif kt is not t.ERROR:
                ck.error(k.value, "key must be a function")


def builtin_as_lambda(ck, value: n.Expr) -> n.Expr:
    """`len` where a function value is wanted becomes `lambda x: len(x)`."""
    if isinstance(value, n.Name) and value.id in BUILTIN_FUNCTIONS and isinstance(
            ck.lookup(value.id, value, quiet=True), t.Builtin):
        param = n.Arg("_key_arg", None, span=value.span)
        call = n.Call(n.Name(value.id, span=value.span),
                      [n.Name("_key_arg", span=value.span)], [], span=value.span)
        return n.Lambda(n.Arguments([param], span=value.span), call, span=value.span)
    return value


def key_keywords(ck, e, elem: t.Type, extra: dict) -> dict:
    """Check keyword arguments where `key=` is a function of one `elem`.

    A builtin used as a key (`key=len`, `key=str.lower` is not supported) becomes the
    lambda that calls it, so that every key function is a Callable value.
    """
    for k in e.keywords:
        if k.arg == "key":
            k.value = builtin_as_lambda(ck, k.value)
    allowed = dict(extra)
    allowed["key"] = t.callable_of((elem,), t.ERROR) if elem is not t.ERROR else None
    return _keywords(ck, e, allowed)


def _sorted(ck, e, expected):
    if len(e.args) != 1:
        ck.error(e, f"sorted expected 1 argument, got {len(e.args)}")
        ck.check_args_only(e)
        return t.ERROR
    elem = _iter_arg(ck, e.args[0])
    kws = key_keywords(ck, e, elem, {"reverse": B})
    if elem is t.ERROR:
        return t.ERROR
    if "key" in kws:
        _key_function(ck, e, elem)
    elif not orderable(elem):
        ck.error(e.args[0], f"'<' not supported between instances of '{elem}' and '{elem}'")
    return t.list_of(elem)


def orderable(ty: t.Type) -> bool:
    if ty in (I, F, B, S, t.BYTES):
        return True
    if isinstance(ty, t.TupleType):
        return all(orderable(x) for x in ty.elems)
    if isinstance(ty, t.ListType):
        return orderable(ty.elem)
    return getattr(ty, "has_lt", False)


def _collection(kind: str):
    def check(ck, e, expected):
        if e.keywords:
            ck.error(e.keywords[0], f"{kind}() takes no keyword arguments")
        if len(e.args) > 1:
            ck.error(e, f"{kind} expected at most 1 argument, got {len(e.args)}")
            ck.check_args_only(e)
            return t.ERROR
        if not e.args:
            want = {"list": t.ListType, "set": t.SetType, "dict": t.DictType,
                    "tuple": t.TupleType}[kind]
            if isinstance(expected, want):
                return expected
            if kind == "tuple":
                return t.tuple_of(())
            ck.error(e, f"cannot infer the type of an empty {kind}",
                     hint=f"annotate the variable, e.g. 'x: {kind}[int] = {kind}()'")
            return t.ERROR
        if kind == "dict":
            ty = ck.check_expr(e.args[0], expected)
            if isinstance(ty, t.DictType):
                return ty
            elem = ck.iter_elem_type(e.args[0], ty)
            if isinstance(elem, t.TupleType) and len(elem.elems) == 2 and not elem.variadic:
                return t.dict_of(elem.elems[0], elem.elems[1])
            if elem is not t.ERROR:
                ck.error(e.args[0], "dict() needs key/value pairs")
            return t.ERROR
        elem = _iter_arg(ck, e.args[0])
        if elem is t.ERROR:
            return t.ERROR
        if kind == "list":
            return t.list_of(elem)
        if kind == "set":
            ck.check_hashable(e, elem)
            return t.set_of(elem)
        return t.tuple_of((elem,), variadic=True)
    return check


def _sum(ck, e, expected):
    kws = _keywords(ck, e, {"start": None})
    if len(e.args) not in (1, 2):
        ck.error(e, f"sum() takes at most 2 arguments ({len(e.args)} given)")
        return t.ERROR
    elem = _iter_arg(ck, e.args[0])
    if len(e.args) == 2:
        start = ck.check_expr(e.args[1])
    else:
        start = kws.get("start", I)
    if elem is t.ERROR or start is t.ERROR:
        return t.ERROR
    if elem in (I, B) and start in (I, B):
        return I
    if elem in (I, F, B) and start is F:
        return F
    if elem is F and start in (I, B):
        ck.error(e, "sum() of floats starting from the int 0 would give the int 0 for an "
                 "empty iterable", hint="give a float start: sum(..., 0.0)")
        return F
    ck.error(e, f"sum() of '{elem}' values is not supported by apy",
             hint="sum() adds numbers; use ''.join(...) for strings")
    return t.ERROR


def _anyall(ck, e, expected):
    if e.keywords or len(e.args) != 1:
        ck.error(e, f"{e.func.id}() takes exactly one argument")
        ck.check_args_only(e)
        return B
    elem = _iter_arg(ck, e.args[0])
    if elem is not t.ERROR:
        ck.check_truthy(e.args[0], elem)
    return B


def _minmax_any(ck, e, expected):
    name = e.func.id
    if len(e.args) >= 2:
        types = [ck.check_expr(a) for a in e.args]
        kws = key_keywords(ck, e, types[0], {})
        if t.ERROR in types:
            return t.ERROR
        first = types[0]
        for a, ty in zip(e.args[1:], types[1:]):
            if ty != first:
                ck.error(a, f"all arguments of {name}() must have one type in apy: "
                         f"'{first}' and '{ty}' differ",
                         hint=f"{name}() returns one of its arguments unchanged, so mixing "
                         "types would make its result type depend on the values")
                return t.ERROR
        if "key" not in kws and not orderable(first):
            ck.error(e, f"'<' not supported between instances of '{first}' and '{first}'")
        if "key" in kws:
            _key_function(ck, e, first)
        return first
    if len(e.args) != 1:
        ck.error(e, f"{name} expected at least 1 argument, got 0")
        return t.ERROR
    elem = _iter_arg(ck, e.args[0])
    kws = key_keywords(ck, e, elem, {"default": elem if elem is not t.ERROR else None})
    if elem is t.ERROR:
        return t.ERROR
    if "key" in kws:
        _key_function(ck, e, elem)
    elif not orderable(elem):
        ck.error(e, f"'<' not supported between instances of '{elem}' and '{elem}'")
    if "default" in kws and not ck.compatible(kws["default"], elem):
        joined = ck.join_types([elem, kws["default"]])
        if joined is None:
            ck.error(e, f"default= has type '{kws['default']}', expected '{elem}'")
            return t.ERROR
        return joined
    return elem


def _isinstance(ck, e, expected):
    if e.keywords or len(e.args) != 2:
        ck.error(e, f"isinstance expected 2 arguments, got {len(e.args)}")
        ck.check_args_only(e)
        return B
    ck.check_expr(e.args[0])
    classes = e.args[1].elts if isinstance(e.args[1], n.TupleExpr) else [e.args[1]]
    for c in classes:
        c.ty = ck.resolve_class_operand(c)
    if isinstance(e.args[1], n.TupleExpr):
        e.args[1].ty = t.ERROR
    return B


def _bytes_ctor(kind: str):
    def check(ck, e, expected):
        if e.keywords:
            _keywords(ck, e, {"encoding": S, "errors": S})
        if len(e.args) > 3:
            ck.error(e, f"{kind}() takes at most 3 arguments")
            return t.ERROR
        result = t.BYTES if kind == "bytes" else t.BYTEARRAY
        if not e.args:
            return result
        ty = ck.check_expr(e.args[0], t.list_of(I))
        for a in e.args[1:]:
            ck.check_expr(a)
        if ty in (I, B, S, t.BYTES, t.BYTEARRAY, t.MEMORYVIEW, t.ERROR):
            return result
        if ck.iter_elem_type(e.args[0], ty) in (I, B, t.ERROR):
            return result
        ck.error(e.args[0], f"cannot convert '{ty}' object to {kind}")
        return result
    return check


ITER_CHECKS = {
    "range": _range, "enumerate": _enumerate, "zip": _zip, "reversed": _reversed,
    "sorted": _sorted, "list": _collection("list"), "tuple": _collection("tuple"),
    "set": _collection("set"), "dict": _collection("dict"), "sum": _sum, "any": _anyall,
    "all": _anyall, "min": _minmax_any, "max": _minmax_any, "isinstance": _isinstance,
    "bytes": _bytes_ctor("bytes"), "bytearray": _bytes_ctor("bytearray"),
    "memoryview": lambda ck, e, expected: _memoryview(ck, e),
    "map": lambda ck, e, expected: _map_filter(ck, e, expected),
    "filter": lambda ck, e, expected: _map_filter(ck, e, expected),
}


def _map_filter(ck, e, expected):
    """map(f, xs) / filter(f, xs): lazy, consumed where Python iterates (like a generator)."""
    name = e.func.id
    if e.keywords or len(e.args) != 2:
        ck.error(e, f"{name}() takes a function and one iterable in apy")
        ck.check_args_only(e)
        return t.ERROR
    elem = _iter_arg(ck, e.args[1])
    if elem is t.ERROR:
        ck.check_expr(e.args[0])
        return t.ERROR
    e.args[0] = builtin_as_lambda(ck, e.args[0])
    if name == "filter" and isinstance(e.args[0], n.Constant) and e.args[0].value is None:
        e.args[0].ty = t.NONE
        return t.iter_of("filter", elem)
    ft = ck.check_expr(e.args[0], t.callable_of((elem,), t.ERROR))
    if not isinstance(ft, t.CallableType) or len(ft.params) != 1:
        if ft is not t.ERROR:
            ck.error(e.args[0], f"{name}() needs a function of one argument")
        return t.ERROR
    if not ck.compatible(elem, ft.params[0]):
        ck.error(e.args[0], f"the function takes '{ft.params[0]}', the items are '{elem}'")
    return t.iter_of(name, ft.ret if name == "map" else elem)


def _memoryview(ck, e):
    if e.keywords or len(e.args) != 1:
        ck.error(e, "memoryview() takes exactly one argument")
        ck.check_args_only(e)
        return t.MEMORYVIEW
    ty = ck.check_expr(e.args[0])
    if ty not in (t.BYTES, t.BYTEARRAY, t.MEMORYVIEW, t.ERROR):
        ck.error(e.args[0], f"memoryview: a bytes-like object is required, not '{ty}'")
    return t.MEMORYVIEW


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
        check_printable(ck, a, at)
    for k in e.keywords:
        if k.arg == "file":
            stream = sys_stream(ck, k.value)
            if stream is None:
                ck.error(k.value, "print(file=...) takes sys.stdout or sys.stderr in apy")
            k.value.ref = stream
            continue
        kt = ck.check_expr(k.value)
        if k.arg in ("sep", "end"):
            if kt not in (S, N, t.ERROR):
                ck.error(k.value, f"{k.arg} must be None or a string, not {kt}")
        elif k.arg == "flush":
            if kt not in (B, t.ERROR):
                ck.error(k.value, f"flush must be a bool, not {kt}")
        else:
            ck.error(k, f"'{k.arg}' is an invalid keyword argument for print()")
    return N


def sys_stream(ck: "Checker", e: n.Expr) -> str | None:
    """`sys.stdout` / `sys.stderr` written as such: "sys.stdout", "sys.stderr", else None.

    apy has no file objects: the streams are known by name where they are used
    (print's file=, their write() and flush())."""
    if (isinstance(e, n.Attribute) and e.attr in ("stdout", "stderr")
            and isinstance(e.value, n.Name)):
        mod = ck.lookup(e.value.id, e.value, quiet=True)
        if isinstance(mod, t.BuiltinModule) and mod.name == "sys":
            e.value.ref = mod
            return f"sys.{e.attr}"
    return None


def check_stream_call(ck: "Checker", e: n.Call, stream: str) -> t.Type:
    """sys.stdout.write(s) -> int, sys.stdout.flush() -> None (and the same on stderr)."""
    method = e.func.attr
    e.ref = ("stream", stream, method)
    if e.keywords:
        ck.error(e.keywords[0], f"{method}() takes no keyword arguments")
    if method == "flush":
        if e.args:
            ck.error(e.args[0], "flush() takes no arguments")
        return N
    if method == "write":
        if len(e.args) != 1:
            ck.error(e, f"write() takes exactly one argument ({len(e.args)} given)")
            ck.check_args_only(e)
            return I
        at = ck.check_expr(e.args[0])
        if at not in (S, t.ERROR):
            ck.error(e.args[0], f"write() argument must be str, not {at}")
        return I
    ck.error(e.func, f"'{stream}.{method}' is not supported by apy (only write and flush)")
    ck.check_args_only(e)
    return t.ERROR


def check_printable(ck: "Checker", e: n.Expr, ty: t.Type) -> None:
    """print/str/repr need a text form that equals CPython's."""
    bad = _unprintable(ty)
    if bad is not None:
        ck.error(e, f"printing a '{bad}' is not supported by apy",
                 hint="CPython prints it with its memory address, which apy cannot reproduce")


def _unprintable(ty: t.Type) -> t.Type | None:
    if isinstance(ty, (t.IterType, t.CallableType, t.FuncType)) or ty is t.MEMORYVIEW:
        return ty
    for sub in _children(ty):
        bad = _unprintable(sub)
        if bad is not None:
            return bad
    return None


def _children(ty: t.Type) -> tuple[t.Type, ...]:
    if isinstance(ty, (t.ListType, t.SetType)):
        return (ty.elem,)
    if isinstance(ty, t.DictType):
        return (ty.key, ty.value)
    if isinstance(ty, t.TupleType):
        return ty.elems
    if isinstance(ty, t.OptionalType):
        return (ty.inner,)
    return ()


SIZED = (t.ListType, t.DictType, t.SetType, t.TupleType)


def _len(ck, e, types):
    if not _nargs(ck, e, "len", 1, 1):
        return I
    ty = types[0]
    if not (isinstance(ty, SIZED) or ty in (S, t.BYTES, t.BYTEARRAY, t.MEMORYVIEW)):
        ck.error(e.args[0], f"object of type '{ty}' has no len()")
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
    if not _nargs(ck, e, "int", 0, 2):
        return I
    if len(types) == 2:
        if types[0] is not S or types[1] not in (I, B):
            ck.error(e, "int() can't convert non-string with explicit base")
        return I
    if types and types[0] in (t.BYTES, t.BYTEARRAY):
        ck.error(e.args[0], "int() of bytes is not supported by apy (yet)")
    elif types and types[0] not in (I, F, B, S):
        ck.error(e.args[0], f"int() argument must be a string, a bytes-like object or a "
                 f"real number, not '{types[0]}'")
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
    if types:
        check_printable(ck, e.args[0], types[0])
    return S


def _repr(ck, e, types):
    if not _nargs(ck, e, "repr", 1, 1):
        return S
    check_printable(ck, e.args[0], types[0])
    return S


def _ord(ck, e, types):
    if not _nargs(ck, e, "ord", 1, 1):
        return I
    if types[0] not in (S, t.BYTES, t.BYTEARRAY):
        ck.error(e.args[0], f"ord() expected string of length 1, but {types[0]} found")
    return I


def _chr(ck, e, types):
    if not _nargs(ck, e, "chr", 1, 1):
        return S
    if types[0] not in (I, B):
        ck.error(e.args[0], f"'{types[0]}' object cannot be interpreted as an integer")
    return S


def _hash(ck, e, types):
    if not _nargs(ck, e, "hash", 1, 1):
        return I
    ck.check_hashable(e.args[0], types[0])
    return I


def _divmod(ck, e, types):
    if not _nargs(ck, e, "divmod", 2, 2):
        return t.ERROR
    a, b = types
    if a in (I, B) and b in (I, B):
        return t.tuple_of((I, I))
    if a in t.NUMERIC and b in t.NUMERIC:
        return t.tuple_of((F, F))
    ck.error(e, f"unsupported operand type(s) for divmod(): '{a}' and '{b}'")
    return t.ERROR


def _pow(ck, e, types):
    if not _nargs(ck, e, "pow", 2, 3):
        return t.ERROR
    if len(types) == 3:
        if all(x in (I, B) for x in types):
            return I
        ck.error(e, "pow() 3rd argument not allowed unless all arguments are integers")
        return t.ERROR
    return ck.binop_type(e, "**", types[0], types[1])


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
    "len": _len, "abs": _abs, "round": _round,
    "int": _int, "float": _float, "str": _str, "bool": _bool,
    "hex": _radix, "bin": _radix, "oct": _radix, "repr": _repr, "ord": _ord, "chr": _chr,
    "hash": _hash, "divmod": _divmod, "pow": _pow,
}


def check_module_call(ck: "Checker", e: n.Call, module: str, attr: str) -> t.Type:
    """`sys.exit(...)`, `math.sqrt(...)`."""
    if module == "math":
        return check_math_call(ck, e, attr)
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


def math_function(ck: "Checker", name: str):
    m = ck.modules.get("rt.mathmod")
    f = m.globals.get(name) if m is not None else None
    return f if isinstance(f, t.Function) and not name.startswith("_") else None


def check_math_call(ck: "Checker", e: n.Call, attr: str) -> t.Type:
    """math.f(x, ...): ints and bools are accepted where floats are (math converts them)."""
    if e.keywords and attr != "isclose":
        ck.error(e.keywords[0], f"math.{attr}() takes no keyword arguments")
    types = [ck.check_expr(a) for a in e.args]
    kw = {k.arg: ck.check_expr(k.value) for k in e.keywords}
    if t.ERROR in types:
        return t.ERROR
    if attr in ("fsum", "prod"):
        if len(e.args) != 1:
            ck.error(e, f"math.{attr}() takes one iterable")
            return t.ERROR
        elem = ck.iter_elem_type(e.args[0], types[0])
        if elem not in (I, F, B):
            ck.error(e.args[0], f"math.{attr}() needs numbers, not '{elem}'")
            return t.ERROR
        e.ref = ("math", attr, elem)
        return F if attr == "fsum" or elem is F else I
    name = {"log": "log_base" if len(e.args) == 2 else "log"}.get(attr, attr)
    f = math_function(ck, name) if attr not in ("modf", "frexp") else None
    if f is None and attr not in ("modf", "frexp"):
        ck.error(e.func, f"module 'math' has no attribute '{attr}' in apy")
        return t.ERROR
    params = [p.ty for p in f.params] if f else [F]
    if attr == "isclose":
        params = params[:2]
        for k, kt in kw.items():
            if k not in ("rel_tol", "abs_tol") or kt not in (I, F, B):
                ck.error(e, f"math.isclose() got an unexpected keyword argument '{k}'")
    if len(types) != len(params):
        ck.error(e, f"math.{attr}() takes {len(params)} argument"
                 f"{'s' if len(params) != 1 else ''} ({len(types)} given)")
        return t.ERROR
    for a, at, pt in zip(e.args, types, params):
        ok = at == pt or (pt is F and at in (I, B)) or (pt is I and at is B)
        if not ok:
            ck.error(a, f"math.{attr}() argument must be a number, not '{at}'"
                     if pt is F else f"'{at}' object cannot be interpreted as an integer")
    e.ref = ("math", attr, None)
    if attr == "modf":
        return t.tuple_of((F, F))
    if attr == "frexp":
        return t.tuple_of((F, I))
    return f.ret


def math_constant(ck: "Checker", attr: str) -> t.Type | None:
    m = ck.modules.get("rt.mathmod")
    g = m.globals.get(attr) if m is not None else None
    if isinstance(g, t.GlobalVar) and attr in ("pi", "e", "tau", "inf", "nan"):
        return g
    return None
