"""Unit tests of the linker on objects assembled by LLVM (llvmlite) from
small assembly and IR snippets: relocation kinds, GOT relaxation, overflow,
symbol resolution, layout, determinism and the refusal cases."""

import struct

import llvmlite.binding as llvm
import pytest

from applc.link import LinkError, LinkSpec, link
from applc.link.target import init_llvm

BASE = 0x400000
SPEC = LinkSpec(base_address=BASE, entry="_start", keep_symbols=True)


def obj(asm: str = "", ir: str = "") -> bytes:
    """An ELF relocatable object from module asm and/or IR text."""
    init_llvm()
    lines = "\n".join('module asm "' + line.replace("\\", "\\5C").replace('"', "\\22") + '"' for line in asm.splitlines())
    module = llvm.parse_assembly(ir + "\n" + lines + "\n")
    module.triple = "x86_64-unknown-linux-gnu"
    tm = llvm.Target.from_triple(module.triple).create_target_machine(
        cpu="x86-64", opt=0, reloc="static", codemodel="small"
    )
    return tm.emit_object(module)


START = """
.text
.globl _start
_start:
    ret
"""


def segments(image: bytes) -> list[tuple]:
    """(type, flags, offset, vaddr, paddr, filesz, memsz, align) of each program header."""
    phoff, phnum = struct.unpack_from("<Q", image, 32)[0], struct.unpack_from("<H", image, 56)[0]
    return [struct.unpack_from("<IIQQQQQQ", image, phoff + 56 * i) for i in range(phnum)]


def read(image: bytes, address: int, size: int) -> bytes:
    for ptype, _flags, offset, vaddr, _p, filesz, _m, _a in segments(image):
        if ptype == 1 and vaddr <= address and address + size <= vaddr + filesz:
            return image[offset + address - vaddr : offset + address - vaddr + size]
    raise AssertionError(f"{address:#x} is not in the file")


RELOCS = """
.text
.globl _start
_start:
    callq target
    leaq target(%rip), %rax
    movq target@GOTPCREL(%rip), %rcx
    addq target@GOTPCREL(%rip), %rdx
    callq *target@GOTPCREL(%rip)
    jmpq *target@GOTPCREL(%rip)
.globl target
target:
    ret
.section .rodata,"a",@progbits
.globl abs64, abs32, abs32s, abs16
abs64: .quad target + 3
abs32: .long target
abs32s: .long target - 0x10
abs16: .short 0x1234
"""


def test_relocation_kinds_and_got_relaxation():
    result = link([obj(RELOCS)], SPEC)
    sym = result.symbols
    target, start = sym["target"].address, sym["_start"].address
    image = result.image
    code = read(image, start, 34)
    # call rel32 (PLT32 resolved directly)
    assert code[0] == 0xE8 and struct.unpack_from("<i", code, 1)[0] == target - (start + 5)
    # lea rel32 (PC32)
    assert code[5:8] == b"\x48\x8d\x05" and struct.unpack_from("<i", code, 8)[0] == target - (start + 12)
    # mov foo@GOTPCREL -> lea foo(%rip)
    assert code[12:15] == b"\x48\x8d\x0d" and struct.unpack_from("<i", code, 15)[0] == target - (start + 19)
    # add foo@GOTPCREL cannot be relaxed: it reads the GOT entry, which holds target
    assert code[19:22] == b"\x48\x03\x15"
    got_entry = start + 26 + struct.unpack_from("<i", code, 22)[0]
    assert struct.unpack("<Q", read(image, got_entry, 8))[0] == target
    assert ".got" in [s.name for s in result.sections]
    # call *GOT -> addr32 call; jmp *GOT -> nop; jmp
    assert code[26:28] == b"\x67\xe8" and struct.unpack_from("<i", code, 28)[0] == target - (start + 32)
    rest = read(image, start + 32, 6)
    assert rest[:2] == b"\x90\xe9" and struct.unpack_from("<i", rest, 2)[0] == target - (start + 38)
    assert struct.unpack("<Q", read(image, sym["abs64"].address, 8))[0] == target + 3
    assert struct.unpack("<I", read(image, sym["abs32"].address, 4))[0] == target
    assert struct.unpack("<I", read(image, sym["abs32s"].address, 4))[0] == target - 0x10


def test_unsigned_32_bit_overflow_is_reported():
    with pytest.raises(LinkError, match=r"R_X86_64_32 against 'target' out of range"):
        link([obj(RELOCS)], LinkSpec(base_address=1 << 32, entry="_start"))


def test_pc32_overflow_against_a_far_absolute_symbol():
    far = obj(".globl far\n.set far, 0x7fff00000000\n")
    user = obj(START + "    leaq far(%rip), %rax\n")
    with pytest.raises(LinkError, match=r"R_X86_64_PC32 against 'far' out of range.*signed"):
        link([user, far], SPEC)


def test_undefined_symbol_is_named():
    with pytest.raises(LinkError, match=r"undefined symbol 'nowhere'") as info:
        link([obj(START + "    callq nowhere\n")], SPEC)
    assert info.value.symbol == "nowhere"


def test_undefined_entry_is_named():
    with pytest.raises(LinkError, match="undefined entry symbol '_start'"):
        link([obj(".globl other\nother: ret\n")], SPEC)


def test_duplicate_strong_symbols_are_refused_weak_yields_to_strong():
    strong = obj(START + ".data\n.globl v\nv: .quad 1\n")
    with pytest.raises(LinkError, match="duplicate symbol 'v'"):
        link([strong, obj(".data\n.globl v\nv: .quad 2\n")], SPEC)
    weak = obj(".data\n.weak v\nv: .quad 2\n.globl use\nuse: .quad v\n")
    result = link([weak, strong], SPEC)
    v = result.symbols["v"].address
    assert struct.unpack("<Q", read(result.image, v, 8))[0] == 1
    assert struct.unpack("<Q", read(result.image, result.symbols["use"].address, 8))[0] == v


def test_comdat_copies_are_linked_once_and_common_symbols_merge():
    ir = """
$dup = comdat any
define linkonce_odr i32 @dup() comdat { ret i32 7 }
@shared = common global i64 0, align 8
define i32 @user1() { %r = call i32 @dup()
  ret i32 %r }
"""
    second = ir.replace("@user1", "@user2")
    result = link([obj(START, ir), obj("", second)], SPEC)
    assert result.symbols["dup"].section == ".text"
    assert result.symbols["shared"].section == ".bss"


def test_layout_is_w_xor_x_congruent_and_compact():
    source = START + ".data\n.quad 1\n.bss\n.skip 100000\n.section .rodata,\"a\"\n.quad 2\n"
    result = link([obj(source)], SPEC)
    loads = [s for s in segments(result.image) if s[0] == 1]
    assert [s[1] for s in loads] == [5, 4, 6]  # R+X, R, R+W
    for _t, _f, offset, vaddr, _p, filesz, memsz, _a in loads:
        assert offset % 4096 == vaddr % 4096
    assert loads[-1][6] > loads[-1][5]  # bss: memsz beyond filesz
    pages = [(s[3] // 4096, (s[3] + s[6] - 1) // 4096) for s in loads]
    assert all(a[1] < b[0] for a, b in zip(pages, pages[1:]))  # no page shared
    assert len(result.image) < 4096  # no page padding in the file (symbols included)


def test_linker_defined_symbols():
    source = START + (
        ".section .rodata,\"a\"\n.globl refs\nrefs:\n"
        + "".join(f".quad {n}\n" for n in ("__text_start", "__text_end", "__bss_start", "__bss_end", "__image_end"))
        + ".bss\n.globl b\nb: .skip 64\n"
    )
    result = link([obj(source)], SPEC)
    values = struct.unpack("<5Q", read(result.image, result.symbols["refs"].address, 40))
    text = next(s for s in result.sections if s.name == ".text")
    bss = next(s for s in result.sections if s.name == ".bss")
    assert values == (text.address, text.address + text.size, bss.address, bss.address + bss.size, bss.address + bss.size)


def test_notes_get_a_pt_note_and_physical_addresses():
    note = '.section .note.test,"a",@note\n.balign 4\n.long 4, 4, 18\n.asciz "Xen"\n.long _start\n'
    result = link([obj(START + note)], LinkSpec(base_address=0x100000, entry="_start", physical_equals_virtual=True))
    phdrs = segments(result.image)
    pt_note = [s for s in phdrs if s[0] == 4]
    assert len(pt_note) == 1 and pt_note[0][5] == 20 and pt_note[0][7] == 4
    assert struct.unpack("<I", result.image[pt_note[0][2] + 16 : pt_note[0][2] + 20])[0] == result.entry
    assert all(s[3] == s[4] for s in phdrs if s[0] == 1)


def test_stripped_image_has_no_section_headers_and_eh_frame_is_dropped():
    ir = "define i32 @f(i32 %x) { %y = add i32 %x, 1\n ret i32 %y }\n"  # not nounwind: LLVM emits .eh_frame
    o = obj(START, ir)
    assert b".eh_frame" in o
    stripped = link([o], LinkSpec(base_address=BASE, entry="_start"))
    kept = link([o], SPEC)
    assert struct.unpack_from("<H", stripped.image, 60)[0] == 0  # e_shnum
    assert struct.unpack_from("<H", kept.image, 60)[0] > 0
    assert b".eh_frame" not in kept.image and len(stripped.image) < len(kept.image)
    assert {s.name for s in kept.sections} == {".text"}


def test_output_is_deterministic():
    objects = [obj(RELOCS), obj(".data\n.globl d\nd: .quad target\n")]
    assert link(objects, SPEC).image == link(objects, SPEC).image


def test_thread_local_storage_is_refused():
    with pytest.raises(LinkError, match="thread-local storage"):
        link([obj(START, "@t = thread_local global i64 0\n")], SPEC)


def test_constructors_are_refused():
    ir = """
define void @ctor() { ret void }
@llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @ctor, ptr null }]
"""
    with pytest.raises(LinkError, match="constructors"):
        link([obj(START, ir)], SPEC)


def test_not_an_object_is_refused():
    with pytest.raises(LinkError, match="not an ELF file"):
        link([b"hello"], SPEC)
    with pytest.raises(LinkError, match="malformed"):
        link([obj(START)[:200]], SPEC)
