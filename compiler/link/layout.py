"""Placing input sections in memory and in the file.

In: the kept `InputSection`s grouped by kind (inputs.KINDS), the base address
and page size. Out: every section's `address` and `file_offset` filled in, and
the list of `Segment`s (PT_LOAD) with their permissions.

Segments (W^X; each starts on a fresh page so it can have its own rights):
    text    R X   .text*
    rodata  R     notes (first, so PT_NOTE is one range), .rodata*, GOT
    data    RW    .data*, then .bss* and COMMON, then .noinit* (both NOBITS)

No padding waste: the file is packed (sections only aligned to their own
alignment), and each segment's virtual start is chosen on a fresh page but
*congruent to its file offset modulo the page size*, which is all that ELF
loaders (Linux, QEMU, Firecracker) require. A segment therefore starts a few
hundred bytes into its page rather than at the page boundary.
"""

from __future__ import annotations

import attrs

from applc.link import elfdefs as E
from applc.link.inputs import NOBITS_KINDS, InputSection

SEGMENTS = (
    ("text", E.PF_R | E.PF_X, ("text",)),
    ("rodata", E.PF_R, ("note", "rodata", "got")),
    ("data", E.PF_R | E.PF_W, ("data", "bss", "noinit")),
)


@attrs.define
class Segment:
    name: str
    flags: int
    sections: list[InputSection]
    vaddr: int = 0
    offset: int = 0
    filesz: int = 0
    memsz: int = 0
    align: int = 0


@attrs.frozen
class KindRange:
    start: int
    end: int


def align_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def lay_out(
    by_kind: dict[str, list[InputSection]], base: int, page: int, header_size: int
) -> tuple[list[Segment], dict[str, KindRange]]:
    """Assign addresses and offsets; returns the non-empty segments and kind ranges."""
    if base % page:
        raise ValueError(f"base address {base:#x} is not page aligned")
    segments = []
    ranges: dict[str, KindRange] = {}
    vaddr, offset = base, header_size
    for name, flags, kinds in SEGMENTS:
        sections = [s for k in kinds for s in by_kind.get(k, [])]
        if not sections:
            for k in kinds:
                ranges[k] = KindRange(vaddr, vaddr)
            continue
        seg = Segment(name, flags, sections)
        _place_segment(seg, vaddr, offset, page)
        ranges.update(_kind_ranges(by_kind, kinds, seg.vaddr))
        segments.append(seg)
        vaddr, offset = seg.vaddr + seg.memsz, seg.offset + seg.filesz
    return segments, ranges


def _place_segment(seg: Segment, vaddr: int, offset: int, page: int) -> None:
    align = max(s.align for s in seg.sections)
    # Only sections with file contents constrain the file offset; NOBITS
    # ones are aligned by their addresses alone (see the cursor below).
    file_align = max((s.align for s in seg.sections if s.kind not in NOBITS_KINDS), default=1)
    if align > page:
        seg.offset = align_up(offset, page)
        seg.vaddr = align_up(vaddr, align)
    else:
        seg.offset = align_up(offset, file_align)
        seg.vaddr = align_up(vaddr, page) + seg.offset % page
    seg.align = max(align, page)
    cursor = seg.vaddr
    file_end = seg.vaddr
    for s in seg.sections:
        cursor = align_up(cursor, s.align)
        s.address = cursor
        s.file_offset = seg.offset + (cursor - seg.vaddr)
        cursor += s.size
        if s.kind not in NOBITS_KINDS:
            file_end = cursor
    seg.filesz = file_end - seg.vaddr
    seg.memsz = cursor - seg.vaddr


def _kind_ranges(by_kind: dict[str, list[InputSection]], kinds, start: int) -> dict[str, KindRange]:
    """[start, end) of each kind; an empty kind sits where it would have begun."""
    ranges = {}
    cursor = start
    for k in kinds:
        sections = by_kind.get(k, [])
        if sections:
            cursor = sections[-1].address + sections[-1].size
            ranges[k] = KindRange(sections[0].address, cursor)
        else:
            ranges[k] = KindRange(cursor, cursor)
    return ranges
