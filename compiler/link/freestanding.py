"""memcpy, memmove, memset, memcmp, bcmp and strlen for images without libc.

In: an llvmlite module. Out: the six functions added to it, with `weak`
linkage, so a strong definition (e.g. a tuned one in the runtime) wins at
`link_in` time. LLVM emits calls to these on its own (large struct copies,
`llvm.memcpy` with a variable length, loops it recognises -- a
byte-scanning loop becomes strlen), hosted and bare
metal alike, so every platform module carries them.

`rep movsb` / `rep stosb` are short and fast on every x86-64 CPU with ERMS,
and are plain baseline instructions elsewhere.
"""

from __future__ import annotations

from llvmlite import ir

from applc.link.irkit import I8, I32, I64, PTR, FunctionWriter


def add_mem_functions(module: ir.Module, noredzone: bool) -> None:
    _memcpy(module, noredzone)
    _memmove(module, noredzone)
    _memset(module, noredzone)
    _memcmp(module, "memcmp", noredzone)
    _memcmp(module, "bcmp", noredzone)
    _strlen(module, noredzone)


def _rep_movs(w: FunctionWriter, dst, src, n, backwards: bool = False) -> None:
    text = "std; rep movsb; cld" if backwards else "rep movsb"
    w.asm(ir.VoidType(), text, "{rdi},{rsi},{rcx},~{rdi},~{rsi},~{rcx},~{memory},~{dirflag}", (dst, src, n))


def _memcpy(module, noredzone):
    w = FunctionWriter(module, "memcpy", PTR, (PTR, PTR, I64), linkage="weak", noredzone=noredzone)
    dst, src, n = w.args
    _rep_movs(w, dst, src, n)
    w.b.ret(dst)


SMALL_COPY = 16  # bytes: below this a byte loop beats rep movsb's start-up cost


def _memmove(module, noredzone):
    w = FunctionWriter(module, "memmove", PTR, (PTR, PTR, I64), linkage="weak", noredzone=noredzone)
    dst, src, n = w.args
    d, s = w.addr(dst), w.addr(src)
    # Copy backwards only when the destination starts inside the source.
    overlap = w.b.and_(w.b.icmp_unsigned(">", d, s), w.b.icmp_unsigned("<", w.b.sub(d, s), n))
    # The runtime copies many short strings (split, slices, concatenation): rep movsb
    # costs tens of cycles before its first byte, a byte loop a few per byte.
    with w.if_(w.b.icmp_unsigned("<", n, I64(SMALL_COPY))):
        i = w.var(I64, 0)
        with w.while_(lambda: w.b.icmp_unsigned("<", w.get(i), n)):
            k = w.get(i)
            at = w.b.select(overlap, w.b.sub(w.b.sub(n, I64(1)), k), k)  # backwards: last first
            w.store_at(I8, w.b.add(d, at), w.load_at(I8, w.b.add(s, at)))
            w.set(i, w.b.add(k, I64(1)))
        w.b.ret(dst)
    with w.if_else(overlap) as (backwards, forwards):
        with backwards:
            last = w.b.sub(n, I64(1))
            _rep_movs(w, w.ptr(w.b.add(d, last)), w.ptr(w.b.add(s, last)), n, backwards=True)
        with forwards:
            _rep_movs(w, dst, src, n)
    w.b.ret(dst)


def _memset(module, noredzone):
    w = FunctionWriter(module, "memset", PTR, (PTR, I32, I64), linkage="weak", noredzone=noredzone)
    dst, value, n = w.args
    w.asm(ir.VoidType(), "rep stosb", "{rdi},{al},{rcx},~{rdi},~{rcx},~{memory}", (dst, w.b.trunc(value, I8), n))
    w.b.ret(dst)


def _memcmp(module, name, noredzone):
    w = FunctionWriter(module, name, I32, (PTR, PTR, I64), linkage="weak", noredzone=noredzone)
    a, b, n = w.args
    with w.for_range(0, n) as i:
        x = w.b.zext(w.load_at(I8, w.b.add(w.addr(a), i)), I32)
        y = w.b.zext(w.load_at(I8, w.b.add(w.addr(b), i)), I32)
        with w.if_(w.b.icmp_unsigned("!=", x, y)):
            w.b.ret(w.b.sub(x, y))
    w.b.ret(I32(0))


def _strlen(module, noredzone):
    w = FunctionWriter(module, "strlen", I64, (PTR,), linkage="weak", noredzone=noredzone)
    (s,) = w.args
    n = w.var(I64, 0)
    with w.while_(lambda: w.b.icmp_unsigned("!=", w.load_at(I8, w.b.add(w.addr(s), w.get(n))), I8(0))):
        w.set(n, w.b.add(w.get(n), I64(1)))
    w.b.ret(w.get(n))
