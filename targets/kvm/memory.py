"""Memory on the kvm target: PVH start_info, the heap region, page tables.

In: a KvmModule (needs traps.py's applc_kvm_fatal). Out:

    applc_kvm_memory_setup()   read hvm_start_info's E820 map; choose the
                               heap region; start the boot bump allocator
                               (the "carve") at its bottom
    applc_kvm_carve(size)      boot-time allocation from the heap region
    applc_kvm_paging_setup()   build the final page tables; load CR3

The heap region is the largest usable (type 1) RAM range above the image
(and so above the stacks, which are in the image's .noinit), also above the
start_info, memory map and command line when they lie inside it. The
boot-time allocations (argv, page tables) come from its bottom, and
applc_plat_heap_start() is wherever they ended.

Final page tables (4-level, identity):
    image pages   4 KiB: text R+X, rodata R, everything else RW+NX,
                  the guard page below the stack NOT PRESENT
    page 0        not present (null pointer dereferences fault)
    other RAM     RW+NX; 2 MiB pages where a whole aligned 2 MiB lies in one
                  E820 RAM entry, 4 KiB pages at ragged edges
    device window [end of RAM below 4 GiB (rounded up to 2 MiB), 4 GiB):
                  RW+NX, uncached -- LAPIC, IOAPIC, HPET, virtio-mmio and
                  32-bit PCI BARs live there
NX is used only when CPUID reports it (boot.py enabled EFER.NXE likewise).
"""

from __future__ import annotations

from llvmlite import ir

from applc.link.irkit import I8, I32, I64, VOID, FunctionWriter, cstring
from applc.targets.kvm.machine import KvmModule, cpuid, write_cr3

START_INFO_MAGIC = 0x336EC578
# struct hvm_start_info offsets
SI_MAGIC, SI_VERSION, SI_CMDLINE, SI_MEMMAP, SI_MEMMAP_ENTRIES = 0, 4, 24, 40, 48
SI_SIZE = 56
MEMMAP_ENTRY_SIZE = 24  # addr u64, size u64, type u32, reserved u32
E820_RAM = 1

PAGE = 4096
LARGE = 2 << 20
FOUR_GIB = 4 << 30
P, RW, PWT, PCD, PS = 0x1, 0x2, 0x8, 0x10, 0x80
NX = 1 << 63
ADDRESS_MASK = 0x000F_FFFF_FFFF_F000


def add_memory(k: KvmModule) -> None:
    k.nx = _global(k, "applc_kvm_nx", 0)
    k.pml4 = _global(k, "applc_kvm_pml4", 0)
    _carve(k)
    _memory_setup(k)
    _page_table_walk(k)
    _map_2m(k)
    _map_4k(k)
    _map_range(k)
    _paging_setup(k)


def _global(k, name, value):
    g = ir.GlobalVariable(k.module, I64, name=name)
    g.linkage = "internal"
    g.initializer = I64(value)
    return g


def _start_info(w: FunctionWriter, k: KvmModule) -> ir.Value:
    return w.b.zext(w.b.load(k.start_info), I64)


def _carve(k):
    """Bump allocation, zero-filled, `size` rounded up to 16 bytes."""
    w = k.writer("applc_kvm_carve", I64, (I64, I64))  # size, alignment
    size, align = w.args
    mask = w.b.sub(align, I64(1))
    at = w.b.and_(w.b.add(w.b.load(k.carve), mask), w.b.not_(mask))
    end = w.b.add(at, w.b.and_(w.b.add(size, I64(15)), I64(-16)))
    with w.if_(w.b.icmp_unsigned(">", end, w.b.load(k.carve_end))):
        w.call(k.fns["applc_kvm_fatal"], cstring(k.module, "applc_kvm_msg_oom", b"out of memory while booting"))
    w.b.store(end, k.carve)
    w.asm(VOID, "rep stosb", "{rdi},{al},{rcx},~{rdi},~{rcx},~{memory}", (w.ptr(at), I8(0), w.b.sub(end, at)))
    w.b.ret(at)


def _memory_setup(k):
    w = k.writer("applc_kvm_memory_setup", VOID)
    b = w.b
    si = _start_info(w, k)
    fatal = k.fns["applc_kvm_fatal"]
    bad = b.icmp_unsigned("!=", w.load_at(I32, si), I32(START_INFO_MAGIC))
    with w.if_(b.or_(b.icmp_unsigned("==", si, I64(0)), bad)):
        w.call(fatal, cstring(k.module, "applc_kvm_msg_si", b"no PVH start_info (boot this image with a PVH loader)"))
    version = w.load_at(I32, b.add(si, I64(SI_VERSION)))
    entries = b.zext(w.load_at(I32, b.add(si, I64(SI_MEMMAP_ENTRIES))), I64)
    with w.if_(b.or_(b.icmp_unsigned("<", version, I32(1)), b.icmp_unsigned("==", entries, I64(0)))):
        w.call(fatal, cstring(k.module, "applc_kvm_msg_mm", b"no memory map in PVH start_info"))
    memmap = w.load_at(I64, b.add(si, I64(SI_MEMMAP)))
    blobs = _boot_blobs(w, si, memmap, entries)
    image_top = b.and_(b.add(w.addr(k.image_end), I64(PAGE - 1)), I64(-PAGE))
    best_lo, best_hi = w.var(I64, 0), w.var(I64, 0)
    with w.for_range(0, entries) as i:
        entry = b.add(memmap, b.mul(i, I64(MEMMAP_ENTRY_SIZE)))
        start = w.load_at(I64, entry)
        end = b.add(start, w.load_at(I64, b.add(entry, I64(8))))
        with w.if_(b.icmp_unsigned("==", w.load_at(I32, b.add(entry, I64(16))), I32(E820_RAM))):
            lo = w.var(I64, _umax(w, b.and_(b.add(start, I64(PAGE - 1)), I64(-PAGE)), image_top))
            hi = b.and_(end, I64(-PAGE))
            for blob_lo, blob_hi in blobs:
                # A boot blob inside the range: the region starts above it.
                inside = b.and_(b.icmp_unsigned("<", blob_lo, hi), b.icmp_unsigned(">", blob_hi, w.get(lo)))
                with w.if_(inside):
                    w.set(lo, _umax(w, w.get(lo), b.and_(b.add(blob_hi, I64(PAGE - 1)), I64(-PAGE))))
            larger = b.icmp_unsigned(">", b.sub(hi, w.get(lo)), b.sub(w.get(best_hi), w.get(best_lo)))
            with w.if_(b.and_(b.icmp_unsigned(">", hi, w.get(lo)), larger)):
                w.set(best_lo, w.get(lo))
                w.set(best_hi, hi)
    with w.if_(b.icmp_unsigned("==", w.get(best_hi), I64(0))):
        w.call(fatal, cstring(k.module, "applc_kvm_msg_ram", b"no usable RAM above the image"))
    b.store(w.get(best_lo), k.carve)
    b.store(w.get(best_hi), k.carve_end)
    b.store(w.get(best_hi), k.heap_end)
    b.ret_void()


def _boot_blobs(w, si, memmap, entries):
    """[lo, hi) of start_info, the memory map and the command line."""
    b = w.b
    cmdline = w.load_at(I64, b.add(si, I64(SI_CMDLINE)))
    n = w.var(I64, 0)
    with w.if_(b.icmp_unsigned("!=", cmdline, I64(0))):
        with w.while_(lambda: b.icmp_unsigned("!=", w.load_at(I8, b.add(cmdline, w.get(n))), I8(0))):
            w.set(n, b.add(w.get(n), I64(1)))
    return [
        (si, b.add(si, I64(SI_SIZE))),
        (memmap, b.add(memmap, b.mul(entries, I64(MEMMAP_ENTRY_SIZE)))),
        (cmdline, b.add(cmdline, b.add(w.get(n), I64(1)))),
    ]


def _umax(w, a, c):
    return w.b.select(w.b.icmp_unsigned(">", a, c), a, c)


def _page_table_walk(k):
    """applc_kvm_pte(va, level) -> address of the entry for `va` in the table
    at `level` (3 = PDPT ... 1 = PT), allocating missing tables; 0 if a
    large page already maps `va` above that level."""
    w = k.writer("applc_kvm_pte", I64, (I64, I64))
    va, level = w.args
    b = w.b
    table = w.var(I64, b.load(k.pml4))
    shift = w.var(I64, 39)
    # The entry for `level` is indexed by bits [3 + 9*level, 12 + 9*level).
    with w.while_(lambda: b.icmp_unsigned(">", w.get(shift), b.add(I64(3), b.mul(level, I64(9))))):
        slot = b.add(w.get(table), b.mul(b.and_(b.lshr(va, w.get(shift)), I64(511)), I64(8)))
        entry = w.load_at(I64, slot)
        with w.if_(b.icmp_unsigned("==", b.and_(entry, I64(P)), I64(0))):
            fresh = w.call(k.fns["applc_kvm_carve"], I64(PAGE), I64(PAGE))
            w.store_at(I64, slot, b.or_(fresh, I64(P | RW)))
        entry = w.load_at(I64, slot)
        with w.if_(b.icmp_unsigned("!=", b.and_(entry, I64(PS)), I64(0))):
            b.ret(I64(0))
        w.set(table, b.and_(entry, I64(ADDRESS_MASK)))
        w.set(shift, b.sub(w.get(shift), I64(9)))
    b.ret(b.add(w.get(table), b.mul(b.and_(b.lshr(va, w.get(shift)), I64(511)), I64(8))))


def _map_2m(k):
    w = k.writer("applc_kvm_map_2m", VOID, (I64, I64))  # address, flags
    va, flags = w.args
    slot = w.call(k.fns["applc_kvm_pte"], va, I64(2))
    with w.if_(w.b.icmp_unsigned("!=", slot, I64(0))):
        with w.if_(w.b.icmp_unsigned("==", w.load_at(I64, slot), I64(0))):
            w.store_at(I64, slot, w.b.or_(va, w.b.or_(flags, I64(PS))))
    w.b.ret_void()


def _map_4k(k):
    w = k.writer("applc_kvm_map_4k", VOID, (I64, I64))
    va, flags = w.args
    slot = w.call(k.fns["applc_kvm_pte"], va, I64(1))
    with w.if_(w.b.icmp_unsigned("!=", slot, I64(0))):
        w.store_at(I64, slot, w.b.or_(va, flags))
    w.b.ret_void()


def _map_range(k):
    """Map [lo, hi) with `flags`, skipping [skip_lo, skip_hi) (the image)."""
    w = k.writer("applc_kvm_map_range", VOID, (I64, I64, I64, I64, I64))
    lo, hi, flags, skip_lo, skip_hi = w.args
    b = w.b
    va = w.var(I64, b.and_(lo, I64(-PAGE)))
    with w.while_(lambda: b.icmp_unsigned("<", w.get(va), hi)):
        at = w.get(va)
        chunk_end = b.add(at, I64(LARGE))
        aligned = b.icmp_unsigned("==", b.and_(at, I64(LARGE - 1)), I64(0))
        fits = b.icmp_unsigned("<=", chunk_end, hi)
        clear = b.or_(b.icmp_unsigned("<=", chunk_end, skip_lo), b.icmp_unsigned(">=", at, skip_hi))
        not_zero = b.icmp_unsigned("!=", at, I64(0))
        with w.if_else(b.and_(b.and_(aligned, fits), b.and_(clear, not_zero))) as (large, small):
            with large:
                w.call(k.fns["applc_kvm_map_2m"], at, flags)
                w.set(va, chunk_end)
            with small:
                in_skip = b.and_(b.icmp_unsigned(">=", at, skip_lo), b.icmp_unsigned("<", at, skip_hi))
                with w.if_(b.and_(b.not_(in_skip), not_zero)):
                    w.call(k.fns["applc_kvm_map_4k"], at, flags)
                w.set(va, b.add(at, I64(PAGE)))
    b.ret_void()


def _paging_setup(k):
    w = k.writer("applc_kvm_paging_setup", VOID)
    b = w.b
    has_nx = b.icmp_unsigned("!=", b.and_(cpuid(w, 0x80000001)[3], I32(1 << 20)), I32(0))
    nx = b.select(has_nx, I64(NX), I64(0))
    b.store(w.call(k.fns["applc_kvm_carve"], I64(PAGE), I64(PAGE)), k.pml4)
    data = b.or_(I64(P | RW), nx)
    image_lo = b.and_(w.addr(k.text_start), I64(-PAGE))
    image_hi = b.and_(b.add(w.addr(k.image_end), I64(PAGE - 1)), I64(-PAGE))
    _map_image(w, k, image_lo, image_hi, nx)
    si = _start_info(w, k)
    memmap = w.load_at(I64, b.add(si, I64(SI_MEMMAP)))
    entries = b.zext(w.load_at(I32, b.add(si, I64(SI_MEMMAP_ENTRIES))), I64)
    low_ram_end = w.var(I64, 0)
    with w.for_range(0, entries) as i:
        entry = b.add(memmap, b.mul(i, I64(MEMMAP_ENTRY_SIZE)))
        start = w.load_at(I64, entry)
        end = b.add(start, w.load_at(I64, b.add(entry, I64(8))))
        with w.if_(b.icmp_unsigned("==", w.load_at(I32, b.add(entry, I64(16))), I32(E820_RAM))):
            w.call(k.fns["applc_kvm_map_range"], start, end, data, image_lo, image_hi)
            below_4g = b.icmp_unsigned("<=", end, I64(FOUR_GIB))
            with w.if_(b.and_(below_4g, b.icmp_unsigned(">", end, w.get(low_ram_end)))):
                w.set(low_ram_end, end)
    window = b.and_(b.add(w.get(low_ram_end), I64(LARGE - 1)), I64(-LARGE))
    device = b.or_(I64(P | RW | PWT | PCD), nx)
    w.call(k.fns["applc_kvm_map_range"], window, I64(FOUR_GIB), device, image_lo, image_hi)
    write_cr3(w, b.load(k.pml4))
    b.ret_void()


def _map_image(w, k, image_lo, image_hi, nx):
    """Each image page with its own rights; the guard page stays unmapped."""
    b = w.b
    text_lo = image_lo
    text_hi = b.and_(b.add(w.addr(k.text_end), I64(PAGE - 1)), I64(-PAGE))
    ro_lo = b.and_(w.addr(k.rodata_start), I64(-PAGE))
    ro_hi = b.and_(b.add(w.addr(k.rodata_end), I64(PAGE - 1)), I64(-PAGE))
    guard = w.addr(k.stack_guard)
    with w.for_range(image_lo, image_hi, PAGE) as page:
        in_text = b.and_(b.icmp_unsigned(">=", page, text_lo), b.icmp_unsigned("<", page, text_hi))
        in_ro = b.and_(b.icmp_unsigned(">=", page, ro_lo), b.icmp_unsigned("<", page, ro_hi))
        flags = b.select(in_text, I64(P), b.select(in_ro, b.or_(I64(P), nx), b.or_(I64(P | RW), nx)))
        with w.if_(b.icmp_unsigned("!=", page, guard)):
            w.call(k.fns["applc_kvm_map_4k"], page, flags)
