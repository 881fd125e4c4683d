"""Type rules for the heap types: list, tuple, dict, set, str/bytes indexing, methods.

In:  expressions of these kinds, through the Checker (this is a mixin of it).
Out: their types, and `ref` annotations the lowering reads:
     `Subscript.ref`  = "index" | "slice" | "dict" | "tuple-const"
     `Call.ref`       = MethodCall(receiver type, method name) for `x.append(v)`
     comprehension targets resolve to fresh LocalVars (comprehensions have their
     own scope, as in Python 3: `[x for x in y]` does not touch an outer `x`).

Empty displays take their type from the context (`x: list[int] = []`); with no
context they are an error, as they would be for mypy.
"""

from __future__ import annotations

import attrs

from ..parse import nodes as n
from . import types as t


@attrs.define(eq=False)
class MethodCall:
    """`receiver.name(args)` on a builtin type; the lowering picks the runtime function."""

    recv: t.Type
    name: str


@attrs.define(eq=False)
class CompScope:
    names: dict[str, t.LocalVar] = attrs.Factory(dict)


# method name -> (parameter types as a function of the receiver type, result type)
def list_methods(lt: t.ListType) -> dict[str, tuple[tuple[t.Type, ...], int, t.Type]]:
    """name -> (params, number of required params, result)."""
    e = lt.elem
    return {
        "append": ((e,), 1, t.NONE),
        "extend": ((lt,), 1, t.NONE),
        "insert": ((t.INT, e), 2, t.NONE),
        "pop": ((t.INT,), 0, e),
        "remove": ((e,), 1, t.NONE),
        "index": ((e,), 1, t.INT),
        "count": ((e,), 1, t.INT),
        "reverse": ((), 0, t.NONE),
        "clear": ((), 0, t.NONE),
        "copy": ((), 0, lt),
        "sort": ((), 0, t.NONE),
    }


class HeapChecks:
    """Mixin: expression rules for containers and sequences."""

    # ---------------------------------------------------------------- displays

    def expr_ListExpr(self, e: n.ListExpr, expected: t.Type | None = None) -> t.Type:
        want = expected.elem if isinstance(expected, t.ListType) else None
        elem = self.common_elem_type(e, e.elts, want, "list")
        return t.list_of(elem) if elem is not None else t.ERROR

    def expr_SetExpr(self, e: n.SetExpr, expected: t.Type | None = None) -> t.Type:
        want = expected.elem if isinstance(expected, t.SetType) else None
        elem = self.common_elem_type(e, e.elts, want, "set")
        if elem is not None:
            self.check_hashable(e, elem)
        return t.set_of(elem) if elem is not None else t.ERROR

    def expr_TupleExpr(self, e: n.TupleExpr, expected: t.Type | None = None) -> t.Type:
        wants: list[t.Type | None] = [None] * len(e.elts)
        if isinstance(expected, t.TupleType):
            if expected.variadic:
                wants = [expected.elems[0]] * len(e.elts)
            elif len(expected.elems) == len(e.elts):
                wants = list(expected.elems)
        types = []
        for x, w in zip(e.elts, wants):
            if isinstance(x, n.Starred):
                self.error(x, "'*' in a tuple display is not supported by apy (yet)")
                types.append(t.ERROR)
                continue
            types.append(self.check_expr(x, w))
        if t.ERROR in types:
            return t.ERROR
        if isinstance(expected, t.TupleType) and expected.variadic and all(
            self.compatible(ty, expected.elems[0]) for ty in types
        ):
            return expected
        return t.tuple_of(tuple(types))

    def expr_DictExpr(self, e: n.DictExpr, expected: t.Type | None = None) -> t.Type:
        kw = expected.key if isinstance(expected, t.DictType) else None
        vw = expected.value if isinstance(expected, t.DictType) else None
        if any(k is None for k in e.keys):
            self.error(e, "'**' in a dict display is not supported by apy (yet)")
            return t.ERROR
        kt = self.common_elem_type(e, e.keys, kw, "dict")
        vt = self.common_elem_type(e, e.values, vw, "dict", what="values")
        if kt is None or vt is None:
            return t.ERROR
        self.check_hashable(e, kt)
        return t.dict_of(kt, vt)

    def common_elem_type(self, e: n.Expr, elts: list[n.Expr], want: t.Type | None, kind: str,
                         what: str = "elements") -> t.Type | None:
        if not elts:
            if want is None:
                self.error(e, f"cannot infer the type of an empty {kind}",
                           hint=f"annotate the variable, e.g. 'x: {kind}[int] = "
                           f"{'[]' if kind == 'list' else '{}' if kind == 'dict' else 'set()'}'")
                return None
            return want
        types = []
        for x in elts:
            if isinstance(x, n.Starred):
                self.error(x, f"'*' in a {kind} display is not supported by apy (yet)")
                return None
            types.append(self.check_expr(x, want))
        if t.ERROR in types:
            return t.ERROR
        first = want if want is not None else self.join_types(types)
        if first is None:
            self.error(e, f"the {what} of this {kind} have different types: "
                       + ", ".join(sorted({f"'{ty}'" for ty in types})),
                       hint=f"apy {kind}s hold one type; annotate the variable if it is 'T | None'")
            return None
        for x, ty in zip(elts, types):
            if not self.compatible(ty, first):
                self.error(x, f"{kind} item has type '{ty}', expected '{first}'")
                return None
        return first

    def join_types(self, types: list[t.Type]) -> t.Type | None:
        """One type for several values: equal types, or T and None -> T | None."""
        non_none = [ty for ty in types if ty is not t.NONE]
        if not non_none:
            return t.NONE
        first = non_none[0]
        base = first.inner if isinstance(first, t.OptionalType) else first
        for ty in non_none[1:]:
            b = ty.inner if isinstance(ty, t.OptionalType) else ty
            if b != base:
                common = self.common_base_class(base, b)
                if common is None:
                    return None
                base = common
        if len(non_none) != len(types) or any(isinstance(ty, t.OptionalType) for ty in non_none):
            return t.optional(base)
        return base

    def check_hashable(self, e: n.Expr, ty: t.Type) -> None:
        if isinstance(ty, (t.ListType, t.DictType, t.SetType)) or ty is t.BYTEARRAY:
            self.error(e, f"unhashable type: '{ty}'")

    # ---------------------------------------------------------------- subscripts

    def expr_Subscript(self, e: n.Subscript, expected: t.Type | None = None) -> t.Type:
        vt = self.check_expr(e.value)
        if vt is t.ERROR:
            self.check_index_expr(e.index)
            return t.ERROR
        if isinstance(e.index, n.Slice):
            for part in (e.index.lower, e.index.upper, e.index.step):
                if part is not None:
                    pt = self.check_expr(part)
                    if pt not in (t.INT, t.BOOL, t.ERROR) and not (
                        isinstance(pt, t.OptionalType) and pt.inner is t.INT):
                        self.error(part, "slice indices must be integers or None")
            e.ref = "slice"
            if isinstance(vt, (t.ListType,)) or vt in (t.STR, t.BYTES, t.BYTEARRAY, t.MEMORYVIEW):
                return vt
            if isinstance(vt, t.TupleType):
                if vt.variadic:
                    return vt
                self.error(e, "slicing a fixed-size tuple is not supported by apy (yet)")
                return t.ERROR
            self.error(e, f"'{vt}' object is not subscriptable")
            return t.ERROR
        if isinstance(vt, t.DictType):
            kt = self.check_expr(e.index, vt.key)
            if not self.compatible(kt, vt.key):
                self.error(e.index, f"dict key has type '{kt}', expected '{vt.key}'")
            e.ref = "dict"
            return vt.value
        it = self.check_expr(e.index)
        if it not in (t.INT, t.BOOL, t.ERROR):
            self.error(e.index, f"indices must be integers, not '{it}'")
            return t.ERROR
        e.ref = "index"
        if isinstance(vt, t.ListType):
            return vt.elem
        if vt is t.STR:
            return t.STR
        if vt in (t.BYTES, t.BYTEARRAY, t.MEMORYVIEW):
            return t.INT
        if isinstance(vt, t.TupleType):
            if vt.variadic:
                return vt.elems[0]
            k = const_index(e.index)
            if k is None:
                if vt.elems and all(x == vt.elems[0] for x in vt.elems):
                    return vt.elems[0]
                self.error(e.index, "a tuple with items of different types needs a constant index")
                return t.ERROR
            if not -len(vt.elems) <= k < len(vt.elems):
                self.error(e.index, "tuple index out of range")
                return t.ERROR
            e.ref = "tuple-const"
            return vt.elems[k]
        self.error(e, f"'{vt}' object is not subscriptable")
        return t.ERROR

    def check_index_expr(self, idx: n.Expr) -> None:
        if isinstance(idx, n.Slice):
            for part in (idx.lower, idx.upper, idx.step):
                if part is not None:
                    self.check_expr(part)
        else:
            self.check_expr(idx)

    # ---------------------------------------------------------------- iteration

    def iter_elem_type(self, it: n.Expr, ty: t.Type) -> t.Type:
        if ty is t.ERROR:
            return t.ERROR
        item = t.item_type(ty)
        if item is not None:
            return item
        if isinstance(ty, t.TupleType) and ty.elems:
            self.error(it, f"iterating over '{ty}' (items of different types) is not supported")
        else:
            self.error(it, f"'{ty}' object is not iterable")
        return t.ERROR


def const_index(e: n.Expr) -> int | None:
    if isinstance(e, n.Constant) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return e.value
    if isinstance(e, n.UnaryOp) and e.op == "-" and isinstance(e.operand, n.Constant) and \
            isinstance(e.operand.value, int):
        return -e.operand.value
    return None


class ComprehensionChecks:
    """Mixin: list/set/dict comprehensions and generator expressions.

    Each comprehension has its own scope: its loop targets are fresh variables
    (registered in the enclosing function under a unique name, so the lowering
    gives them storage), visible only inside the comprehension.
    """

    def check_generators(self, e: n.Expr, generators: list[n.Comprehension]) -> None:
        scope = CompScope()
        self.comp_scopes.append(scope)
        for g in generators:
            if g.is_async:
                self.error(g, "async comprehensions are not supported by apy")
            elem = self.check_iterable(g.iter)
            self.bind_comp_target(g.target, elem, scope)
            for cond in g.ifs:
                self.check_cond(cond)

    def bind_comp_target(self, target: n.Expr, elem: t.Type, scope: CompScope) -> None:
        if isinstance(target, n.Name):
            self.comp_counter += 1
            var = t.LocalVar(f"{target.id}.comp{self.comp_counter}", elem, target.span)
            self.register_hidden_local(var)
            scope.names[target.id] = var
            target.ref = var
            target.ty = elem
            return
        if isinstance(target, (n.TupleExpr, n.ListExpr)):
            target.ty = elem
            if not isinstance(elem, t.TupleType) or elem.variadic or len(elem.elems) != len(
                    target.elts):
                if elem is not t.ERROR:
                    self.error(target, f"cannot unpack '{elem}' into {len(target.elts)} names")
                for x in target.elts:
                    self.bind_comp_target(x, t.ERROR, scope)
                return
            for x, ty in zip(target.elts, elem.elems):
                self.bind_comp_target(x, ty, scope)
            return
        self.error(target, "this kind of comprehension target is not supported by apy (yet)")

    def register_hidden_local(self, var: t.LocalVar) -> None:
        sc = self.scope
        if sc.is_module:
            sc.module.init_locals[var.name] = var
        else:
            sc.func.locals[var.name] = var

    def end_generators(self) -> None:
        self.comp_scopes.pop()

    def expr_ListComp(self, e: n.ListComp, expected: t.Type | None = None) -> t.Type:
        self.check_generators(e, e.generators)
        want = expected.elem if isinstance(expected, t.ListType) else None
        et = self.check_expr(e.elt, want)
        self.end_generators()
        if et is t.ERROR:
            return t.ERROR
        if want is not None and self.compatible(et, want):
            et = want
        return t.list_of(et)

    def expr_SetComp(self, e: n.SetComp, expected: t.Type | None = None) -> t.Type:
        self.check_generators(e, e.generators)
        want = expected.elem if isinstance(expected, t.SetType) else None
        et = self.check_expr(e.elt, want)
        self.end_generators()
        if et is t.ERROR:
            return t.ERROR
        self.check_hashable(e, et)
        return t.set_of(want if want is not None and self.compatible(et, want) else et)

    def expr_DictComp(self, e: n.DictComp, expected: t.Type | None = None) -> t.Type:
        self.check_generators(e, e.generators)
        kw = expected.key if isinstance(expected, t.DictType) else None
        vw = expected.value if isinstance(expected, t.DictType) else None
        kt = self.check_expr(e.key, kw)
        vt = self.check_expr(e.value, vw)
        self.end_generators()
        if t.ERROR in (kt, vt):
            return t.ERROR
        self.check_hashable(e, kt)
        if kw is not None and self.compatible(kt, kw):
            kt = kw
        if vw is not None and self.compatible(vt, vw):
            vt = vw
        return t.dict_of(kt, vt)

    def expr_GeneratorExp(self, e: n.GeneratorExp) -> t.Type:
        self.check_generators(e, e.generators)
        et = self.check_expr(e.elt)
        self.end_generators()
        if et is t.ERROR:
            return t.ERROR
        return t.iter_of("generator", et)


@attrs.define(eq=False)
class MethodSig:
    params: list[tuple[str, t.Type, bool]]  # (name, type, required)
    ret: t.Type


@attrs.define(eq=False)
class BoundMethodCall:
    """`recv.name(...)` on a builtin type, with arguments matched to `sig.params`."""

    recv: t.Type
    name: str
    sig: MethodSig
    args: list[n.Expr | None]


def _sig(*params, ret: t.Type) -> MethodSig:
    return MethodSig([(p[0], p[1], p[2] if len(p) > 2 else True) for p in params], ret)


OPT_INT = t.optional(t.INT)
OPT_STR = t.optional(t.STR)


def method_signature(recv: t.Type, name: str) -> MethodSig | None:
    """The signature of a builtin type's method, as apy types it."""
    I, S, B, N = t.INT, t.STR, t.BOOL, t.NONE
    if recv is t.STR:
        strs = t.list_of(S)
        table = {
            "split": _sig(("sep", OPT_STR, False), ("maxsplit", I, False), ret=strs),
            "rsplit": _sig(("sep", OPT_STR, False), ("maxsplit", I, False), ret=strs),
            "splitlines": _sig(("keepends", B, False), ret=strs),
            "join": _sig(("iterable", t.iter_of("any", S)), ret=S),
            "strip": _sig(("chars", OPT_STR, False), ret=S),
            "lstrip": _sig(("chars", OPT_STR, False), ret=S),
            "rstrip": _sig(("chars", OPT_STR, False), ret=S),
            "replace": _sig(("old", S), ("new", S), ("count", I, False), ret=S),
            "encode": _sig(("encoding", S, False), ("errors", S, False), ret=t.BYTES),
            "zfill": _sig(("width", I), ret=S),
            "center": _sig(("width", I), ("fillchar", S, False), ret=S),
            "ljust": _sig(("width", I), ("fillchar", S, False), ret=S),
            "rjust": _sig(("width", I), ("fillchar", S, False), ret=S),
            "partition": _sig(("sep", S), ret=t.tuple_of((S, S, S))),
            "rpartition": _sig(("sep", S), ret=t.tuple_of((S, S, S))),
        }
        for m in ("find", "rfind", "index", "rindex", "count"):
            table[m] = _sig(("sub", S), ("start", OPT_INT, False), ("end", OPT_INT, False), ret=I)
        for m in ("startswith", "endswith"):
            table[m] = _sig(("prefix", S), ("start", OPT_INT, False), ("end", OPT_INT, False),
                            ret=B)
        for m in ("lower", "upper", "capitalize", "title", "swapcase", "casefold"):
            table[m] = _sig(ret=S)
        for m in ("isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "isdecimal",
                  "isnumeric", "isidentifier", "isprintable", "isascii", "istitle"):
            table[m] = _sig(ret=B)
        return table.get(name)
    if isinstance(recv, t.ListType):
        e = recv.elem
        table = {
            "append": _sig(("object", e), ret=N),
            "extend": _sig(("iterable", t.iter_of("any", e)), ret=N),
            "insert": _sig(("index", I), ("object", e), ret=N),
            "pop": _sig(("index", I, False), ret=e),
            "remove": _sig(("value", e), ret=N),
            "index": _sig(("value", e), ("start", I, False), ("stop", I, False), ret=I),
            "count": _sig(("value", e), ret=I),
            "reverse": _sig(ret=N),
            "clear": _sig(ret=N),
            "copy": _sig(ret=recv),
            "sort": _sig(("key", t.ERROR, False), ("reverse", B, False), ret=N),
        }
        return table.get(name)
    if isinstance(recv, t.DictType):
        k, v = recv.key, recv.value
        table = {
            "get": _sig(("key", k), ("default", t.ERROR, False), ret=v),
            "setdefault": _sig(("key", k), ("default", v), ret=v),
            "pop": _sig(("key", k), ("default", v, False), ret=v),
            "popitem": _sig(ret=t.tuple_of((k, v))),
            "keys": _sig(ret=t.iter_of("keys", k)),
            "values": _sig(ret=t.iter_of("values", v)),
            "items": _sig(ret=t.iter_of("items", t.tuple_of((k, v)))),
            "update": _sig(("other", recv), ret=N),
            "clear": _sig(ret=N),
            "copy": _sig(ret=recv),
        }
        return table.get(name)
    if isinstance(recv, t.SetType):
        e = recv.elem
        other = t.iter_of("any", e)
        table = {
            "add": _sig(("elem", e), ret=N),
            "discard": _sig(("elem", e), ret=N),
            "remove": _sig(("elem", e), ret=N),
            "pop": _sig(ret=e),
            "clear": _sig(ret=N),
            "copy": _sig(ret=recv),
            "update": _sig(("other", other), ret=N),
            "union": _sig(("other", other), ret=recv),
            "intersection": _sig(("other", other), ret=recv),
            "difference": _sig(("other", other), ret=recv),
            "symmetric_difference": _sig(("other", other), ret=recv),
            "issubset": _sig(("other", other), ret=B),
            "issuperset": _sig(("other", other), ret=B),
            "isdisjoint": _sig(("other", other), ret=B),
        }
        return table.get(name)
    if recv in (t.BYTES, t.BYTEARRAY):
        same = recv
        table = {
            "hex": _sig(("sep", OPT_STR, False), ("bytes_per_sep", I, False), ret=S),
            "decode": _sig(("encoding", S, False), ("errors", S, False), ret=S),
            "split": _sig(("sep", t.optional(t.BYTES), False), ("maxsplit", I, False),
                          ret=t.list_of(same)),
            "join": _sig(("iterable", t.list_of(t.BYTES)), ret=same),
            "strip": _sig(("chars", t.optional(t.BYTES), False), ret=same),
            "lstrip": _sig(("chars", t.optional(t.BYTES), False), ret=same),
            "rstrip": _sig(("chars", t.optional(t.BYTES), False), ret=same),
            "replace": _sig(("old", t.BYTES), ("new", t.BYTES), ("count", I, False), ret=same),
            "upper": _sig(ret=same), "lower": _sig(ret=same),
        }
        for m in ("find", "rfind", "index", "rindex", "count"):
            table[m] = _sig(("sub", t.BYTES), ("start", OPT_INT, False), ("end", OPT_INT, False),
                            ret=I)
        for m in ("startswith", "endswith"):
            table[m] = _sig(("prefix", t.BYTES), ("start", OPT_INT, False),
                            ("end", OPT_INT, False), ret=B)
        if recv is t.BYTEARRAY:
            table.update({
                "append": _sig(("item", I), ret=N),
                "extend": _sig(("iterable", t.BYTES), ret=N),
                "insert": _sig(("index", I), ("item", I), ret=N),
                "pop": _sig(("index", I, False), ret=I),
                "remove": _sig(("value", I), ret=N),
                "reverse": _sig(ret=N),
                "clear": _sig(ret=N),
            })
        return table.get(name)
    if recv is t.MEMORYVIEW:
        return {"tobytes": _sig(ret=t.BYTES)}.get(name)
    if recv is t.INT:
        return {
            "to_bytes": _sig(("length", I, False), ("byteorder", S, False), ("signed", B, False),
                             ret=t.BYTES),
            "bit_length": _sig(ret=I),
        }.get(name)
    if recv is t.FLOAT:
        return {"is_integer": _sig(ret=B)}.get(name)
    return None


class MethodChecks:
    """Mixin: calls of methods of builtin types."""

    def check_method_call(self, e: n.Call, recv_expr: n.Expr, recv: t.Type,
                          name: str) -> t.Type:
        sig = method_signature(recv, name)
        if sig is None:
            self.error(e.func, f"'{recv}' object has no attribute '{name}'"
                       if recv is not t.ERROR else "?")
            self.check_args_only(e)
            return t.ERROR
        args: list[n.Expr | None] = [None] * len(sig.params)
        if len(e.args) > len(sig.params):
            self.error(e, f"{name}() takes at most {len(sig.params)} arguments "
                       f"({len(e.args)} given)")
            self.check_args_only(e)
            return sig.ret
        for i, a in enumerate(e.args):
            args[i] = a
        for k in e.keywords:
            idx = next((i for i, p in enumerate(sig.params) if p[0] == k.arg), None)
            if idx is None or args[idx] is not None:
                self.error(k, f"{name}() got an unexpected keyword argument '{k.arg}'")
                self.check_expr(k.value)
                continue
            args[idx] = k.value
        for (pname, pty, required), a in zip(sig.params, args):
            if a is None:
                if required:
                    self.error(e, f"{name}() missing required argument: '{pname}'")
                continue
            if isinstance(pty, t.IterType):  # any iterable of the element type
                elem = self.check_iterable(a)
                if not self.compatible(elem, pty.elem):
                    self.error(a, f"{name}() needs an iterable of '{pty.elem}', not of '{elem}'")
                continue
            if pty is t.ERROR and pname == "key" and isinstance(recv, t.ListType):
                from .builtins import builtin_as_lambda

                new = builtin_as_lambda(self, a)
                if new is not a:
                    args[args.index(a)] = new
                    for k in e.keywords:
                        if k.value is a:
                            k.value = new
                    a = new
                self.check_expr(a, t.callable_of((recv.elem,), t.ERROR))
                continue
            if pty is t.ERROR:  # checked below (dict.get default)
                self.check_expr(a)
                continue
            at = self.check_expr(a, pty)
            if name in ("startswith", "endswith") and isinstance(at, t.TupleType):
                continue
            if pty is t.BYTES and at in (t.BYTEARRAY, t.MEMORYVIEW):
                continue  # any bytes-like object
            if not self.compatible(at, pty):
                self.error(a, f"argument '{pname}' of {name}() has type '{at}', expected '{pty}'")
        e.ref = BoundMethodCall(recv, name, sig, args)
        if isinstance(recv, t.DictType) and name == "get":
            default = args[1]
            if default is None:
                return t.optional(recv.value)
            joined = self.join_types([recv.value, default.ty])
            if joined is None:
                self.error(default, f"default has type '{default.ty}', expected '{recv.value}'")
                return t.ERROR
            return joined
        if isinstance(recv, t.ListType) and name == "sort" and args[0] is None:
            from .builtins import orderable

            if not orderable(recv.elem):
                self.error(e, f"'<' not supported between instances of '{recv.elem}'")
        return sig.ret


class FStringChecks:
    """Mixin: f-strings."""

    def expr_JoinedStr(self, e: n.JoinedStr) -> t.Type:
        for part in e.values:
            if isinstance(part, n.Constant):
                part.ty = t.STR
                continue
            self.check_formatted(part)
        return t.STR

    def check_formatted(self, f: n.FormattedValue) -> None:
        from .builtins import check_printable

        vt = self.check_expr(f.value)
        f.ty = t.STR
        if f.conversion == "a":
            self.error(f, "the !a conversion is not supported by apy (yet)")
        if vt is not t.ERROR:
            check_printable(self, f.value, vt)
        if f.format_spec is not None:
            self.check_expr(f.format_spec)
            if f.conversion is None and vt not in (t.INT, t.FLOAT, t.BOOL, t.STR, t.ERROR):
                if not self.has_format(vt):
                    self.error(f.format_spec, f"format specs for '{vt}' values are not "
                               "supported by apy", hint="format str(x) instead, e.g. {x!s:>10}")

    def has_format(self, ty: t.Type) -> bool:
        return False
