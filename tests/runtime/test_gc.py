"""runtime/gc.apy under CPython: the collector against a model of reachability.

The module runs int64-guarded (apy_cpython.load_source) over the shim's memory.
Roots are real words in shim memory: one buffer stands for the image's globals
(`_machine.set_data`), another for the stack (`_machine.set_stack`). Objects
are made with gc_alloc and filled by the tests; the model (`Heap`) knows every
object and computes what is reachable, so after each collection it can demand:

* every reachable object still holds its header and contents;
* nothing reachable was reused: a new object never overlaps a known one;
* the collector's live byte count equals the model's exactly (the roots here
  are precise, so conservative scanning must find exactly the reachable set);
* the pages in use stay within what the live objects can pin.

Every test starts from a fresh collector over a heap filled with garbage bytes
(kvm RAM is not zeroed), so zeroing is the collector's job.
"""

from __future__ import annotations

import bisect
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apy_cpython import RUNTIME, load_source

import _machine as M  # noqa: I001  (runtime/pyshim, put on sys.path by apy_cpython)

PAGE = 4096
BLOCK = 8 * PAGE
SMALL_MAX = 2048
CLASSES = [16 * k for k in range(1, 9)] + [
    base + step * k for base, step in ((128, 32), (256, 64), (512, 128), (1024, 256)) for k in range(1, 5)
]
TAG_RAW = 10
HAS_PTRS = 1 << 16
REGION = 3 << 20  # the biggest heap a test uses
ROOT_WORDS = 64  # per root region


def cell_size(nbytes: int) -> int:
    """What an object of nbytes occupies: its size class, or whole pages."""
    if nbytes <= SMALL_MAX:
        return next(c for c in CLASSES if c >= nbytes)
    return -(-nbytes // PAGE) * PAGE


def many(n: int):
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- a fresh collector per test


def _load_gc():
    """gc.apy, loaded once; its static buffers are the shim memory it took."""
    first = M.static_buffer(0)
    module = load_source("gc", (RUNTIME / "gc.apy").read_text(encoding="utf-8"), str(RUNTIME / "gc.apy"))
    end = M.static_buffer(0)
    scalars = {k: v for k, v in vars(module).items() if type(v) in (int, bool)}
    return module, (first, end), scalars


gc, _STATIC, _INITIAL = _load_gc()
# The globals region covers the collector's own static buffers, as the image's
# .data/.bss does: its free lists, block lists and mark stack must not act as roots.
_DATA = M.static_buffer(8 * ROOT_WORDS)
_HEAP = M.static_buffer(REGION)
_STACK = M.static_buffer(8 * ROOT_WORDS)
_STATS = M.static_buffer(8 * 6)


@pytest.fixture(autouse=True)
def _shim_regions_restored():
    """The shim's heap and root regions are process-wide (rtload's runtime uses
    them too): give them back as they were after each test."""
    saved = (M._heap, M._stack, M._data)
    yield
    M._heap, M._stack, M._data = saved


def fresh(heap_size: int = REGION, dirt: int = 0xA5) -> None:
    """Reset the collector to its state before first use, over a dirty heap."""
    vars(gc).update(_INITIAL)
    M.memset(_STATIC[0], 0, _STATIC[1] - _STATIC[0])
    M.memset(_HEAP, dirt, heap_size)
    M.memset(_DATA, 0, 8 * ROOT_WORDS)
    M.memset(_STACK, 0, 8 * ROOT_WORDS)
    M.set_heap(_HEAP, _HEAP + heap_size)
    M.set_data(_STATIC[0], _DATA + 8 * ROOT_WORDS)
    M.set_stack(_STACK, _STACK + 8 * ROOT_WORDS)


def stats() -> dict[str, int]:
    gc.gc_stats(_STATS)
    names = ("collections", "allocated", "live", "in_use", "peak", "capacity")
    return {name: M.load64(_STATS + 8 * i) for i, name in enumerate(names)}


def root(i: int) -> int:
    """Address of root slot i: even slots are globals, odd ones stack words."""
    return (_DATA if i % 2 == 0 else _STACK) + 8 * (i // 2)


# --------------------------------------------------------------------------- the model


class Heap:
    """Objects made through gc_alloc, their expected headers, and reachability."""

    def __init__(self) -> None:
        self.objects: dict[int, tuple[int, bool, int]] = {}  # addr -> (nbytes, has_ptrs, id)
        self.starts: list[int] = []  # sorted addresses of self.objects
        self.contents: dict[int, bytes] = {}  # pointer-free objects: their bytes
        self.next_id = 1
        self.rng = random.Random(7)

    def header(self, addr: int) -> int:
        nbytes, ptrs, oid = self.objects[addr]
        return TAG_RAW | (HAS_PTRS if ptrs else 0) | (oid << 32)

    def alloc(self, nbytes: int, ptrs: bool) -> int:
        """A new object, checked (aligned, zeroed, overlapping nothing known).
        Pointer-free ones get noise that looks like heap addresses: they are never
        scanned, so it must not keep anything alive."""
        before = gc._collections  # (gc_stats walks the free lists: too slow here)
        oid = self.next_id
        header = TAG_RAW | (HAS_PTRS if ptrs else 0) | (oid << 32)
        a = gc.gc_alloc(nbytes, header)
        if gc._collections != before:
            # allocating changes no root or field: what is reachable now was then;
            # the new object (perhaps in a new block) came after the collection
            new = 0 if a == 0 else cell_size(nbytes) if nbytes > SMALL_MAX else BLOCK
            self.after_collection(self.reachable(), new)
        if a == 0:
            return 0
        self.next_id += 1
        assert a % 16 == 0 and _HEAP <= a and a + nbytes <= _HEAP + REGION
        assert M.load64(a) == header
        assert M.read_bytes(a + 8, nbytes - 8) == bytes(nbytes - 8), "new object not zeroed"
        k = bisect.bisect(self.starts, a)
        assert k == 0 or self.starts[k - 1] + self.objects[self.starts[k - 1]][0] <= a, "overlaps"
        assert k == len(self.starts) or a + nbytes <= self.starts[k], "overlaps"
        self.starts.insert(k, a)
        self.objects[a] = (nbytes, ptrs, oid)
        if not ptrs:
            M.write_bytes(a + 8, self.noise(nbytes - 8))
            self.contents[a] = M.read_bytes(a, nbytes)
        return a

    def write(self, addr: int, data: bytes) -> None:
        """Store into a pointer-free object (the model remembers its bytes)."""
        M.write_bytes(addr, data)
        obj = self.owner(addr)
        self.contents[obj] = M.read_bytes(obj, self.objects[obj][0])

    def noise(self, n: int) -> bytes:
        words = [self.rng.randrange(_HEAP, _HEAP + REGION) for _ in range(n // 8)]
        data = b"".join(w.to_bytes(8, "little") for w in words)
        return data + bytes(n - len(data))

    def owner(self, value: int) -> int | None:
        """The object whose bytes [addr, addr + nbytes) hold address `value`."""
        k = bisect.bisect(self.starts, value)
        if k > 0 and value < self.starts[k - 1] + self.objects[self.starts[k - 1]][0]:
            return self.starts[k - 1]
        return None

    def reachable(self) -> set[int]:
        roots = [M.load64(root(i)) for i in range(2 * ROOT_WORDS)]
        seen: set[int] = set()
        work = [o for o in map(self.owner, roots) if o is not None]
        while work:
            a = work.pop()
            if a in seen:
                continue
            seen.add(a)
            nbytes, ptrs, _ = self.objects[a]
            if ptrs:
                for off in range(8, nbytes - 7, 8):
                    o = self.owner(M.load64(a + off))
                    if o is not None and o not in seen:
                        work.append(o)
        return seen

    def collect(self) -> None:
        gc.gc_collect()
        self.after_collection(self.reachable())

    def after_collection(self, reachable: set[int], new: int = 0) -> None:
        """The collector ran: reachable objects are intact, the rest may be gone."""
        for a in reachable:
            assert M.load64(a) == self.header(a), f"header of {a:#x} changed"
            if a in self.contents:
                assert M.read_bytes(a, len(self.contents[a])) == self.contents[a], f"{a:#x} changed"
        s = stats()
        live = sum(cell_size(self.objects[a][0]) for a in reachable)
        assert s["live"] == live, f"collector found {s['live']} live bytes, model {live}"
        small = sum(1 for a in reachable if self.objects[a][0] <= SMALL_MAX)
        large = sum(cell_size(self.objects[a][0]) for a in reachable if self.objects[a][0] > SMALL_MAX)
        assert s["in_use"] <= large + small * BLOCK + new
        self.objects = {a: v for a, v in self.objects.items() if a in reachable}
        self.contents = {a: v for a, v in self.contents.items() if a in reachable}
        self.starts = sorted(self.objects)


# --------------------------------------------------------------------------- tests


def test_reachable_objects_survive_with_their_contents():
    fresh()
    h = Heap()
    a = h.alloc(40, False)
    h.write(a + 8, b"x" * 32)
    b = h.alloc(24, True)
    c = h.alloc(5000, False)
    h.write(c + 8, bytes(range(256)) * 19 + bytes(8))
    M.store64(b + 8, a)
    M.store64(b + 16, c)
    M.store64(root(0), b)
    garbage = [h.alloc(100, False) for _ in range(10)]
    h.collect()
    assert M.read_bytes(a + 8, 32) == b"x" * 32
    assert M.read_bytes(c + 8, 256 * 19) == bytes(range(256)) * 19
    assert set(h.objects) == {a, b, c}
    assert all(g not in h.objects for g in garbage)
    assert stats()["live"] == 48 + 32 + 8192


def test_stack_and_data_roots_both_count():
    fresh()
    h = Heap()
    a = h.alloc(64, False)
    b = h.alloc(64, False)
    M.store64(root(0), a)  # globals
    M.store64(root(1), b)  # stack
    h.collect()
    assert set(h.objects) == {a, b}
    M.store64(root(1), 0)
    h.collect()
    assert set(h.objects) == {a}


def test_interior_pointers_keep_objects_alive():
    fresh()
    h = Heap()
    small = h.alloc(200, False)
    large = h.alloc(20000, False)
    holder = h.alloc(16, True)
    M.store64(root(0), small + 123)  # unaligned values are still pointers
    M.store64(root(1), holder + 8)
    M.store64(holder + 8, large + 19999)  # the last byte of a large object
    h.collect()
    assert set(h.objects) == {small, large, holder}


def test_pointers_in_pointer_free_objects_do_not_count():
    """Mostly precise: only HAS_PTRS objects are scanned."""
    fresh()
    h = Heap()
    leaf = h.alloc(32, False)
    blob = h.alloc(64, False)
    h.write(blob + 8, leaf.to_bytes(8, "little"))
    M.store64(root(0), blob)
    h.collect()
    assert set(h.objects) == {blob}


def test_cycles_are_collected():
    fresh()
    h = Heap()
    a = h.alloc(32, True)
    b = h.alloc(3000, True)
    c = h.alloc(16, True)
    M.store64(a + 8, b)
    M.store64(b + 8, a)
    M.store64(c + 8, c)
    M.store64(root(0), a)
    h.collect()
    assert set(h.objects) == {a, b}
    M.store64(root(0), 0)
    h.collect()
    assert h.objects == {}
    assert stats()["live"] == 0 and stats()["in_use"] == 0


def test_long_chains_need_no_recursion():
    fresh()
    h = Heap()
    prev = 0
    for _ in range(20000):
        a = h.alloc(16, True)
        M.store64(a + 8, prev)
        M.store64(root(0), a)
        prev = a
    h.collect()
    assert len(h.objects) == 20000


def test_wide_objects_are_scanned_in_chunks():
    """A fan-out three times wider than the mark stack: every child and
    grandchild survives, and the stack holds a chunk's worth at a time."""
    fresh()
    n = 3 * gc.MSTACK_PAIRS
    parent = gc.gc_alloc(8 + 8 * n, TAG_RAW | HAS_PTRS)
    M.store64(root(0), parent)
    for i in range(n):
        child = gc.gc_alloc(24, TAG_RAW | HAS_PTRS)
        M.store64(parent + 8 + 8 * i, child)
        grandchild = gc.gc_alloc(48, TAG_RAW)
        M.store64(child + 8, grandchild)
        M.store64(grandchild + 8, i)
        M.store64(child + 16, grandchild + 40)  # and an interior pointer
    gc.gc_collect()
    assert gc._mhigh <= gc.CHUNK // 8 + 2
    assert stats()["live"] == cell_size(8 + 8 * n) + n * (32 + 48)
    for i in range(0, n, 97):
        grandchild = M.load64(M.load64(parent + 8 + 8 * i) + 8)
        assert M.load64(grandchild) == TAG_RAW and M.load64(grandchild + 8) == i


def test_mark_stack_overflow_is_recovered():
    """Deep and wide: a chain whose every link also holds 127 children overflows
    the mark stack; rescanning the heap still finds everything."""
    fresh()
    fan = gc.CHUNK // 8 - 1
    depth = 2 * gc.MSTACK_PAIRS // fan + 2
    head = gc.gc_alloc(8 + 8 * (fan + 1), TAG_RAW | HAS_PTRS)
    M.store64(root(0), head)
    node = head
    for d in range(depth):
        for i in range(fan):
            child = gc.gc_alloc(16, TAG_RAW | HAS_PTRS)
            M.store64(node + 8 + 8 * i, child)
            leaf = gc.gc_alloc(32, TAG_RAW)
            M.store64(child + 8, leaf)
            M.store64(leaf + 8, d * fan + i)
        nxt = gc.gc_alloc(8 + 8 * (fan + 1), TAG_RAW | HAS_PTRS) if d + 1 < depth else 0
        M.store64(node + 8 + 8 * fan, nxt)  # the last field: scanned last, popped first
        node = nxt
    gc.gc_collect()
    assert gc._mhigh == gc.MSTACK_PAIRS  # the stack did overflow
    assert stats()["live"] == depth * (cell_size(8 + 8 * (fan + 1)) + fan * (16 + 32))
    node = head
    for d in range(depth):
        leaf = M.load64(M.load64(node + 8 + 8 * (d % fan)) + 8)
        assert M.load64(leaf) == TAG_RAW and M.load64(leaf + 8) == d * fan + d % fan
        node = M.load64(node + 8 + 8 * fan)


def test_unreachable_memory_is_reused_in_bounded_space():
    """100k objects of mixed sizes, a live set of at most 64: the footprint stays
    near the allocation budget (1 MiB) and no collection is forced by exhaustion."""
    fresh()
    rng = random.Random(1)
    sizes = [8, 16, 24, 40, 72, 100, 136, 300, 520, 1100, 2048, 2100, 5000, 9000]
    slots = [0] * 64
    allocated = 0
    for k in range(100_000):
        nbytes = rng.choice(sizes)
        ptrs = nbytes <= 520 and rng.random() < 0.5  # (scanning big ones is slow under CPython)
        a = gc.gc_alloc(nbytes, TAG_RAW | (HAS_PTRS if ptrs else 0) | (k << 32))
        assert a != 0
        allocated += cell_size(nbytes)
        if nbytes >= 16:
            M.store64(a + nbytes - 8, k)  # contents to check
        s = rng.randrange(64)
        if ptrs and nbytes >= 24:
            M.store64(a + 8, M.load64(root(s)))  # chains through older objects
        M.store64(root(s), a)
        slots[s] = (a, nbytes, k)
    s = stats()
    assert s["allocated"] == allocated
    assert s["collections"] >= allocated // (1 << 20) - 1
    assert s["peak"] <= (5 << 20) // 2, s  # budget + live + partly used blocks
    for a, nbytes, k in slots:
        assert M.load64(a) >> 32 == k and (nbytes < 16 or M.load64(a + nbytes - 8) == k)


def test_collections_follow_the_live_size():
    """Budget = max(1 MiB, live): with 1.4 MiB live, one collection per ~1.4 MiB
    allocated (a fixed 1 MiB budget would make 8 of them here)."""
    fresh()
    arr = gc.gc_alloc(8 + 8 * 1400, TAG_RAW | HAS_PTRS)
    M.store64(root(0), arr)
    for i in range(1400):
        M.store64(arr + 8 + 8 * i, gc.gc_alloc(1024, TAG_RAW))
    gc.gc_collect()
    live = stats()["live"]
    assert live == 1400 * 1024 + cell_size(8 + 8 * 1400)
    c0 = stats()["collections"]
    garbage = 8 << 20
    for _ in range(garbage // 512):
        assert gc.gc_alloc(512, TAG_RAW) != 0
    runs = stats()["collections"] - c0
    assert abs(runs - garbage / live) <= 1, runs


def test_exhaustion_returns_zero_and_recovers():
    fresh(heap_size=1 << 20)
    h = Heap()
    prev = 0
    count = 0
    while True:
        a = gc.gc_alloc(1000, TAG_RAW | HAS_PTRS)
        if a == 0:
            break
        M.store64(a + 8, prev)
        M.store64(a + 16, count)
        M.store64(root(0), a)
        prev = a
        count += 1
    assert 900 <= count <= 1024  # 1000-byte objects in 1024-byte cells, minus metadata
    a, k = prev, count
    while a != 0:  # the whole chain is intact
        k -= 1
        assert M.load64(a + 16) == k
        a = M.load64(a + 8)
    assert k == 0
    assert gc.gc_alloc(4 << 20, TAG_RAW) == 0  # bigger than the heap
    assert gc.gc_alloc(-1, TAG_RAW) == 0
    M.store64(root(0), 0)
    assert gc.gc_alloc(600_000, TAG_RAW) != 0  # a collection makes room


def test_large_objects_are_freed_and_their_pages_reused():
    fresh(heap_size=1 << 20)
    for i in range(200):
        a = gc.gc_alloc(100_000 + 4096 * (i % 5), TAG_RAW)
        assert a != 0 and a % PAGE == 0
        assert M.read_bytes(a + 8, 100_000 - 8) == bytes(100_000 - 8)
        M.memset(a + 8, 0xEE, 100_000 - 8)
    assert stats()["peak"] <= 1 << 20


def test_blocks_change_size_class():
    """Memory freed by one size class serves another (and large objects)."""
    fresh(heap_size=1 << 20)
    for nbytes in (16, 2048, 48, 3000, 512, 100_000, 16):
        for _ in range((700 << 10) // cell_size(nbytes)):
            assert gc.gc_alloc(nbytes, TAG_RAW) != 0


def test_pinned_pages():
    fresh(heap_size=1 << 20)
    p = gc.gc_pin_pages(4)
    assert p % PAGE == 0 and p + 4 * PAGE <= _HEAP + (1 << 20)
    assert M.read_bytes(p, 4 * PAGE) == bytes(4 * PAGE)
    M.memset(p, 0x5A, 4 * PAGE)
    for _ in range(3000):
        a = gc.gc_alloc(700, TAG_RAW)
        assert a + 700 <= p or a >= p + 4 * PAGE
    gc.gc_collect()
    assert M.read_bytes(p, 4 * PAGE) == b"\x5a" * (4 * PAGE)
    assert stats()["capacity"] == p - gc._pbase
    assert gc.gc_pin_pages(1 << 20) == 0
    assert gc.gc_pin_pages(0) == 0


def test_pinning_reclaims_garbage_at_the_top():
    fresh(heap_size=1 << 20)
    cap = stats()["capacity"] // PAGE
    for _ in range(cap // 2):
        assert gc.gc_alloc(3000, TAG_RAW) != 0  # garbage up to the top
    assert gc.gc_pin_pages(cap - 4) != 0


def test_empty_heap():
    fresh(heap_size=0)
    assert gc.gc_alloc(16, TAG_RAW) == 0
    assert gc.gc_alloc(5000, TAG_RAW) == 0
    gc.gc_collect()
    assert gc.gc_pin_pages(1) == 0


def test_allocated_bytes_are_exact():
    fresh()
    total = 0
    for n in [8, 9, 16, 17, 130, 2048, 2049, 4096, 4097, 1, 0]:
        gc.gc_alloc(n, TAG_RAW)
        total += cell_size(max(n, 1))
    assert stats()["allocated"] == total
    gc.gc_collect()
    assert stats()["allocated"] == total


# --------------------------------------------------------------------------- random programs

# a few favourite sizes, so that blocks fill up; class edges; anything up to 3 pages
sizes = st.one_of(st.sampled_from([16, 24, 48]), st.integers(8, 200),
                  st.sampled_from([2040, 2048, 2056, 4096, 4104]), st.integers(8, 12000))
ops = st.lists(
    st.one_of(
        st.tuples(st.just("alloc"), sizes, st.booleans(), st.integers(0, 15)),
        st.tuples(st.just("burst"), st.sampled_from([16, 48, 136]), st.booleans(), st.integers(1, 40),
                  st.integers(0, 15)),
        st.tuples(st.just("link"), st.integers(0, 15), st.integers(0, 40), st.integers(0, 15), st.integers(0, 7)),
        st.tuples(st.just("drop"), st.integers(0, 15)),
        st.tuples(st.just("interior"), st.integers(0, 15), st.integers(0, 12000)),
        st.tuples(st.just("collect"),),
    ),
    max_size=60,
)


@many(2000)
@given(ops, st.sampled_from([256 << 10, 1 << 20]))
def test_random_programs_against_the_model(program, heap_size):
    """Allocate, link (with interior pointers), drop and collect at random; the
    model checks every collection, explicit or forced by the small heap."""
    fresh(heap_size)
    h = Heap()
    for op in program:
        if op[0] == "alloc":
            _, nbytes, ptrs, slot = op
            a = h.alloc(nbytes // 8 * 8 if ptrs else nbytes, ptrs)
            if a != 0:
                M.store64(root(slot), a)
        elif op[0] == "burst":  # many of a size: blocks fill up, most become garbage
            _, nbytes, ptrs, count, slot = op
            for j in range(count):
                a = h.alloc(nbytes, ptrs)
                if a != 0:
                    M.store64(root((slot + j) % 16), a)
        elif op[0] == "link":
            _, src, field, dst, off = op
            s, d = h.owner(M.load64(root(src))), h.owner(M.load64(root(dst)))
            if s is not None and h.objects[s][1] and h.objects[s][0] >= 16:
                nfields = (h.objects[s][0] - 8) // 8
                value = 0 if d is None else d + min(off * 8, h.objects[d][0] - 1)
                M.store64(s + 8 + 8 * (field % nfields), value)
        elif op[0] == "drop":
            M.store64(root(op[1]), 0)
        elif op[0] == "interior":
            o = h.owner(M.load64(root(op[1])))
            if o is not None:
                M.store64(root(op[1]), o + op[2] % h.objects[o][0])
        else:
            h.collect()
    h.collect()
    assert stats()["peak"] <= heap_size


@pytest.mark.parametrize("nbytes", [0, 8, 16, 17, 128, 129, 2047, 2048])
def test_size_classes(nbytes):
    """Consecutive small objects are one cell apart: the class is the model's."""
    fresh()
    a = gc.gc_alloc(nbytes, TAG_RAW)
    b = gc.gc_alloc(nbytes, TAG_RAW)
    assert b - a == cell_size(max(nbytes, 1))
