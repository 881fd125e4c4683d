"""ELF64 / x86-64 constants and the struct layouts the linker reads and writes.

In: nothing. Out: named numbers from the System V gABI and the x86-64 psABI,
plus `struct.Struct` objects for the fixed-size records (headers, symbols,
relocations), so objfile.py (reader) and writer.py (writer) agree on them.
"""

import struct

# ELF identification and header values.
ELFMAG = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB = 1
EV_CURRENT = 1
ET_REL = 1
ET_EXEC = 2
EM_X86_64 = 62

# Special section indices.
SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2
SHN_XINDEX = 0xFFFF

# Section types.
SHT_NULL = 0
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_RELA = 4
SHT_NOTE = 7
SHT_NOBITS = 8
SHT_REL = 9
SHT_INIT_ARRAY = 14
SHT_FINI_ARRAY = 15
SHT_PREINIT_ARRAY = 16
SHT_GROUP = 17
SHT_SYMTAB_SHNDX = 18
SHT_X86_64_UNWIND = 0x70000001

# Section flags.
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHF_TLS = 0x400

GRP_COMDAT = 1

# Symbol binding, type, visibility.
STB_LOCAL = 0
STB_GLOBAL = 1
STB_WEAK = 2
STT_NOTYPE = 0
STT_OBJECT = 1
STT_FUNC = 2
STT_SECTION = 3
STT_FILE = 4
STT_TLS = 6

# Program header types and flags.
PT_LOAD = 1
PT_NOTE = 4
PT_GNU_STACK = 0x6474E551
PF_X = 0x1
PF_W = 0x2
PF_R = 0x4

# x86-64 relocation types (psABI table 4.9) that the linker knows by name.
R_X86_64_NONE = 0
R_X86_64_64 = 1
R_X86_64_PC32 = 2
R_X86_64_PLT32 = 4
R_X86_64_GOTPCREL = 9
R_X86_64_32 = 10
R_X86_64_32S = 11
R_X86_64_16 = 12
R_X86_64_PC16 = 13
R_X86_64_8 = 14
R_X86_64_PC8 = 15
R_X86_64_PC64 = 24
R_X86_64_SIZE32 = 32
R_X86_64_SIZE64 = 33
R_X86_64_GOTPCRELX = 41
R_X86_64_REX_GOTPCRELX = 42

RELOC_NAMES = {
    value: name
    for name, value in dict(globals()).items()
    if name.startswith("R_X86_64_")
}


def reloc_name(rtype: int) -> str:
    """The psABI name of a relocation type, or its number when unknown."""
    return RELOC_NAMES.get(rtype, f"relocation type {rtype}")


# Fixed-size records, little endian.
EHDR = struct.Struct("<16sHHIQQQIHHHHHH")  # ELF header, 64 bytes
SHDR = struct.Struct("<IIQQQQIIQQ")  # section header, 64 bytes
PHDR = struct.Struct("<IIQQQQQQ")  # program header, 56 bytes
SYM = struct.Struct("<IBBHQQ")  # symbol, 24 bytes
RELA = struct.Struct("<QQq")  # relocation with addend, 24 bytes
