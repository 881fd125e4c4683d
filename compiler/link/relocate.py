"""Applying x86-64 relocations, relaxing GOT loads, and building the GOT.

In: the kept input sections (with their addresses, after layout) and the
symbol table. Out: section contents patched in place; a GOT for the GOT
references that could not be relaxed.

Formulas (psABI): S symbol address, A addend, P address of the patched
field, Z symbol size, G address of the symbol's GOT entry.

    R_X86_64_64 S+A             R_X86_64_32   S+A (fits unsigned 32)
    R_X86_64_PC64 S+A-P         R_X86_64_32S  S+A (fits signed 32)
    R_X86_64_PC32/PLT32 S+A-P   R_X86_64_16/8 S+A (fits 16/8 bits)
    R_X86_64_GOTPCREL[X] G+A-P  R_X86_64_PC16/PC8 S+A-P
    R_X86_64_SIZE32/64 Z+A

PLT32 is resolved directly: a static image has no PLT. GOT relaxation (the
image is static, so every symbol's address is a link-time constant):
`mov foo@GOTPCREL(%rip),%r` becomes `lea foo(%rip),%r`, `call *foo@GOTPCREL`
becomes `addr32 call foo` and `jmp *foo@GOTPCREL` becomes `nop; jmp foo` --
each keeps the 32-bit field where it was, so the formula becomes S+A-P.
Other instructions (and plain GOTPCREL, which promises nothing about the
instruction) keep their GOT load; the GOT then lives in the read-only segment
since nothing ever rewrites it at run time.
"""

from __future__ import annotations

import struct

import attrs

from applc.link import elfdefs as E
from applc.link.errors import LinkError
from applc.link.inputs import Definition, InputSection, SymbolTable
from applc.link.objfile import ObjectFile, Reloc


@attrs.frozen
class _Kind:
    width: int
    pc_relative: bool
    fits: str  # "any", "unsigned", "signed" or "either" (signed or unsigned)


_KINDS = {
    E.R_X86_64_64: _Kind(8, False, "any"),
    E.R_X86_64_PC64: _Kind(8, True, "any"),
    E.R_X86_64_PC32: _Kind(4, True, "signed"),
    E.R_X86_64_PLT32: _Kind(4, True, "signed"),
    E.R_X86_64_32: _Kind(4, False, "unsigned"),
    E.R_X86_64_32S: _Kind(4, False, "signed"),
    E.R_X86_64_16: _Kind(2, False, "either"),
    E.R_X86_64_PC16: _Kind(2, True, "signed"),
    E.R_X86_64_8: _Kind(1, False, "either"),
    E.R_X86_64_PC8: _Kind(1, True, "signed"),
    E.R_X86_64_GOTPCREL: _Kind(4, True, "signed"),
    E.R_X86_64_GOTPCRELX: _Kind(4, True, "signed"),
    E.R_X86_64_REX_GOTPCRELX: _Kind(4, True, "signed"),
    E.R_X86_64_SIZE32: _Kind(4, False, "unsigned"),
    E.R_X86_64_SIZE64: _Kind(8, False, "any"),
}
_GOT_TYPES = (E.R_X86_64_GOTPCREL, E.R_X86_64_GOTPCRELX, E.R_X86_64_REX_GOTPCRELX)
_RELAXABLE_TYPES = (E.R_X86_64_GOTPCRELX, E.R_X86_64_REX_GOTPCRELX)

_MOV_LOAD, _LEA = 0x8B, 0x8D
_INDIRECT, _CALL_MODRM, _JMP_MODRM = 0xFF, 0x15, 0x25


@attrs.define
class Relocator:
    """Decides GOT needs before layout, then patches sections after it."""

    objects: list[ObjectFile]
    kept: dict[tuple[int, int], InputSection]
    symbols: SymbolTable
    got_entries: dict[Definition, int] = attrs.field(factory=dict)  # -> index
    relaxed: set[tuple[int, int, int]] = attrs.field(factory=set)  # (obj, sec, offset)

    def plan(self) -> int:
        """Find GOT references; relax what can be relaxed. Returns the GOT size."""
        for (oi, si), sec, reloc in self._relocations():
            if reloc.type not in _GOT_TYPES:
                continue
            target = self.symbols.lookup(oi, reloc.sym, _where(sec, reloc))
            if reloc.type in _RELAXABLE_TYPES and target.in_image and _relaxable(sec.data, reloc):
                self.relaxed.add((oi, si, reloc.offset))
            elif target not in self.got_entries:
                self.got_entries[target] = len(self.got_entries)
        return 8 * len(self.got_entries)

    def apply(self, got: InputSection | None) -> None:
        """Patch every kept section; fill the GOT. Call after layout."""
        if got is not None:
            got.data = bytearray(b"".join(struct.pack("<Q", d.address & (2**64 - 1)) for d in self.got_entries))
        for (oi, si), sec, reloc in self._relocations():
            self._apply_one(oi, si, sec, reloc, got)

    def _relocations(self):
        for (oi, si), sec in self.kept.items():
            for reloc in self.objects[oi].relocs.get(si, ()):
                if reloc.type != E.R_X86_64_NONE:
                    yield (oi, si), sec, reloc

    def _apply_one(self, oi: int, si: int, sec: InputSection, reloc: Reloc, got: InputSection | None) -> None:
        where = _where(sec, reloc)
        kind = _KINDS.get(reloc.type)
        if kind is None:
            raise LinkError(f"{where}: unsupported relocation {E.reloc_name(reloc.type)}")
        if reloc.offset + kind.width > len(sec.data):
            raise LinkError(f"{where}: relocation {E.reloc_name(reloc.type)} lies outside the section")
        target = self.symbols.lookup(oi, reloc.sym, where)
        place = sec.address + reloc.offset
        if reloc.type in _GOT_TYPES:
            if (oi, si, reloc.offset) in self.relaxed:
                _rewrite_instruction(sec.data, reloc.offset)
                base = target.address
            else:
                base = got.address + 8 * self.got_entries[target]
        elif reloc.type in (E.R_X86_64_SIZE32, E.R_X86_64_SIZE64):
            base = target.size
        else:
            base = target.address
        value = base + reloc.addend - (place if kind.pc_relative else 0)
        _check_fits(value, kind, reloc, target, where)
        sec.data[reloc.offset : reloc.offset + kind.width] = (value & ((1 << (8 * kind.width)) - 1)).to_bytes(
            kind.width, "little"
        )


def _where(sec: InputSection, reloc: Reloc) -> str:
    return f"{sec.origin}+{reloc.offset:#x}"


def _relaxable(data: bytearray, reloc: Reloc) -> bool:
    """True for the three instruction forms whose GOT load can become direct."""
    if reloc.addend != -4 or reloc.offset < 2:
        return False
    opcode, modrm = data[reloc.offset - 2], data[reloc.offset - 1]
    if opcode == _MOV_LOAD and modrm & 0xC7 == 0x05:  # mov disp32(%rip), %reg
        return True
    return reloc.type == E.R_X86_64_GOTPCRELX and opcode == _INDIRECT and modrm in (_CALL_MODRM, _JMP_MODRM)


def _rewrite_instruction(data: bytearray, offset: int) -> None:
    opcode, modrm = data[offset - 2], data[offset - 1]
    if opcode == _MOV_LOAD:
        data[offset - 2] = _LEA
    elif modrm == _CALL_MODRM:
        data[offset - 2 : offset] = b"\x67\xe8"  # addr32 call rel32
    else:
        data[offset - 2 : offset] = b"\x90\xe9"  # nop; jmp rel32


def _check_fits(value: int, kind: _Kind, reloc: Reloc, target: Definition, where: str) -> None:
    bits = 8 * kind.width
    signed_ok = -(1 << (bits - 1)) <= value < (1 << (bits - 1))
    unsigned_ok = 0 <= value < (1 << bits)
    ok = {
        "any": True,
        "signed": signed_ok,
        "unsigned": unsigned_ok,
        "either": signed_ok or unsigned_ok,
    }[kind.fits]
    if not ok:
        raise LinkError(
            f"{where}: relocation {E.reloc_name(reloc.type)} against '{target.name}' out of range: "
            f"value {value:#x} does not fit in {bits} bits"
            + (" (signed)" if kind.fits == "signed" else " (unsigned)" if kind.fits == "unsigned" else ""),
            target.name,
        )
