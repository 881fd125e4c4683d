"""Write the smallest ELF64 file that QEMU boots through the PVH entry.

In: a blob of 32-bit code (and its data) that expects to be loaded at
``LOAD_ADDR + CODE_OFFSET`` and to start at its first byte.
Out: the bytes of an ELF64 executable with exactly two program headers:

- ``PT_LOAD`` maps the whole file (headers included) at physical 1 MiB, so
  every byte of the file has a known guest address and no section table or
  linker is needed;
- ``PT_NOTE`` holds one Xen note, ``XEN_ELFNOTE_PHYS32_ENTRY`` (type 18,
  name ``"Xen\\0"``), whose descriptor is the 32-bit entry address.  QEMU's
  ``-kernel`` loader looks for this note to choose PVH boot: the CPU starts in
  32-bit protected mode, paging off, flat segments, ``ebx`` = the physical
  address of ``struct hvm_start_info``.

The layout (offsets in the file = offsets from ``LOAD_ADDR`` in the guest)::

    0x00  ELF header            64 bytes
    0x40  program header LOAD   56 bytes
    0x78  program header NOTE   56 bytes
    0xb0  Xen note              12-byte header + "Xen\\0" + 8-byte address
    0xd0  code and data         (CODE_OFFSET)

The real applc image is produced by applc's own linker (compiler/link); this
module only serves the floor guests in this package.
"""

from __future__ import annotations

import struct

LOAD_ADDR = 0x100000  # 1 MiB: the conventional PVH load address, above the BIOS area.

_EHDR_SIZE = 64
_PHDR_SIZE = 56
_PHNUM = 2
_NOTE_OFFSET = _EHDR_SIZE + _PHNUM * _PHDR_SIZE  # 0xb0

XEN_ELFNOTE_PHYS32_ENTRY = 18
_NOTE_NAME = b"Xen\0"
# QEMU reads the descriptor as a host size_t (8 bytes) after aligning the
# name to the PT_NOTE's p_align, so the address is stored as a u64 and the
# note is given p_align 4 (the name is exactly 4 bytes: no padding).
_NOTE = struct.pack("<III", len(_NOTE_NAME), 8, XEN_ELFNOTE_PHYS32_ENTRY) + _NOTE_NAME
_NOTE_SIZE = len(_NOTE) + 8

# Code starts on a 16-byte boundary after the note (purely cosmetic: 32-bit
# code has no alignment requirement, but round offsets are easier to read in
# a hex dump).
CODE_OFFSET = (_NOTE_OFFSET + _NOTE_SIZE + 15) & ~15  # 0xd0
CODE_ADDR = LOAD_ADDR + CODE_OFFSET

_PT_LOAD = 1
_PT_NOTE = 4
_PF_X, _PF_R = 1, 4
_ET_EXEC = 2
_EM_X86_64 = 62


def pvh_elf(code: bytes) -> bytes:
    """Return an ELF64 PVH image whose entry is the first byte of ``code``.

    ``code`` must have been assembled for address ``CODE_ADDR``.
    """
    file_size = CODE_OFFSET + len(code)
    entry = CODE_ADDR
    header = _elf_header(entry)
    load = _program_header(_PT_LOAD, _PF_R | _PF_X, 0, LOAD_ADDR, file_size, 0x1000)
    note = _program_header(_PT_NOTE, _PF_R, _NOTE_OFFSET, LOAD_ADDR + _NOTE_OFFSET, _NOTE_SIZE, 4)
    head = header + load + note + _NOTE + struct.pack("<Q", entry)
    assert len(head) == _NOTE_OFFSET + _NOTE_SIZE
    return head.ljust(CODE_OFFSET, b"\0") + code


def _elf_header(entry: int) -> bytes:
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # ELFCLASS64, little-endian, version 1, SysV ABI
    return ident + struct.pack(
        "<HHIQQQIHHHHHH",
        _ET_EXEC,
        _EM_X86_64,
        1,  # e_version
        entry,  # e_entry (QEMU takes the PVH entry from the note; this is for readers like readelf)
        _EHDR_SIZE,  # e_phoff: program headers follow the ELF header
        0,  # e_shoff: no section headers
        0,  # e_flags
        _EHDR_SIZE,
        _PHDR_SIZE,
        _PHNUM,
        64,  # e_shentsize (the standard size even though there are none)
        0,  # e_shnum
        0,  # e_shstrndx
    )


def _program_header(kind: int, flags: int, offset: int, addr: int, size: int, align: int) -> bytes:
    # p_vaddr == p_paddr: the guest runs with paging off, QEMU loads by p_paddr.
    return struct.pack("<IIQQQQQQ", kind, flags, offset, addr, addr, size, size, align)
