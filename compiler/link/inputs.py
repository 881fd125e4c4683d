"""Choosing the input sections that go into the image, and resolving symbols.

In: decoded `ObjectFile`s (objfile.py). Out: `InputSection`s sorted into
output kinds (text, note, rodata, data, bss, noinit; see KINDS) and a
`SymbolTable` that maps every symbol reference to its `Definition`.

What is dropped, and why it is safe:
- non-ALLOC sections (.comment, .note.GNU-stack, .llvm_addrsig, .debug_*,
  .symtab, .rela*): they are not part of the running image;
- .eh_frame: nothing in an applc image unwinds (exceptions are checked error
  returns), and its relocations point *from* it, so dropping it together with
  its .rela section leaves no dangling reference; a kept section that did
  refer into it would get a LinkError, not a wrong address;
- later copies of a COMDAT group whose signature was already seen.
Refused with a LinkError: TLS, constructor arrays (nothing would run them),
and writable+executable input sections (the image is W^X).
"""

from __future__ import annotations

import attrs

from applc.link import elfdefs as E
from applc.link.errors import LinkError
from applc.link.objfile import ObjectFile, Section, Symbol

# Output kinds in image order; layout.py groups them into segments.
KINDS = ("text", "note", "rodata", "got", "data", "bss", "noinit")
NOBITS_KINDS = ("bss", "noinit")

# Symbols the linker defines when the program refers to them (and does not
# define them itself): start/end of each kind's range, and of the image.
LINKER_SYMBOLS = (
    "__text_start", "__text_end",
    "__rodata_start", "__rodata_end",
    "__data_start", "__data_end",
    "__bss_start", "__bss_end",
    "__noinit_start", "__noinit_end",
    "__image_end",
)


@attrs.define(eq=False)
class InputSection:
    """One section that goes into the image; layout.py fills in `address`."""

    obj: int
    name: str
    kind: str
    align: int
    size: int
    data: bytearray  # empty for NOBITS kinds
    origin: str  # "object name: section name", for messages
    address: int = 0
    file_offset: int = 0


@attrs.define(eq=False)
class Definition:
    """Where a symbol lives: in a section, at an absolute value, or nowhere."""

    name: str
    section: InputSection | None  # None: absolute, undefined weak or linker-defined
    value: int  # offset in section, or absolute value
    size: int
    binding: str  # "global", "weak", "local", "common", "linker", "undefined-weak"
    origin: str
    type: int = E.STT_NOTYPE

    @property
    def address(self) -> int:
        return (self.section.address if self.section else 0) + self.value

    @property
    def in_image(self) -> bool:
        """True when the address is inside the image (so rip-relative reaches it)."""
        return self.section is not None or self.binding == "linker"


def classify(sec: Section) -> str | None:
    """The output kind of an input section, or None to drop it."""
    if not sec.flags & E.SHF_ALLOC:
        return None
    if sec.name.startswith(".eh_frame") or sec.type == E.SHT_X86_64_UNWIND:
        return None
    if sec.flags & E.SHF_TLS:
        raise LinkError(f"section {sec.name}: thread-local storage is not supported")
    if sec.type in (E.SHT_INIT_ARRAY, E.SHT_FINI_ARRAY, E.SHT_PREINIT_ARRAY) or sec.name.startswith(
        (".init_array", ".fini_array", ".ctors", ".dtors")
    ):
        raise LinkError(f"section {sec.name}: global constructors/destructors are not supported")
    if sec.flags & E.SHF_EXECINSTR:
        if sec.flags & E.SHF_WRITE:
            raise LinkError(f"section {sec.name} is both writable and executable (the image is W^X)")
        return "text"
    if sec.type == E.SHT_NOTE:
        return "note"
    if sec.name == ".noinit" or sec.name.startswith(".noinit."):
        return "noinit"
    if sec.type == E.SHT_NOBITS:
        return "bss"
    return "data" if sec.flags & E.SHF_WRITE else "rodata"


def collect_sections(objects: list[ObjectFile]) -> dict[tuple[int, int], InputSection]:
    """Kept input sections, keyed by (object index, section index), in input order."""
    seen_groups: set[str] = set()
    kept: dict[tuple[int, int], InputSection] = {}
    for oi, obj in enumerate(objects):
        discarded = _discarded_by_comdat(obj, seen_groups)
        for sec in obj.sections:
            if sec.index in discarded:
                continue
            try:
                kind = classify(sec)
            except LinkError as exc:
                raise LinkError(f"{obj.name}: {exc}") from None
            if kind is not None:
                kept[(oi, sec.index)] = _input_section(oi, obj, sec, kind)
    return kept


def _discarded_by_comdat(obj: ObjectFile, seen: set[str]) -> set[int]:
    discarded: set[int] = set()
    for group in obj.groups:
        if not group.comdat:
            continue
        if group.signature in seen:
            discarded.update(group.members)
        else:
            seen.add(group.signature)
    return discarded


def _input_section(oi: int, obj: ObjectFile, sec: Section, kind: str) -> InputSection:
    origin = f"{obj.name}: section {sec.name}"
    data = bytearray(sec.data)
    if kind in NOBITS_KINDS:
        if any(data):
            # A .noinit section LLVM emitted as PROGBITS is fine only if it
            # holds nothing but zeros: its contents are never loaded.
            raise LinkError(f"{origin}: .noinit section has initialised contents")
        data = bytearray()
    return InputSection(oi, sec.name, kind, sec.align, sec.size, data, origin)


class SymbolTable:
    """Global symbol resolution plus per-object lookup of any symbol index."""

    def __init__(self, objects: list[ObjectFile], kept: dict[tuple[int, int], InputSection]):
        self.objects = objects
        self.kept = kept
        self.globals: dict[str, Definition] = {}
        self.commons: list[InputSection] = []
        self._locals: dict[tuple[int, int], Definition] = {}
        for oi, obj in enumerate(objects):
            for sym in obj.symbols:
                self._add(oi, obj, sym)
        self._allocate_commons()

    def _add(self, oi: int, obj: ObjectFile, sym: Symbol) -> None:
        if sym.index == 0 or sym.type == E.STT_FILE:
            return
        if sym.bind == E.STB_LOCAL:
            self._locals[(oi, sym.index)] = self._definition(oi, obj, sym, "local")
            return
        if sym.shndx == E.SHN_UNDEF:
            return
        if sym.shndx < E.SHN_LORESERVE and (oi, sym.shndx) not in self.kept:
            # Defined in a dropped section or a discarded COMDAT copy: the
            # kept copy (if any) provides the definition.
            return
        binding = "common" if sym.shndx == E.SHN_COMMON else ("weak" if sym.bind == E.STB_WEAK else "global")
        self._merge(self._definition(oi, obj, sym, binding))

    def _definition(self, oi: int, obj: ObjectFile, sym: Symbol, binding: str) -> Definition:
        origin = obj.name
        if sym.shndx == E.SHN_COMMON:
            # For COMMON the value is the alignment; the section comes later.
            return Definition(sym.name, None, max(sym.value, 1), sym.size, "common", origin, E.STT_OBJECT)
        if sym.shndx == E.SHN_ABS:
            return Definition(sym.name, None, sym.value, sym.size, binding, origin, sym.type)
        section = self.kept.get((oi, sym.shndx))
        if section is None:
            return Definition(sym.name, None, 0, 0, "dropped", f"{origin}: {_section_name(obj, sym.shndx)}")
        name = sym.name if sym.type != E.STT_SECTION else section.name
        return Definition(name, section, sym.value, sym.size, binding, origin, sym.type)

    def _merge(self, new: Definition) -> None:
        old = self.globals.get(new.name)
        if old is None:
            self.globals[new.name] = new
            return
        rank = {"global": 2, "common": 1, "weak": 0}
        if new.binding == "global" and old.binding == "global":
            raise LinkError(
                f"duplicate symbol '{new.name}' (defined in {old.origin} and in {new.origin})", new.name
            )
        if new.binding == "common" and old.binding == "common":
            old.size = max(old.size, new.size)
            old.value = max(old.value, new.value)
        elif rank[new.binding] > rank[old.binding]:
            self.globals[new.name] = new

    def _allocate_commons(self) -> None:
        for name in sorted(self.globals):
            d = self.globals[name]
            if d.binding == "common":
                sec = InputSection(-1, "COMMON", "bss", d.value, d.size, bytearray(), f"common symbol {name}")
                self.commons.append(sec)
                d.section, d.value, d.binding = sec, 0, "global"

    def define_linker_symbols(self, names) -> list[Definition]:
        """Add the linker-defined symbols the program refers to but does not define."""
        added = []
        for name in names:
            if name not in self.globals:
                d = Definition(name, None, 0, 0, "linker", "linker")
                self.globals[name] = d
                added.append(d)
        return added

    def lookup(self, oi: int, sym_index: int, user: str) -> Definition:
        """The definition a relocation in object `oi` refers to, or a LinkError."""
        local = self._locals.get((oi, sym_index))
        if local is not None:
            if local.binding == "dropped":
                raise LinkError(f"{user}: refers to {local.origin}, which is not part of the image")
            return local
        sym = self.objects[oi].symbols[sym_index]
        found = self.globals.get(sym.name)
        if found is not None:
            return found
        if sym.bind == E.STB_WEAK:
            return Definition(sym.name, None, 0, 0, "undefined-weak", "undefined weak")
        raise LinkError(f"undefined symbol '{sym.name}' (referenced from {user})", sym.name)

    def local_definitions(self) -> list[Definition]:
        """Named local symbols in kept sections (for the symbol map), input order."""
        return [
            d for (oi, idx), d in self._locals.items()
            if d.section is not None and d.name and self.objects[oi].symbols[idx].type != E.STT_SECTION
        ]


def _section_name(obj: ObjectFile, shndx: int) -> str:
    if shndx < len(obj.sections):
        return f"section {obj.sections[shndx].name}"
    return f"section #{shndx}"
