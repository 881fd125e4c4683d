"""Serialising a laid-out image as an ELF64 executable.

In: the segments from layout.py (sections already relocated), the entry
address and, optionally, the symbols to keep. Out: the file bytes:

    ELF header | program headers | text | notes+rodata+GOT | data
    [ .symtab | .strtab | .shstrtab | section headers ]   (keep_symbols only)

Program headers: one PT_LOAD per segment, PT_NOTE over the note sections
(QEMU and Xen find the PVH entry note through it), and PT_GNU_STACK when
asked (Linux then gives the process a non-executable stack). A stripped
image has no section headers at all: loaders only read program headers.
"""

from __future__ import annotations


import attrs

from applc.link import elfdefs as E
from applc.link.inputs import NOBITS_KINDS, Definition, InputSection
from applc.link.layout import KindRange, Segment, align_up

OUTPUT_NAMES = {
    "text": ".text", "note": ".note", "rodata": ".rodata", "got": ".got",
    "data": ".data", "bss": ".bss", "noinit": ".noinit",
}
_KIND_FLAGS = {
    "text": E.SHF_ALLOC | E.SHF_EXECINSTR,
    "note": E.SHF_ALLOC, "rodata": E.SHF_ALLOC, "got": E.SHF_ALLOC,
    "data": E.SHF_ALLOC | E.SHF_WRITE, "bss": E.SHF_ALLOC | E.SHF_WRITE, "noinit": E.SHF_ALLOC | E.SHF_WRITE,
}


@attrs.frozen
class ImagePlan:
    entry: int
    physical_equals_virtual: bool
    gnu_stack: bool
    segments: list[Segment]
    by_kind: dict[str, list[InputSection]]
    ranges: dict[str, KindRange]


def program_header_count(nonempty_segments: int, has_notes: bool, gnu_stack: bool) -> int:
    return nonempty_segments + int(has_notes) + int(gnu_stack)


def write_image(plan: ImagePlan, symbols: list[Definition] | None) -> bytes:
    """The ELF file; `symbols` None means stripped (no section headers)."""
    phdrs = _program_headers(plan)
    out = bytearray(E.EHDR.size + E.PHDR.size * len(phdrs))
    for seg in plan.segments:
        for sec in seg.sections:
            if sec.kind not in NOBITS_KINDS and sec.size:
                _put(out, sec.file_offset, bytes(sec.data))
    shoff, shnum, shstrndx = 0, 0, 0
    if symbols is not None:
        shoff, shnum, shstrndx = _append_section_headers(out, plan, symbols)
    ident = E.ELFMAG + bytes([E.ELFCLASS64, E.ELFDATA2LSB, E.EV_CURRENT]) + bytes(9)
    E.EHDR.pack_into(
        out, 0, ident, E.ET_EXEC, E.EM_X86_64, E.EV_CURRENT, plan.entry, E.EHDR.size, shoff, 0,
        E.EHDR.size, E.PHDR.size, len(phdrs), E.SHDR.size, shnum, shstrndx,
    )
    for i, ph in enumerate(phdrs):
        E.PHDR.pack_into(out, E.EHDR.size + i * E.PHDR.size, *ph)
    return bytes(out)


def _put(out: bytearray, offset: int, data: bytes) -> None:
    if len(out) < offset + len(data):
        out.extend(bytes(offset + len(data) - len(out)))
    out[offset : offset + len(data)] = data


def _program_headers(plan: ImagePlan) -> list[tuple]:
    def paddr(vaddr: int) -> int:
        return vaddr if plan.physical_equals_virtual else 0

    phdrs = [
        (E.PT_LOAD, seg.flags, seg.offset, seg.vaddr, paddr(seg.vaddr), seg.filesz, seg.memsz, seg.align)
        for seg in plan.segments
    ]
    notes = plan.by_kind.get("note", [])
    if notes:
        r = plan.ranges["note"]
        # QEMU pads the note name to p_align, so keep the notes' own (4-byte) alignment.
        align = max(s.align for s in notes)
        phdrs.append((E.PT_NOTE, E.PF_R, notes[0].file_offset, r.start, paddr(r.start), r.end - r.start, r.end - r.start, align))
    if plan.gnu_stack:
        phdrs.append((E.PT_GNU_STACK, E.PF_R | E.PF_W, 0, 0, 0, 0, 0, 16))
    return phdrs


def _append_section_headers(out: bytearray, plan: ImagePlan, symbols: list[Definition]) -> tuple[int, int, int]:
    kinds = [k for k in OUTPUT_NAMES if plan.by_kind.get(k)]
    index_of = {k: i + 1 for i, k in enumerate(kinds)}
    shstr = _StringTable()
    headers = [(0,) * 10]
    for k in kinds:
        secs, r = plan.by_kind[k], plan.ranges[k]
        stype = E.SHT_NOBITS if k in NOBITS_KINDS else (E.SHT_NOTE if k == "note" else E.SHT_PROGBITS)
        align = max(s.align for s in secs)
        headers.append((shstr.add(OUTPUT_NAMES[k]), stype, _KIND_FLAGS[k], r.start, secs[0].file_offset, r.end - r.start, 0, 0, align, 0))
    symtab, strtab, nlocal = _symbol_table(symbols, index_of)
    symtab_index = len(headers)
    for name, stype, data, link, info, align, entsize in (
        (".symtab", E.SHT_SYMTAB, symtab, symtab_index + 1, nlocal, 8, E.SYM.size),
        (".strtab", E.SHT_STRTAB, strtab, 0, 0, 1, 0),
    ):
        offset = align_up(len(out), align)
        _put(out, offset, data)
        headers.append((shstr.add(name), stype, 0, 0, offset, len(data), link, info, align, entsize))
    shstrndx = len(headers)
    name_off = shstr.add(".shstrtab")
    offset = len(out)
    _put(out, offset, shstr.data())
    headers.append((name_off, E.SHT_STRTAB, 0, 0, offset, len(shstr.data()), 0, 0, 1, 0))
    shoff = align_up(len(out), 8)
    for i, h in enumerate(headers):
        _put(out, shoff + i * E.SHDR.size, E.SHDR.pack(*h))
    return shoff, len(headers), shstrndx


def _symbol_table(symbols: list[Definition], index_of: dict[str, int]) -> tuple[bytes, bytes, int]:
    strtab = _StringTable()
    ordered = sorted(symbols, key=lambda d: (d.binding != "local", d.address, d.name))
    entries = [E.SYM.pack(0, 0, 0, 0, 0, 0)]
    nlocal = 1
    for d in ordered:
        bind = E.STB_LOCAL if d.binding == "local" else (E.STB_WEAK if d.binding == "weak" else E.STB_GLOBAL)
        nlocal += bind == E.STB_LOCAL
        shndx = index_of[d.section.kind] if d.section is not None else E.SHN_ABS
        info = (bind << 4) | (d.type & 0xF)
        entries.append(E.SYM.pack(strtab.add(d.name), info, 0, shndx, d.address & (2**64 - 1), d.size))
    return b"".join(entries), strtab.data(), nlocal


class _StringTable:
    def __init__(self):
        self._data = bytearray(b"\0")
        self._index: dict[str, int] = {"": 0}

    def add(self, name: str) -> int:
        if name not in self._index:
            self._index[name] = len(self._data)
            self._data += name.encode() + b"\0"
        return self._index[name]

    def data(self) -> bytes:
        return bytes(self._data)
