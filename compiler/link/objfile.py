"""Reader for ELF64 x86-64 relocatable objects (the `.o` files LLVM emits).

In: the bytes of one object (`TargetMachine.emit_object`) and a display name.
Out: an `ObjectFile` -- its sections (with contents), symbols, RELA
relocations grouped by the section they patch, and COMDAT groups. Nothing is
interpreted here beyond decoding; elf.py decides what is kept and where it
goes. Malformed input raises LinkError naming the object, never IndexError.
"""

from __future__ import annotations

import struct

import attrs

from applc.link import elfdefs as E
from applc.link.errors import LinkError


@attrs.frozen
class Section:
    index: int
    name: str
    type: int
    flags: int
    align: int
    size: int
    data: bytes  # empty for SHT_NOBITS
    link: int
    info: int


@attrs.frozen
class Symbol:
    index: int
    name: str
    value: int
    size: int
    bind: int
    type: int
    shndx: int  # already resolved through SHT_SYMTAB_SHNDX


@attrs.frozen
class Reloc:
    offset: int
    type: int
    sym: int  # index into the object's symbol list
    addend: int


@attrs.frozen
class Group:
    signature: str
    comdat: bool
    members: tuple[int, ...]


@attrs.frozen
class ObjectFile:
    name: str
    sections: tuple[Section, ...]
    symbols: tuple[Symbol, ...]
    relocs: dict[int, tuple[Reloc, ...]]  # patched section index -> relocations
    groups: tuple[Group, ...]


def read_object(data: bytes, name: str) -> ObjectFile:
    """Decode one relocatable object; LinkError if it is not one we can link."""
    try:
        return _Reader(data, name).read()
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise LinkError(f"{name}: malformed ELF object ({exc})") from None


class _Reader:
    def __init__(self, data: bytes, name: str):
        self.data = data
        self.name = name

    def read(self) -> ObjectFile:
        shoff, shnum, shstrndx = self._header()
        raw = [E.SHDR.unpack_from(self.data, shoff + i * E.SHDR.size) for i in range(shnum)]
        if shnum == 0 and shoff:
            # Extended numbering: the real counts live in section header 0.
            first = E.SHDR.unpack_from(self.data, shoff)
            shnum = first[5]
            raw = [E.SHDR.unpack_from(self.data, shoff + i * E.SHDR.size) for i in range(shnum)]
        if shstrndx == E.SHN_XINDEX:
            shstrndx = raw[0][6]
        names = self._bytes_of(raw[shstrndx]) if raw else b""
        sections = tuple(self._section(i, h, names) for i, h in enumerate(raw))
        symbols = self._symbols(sections)
        return ObjectFile(
            name=self.name,
            sections=sections,
            symbols=symbols,
            relocs=self._relocs(sections, len(symbols)),
            groups=self._groups(sections, symbols),
        )

    def _header(self) -> tuple[int, int, int]:
        if len(self.data) < E.EHDR.size or self.data[:4] != E.ELFMAG:
            raise LinkError(f"{self.name}: not an ELF file")
        fields = E.EHDR.unpack_from(self.data, 0)
        ident, etype, machine = fields[0], fields[1], fields[2]
        if ident[4] != E.ELFCLASS64 or ident[5] != E.ELFDATA2LSB:
            raise LinkError(f"{self.name}: not a little-endian ELF64 object")
        if etype != E.ET_REL:
            raise LinkError(f"{self.name}: not a relocatable object (e_type {etype})")
        if machine != E.EM_X86_64:
            raise LinkError(f"{self.name}: not an x86-64 object (e_machine {machine})")
        return fields[6], fields[12], fields[13]

    def _bytes_of(self, header) -> bytes:
        _name, stype, _flags, _addr, offset, size = header[:6]
        if stype == E.SHT_NOBITS:
            return b""
        if offset + size > len(self.data):
            raise LinkError(f"{self.name}: section data runs past the end of the file")
        return self.data[offset : offset + size]

    def _section(self, index: int, header, names: bytes) -> Section:
        name_off, stype, flags, _addr, _off, size, link, info, align, _entsize = header
        return Section(
            index=index,
            name=_cstr(names, name_off),
            type=stype,
            flags=flags,
            align=max(align, 1),
            size=size,
            data=self._bytes_of(header),
            link=link,
            info=info,
        )

    def _symbols(self, sections: tuple[Section, ...]) -> tuple[Symbol, ...]:
        symtabs = [s for s in sections if s.type == E.SHT_SYMTAB]
        if not symtabs:
            return ()
        symtab = symtabs[0]
        strtab = sections[symtab.link].data
        xindex = self._xindex_table(sections, symtab.index)
        count = len(symtab.data) // E.SYM.size
        result = []
        for i in range(count):
            name_off, info, _other, shndx, value, size = E.SYM.unpack_from(symtab.data, i * E.SYM.size)
            if shndx == E.SHN_XINDEX:
                shndx = xindex[i]
            result.append(
                Symbol(i, _cstr(strtab, name_off), value, size, info >> 4, info & 0xF, shndx)
            )
        return tuple(result)

    @staticmethod
    def _xindex_table(sections: tuple[Section, ...], symtab_index: int) -> tuple[int, ...]:
        for s in sections:
            if s.type == E.SHT_SYMTAB_SHNDX and s.link == symtab_index:
                return struct.unpack(f"<{len(s.data) // 4}I", s.data)
        return ()

    def _relocs(self, sections: tuple[Section, ...], nsyms: int) -> dict[int, tuple[Reloc, ...]]:
        result: dict[int, tuple[Reloc, ...]] = {}
        for s in sections:
            if s.type == E.SHT_REL and sections[s.info].flags & E.SHF_ALLOC:
                raise LinkError(f"{self.name}: REL relocations in {s.name} are not supported (x86-64 uses RELA)")
            if s.type != E.SHT_RELA:
                continue
            relocs = []
            for off in range(0, len(s.data) - E.RELA.size + 1, E.RELA.size):
                r_offset, r_info, addend = E.RELA.unpack_from(s.data, off)
                sym = r_info >> 32
                if sym >= nsyms:
                    raise LinkError(f"{self.name}: relocation in {s.name} names symbol #{sym}, which does not exist")
                relocs.append(Reloc(r_offset, r_info & 0xFFFFFFFF, sym, addend))
            result[s.info] = tuple(relocs)
        return result

    def _groups(self, sections: tuple[Section, ...], symbols: tuple[Symbol, ...]) -> tuple[Group, ...]:
        groups = []
        for s in sections:
            if s.type != E.SHT_GROUP:
                continue
            words = struct.unpack(f"<{len(s.data) // 4}I", s.data)
            groups.append(
                Group(
                    signature=symbols[s.info].name,
                    comdat=bool(words and words[0] & E.GRP_COMDAT),
                    members=tuple(words[1:]),
                )
            )
        return tuple(groups)


def _cstr(table: bytes, offset: int) -> str:
    end = table.index(b"\0", offset)
    return table[offset:end].decode("utf-8")
