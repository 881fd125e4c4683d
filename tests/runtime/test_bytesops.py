"""runtime/bytesops.apy under CPython against CPython's bytes, bytearray and memoryview.

Objects are built in shim memory the way the runtime builds them, operated on by
the runtime functions the compiler calls, read back, and compared with the same
operation on Python objects: results, exception types and messages. bytearray and
memoryview are also driven by random sequences of mutations against a Python
bytearray with Python memoryviews of it (writes through views, extended slices,
resizing). Codecs: random bytes through decode (every UTF-8 error kind: invalid
start bytes, bad continuations, truncation, overlongs, surrogates) and random
text through encode, with the strict, ignore and replace handlers.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import rtload
from rtload import make_str, read_str

B = rtload.load("bytesops")
core = rtload.load("core")
import _machine as m  # noqa: E402,I001

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
TAG_BYTES, TAG_BYTEARRAY, TAG_MEMORYVIEW = 2, 3, 8


def many(n: int):
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- objects


def make(value) -> int:
    """A runtime bytes, bytearray or memoryview (of a runtime bytearray or bytes) holding value."""
    if isinstance(value, memoryview):
        start, stop, step = VIEWS[id(value)]
        nones = (start is None) | ((stop is None) << 1) | ((step is None) << 2)
        return B.memoryview_slice(B.memoryview_new(make(value.obj)), start or 0, stop or 0, step or 0, nones)
    data = bytes(value)
    obj = B.new_bytearray(len(data)) if isinstance(value, bytearray) else B.new_bytes(len(data))
    if data:
        m.write_bytes(B.bdata(obj), data)
    return obj


VIEWS: dict[int, tuple] = {}  # id of a test's memoryview -> the slice of its object it is


def view_of(obj, start, stop, step):
    v = memoryview(obj)[start:stop:step]
    VIEWS[id(v)] = (start, stop, step)
    return v


def read(addr: int):
    tag = m.load64(addr) & 0xFFFF
    if tag == TAG_BYTES:
        n = m.load64(addr + 8)
        assert m.load8(addr + 16 + n) == 0, "bytes object lacks its NUL"
        return m.read_bytes(addr + 16, n)
    if tag == TAG_BYTEARRAY:
        n = m.load64(addr + 8)
        assert n <= m.load64(addr + 16), "bytearray len exceeds cap"
        return bytearray(m.read_bytes(B.bdata(addr), n)) if n else bytearray()
    if tag == TAG_MEMORYVIEW:
        return ("view", read(B.memoryview_tobytes(addr)))
    if tag == 1:
        return read_str(addr)
    if tag == 4:
        n = m.load64(addr + 8)
        items = m.load64(addr + 24)
        return [read(m.load64(items + 8 + 8 * i)) for i in range(n)]
    raise AssertionError(f"unexpected object tag {tag}")


def read_ints(lst: int) -> list[int]:
    items = m.load64(lst + 24)
    return [m.load64(items + 8 + 8 * i) for i in range(m.load64(lst + 8))]


def outcome(fn):
    try:
        return "ok", fn()
    except Exception as e:  # noqa: BLE001 -- the exception is the outcome compared
        return type(e).__name__, str(e)


def check(expected, actual, conv=read):
    rtload.reset_heap()
    want = outcome(expected)
    got = outcome(actual)
    if got[0] == "ok":
        got = ("ok", conv(got[1]))
    if want[0] == "ok" and isinstance(want[1], memoryview):
        want = ("ok", ("view", want[1].tobytes()))
    assert got == want


binary = st.one_of(st.binary(max_size=12), st.binary(max_size=6).map(lambda b: b.replace(b"\x00", b"a")),
                   st.text(alphabet="ab \t\n\x0b\x1c'\"\\", max_size=10).map(str.encode))


def kinds(b: bytes):
    return st.sampled_from([bytes(b), bytearray(b)])


@st.composite
def bytes_likes(draw, allow_view=True):
    b = draw(binary)
    kind = draw(st.sampled_from(["bytes", "bytearray", "view"] if allow_view else ["bytes", "bytearray"]))
    if kind == "bytes":
        return bytes(b)
    if kind == "bytearray":
        return bytearray(b)
    base = draw(st.sampled_from([bytes(b), bytearray(b)]))
    start = draw(st.one_of(st.none(), st.integers(-4, 6)))
    step = draw(st.one_of(st.none(), st.sampled_from([1, 1, 2, -1, -2])))
    return view_of(base, start, None, step)


small_ints = st.one_of(st.integers(-12, 12), st.sampled_from([INT64_MIN, INT64_MAX]))


# --------------------------------------------------------------------------- indexing and slicing


@many(900)
@given(bytes_likes(), small_ints)
def test_getitem(o, i):
    check(lambda: o[i], lambda: B.bytes_getitem(make(o), i), lambda v: v)


@many(1200)
@given(bytes_likes(), st.one_of(st.none(), small_ints), st.one_of(st.none(), small_ints),
       st.one_of(st.none(), st.integers(-4, 4)))
def test_slice(o, start, stop, step):
    nones = (start is None) | ((stop is None) << 1) | ((step is None) << 2)
    check(lambda: o[start:stop:step],
          lambda: B.bytes_slice(make(o), start or 0, stop or 0, step or 0, nones))


@many(400)
@given(bytes_likes())
def test_len_list_bytes_bytearray(o):
    rtload.reset_heap()
    a = make(o)
    assert B.bytes_len(a) == len(o)
    assert read_ints(B.bytes_to_list(a)) == list(o)
    assert read(B.bytes_from(a)) == bytes(o)
    assert read(B.bytearray_from(a)) == bytearray(o)


@many(400)
@given(bytes_likes(allow_view=False))
@example(b"a")
@example(bytearray(b"\xff"))
def test_ord(o):
    check(lambda: ord(o), lambda: B.bytes_ord(make(o)), lambda v: v)


@many(600)
@given(st.lists(st.integers(-2, 258), max_size=6), st.integers(-2, 5))
def test_constructors(values, n):
    check(lambda: bytes(values), lambda: B.bytes_from_list(core_list(values)))
    check(lambda: bytearray(values), lambda: B.bytearray_from_list(core_list(values)))
    check(lambda: bytes(n), lambda: B.bytes_zeros(n))
    check(lambda: bytearray(n), lambda: B.bytearray_zeros(n))


def core_list(values: list[int]) -> int:
    lst = core.list_new(0, False)
    for v in values:
        core.list_append(lst, v, False)
    return lst


# --------------------------------------------------------------------------- operators


@many(900)
@given(bytes_likes(allow_view=False), bytes_likes(), st.integers(-2, 4))
def test_concat_repeat_compare(a, b, k):
    check(lambda: a + b, lambda: B.bytes_concat(make(a), make(b)))
    check(lambda: a * k, lambda: B.bytes_repeat(make(a), k))
    rtload.reset_heap()
    x, y = make(a), make(b)
    want = (bytes(a) > bytes(b)) - (bytes(a) < bytes(b))
    assert B.bytes_cmp(x, y) == want
    assert B.bytes_eq(x, y) == (a == b)


@many(900)
@given(bytes_likes(), st.one_of(bytes_likes(), st.integers(-2, 258)))
def test_contains(o, sub):
    def actual():
        if isinstance(sub, int):
            return B.bytes_contains_int(make(o), sub)
        return B.bytes_contains(make(o), make(sub))
    check(lambda: sub in o, actual, lambda v: v)


# --------------------------------------------------------------------------- methods


def bounds(start, end):
    args = () if start is None and end is None else ((start,) if end is None else (start, end))
    return (0 if start is None else start), (INT64_MAX if end is None else end), args


@many(1500)
@given(bytes_likes(allow_view=False), st.one_of(bytes_likes(), st.integers(-1, 256), st.just(b"")),
       st.one_of(st.none(), small_ints), st.one_of(st.none(), small_ints),
       st.sampled_from(["find", "rfind", "index", "rindex", "count", "startswith", "endswith"]))
def test_find_family(o, sub, start, end, method):
    lo, hi, args = bounds(start, end)
    if isinstance(sub, int) and method in ("startswith", "endswith"):
        return  # CPython takes no int there
    check(lambda: getattr(o, method)(sub, *args),
          lambda: getattr(B, "bytes_" + method)(make(o), B.byte_arg(sub) if isinstance(sub, int) else make(sub),
                                                lo, hi),
          lambda v: v)


@many(1200)
@given(bytes_likes(allow_view=False), st.one_of(st.none(), bytes_likes(), st.just(b""), st.just(b" ")),
       st.one_of(st.none(), st.integers(-2, 4)), st.booleans())
def test_split_rsplit(o, sep, maxsplit, right):
    method = "rsplit" if right else "split"
    args = (sep,) if maxsplit is None else (sep, maxsplit)
    check(lambda: getattr(o, method)(*args),
          lambda: getattr(B, "bytes_" + method)(make(o), 0 if sep is None else make(sep),
                                                -1 if maxsplit is None else maxsplit))


@many(600)
@given(bytes_likes(allow_view=False), st.lists(bytes_likes(), max_size=4))
def test_join(sep, items):
    def actual():
        lst = core.list_new(0, True)
        for x in items:
            core.list_append(lst, make(x), True)
        return B.bytes_join(make(sep), lst)
    check(lambda: sep.join(items), actual)


@many(900)
@given(bytes_likes(allow_view=False), st.one_of(st.none(), bytes_likes(), st.just(b" a")),
       st.sampled_from(["strip", "lstrip", "rstrip"]))
def test_strip(o, chars, method):
    check(lambda: getattr(o, method)(chars),
          lambda: getattr(B, "bytes_" + method)(make(o), 0 if chars is None else make(chars)))


@many(900)
@given(bytes_likes(allow_view=False), st.one_of(bytes_likes(), st.just(b"")), bytes_likes(),
       st.one_of(st.none(), st.integers(-2, 4)))
@example(b"abc", b"", b"-", 2)
@example(b"abc", b"", b"-", 9)
def test_replace(o, old, new, count):
    args = () if count is None else (count,)
    check(lambda: o.replace(old, new, *args),
          lambda: B.bytes_replace(make(o), make(old), make(new), -1 if count is None else count))


@many(400)
@given(bytes_likes(), st.sampled_from(["upper", "lower"]))
def test_case(o, method):
    if isinstance(o, memoryview):
        o = o.tobytes()
    check(lambda: getattr(o, method)(), lambda: getattr(B, "bytes_" + method)(make(o)))


@many(900)
@given(bytes_likes(), st.one_of(st.none(), st.sampled_from([":", "-", "::", "é", b"_", b"\xff"])),
       st.integers(-4, 4))
def test_hex(o, sep, per):
    def expected():
        if sep is None:
            return o.hex()
        return o.hex(sep, per)

    def actual():
        s = 0 if sep is None else (make_str(sep) if isinstance(sep, str) else make(sep))
        return B.bytes_hex(make(o), s, per)
    check(expected, actual)


@many(900)
@given(st.one_of(st.text(alphabet="0123456789abcdefABCDEF \t\n\x0bgé", max_size=10),
                 st.binary(max_size=5).map(lambda b: " ".join(f"{x:02x}" for x in b))),
       st.booleans())
@example("a", False)
@example("zz é", True)
@example(" 0a 0b c", False)
def test_fromhex(s, into_bytearray):
    cls = bytearray if into_bytearray else bytes
    fn = B.bytearray_fromhex if into_bytearray else B.bytes_fromhex
    check(lambda: cls.fromhex(s), lambda: fn(make_str(s)))


@many(900)
@given(bytes_likes(allow_view=False))
@example(b"'")
@example(b"'\"")
@example(bytearray(b"a'b\"\x00\x7f\x80\\"))
def test_repr(o):
    check(lambda: repr(o), lambda: B.bytes_repr(make(o)))


# --------------------------------------------------------------------------- codecs

ENCODINGS = ["utf-8", "UTF8", "u8", "ascii", "US-ASCII", "latin-1", "Latin 1", "iso-8859-1", "l1", "utf_8",
             "koi8-r", "utf-16"]
ERRORS = [None, "strict", "ignore", "replace", "bogus"]
utf8_bytes = st.one_of(
    st.binary(max_size=10),
    st.text(max_size=6).map(lambda s: s.encode()),
    st.lists(st.sampled_from([b"a", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xc3", b"\xe2\x82",
                              b"\xf0\x9f\x98", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                              b"\xe0\x80\x80", b"\xff", b"\xf0\x80"]), max_size=5).map(b"".join),
)


@many(1800)
@given(utf8_bytes, st.sampled_from(ENCODINGS), st.sampled_from(ERRORS))
@example(b"\xffa\xe2\x82", "utf-8", "replace")
def test_decode(data, encoding, errors):
    if encoding in ("koi8-r", "utf-16") and errors is not None:
        return  # apy knows only utf-8, ascii and latin-1 (LookupError for the rest)
    args = (encoding,) if errors is None else (encoding, errors)

    def expected():
        if encoding in ("koi8-r", "utf-16"):
            raise LookupError(f"unknown encoding: {encoding}")
        return data.decode(*args)
    check(expected, lambda: B.bytes_decode(make(data), make_str(encoding), 0 if errors is None else make_str(errors)))


texts = st.one_of(st.text(max_size=8), st.text(alphabet="aé€😀\x7f\xff\u0100", max_size=8),
                  st.lists(st.sampled_from(["a", "\ud800", "\udfff", "é"]), max_size=5).map("".join))


@many(1200)
@given(texts, st.sampled_from(ENCODINGS[:-2]), st.sampled_from(ERRORS))
def test_encode(s, encoding, errors):
    args = (encoding,) if errors is None else (encoding, errors)
    check(lambda: s.encode(*args),
          lambda: B.str_encode(make_str(s), make_str(encoding), 0 if errors is None else make_str(errors)))


# --------------------------------------------------------------------------- int.from_bytes / to_bytes


@many(1200)
@given(st.one_of(st.binary(max_size=10), st.binary(min_size=8, max_size=8)), st.sampled_from(["big", "little", "mid"]),
       st.booleans())
@example(b"\x80" + bytes(7), "big", True)
@example(b"\x7f" + b"\xff" * 7, "big", False)
@example(b"\x00" * 12 + b"\x01", "big", False)
@example(b"\xff" * 12, "little", True)
def test_from_bytes(data, order, signed):
    def expected():
        v = int.from_bytes(data, order, signed=signed)
        if not INT64_MIN <= v <= INT64_MAX:
            raise OverflowError("int.from_bytes() result does not fit in 64 bits (apy ints are 64-bit)")
        return v
    check(expected, lambda: B.int_from_bytes(make(data), make_str(order), signed), lambda v: v)


@many(1200)
@given(st.one_of(st.integers(INT64_MIN, INT64_MAX), st.integers(-70000, 70000)), st.integers(-1, 10),
       st.sampled_from(["big", "little", "mid"]), st.booleans())
def test_to_bytes(v, length, order, signed):
    check(lambda: v.to_bytes(length, order, signed=signed), lambda: B.int_to_bytes(v, length, make_str(order), signed))


# --------------------------------------------------------------------------- mutation


ops = st.one_of(
    st.tuples(st.just("append"), st.integers(-1, 256)),
    st.tuples(st.just("extend"), st.one_of(binary, st.lists(st.integers(0, 255), max_size=3), st.just("self"))),
    st.tuples(st.just("pop"), st.one_of(st.none(), st.integers(-6, 6))),
    st.tuples(st.just("insert"), st.integers(-8, 8), st.integers(0, 255)),
    st.tuples(st.just("remove"), st.integers(95, 100)),
    st.tuples(st.just("clear")),
    st.tuples(st.just("reverse")),
    st.tuples(st.just("setitem"), st.integers(-8, 8), st.integers(-1, 256)),
    st.tuples(st.just("delitem"), st.integers(-8, 8)),
    st.tuples(st.just("setslice"), st.one_of(st.none(), st.integers(-8, 8)), st.one_of(st.none(), st.integers(-8, 8)),
              st.one_of(st.none(), st.sampled_from([1, 2, -1, -3])), st.one_of(binary, st.just("self"))),
    st.tuples(st.just("delslice"), st.one_of(st.none(), st.integers(-8, 8)), st.one_of(st.none(), st.integers(-8, 8)),
              st.one_of(st.none(), st.sampled_from([1, 2, -1, -2, 3]))),
)


def apply_python(ba: bytearray, op):
    name = op[0]
    if name == "append":
        ba.append(op[1])
    elif name == "extend":
        ba.extend(ba if op[1] == "self" else op[1])
    elif name == "pop":
        return ba.pop() if op[1] is None else ba.pop(op[1])
    elif name == "insert":
        ba.insert(op[1], op[2])
    elif name == "remove":
        ba.remove(op[1])
    elif name == "clear":
        ba.clear()
    elif name == "reverse":
        ba.reverse()
    elif name == "setitem":
        ba[op[1]] = op[2]
    elif name == "delitem":
        del ba[op[1]]
    elif name == "setslice":
        ba[op[1]:op[2]:op[3]] = ba if op[4] == "self" else op[4]
    elif name == "delslice":
        del ba[op[1]:op[2]:op[3]]
    return None


def apply_runtime(ba: int, op):
    name = op[0]
    if name == "append":
        B.bytearray_append(ba, op[1])
    elif name == "extend":
        src = ba if op[1] == "self" else (core_list(op[1]) if isinstance(op[1], list) else make(op[1]))
        B.bytearray_extend(ba, src)
    elif name == "pop":
        return B.bytearray_pop(ba, -1 if op[1] is None else op[1])
    elif name == "insert":
        B.bytearray_insert(ba, op[1], op[2])
    elif name == "remove":
        B.bytearray_remove(ba, op[1])
    elif name == "clear":
        B.bytearray_clear(ba)
    elif name == "reverse":
        B.bytearray_reverse(ba)
    elif name == "setitem":
        B.bytearray_setitem(ba, op[1], op[2])
    elif name == "delitem":
        B.bytearray_delitem(ba, op[1])
    elif name in ("setslice", "delslice"):
        start, stop, step = op[1], op[2], op[3]
        nones = (start is None) | ((stop is None) << 1) | ((step is None) << 2)
        if name == "setslice":
            src = ba if op[4] == "self" else make(op[4])
            B.bytearray_setslice(ba, start or 0, stop or 0, step or 0, nones, src)
        else:
            B.bytearray_delslice(ba, start or 0, stop or 0, step or 0, nones)
    return None


@many(900)
@given(binary, st.lists(ops, max_size=12))
def test_bytearray_mutations(initial, sequence):
    rtload.reset_heap()
    py = bytearray(initial)
    rt = make(py)
    for op in sequence:
        want = outcome(lambda: apply_python(py, op))
        got = outcome(lambda: apply_runtime(rt, op))
        assert got == want, op
        assert read(rt) == py, op


view_ops = st.one_of(
    st.tuples(st.just("view"), st.integers(0, 3), st.one_of(st.none(), st.integers(-6, 6)),
              st.one_of(st.none(), st.integers(-6, 6)), st.one_of(st.none(), st.sampled_from([1, 2, -1, -2]))),
    st.tuples(st.just("set"), st.integers(0, 3), st.integers(-6, 6), st.integers(-1, 256)),
    st.tuples(st.just("setslice"), st.integers(0, 3), st.one_of(st.none(), st.integers(-6, 6)),
              st.one_of(st.none(), st.integers(-6, 6)), st.one_of(st.none(), st.sampled_from([1, 2, -1])), binary),
    st.tuples(st.just("get"), st.integers(0, 3), st.integers(-6, 6)),
    st.tuples(st.just("base"), st.integers(-3, 10), st.integers(0, 255)),
)


@many(900)
@given(binary, st.booleans(), st.lists(view_ops, max_size=10))
def test_memoryview_shares_memory(initial, writable, sequence):
    """Views of a bytearray (writable) or bytes (read-only), views of views: reads see
    writes made through any of them and through the base."""
    rtload.reset_heap()
    py_base = bytearray(initial) if writable else bytes(initial)
    rt_base = make(py_base)
    py_views = [memoryview(py_base)]
    rt_views = [B.memoryview_new(rt_base)]
    for op in sequence:
        k = op[1] % len(py_views) if op[0] != "base" else 0
        pv, rv = py_views[k], rt_views[k]
        if op[0] == "view":
            start, stop, step = op[2], op[3], op[4]
            nones = (start is None) | ((stop is None) << 1) | ((step is None) << 2)
            want = outcome(lambda: pv[start:stop:step])
            got = outcome(lambda: B.memoryview_slice(rv, start or 0, stop or 0, step or 0, nones))
            assert got[0] == want[0], op
            if want[0] == "ok":
                py_views.append(want[1])
                rt_views.append(got[1])
            else:
                assert got == want, op
        elif op[0] == "set":
            want = outcome(lambda: pv.__setitem__(op[2], op[3]))
            got = outcome(lambda: B.memoryview_setitem(rv, op[2], op[3]))
            assert got == want, op
        elif op[0] == "setslice":
            start, stop, step = op[2], op[3], op[4]
            nones = (start is None) | ((stop is None) << 1) | ((step is None) << 2)
            want = outcome(lambda: pv.__setitem__(slice(start, stop, step), op[5]))
            got = outcome(lambda: B.memoryview_setslice(rv, start or 0, stop or 0, step or 0, nones, make(op[5])))
            assert got == want, op
        elif op[0] == "get":
            want = outcome(lambda: pv[op[2]])
            got = outcome(lambda: B.memoryview_getitem(rv, op[2]))
            assert got == want, op
        elif writable and 0 <= op[1] < len(py_base):
            py_base[op[1]] = op[2]
            B.bytearray_setitem(rt_base, op[1], op[2])
        for pv2, rv2 in zip(py_views, rt_views):
            assert read(B.memoryview_tobytes(rv2)) == pv2.tobytes()
            assert B.bytes_len(rv2) == len(pv2)
            assert B.memoryview_readonly(rv2) == pv2.readonly


def test_view_of_a_shrunk_bytearray_raises_buffer_error():
    """apy's documented deviation: CPython refuses to resize an exported bytearray;
    apy resizes it, and a view that now reaches past the end raises BufferError."""
    rtload.reset_heap()
    ba = make(bytearray(b"abcdef"))
    v = B.memoryview_slice(B.memoryview_new(ba), 2, 0, 0, 2 | 4)
    assert read(B.memoryview_tobytes(v)) == b"cdef"
    B.bytearray_delslice(ba, 3, 0, 0, 2 | 4)
    try:
        B.memoryview_getitem(v, 0)
    except BufferError:
        pass
    else:
        raise AssertionError("a view past the end of its bytearray was read")
    B.bytearray_extend(ba, make(b"XYZ"))
    assert read(B.memoryview_tobytes(v)) == b"cXYZ"  # the view sees the current buffer
