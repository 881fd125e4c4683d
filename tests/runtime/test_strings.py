"""runtime/strings.apy under CPython against CPython's own str: same results, same
exceptions, same messages.

Every test builds str objects in shim memory (rtload.make_str), calls the
runtime function the compiler calls, reads the result back (checking the
object's invariants: ncodepoints matches its UTF-8) and compares with the
Python operation on the same text. Texts mix the characters where str
implementations go wrong (whitespace of every kind, line breaks, final sigma,
special casings, titlecase digraphs, combining marks, astral characters,
quotes, backslashes, non-ASCII digits) with hypothesis' own unicode text.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import rtload
from rtload import make_str, read_str

S = rtload.load("strings")
core = rtload.load("core")
import _machine as m  # noqa: E402,I001

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

SPECIAL = (
    "aAzZ09_ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029\u3000\u200b'\"\\\x00\x7f"
    "ßéÉİıﬁﬃŉǅǆǄΣσςΐΆΩω\u0345\u0307\u0301\u00ad·ʰ"
    "٣۴߅𝟘²½Ⅻ"
    "😀𐐀𐐨\U000e0001\U0010ffff"
)
texts = st.one_of(
    st.text(alphabet=SPECIAL, max_size=12),
    st.text(max_size=10),
    st.text(alphabet="ab ", max_size=14),
    st.text(alphabet="aΣ'. ", max_size=8),
)
small_ints = st.one_of(st.integers(-15, 15), st.sampled_from([INT64_MIN, INT64_MIN + 1, INT64_MAX, 2**40, -(2**40)]))


def many(n: int):
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _fresh_heap():
    rtload.reset_heap()


def outcome(fn, *args):
    """('ok', result) or (exception type name, message): failures are compared too."""
    try:
        return "ok", fn(*args)
    except Exception as e:  # noqa: BLE001 -- any exception is an outcome to compare
        return type(e).__name__, str(e)


def check(expected_fn, actual_fn, read=lambda v: v):
    rtload.reset_heap()
    want = outcome(expected_fn)
    got = outcome(actual_fn)
    if got[0] == "ok":
        got = ("ok", read(got[1]))
    assert got == want


def read_list(addr: int) -> list[str]:
    n = m.load64(addr + 8)
    items = m.load64(addr + 24)
    return [read_str(m.load64(items + 8 + 8 * i)) for i in range(n)]


def read_tuple(addr: int) -> tuple[str, ...]:
    n = m.load64(addr + 8)
    return tuple(read_str(m.load64(addr + 16 + 8 * i)) for i in range(n))


def make_list(strs: list[str]) -> int:
    lst = core.list_new(0, True)
    for s in strs:
        core.list_append(lst, make_str(s), True)
    return lst


# --------------------------------------------------------------------------- index, slice, iterate


@many(1000)
@given(texts, small_ints)
def test_getitem(s, i):
    check(lambda: s[i], lambda: S.str_getitem(make_str(s), i), read_str)


@many(2000)
@given(texts, st.one_of(st.none(), small_ints), st.one_of(st.none(), small_ints),
       st.one_of(st.none(), st.integers(-5, 5), st.sampled_from([INT64_MIN, INT64_MAX, 0])))
@example("abc", None, None, INT64_MIN)
@example("héllo", INT64_MIN, None, -1)
@example("héllo", None, INT64_MIN, 1)
def test_slice(s, start, stop, step):
    # the compiler passes an omitted (or None) part as 0 with its flag bit set
    nones = (start is None) | ((stop is None) << 1) | ((step is None) << 2)
    check(lambda: s[start:stop:step],
          lambda: S.str_slice(make_str(s), start or 0, stop or 0, step or 0, nones), read_str)


@many(400)
@given(texts)
def test_iteration_and_len(s):
    rtload.reset_heap()
    a = make_str(s)
    chars = []
    pos = 0
    while pos < S.str_nbytes(a):
        chars.append(read_str(S.str_iter_char(a, pos)))
        pos = S.str_iter_next(a, pos)
    assert chars == list(s)
    assert S.str_len(a) == len(s)
    assert read_list(S.str_reversed_list(a)) == list(reversed(s))


# --------------------------------------------------------------------------- search

needles = st.one_of(texts, st.text(alphabet="ab", max_size=3), st.sampled_from(["", "a", "Σ", "😀", "\r\n"]))


def bounds(start, end):
    """What the compiler passes for omitted start/end, and the CPython call's arguments."""
    args = () if start is None and end is None else ((start,) if end is None else (start, end))
    return (0 if start is None else start), (INT64_MAX if end is None else end), args


@many(2000)
@given(texts, needles, st.one_of(st.none(), small_ints), st.one_of(st.none(), small_ints),
       st.sampled_from(["find", "rfind", "index", "rindex", "count", "startswith", "endswith"]))
@example("abc", "", 3, None, "find")
@example("abc", "", 4, None, "find")
@example("abc", "", 1, None, "rfind")
@example("abc", "", 5, None, "count")
@example("abc", "", 4, None, "startswith")
def test_find_family(s, sub, start, end, method):
    lo, hi, args = bounds(start, end)
    check(lambda: getattr(s, method)(sub, *args),
          lambda: getattr(S, "str_" + method)(make_str(s), make_str(sub), lo, hi))


@many(800)
@given(st.text(alphabet="ab", min_size=60, max_size=300), st.text(alphabet="ab", min_size=2, max_size=12),
       st.sampled_from(["find", "rfind", "count"]))
def test_long_searches(s, sub, method):
    # long haystacks take the Horspool path
    check(lambda: getattr(s, method)(sub), lambda: getattr(S, "str_" + method)(make_str(s), make_str(sub), 0, INT64_MAX))


@many(600)
@given(texts, needles)
def test_contains(s, sub):
    assert S.str_contains(make_str(s), make_str(sub)) == (sub in s)


@many(600)
@given(texts, needles, st.sampled_from(["removeprefix", "removesuffix"]))
def test_removeprefix_removesuffix(s, fix, method):
    check(lambda: getattr(s, method)(fix), lambda: getattr(S, "str_" + method)(make_str(s), make_str(fix)), read_str)


@many(1200)
@given(texts, needles, texts, st.one_of(st.none(), st.integers(-2, 5)))
@example("abc", "", "-", 2)
@example("", "", "x", None)
def test_replace(s, old, new, count):
    args = () if count is None else (count,)
    check(lambda: s.replace(old, new, *args),
          lambda: S.str_replace(make_str(s), make_str(old), make_str(new), -1 if count is None else count), read_str)


# --------------------------------------------------------------------------- split, join, partition

separators = st.one_of(st.none(), needles, st.sampled_from([" ", "ab", "\n"]))


@many(2000)
@given(texts, separators, st.one_of(st.none(), st.integers(-2, 4)), st.booleans())
@example("  a  b  ", None, 1, False)
@example("  a  b  ", None, 1, True)
@example("a\x1cb\x85c", None, None, False)
def test_split_rsplit(s, sep, maxsplit, right):
    method = "rsplit" if right else "split"
    args = (sep,) if maxsplit is None else (sep, maxsplit)
    check(lambda: getattr(s, method)(*args),
          lambda: getattr(S, "str_" + method)(make_str(s), 0 if sep is None else make_str(sep),
                                              -1 if maxsplit is None else maxsplit),
          read_list)


@many(1000)
@given(texts, st.booleans())
@example("a\r\nb\rc\n\nd\x85e\u2028", True)
def test_splitlines(s, keepends):
    check(lambda: s.splitlines(keepends), lambda: S.str_splitlines(make_str(s), keepends), read_list)


@many(1000)
@given(texts, st.lists(texts, max_size=5))
def test_join(sep, items):
    check(lambda: sep.join(items), lambda: S.str_join(make_str(sep), make_list(items)), read_str)


@many(1000)
@given(texts, needles, st.booleans())
def test_partition(s, sep, right):
    method = "rpartition" if right else "partition"
    check(lambda: getattr(s, method)(sep), lambda: getattr(S, "str_" + method)(make_str(s), make_str(sep)), read_tuple)


# --------------------------------------------------------------------------- strip, pad


@many(1200)
@given(texts, st.one_of(st.none(), needles, st.text(alphabet=" ab\t", max_size=3)),
       st.sampled_from(["strip", "lstrip", "rstrip"]))
@example("\x1c a \x85", None, "strip")
def test_strip(s, chars, method):
    check(lambda: getattr(s, method)(chars),
          lambda: getattr(S, "str_" + method)(make_str(s), 0 if chars is None else make_str(chars)), read_str)


@many(1200)
@given(texts, st.integers(-3, 20), st.one_of(st.sampled_from([" ", "*", "é", "😀", "", "ab"]), texts),
       st.sampled_from(["ljust", "rjust", "center"]))
def test_justify(s, width, fill, method):
    check(lambda: getattr(s, method)(width, fill),
          lambda: getattr(S, "str_" + method)(make_str(s), width, make_str(fill)), read_str)


@many(600)
@given(st.one_of(texts, st.from_regex(r"[+-]?[0-9é]{0,4}", fullmatch=True)), st.integers(-3, 12))
def test_zfill(s, width):
    check(lambda: s.zfill(width), lambda: S.str_zfill(make_str(s), width), read_str)


# --------------------------------------------------------------------------- case, predicates

CASE_METHODS = ["upper", "lower", "casefold", "title", "capitalize", "swapcase"]
PREDICATES = ["isalpha", "isdecimal", "isdigit", "isnumeric", "isspace", "isalnum", "isprintable",
              "isascii", "islower", "isupper", "istitle", "isidentifier"]


@many(2500)
@given(texts, st.sampled_from(CASE_METHODS))
@example("ΑΣ ΟΔΟΣ Σ. Σ' AΣ\u0301b", "lower")
@example("ǆemal ǅ ǈ 1st x'y", "title")
@example("ŉ straße ﬁ ΐ", "upper")
@example("ΣΣ aΣ", "swapcase")
def test_case_conversions(s, method):
    check(lambda: getattr(s, method)(), lambda: getattr(S, "str_" + method)(make_str(s)), read_str)


@many(2500)
@given(texts, st.sampled_from(PREDICATES))
@example("_a1", "isidentifier")
@example("ǅa", "istitle")
@example("", "isprintable")
def test_predicates(s, method):
    check(lambda: getattr(s, method)(), lambda: getattr(S, "str_" + method)(make_str(s)))


# --------------------------------------------------------------------------- ord, chr, repr


@many(500)
@given(texts)
def test_ord(s):
    check(lambda: ord(s), lambda: S.str_ord(make_str(s)))


@many(800)
@given(st.one_of(st.integers(-3, 0x110003), small_ints).filter(lambda i: not 0xD800 <= i < 0xE000))
def test_chr(i):
    check(lambda: chr(i), lambda: S.str_chr(i), read_str)


@many(2000)
@given(texts)
@example("'")
@example("'\"")
@example("\x7f\x80\xad\u0378\U000e0001\U0010ffff\ud7ff")
def test_repr(s):
    check(lambda: repr(s), lambda: S.str_repr(make_str(s)), read_str)


# --------------------------------------------------------------------------- int()

int_texts = st.one_of(
    st.from_regex(r"[ \t\x0b\x1c\x85]{0,2}[+-]?(0[xXoObB])?_?[0-9a-fA-F_٣]{0,6}[ \n\xa0]{0,2}", fullmatch=True),
    st.from_regex(r"-?[0-9]{17,21}", fullmatch=True),
    st.from_regex(r"-?0[xob]?[0-9a-f]{14,18}", fullmatch=True),
    texts,
)
bases = st.one_of(st.sampled_from([0, 10, 16, 8, 2]), st.integers(-1, 37))


def cpython_int(s: str, base: int) -> int:
    v = int(s, base)
    if not INT64_MIN <= v <= INT64_MAX:
        raise OverflowError("int() result does not fit in 64 bits (apy ints are 64-bit)")
    return v


@many(2000)
@given(int_texts, bases)
@example("9223372036854775807", 10)
@example("-9223372036854775808", 10)
@example("9223372036854775808", 10)
@example("-0x8000000000000000", 0)
@example("0_0", 0)
@example("0_1", 0)
@example("00", 0)
@example("0x", 16)
@example("0b", 16)
@example("1" * 4301, 10)
@example("1" * 4301 + "x", 10)
@example("x" * 300, 10)
@example("1" * 5000, 16)
def test_int(s, base):
    check(lambda: cpython_int(s, base), lambda: S.str_to_int(make_str(s), base))
