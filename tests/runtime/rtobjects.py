"""Runtime containers in shim memory for tests: make them from Python values, read them
back, and check the invariants docs/runtime-abi.md promises.

In:  Python values (int, float, str, bytes, tuple, any object), kind words, and the
     runtime modules loaded by rtload (hashes, lists, dicts).
Out: * `Arena`: a bump allocator installed as the runtime's `alloc` for the length
       of one test (`installed()`), reset between examples. It zeroes memory, as
       the collector's allocator does, and records every object's size and
       header so invariant checks can look at buffers. Tests do not depend on
       the collector (under CPython no root could keep their objects alive).
     * kinds: INT, FLOAT, STR, BYTES, OBJ, `tuple_kind(*kinds)` (a descriptor in
       static memory, as the compiler would emit it).
     * `to_slot(kind, v)` / `from_slot(kind, slot)`: a value in and out of a slot.
       Floats are interned by bit pattern and objects by identity, so that
       Python's identity shortcut (`x in [x]` for a nan) sees what the runtime
       sees (docs/runtime-abi.md: float slots with the same bits are the same).
     * `Hooks`: the compiler-generated obj_hash/obj_eq/obj_richcompare, modelled by
       the Python objects a KIND_OBJECT slot stands for.
     * builders and readers for lists, tuples, dicts and sets, and
       `check_list/check_dict/check_set`: layout invariants after any operation.
"""

from __future__ import annotations

import contextlib
import operator
import struct

import rtload  # first: it puts runtime/pyshim (the _machine stand-in) on sys.path

import _machine as M  # noqa: E402,I001

H = rtload.load("hashes")
L = rtload.load("lists")
D = rtload.load("dicts")
CORE = rtload.load("core")
OBJHOOKS = rtload.load("objhooks")

INT, FLOAT, STR, OBJECT, BYTES, TUPLE = 1, 2, 3, 4, 5, 6
OBJ = OBJECT | (7 << 8)  # an object kind with a made-up type id
TAG_STR, TAG_BYTES, TAG_LIST, TAG_DICT, TAG_SET, TAG_TUPLE, TAG_RAW = 1, 2, 4, 5, 6, 7, 10
HAS_PTRS = 1 << 16
OPS = [operator.lt, operator.le, operator.eq, operator.ne, operator.gt, operator.ge]
OP_NAMES = ["<", "<=", "==", "!=", ">", ">="]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def bits_of(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


def float_of(b: int) -> float:
    return struct.unpack("<d", struct.pack("<q", b))[0]


# --------------------------------------------------------------------------- allocation


class Arena:
    """The runtime's allocator for tests: bump allocation in one static region."""

    SIZE = 3 << 20

    def __init__(self) -> None:
        self.base = M.static_buffer(self.SIZE)
        self.top = self.base
        self.objects: dict[int, tuple[int, int]] = {}  # address -> (nbytes, header)

    def reset(self) -> None:
        M.memset(self.base, 0, self.top - self.base)
        self.top = self.base
        self.objects.clear()

    def alloc(self, nbytes: int, header: int) -> int:
        assert nbytes >= 8, f"alloc({nbytes}): an object has at least its header"
        assert header & 0xFFFF in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16), f"bad tag {header:#x}"
        size = (nbytes + 15) & -16
        if self.top + size > self.base + self.SIZE:
            raise MemoryError("test arena exhausted")
        addr = self.top
        self.top += size
        M.store64(addr, header)
        self.objects[addr] = (nbytes, header)
        return addr

    def size_of(self, addr: int) -> int:
        assert addr in self.objects, f"{addr:#x} is not the start of an object"
        return self.objects[addr][0]


_ARENA: Arena | None = None


def arena() -> Arena:
    global _ARENA
    if _ARENA is None:
        _ARENA = Arena()
    return _ARENA


# --------------------------------------------------------------------------- KIND_OBJECT hooks


class Hooks:
    """obj_hash/obj_eq/obj_richcompare over Python objects; each slot is a small box
    registered to one Python object (the same object always gets the same box)."""

    def __init__(self) -> None:
        self.values: dict[int, object] = {}
        self.boxes: dict[int, int] = {}  # id(object) -> box
        self.keep: list[object] = []  # keep ids stable while boxes exist
        self.log: list[tuple] = []  # (op, a, b) of every comparison, for order checks
        self.on_compare = None  # called before each comparison (tests that mutate)

    def reset(self) -> None:
        self.values.clear()
        self.boxes.clear()
        self.keep.clear()
        self.log.clear()
        self.on_compare = None

    def box(self, v: object) -> int:
        b = self.boxes.get(id(v))
        if b is None:
            b = arena().alloc(16, 9)  # TAG_BOX
            self.boxes[id(v)] = b
            self.values[b] = v
            self.keep.append(v)
        return b

    def obj_hash(self, kind: int, slot: int) -> int:
        assert kind & 255 == OBJECT
        return hash(self.values[slot])

    def obj_eq(self, kind: int, a: int, b: int) -> bool:
        self.log.append(("==", self.values[a], self.values[b]))
        if self.on_compare is not None:
            self.on_compare()
        return bool(self.values[a] == self.values[b])

    def obj_richcompare(self, kind: int, a: int, b: int, op: int) -> bool:
        self.log.append((OP_NAMES[op], self.values[a], self.values[b]))
        if self.on_compare is not None:
            self.on_compare()
        return bool(OPS[op](self.values[a], self.values[b]))


_HOOKS = Hooks()


def hooks() -> Hooks:
    return _HOOKS


@contextlib.contextmanager
def installed():
    """The arena and the hooks in place of the runtime's alloc and objhooks, restored after."""
    a = arena()
    a.reset()
    _HOOKS.reset()
    saved = [(mod, name, getattr(mod, name)) for mod in (CORE, L, D) for name in ("alloc",)
             if hasattr(mod, name)]
    saved += [(H, name, getattr(H, name)) for name in ("obj_hash", "obj_eq", "obj_richcompare")]
    try:
        for mod, name, _ in saved:
            if name == "alloc":
                setattr(mod, name, a.alloc)
        H.obj_hash = _HOOKS.obj_hash
        H.obj_eq = _HOOKS.obj_eq
        H.obj_richcompare = _HOOKS.obj_richcompare
        yield a
    finally:
        for mod, name, value in saved:
            setattr(mod, name, value)


def fresh() -> None:
    """Start an example: an empty arena and no objects."""
    arena().reset()
    _HOOKS.reset()


# --------------------------------------------------------------------------- an object type for keys


class Key:
    """An object key with its own hash and ==, as a class with __hash__/__eq__ would be."""

    def __init__(self, v: int) -> None:
        self.v = v

    def __hash__(self) -> int:
        return hash(self.v % 3)  # collisions on purpose

    def __eq__(self, other) -> bool:
        return isinstance(other, Key) and self.v == other.v

    def __repr__(self) -> str:
        return f"Key({self.v})"


KEY_OBJECTS = [Key(v) for v in range(-3, 9)]


# --------------------------------------------------------------------------- kinds and slots

_DESCRIPTORS: dict[tuple[int, ...], int] = {}


def tuple_kind(*kinds: int) -> int:
    """The kind word of tuples whose element i has kinds[min(i, n - 1)]."""
    desc = _DESCRIPTORS.get(kinds)
    if desc is None:
        desc = M.static_buffer(8 * (len(kinds) + 1))
        M.store64(desc, len(kinds))
        for i, k in enumerate(kinds):
            M.store64(desc + 8 + 8 * i, k)
        _DESCRIPTORS[kinds] = desc
    return TUPLE | (desc << 8)


def elem_kinds(kind: int, n: int) -> list[int]:
    desc = kind >> 8
    count = M.load64(desc)
    return [M.load64(desc + 8 + 8 * min(i, count - 1)) for i in range(n)]


def has_ptrs(kind: int) -> bool:
    return kind & 255 in (STR, OBJECT, BYTES, TUPLE)


_FLOATS: dict[int, float] = {}


def canon_float(x: float) -> float:
    """One float object per bit pattern: Python's identity then matches slot identity."""
    b = bits_of(x)
    return _FLOATS.setdefault(b, x)


def make_bytes(data: bytes) -> int:
    a = arena().alloc(16 + len(data) + 1, TAG_BYTES)
    M.store64(a + 8, len(data))
    M.write_bytes(a + 16, data)
    return a


def make_tuple(kind: int, values: tuple) -> int:
    kinds = elem_kinds(kind, len(values))
    t = CORE.tuple_new(len(values), any(has_ptrs(k) for k in kinds))
    for i, (k, v) in enumerate(zip(kinds, values)):
        M.store64(t + 16 + 8 * i, to_slot(k, v))
    return t


def to_slot(kind: int, v) -> int:
    c = kind & 255
    if c == INT:
        assert INT64_MIN <= v <= INT64_MAX
        return int(v)
    if c == FLOAT:
        return bits_of(v)
    if c == STR:
        return rtload.make_str(v)
    if c == BYTES:
        return make_bytes(v)
    if c == TUPLE:
        return make_tuple(kind, v)
    return _HOOKS.box(v)


def from_slot(kind: int, slot: int):
    c = kind & 255
    if c == INT:
        return slot
    if c == FLOAT:
        return canon_float(float_of(slot))
    if c == STR:
        return rtload.read_str(slot)
    if c == BYTES:
        assert M.load64(slot) & 0xFFFF == TAG_BYTES
        return M.read_bytes(slot + 16, M.load64(slot + 8))
    if c == TUPLE:
        assert M.load64(slot) & 0xFFFF == TAG_TUPLE
        n = M.load64(slot + 8)
        return tuple(from_slot(k, M.load64(slot + 16 + 8 * i))
                     for i, k in enumerate(elem_kinds(kind, n)))
    return _HOOKS.values[slot]


# --------------------------------------------------------------------------- lists and tuples


def make_list(kind: int, values) -> int:
    lst = L.list_new(kind, 0)
    for v in values:
        L.list_append(lst, to_slot(kind, v), kind)
    return lst


def read_list(kind: int, lst: int) -> list:
    n = M.load64(lst + 8)
    items = M.load64(lst + 24)
    return [from_slot(kind, M.load64(items + 8 + 8 * i)) for i in range(n)]


def read_tuple(kind: int, t: int) -> tuple:
    return from_slot(kind, t)


def list_cap(lst: int) -> int:
    return M.load64(lst + 16)


def check_list(lst: int, kind: int) -> None:
    """A list's header, its buffer's header and size, and zero slots beyond len."""
    a = arena()
    assert M.load64(lst) == TAG_LIST | HAS_PTRS
    n, cap, items = M.load64(lst + 8), M.load64(lst + 16), M.load64(lst + 24)
    assert 0 <= n <= cap
    if items == 0:  # CPython's NULL ob_item; an emptied list may keep a 0-slot buffer
        assert cap == 0
        return
    assert M.load64(items) == TAG_RAW | (HAS_PTRS if has_ptrs(kind) else 0), "buffer header"
    assert a.size_of(items) >= 8 + 8 * cap, "buffer smaller than cap"
    for i in range(n, cap):
        assert M.load64(items + 8 + 8 * i) == 0, f"slot {i} beyond len {n} is not zero"


# --------------------------------------------------------------------------- dicts and sets


def make_dict(kk: int, vk: int, items) -> int:
    d = D.dict_new()
    for k, v in items:
        D.dict_setitem(d, to_slot(kk, k), to_slot(vk, v), kk, vk)
    return d


def dict_entries(d: int) -> list[tuple[int, int, int]]:
    """The live (hash, key slot, value slot) entries in order."""
    out = []
    entries = M.load64(d + 48)
    for i in range(M.load64(d + 16)):
        e = entries + 8 + 24 * i
        if M.load64(e) != -1:
            out.append((M.load64(e), M.load64(e + 8), M.load64(e + 16)))
    return out


def read_dict(kk: int, vk: int, d: int) -> list[tuple]:
    return [(from_slot(kk, k), from_slot(vk, v)) for _, k, v in dict_entries(d)]


def check_dict(d: int, kk: int, vk: int) -> None:
    """len/nentries/usable agree with the tables; every live entry is found through the index."""
    a = arena()
    assert M.load64(d) == TAG_DICT | HAS_PTRS
    n, nent, usable, mask, index, entries = (M.load64(d + 8 * i) for i in range(1, 7))
    if index == 0:
        assert (n, nent, usable, mask, entries) == (0, 0, 0, 0, 0)
        return
    size = mask + 1
    assert size >= 8 and size & mask == 0
    ecap = (2 * size) // 3
    assert 0 <= n <= nent <= ecap and usable <= ecap - nent
    assert M.load64(index) == TAG_RAW and a.size_of(index) >= 8 + 8 * size
    want_ptrs = has_ptrs(kk) or has_ptrs(vk)
    assert M.load64(entries) == TAG_RAW | (HAS_PTRS if want_ptrs else 0)
    assert a.size_of(entries) >= 8 + 24 * ecap
    pointed = {}
    for i in range(size):
        ix = M.load64(index + 8 + 8 * i)
        assert ix >= -2 and ix < nent
        if ix >= 0:
            assert ix not in pointed, "two index slots point at one entry"
            pointed[ix] = i
    live = 0
    for i in range(nent):
        e = entries + 8 + 24 * i
        if M.load64(e) == -1:
            assert M.load64(e + 8) == 0 and M.load64(e + 16) == 0
            assert i not in pointed
        else:
            live += 1
            assert i in pointed, f"entry {i} is not in the index"
            assert H.slot_hash(kk, M.load64(e + 8)) == M.load64(e)
    assert live == n


def make_set(kind: int, values) -> int:
    s = D.set_new(kind)
    for v in values:
        D.set_add(s, to_slot(kind, v), kind)
    return s


def set_slots(s: int) -> list[int]:
    table = M.load64(s + 32)
    out = []
    for i in range(M.load64(s + 24) + 1):
        e = table + 8 + 16 * i
        if M.load64(e) != -1:
            out.append(M.load64(e + 8))
    return out


def read_set(kind: int, s: int) -> list:
    """The elements in iteration order."""
    return [from_slot(kind, x) for x in set_slots(s)]


def check_set(s: int, kind: int) -> None:
    """used/fill agree with the table, and hashes are the elements' hashes."""
    a = arena()
    assert M.load64(s) == TAG_SET | HAS_PTRS
    used, fill, mask, table = (M.load64(s + 8 * i) for i in range(1, 5))
    size = mask + 1
    assert size >= 8 and size & mask == 0
    assert M.load64(table) == TAG_RAW | (HAS_PTRS if has_ptrs(kind) else 0)
    assert a.size_of(table) >= 8 + 16 * size
    live = dummies = 0
    for i in range(size):
        e = table + 8 + 16 * i
        h, k = M.load64(e), M.load64(e + 8)
        if h == -1:
            assert k in (-1, 0)
            dummies += k == 0
        else:
            live += 1
            assert H.slot_hash(kind, k) == h
    assert live == used and live + dummies == fill and fill < size


# --------------------------------------------------------------------------- outcomes and test settings


def many(n: int):
    """Hypothesis settings for these tests: n examples, no deadline (the shim is slow)."""
    from hypothesis import HealthCheck, settings

    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


def py_outcome(fn):
    """CPython's ('ok', result) or (exception type name, message). A KeyError's
    message is the repr of its argument, as CPython prints it and as the runtime
    raises it (the compiler passes the key's repr)."""
    try:
        return "ok", fn()
    except KeyError as e:
        return "KeyError", repr(e.args[0])
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, (str(e.args[0]) if e.args else "")


def outcome(fn, *args):
    """The runtime's ('ok', result) or (exception type name, message)."""
    try:
        return "ok", fn(*args)
    except Exception as e:  # noqa: BLE001 -- any exception is an outcome to compare
        return type(e).__name__, (str(e.args[0]) if e.args else "")


# --------------------------------------------------------------------------- CPython under PYTHONHASHSEED=0


class SeedZero:
    """A CPython child started with PYTHONHASHSEED=0 that evaluates expressions.

    `ask(expr)` sends one Python expression (a line) and returns the repr of its
    value as the child computes it, so str and bytes hashes, and the order of sets
    of strs, are CPython's under seed 0. Each answer is awaited at most TIMEOUT
    seconds; `close()` ends the child.
    """

    TIMEOUT = 30.0
    SERVER = (
        "import sys\n"
        "env = {}\n"
        "for line in sys.stdin:\n"
        "    try:\n"
        "        out = repr(eval(line, env))\n"
        "    except Exception as e:\n"
        "        out = 'ERROR ' + repr(e)\n"
        "    sys.stdout.write(out.replace('\\n', ' ') + '\\n')\n"
        "    sys.stdout.flush()\n"
    )

    def __init__(self) -> None:
        import os
        import subprocess
        import sys

        env = dict(os.environ, PYTHONHASHSEED="0")
        self.proc = subprocess.Popen([sys.executable, "-c", self.SERVER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, expr: str) -> str:
        import select

        assert "\n" not in expr
        self.proc.stdin.write(expr + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.TIMEOUT)
        assert ready, f"the PYTHONHASHSEED=0 child did not answer within {self.TIMEOUT}s"
        line = self.proc.stdout.readline()
        assert line, "the PYTHONHASHSEED=0 child exited"
        assert not line.startswith("ERROR "), f"child failed on {expr!r}: {line}"
        return line.rstrip("\n")

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 -- a child that does not stop is killed
            self.proc.kill()
            self.proc.wait()
