"""applc's ELF linker: relocatable objects in, one static executable image out.

In: ELF64 x86-64 relocatable objects as llvmlite emits them
(`TargetMachine.emit_object`, reloc="static", codemodel="small") and a
`LinkSpec` (base address, entry symbol, physical addressing, symbols kept).
Out: a `LinkResult` -- the image bytes (an ET_EXEC that Linux runs and that
QEMU/Firecracker boot through PVH) and a symbol map for `applc build --report`.

The pipeline, one module each:
    objfile.py   decode each object
    inputs.py    keep/drop/classify sections, resolve symbols
    relocate.py  find GOT needs and relaxations            (before layout)
    layout.py    addresses and file offsets, W^X segments
    relocate.py  patch the sections, fill the GOT            (after layout)
    writer.py    ELF header, program headers, optional symbol table

Deterministic by construction: every ordering follows the input order (or a
sort), and nothing reads the clock or the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import attrs

from applc.link.errors import LinkError
from applc.link.inputs import KINDS, LINKER_SYMBOLS, Definition, InputSection, SymbolTable, collect_sections
from applc.link.layout import SEGMENTS, KindRange, lay_out
from applc.link.objfile import read_object
from applc.link.relocate import Relocator
from applc.link.writer import OUTPUT_NAMES, ImagePlan, program_header_count, write_image
from applc.link import elfdefs as E

__all__ = ["LinkError", "LinkResult", "LinkSpec", "OutputSection", "SymbolInfo", "link"]


@attrs.frozen
class LinkSpec:
    """How to lay out the image.

    base_address: virtual address of the first (text) page; page aligned.
    entry: the symbol e_entry points at.
    physical_equals_virtual: p_paddr = p_vaddr (PVH: the loader places each
        segment at its physical address); otherwise p_paddr is 0.
    keep_symbols: emit .symtab/.strtab and section headers (for debugging);
        False strips them, giving the smallest image.
    gnu_stack: emit PT_GNU_STACK (RW) so Linux maps a non-executable stack.
    """

    base_address: int
    entry: str
    physical_equals_virtual: bool = False
    keep_symbols: bool = False
    gnu_stack: bool = False
    page_size: int = 4096


class SymbolInfo(NamedTuple):
    """One entry of the symbol map; unpacks as (address, size, section)."""

    address: int
    size: int
    section: str  # output section (".text", ".rodata", ...) or "*ABS*"


@attrs.frozen
class OutputSection:
    name: str
    address: int
    size: int
    file_size: int


@attrs.frozen
class LinkResult:
    image: bytes
    entry: int
    symbols: Mapping[str, SymbolInfo]
    sections: tuple[OutputSection, ...]


def link(objects: list[bytes], spec: LinkSpec, names: list[str] | None = None) -> LinkResult:
    """Link `objects` into one executable image; LinkError on any problem.

    `names` label the objects in error messages (default "object #i").
    """
    labels = names or [f"object #{i}" for i in range(len(objects))]
    objs = [read_object(data, label) for data, label in zip(objects, labels, strict=True)]
    kept = collect_sections(objs)
    symtab = SymbolTable(objs, kept)
    linker_defs = symtab.define_linker_symbols(LINKER_SYMBOLS)
    relocator = Relocator(objs, kept, symtab)
    got = _got_section(relocator.plan())

    by_kind = _group_by_kind(list(kept.values()) + symtab.commons + ([got] if got else []))
    nonempty = sum(1 for _n, _f, kinds in SEGMENTS if any(by_kind[k] for k in kinds))
    phnum = program_header_count(nonempty, bool(by_kind["note"]), spec.gnu_stack)
    header_size = E.EHDR.size + phnum * E.PHDR.size
    segments, ranges = lay_out(by_kind, spec.base_address, spec.page_size, header_size)
    _set_linker_symbols(linker_defs, ranges, segments, spec.base_address)
    relocator.apply(got)

    entry = _entry_address(symtab, spec.entry)
    map_defs = _map_definitions(symtab)
    plan = ImagePlan(entry, spec.physical_equals_virtual, spec.gnu_stack, segments, by_kind, ranges)
    image = write_image(plan, map_defs if spec.keep_symbols else None)
    return LinkResult(
        image=image,
        entry=entry,
        symbols=_symbol_map(map_defs),
        sections=_output_sections(by_kind, ranges),
    )


def _got_section(size: int) -> InputSection | None:
    if not size:
        return None
    return InputSection(-1, ".got", "got", 8, size, bytearray(size), "GOT")


def _group_by_kind(sections: list[InputSection]) -> dict[str, list[InputSection]]:
    by_kind: dict[str, list[InputSection]] = {k: [] for k in KINDS}
    for s in sections:
        by_kind[s.kind].append(s)
    return by_kind


def _set_linker_symbols(defs: list[Definition], ranges: dict[str, KindRange], segments, base: int) -> None:
    image_end = max((seg.vaddr + seg.memsz for seg in segments), default=base)
    rodata = KindRange(ranges["note"].start, ranges["got"].end)  # the whole read-only segment
    values = {
        "__text_start": ranges["text"].start, "__text_end": ranges["text"].end,
        "__rodata_start": rodata.start, "__rodata_end": rodata.end,
        "__data_start": ranges["data"].start, "__data_end": ranges["data"].end,
        "__bss_start": ranges["bss"].start, "__bss_end": ranges["bss"].end,
        "__noinit_start": ranges["noinit"].start, "__noinit_end": ranges["noinit"].end,
        "__image_end": image_end,
    }
    for d in defs:
        d.value = values[d.name]


def _entry_address(symtab: SymbolTable, name: str) -> int:
    d = symtab.globals.get(name)
    if d is None or d.binding in ("linker", "undefined-weak"):
        raise LinkError(f"undefined entry symbol '{name}'", name)
    return d.address


def _map_definitions(symtab: SymbolTable) -> list[Definition]:
    globals_ = [d for d in symtab.globals.values() if d.binding != "undefined-weak"]
    return symtab.local_definitions() + globals_


def _symbol_map(defs: list[Definition]) -> dict[str, SymbolInfo]:
    """Name -> SymbolInfo; a local that repeats a name is keyed 'name@object'."""
    result: dict[str, SymbolInfo] = {}
    for d in sorted(defs, key=lambda d: d.binding == "local"):  # globals claim plain names first
        section = OUTPUT_NAMES[d.section.kind] if d.section is not None else "*ABS*"
        key = d.name if d.name not in result else f"{d.name}@{d.origin}"
        result[key] = SymbolInfo(d.address, d.size, section)
    return result


def _output_sections(by_kind: dict[str, list[InputSection]], ranges: dict[str, KindRange]) -> tuple[OutputSection, ...]:
    out = []
    for kind, name in OUTPUT_NAMES.items():
        if by_kind[kind]:
            r = ranges[kind]
            file_size = 0 if kind in ("bss", "noinit") else r.end - r.start
            out.append(OutputSection(name, r.start, r.end - r.start, file_size))
    return tuple(out)
