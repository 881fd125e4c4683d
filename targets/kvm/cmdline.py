"""argv on the kvm target: the PVH command line split like a POSIX shell.

In: a KvmModule (needs memory.py's applc_kvm_carve). Out:

    applc_kvm_argv_setup()      argv[0] = "applc", then the words of the
                                start_info command line, in carved memory
    applc_plat_argc(), applc_plat_argv(i)
    applc_plat_devarg(i)        the platform's own words, kept out of argv (null
                                past the last): those starting "virtio_mmio.device="
                                (QEMU microvm and Firecracker announce their
                                virtio-mmio devices so; drivers/virtio/mmio.apy
                                reads them), in command-line order

Splitting (a POSIX shell's word rules without expansions):
    space, tab, newline     separate words (outside quotes)
    '...'                   literal up to the next '
    "..."                   literal, except that \\ before " \\ $ ` or
                            newline escapes it (\\newline vanishes)
    \\c (unquoted)          the character c (\\newline vanishes)
    '' or ""                an empty word
An unterminated quote runs to the end of the line. Since every output byte
consumes at least one input byte, the words fit in strlen(cmdline) + 1 bytes
plus one NUL per word.
"""

from __future__ import annotations

from llvmlite import ir

from applc.link.irkit import I8, I64, PTR, VOID, FunctionWriter, cstring, global_var
from applc.targets.kvm.machine import KvmModule
from applc.targets.kvm.memory import SI_CMDLINE

PROGRAM_NAME = b"applc"
BLANKS = b" \t\n"
DQUOTE_ESCAPABLE = b'"\\$`\n'
PLATFORM_PREFIXES = (b"virtio_mmio.device=",)


def add_cmdline(k: KvmModule) -> None:
    global_var(k.module, "applc_kvm_devargc", I64)
    global_var(k.module, "applc_kvm_devargv", I64)
    _setup(k)
    _accessors(k)


def _setup(k):
    w = k.writer("applc_kvm_argv_setup", VOID)
    b = w.b
    src = w.load_at(I64, b.add(b.zext(b.load(k.start_info), I64), I64(SI_CMDLINE)))
    length = w.var(I64, 0)
    with w.if_(b.icmp_unsigned("!=", src, I64(0))):
        with w.while_(lambda: b.icmp_unsigned("!=", w.load_at(I8, b.add(src, w.get(length))), I8(0))):
            w.set(length, b.add(w.get(length), I64(1)))
    n = w.get(length)
    carve = k.fns["applc_kvm_carve"]
    words = w.call(carve, b.add(b.mul(n, I64(2)), I64(len(PROGRAM_NAME) + 2)), I64(1))
    # argv[0]
    name = cstring(k.module, "applc_kvm_program_name", PROGRAM_NAME)
    for i in range(len(PROGRAM_NAME)):
        w.store_at(I8, b.add(words, I64(i)), w.load_at(I8, b.add(w.addr(name), I64(i))))
    out = w.var(I64, b.add(words, I64(len(PROGRAM_NAME) + 1)))
    count = _split(w, src, n, out)
    argc = b.add(count, I64(1))
    argv = w.call(carve, b.mul(b.add(argc, I64(1)), I64(8)), I64(8))
    _index_words(w, words, argc, argv)
    argc = _set_aside_platform_words(k, w, argv, argc, carve)
    b.store(argc, k.argc)
    b.store(argv, k.argv)
    b.ret_void()


def _split(w: FunctionWriter, src, n, out) -> ir.Value:
    """Write NUL-terminated words at *out; return how many."""
    b = w.b
    count = w.var(I64, 0)
    in_word = w.var(I8, 0)
    quote = w.var(I8, 0)  # 0, or the quote character we are inside
    i = w.var(I64, 0)

    def char_at(index):
        return w.load_at(I8, b.add(src, index))

    def emit(byte):
        w.store_at(I8, w.get(out), byte)
        w.set(out, b.add(w.get(out), I64(1)))

    def is_one_of(c, chars: bytes):
        result = ir.Constant(ir.IntType(1), 0)
        for ch in chars:
            result = b.or_(result, b.icmp_unsigned("==", c, I8(ch)))
        return result

    def escaped_next(allowed: bytes | None):
        """At a backslash: consume it and emit the next char (if it may be escaped)."""
        nxt_index = b.add(w.get(i), I64(1))
        has_next = b.icmp_unsigned("<", nxt_index, n)
        nxt = b.select(has_next, char_at(b.select(has_next, nxt_index, w.get(i))), I8(0))
        ok = has_next if allowed is None else b.and_(has_next, is_one_of(nxt, allowed))
        with w.if_else(ok) as (escape, literal):
            with escape:
                with w.if_(b.icmp_unsigned("!=", nxt, I8(ord("\n")))):
                    emit(nxt)
                w.set(i, nxt_index)
            with literal:
                emit(I8(ord("\\")))

    with w.while_(lambda: b.icmp_unsigned("<", w.get(i), n)):
        c = char_at(w.get(i))
        q = w.get(quote)
        with w.if_else(b.icmp_unsigned("==", q, I8(ord("'")))) as (single, other):
            with single:
                with w.if_else(b.icmp_unsigned("==", c, I8(ord("'")))) as (close, keep):
                    with close:
                        w.set(quote, I8(0))
                    with keep:
                        emit(c)
            with other:
                with w.if_else(b.icmp_unsigned("==", q, I8(ord('"')))) as (double, bare):
                    with double:
                        _double_quoted(w, c, quote, emit, escaped_next)
                    with bare:
                        _unquoted(w, c, quote, in_word, count, emit, escaped_next, is_one_of)
        w.set(i, b.add(w.get(i), I64(1)))
    with w.if_(b.icmp_unsigned("!=", w.get(in_word), I8(0))):
        emit(I8(0))
        w.set(count, b.add(w.get(count), I64(1)))
    return w.get(count)


def _double_quoted(w, c, quote, emit, escaped_next):
    b = w.b
    with w.if_else(b.icmp_unsigned("==", c, I8(ord('"')))) as (close, rest):
        with close:
            w.set(quote, I8(0))
        with rest:
            with w.if_else(b.icmp_unsigned("==", c, I8(ord("\\")))) as (backslash, plain):
                with backslash:
                    escaped_next(DQUOTE_ESCAPABLE)
                with plain:
                    emit(c)


def _unquoted(w, c, quote, in_word, count, emit, escaped_next, is_one_of):
    b = w.b
    with w.if_else(is_one_of(c, BLANKS)) as (blank, wordchar):
        with blank:
            with w.if_(b.icmp_unsigned("!=", w.get(in_word), I8(0))):
                emit(I8(0))
                w.set(count, b.add(w.get(count), I64(1)))
                w.set(in_word, I8(0))
        with wordchar:
            w.set(in_word, I8(1))
            is_quote = b.or_(b.icmp_unsigned("==", c, I8(ord("'"))), b.icmp_unsigned("==", c, I8(ord('"'))))
            with w.if_else(is_quote) as (opening, other):
                with opening:
                    w.set(quote, c)
                with other:
                    with w.if_else(b.icmp_unsigned("==", c, I8(ord("\\")))) as (backslash, plain):
                        with backslash:
                            escaped_next(None)
                        with plain:
                            emit(c)


def _index_words(w, words, argc, argv):
    """argv[j] = start of the j-th NUL-terminated word; argv[argc] = NULL."""
    b = w.b
    p = w.var(I64, words)
    with w.for_range(0, argc) as j:
        w.store_at(I64, b.add(argv, b.mul(j, I64(8))), w.get(p))
        with w.while_(lambda: b.icmp_unsigned("!=", w.load_at(I8, w.get(p)), I8(0))):
            w.set(p, b.add(w.get(p), I64(1)))
        w.set(p, b.add(w.get(p), I64(1)))
    w.store_at(I64, b.add(argv, b.mul(argc, I64(8))), I64(0))


def _set_aside_platform_words(k, w, argv, argc, carve) -> ir.Value:
    """Move the words with a PLATFORM_PREFIXES prefix from argv[1:] to the devarg
    vector (order kept in both); return the new argc."""
    b = w.b
    devargv = w.call(carve, b.mul(b.add(argc, I64(1)), I64(8)), I64(8))
    kept = w.var(I64, 1)
    moved = w.var(I64, 0)
    prefixes = [cstring(k.module, f"applc_kvm_platform_prefix{i}", p) for i, p in enumerate(PLATFORM_PREFIXES)]
    with w.for_range(1, argc) as j:
        word = w.load_at(I64, b.add(argv, b.mul(j, I64(8))))
        is_platform = ir.Constant(ir.IntType(1), 0)
        for prefix, text in zip(prefixes, PLATFORM_PREFIXES):
            is_platform = b.or_(is_platform, _starts_with(w, word, w.addr(prefix), len(text)))
        with w.if_else(is_platform) as (platform, app):
            with platform:
                w.store_at(I64, b.add(devargv, b.mul(w.get(moved), I64(8))), word)
                w.set(moved, b.add(w.get(moved), I64(1)))
            with app:
                w.store_at(I64, b.add(argv, b.mul(w.get(kept), I64(8))), word)
                w.set(kept, b.add(w.get(kept), I64(1)))
    w.store_at(I64, b.add(argv, b.mul(w.get(kept), I64(8))), I64(0))
    w.store_at(I64, b.add(devargv, b.mul(w.get(moved), I64(8))), I64(0))
    b.store(devargv, k.module.get_global("applc_kvm_devargv"))
    b.store(w.get(moved), k.module.get_global("applc_kvm_devargc"))
    return w.get(kept)


def _starts_with(w, word, prefix, n: int) -> ir.Value:
    """i1: the NUL-terminated string at `word` begins with the n bytes at `prefix`."""
    b = w.b
    i = w.var(I64, 0)
    same = w.var(ir.IntType(1), 1)

    def more():
        return b.and_(w.get(same), b.icmp_unsigned("<", w.get(i), I64(n)))

    with w.while_(more):
        # a NUL in `word` differs from the prefix byte, so we never read past its end
        c = w.load_at(I8, b.add(word, w.get(i)))
        w.set(same, b.icmp_unsigned("==", c, w.load_at(I8, b.add(prefix, w.get(i)))))
        w.set(i, b.add(w.get(i), I64(1)))
    return w.get(same)


def _accessors(k):
    w = k.writer("applc_plat_argc", I64, linkage="external")
    w.b.ret(w.b.load(k.argc))
    w = k.writer("applc_plat_argv", PTR, (I64,), linkage="external")
    (i,) = w.args
    with w.if_(w.b.icmp_unsigned(">=", i, w.b.load(k.argc))):
        w.b.ret(ir.Constant(PTR, None))
    w.b.ret(w.ptr(w.load_at(I64, w.b.add(w.b.load(k.argv), w.b.mul(i, I64(8))))))
    w = k.writer("applc_plat_devarg", PTR, (I64,), linkage="external")
    (i,) = w.args
    devargc = w.b.load(k.module.get_global("applc_kvm_devargc"))
    with w.if_(w.b.icmp_unsigned(">=", i, devargc)):
        w.b.ret(ir.Constant(PTR, None))
    w.b.ret(w.ptr(w.load_at(I64, w.b.add(w.b.load(k.module.get_global("applc_kvm_devargv")), w.b.mul(i, I64(8))))))
