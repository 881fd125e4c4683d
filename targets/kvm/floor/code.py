"""Hand-assembled 32-bit x86 snippets for the floor guests.

In: what a guest should do (print bytes to a UART, echo its command line,
exit with a status, spin, triple-fault).  Out: machine code bytes for a CPU
in 32-bit protected mode with flat segments and paging off, which is the
state the PVH entry point is entered in (``ebx`` = physical address of
``struct hvm_start_info``; interrupts off; the direction flag unspecified).

No assembler is used (the house rules forbid one at build time, and the code
is tiny).  Every instruction is written as its bytes with a comment giving
the encoding: opcode, ModR/M fields, immediates.  ``Code`` only tracks the
address of the next byte so that short jumps and the addresses of data
placed after the code can be computed instead of counted by hand.

Conventions used in the comments: ``imm8``/``imm16``/``imm32`` are
little-endian immediates; ``rel8`` is a signed displacement from the end of
the jump instruction; ModR/M is written ``mod reg rm`` in binary.
"""

from __future__ import annotations

import struct

# 16550 UART registers, as offsets from the port base.
UART_THR = 0  # transmit holding register (write)
UART_LSR = 5  # line status register (read)
LSR_THR_EMPTY = 0x20  # LSR bit 5: the transmitter can take another byte

COM1 = 0x3F8
COM2 = 0x2F8
DEBUG_EXIT_PORT = 0xF4  # QEMU isa-debug-exit: writing v exits QEMU with (v << 1) | 1
DEBUGCON_PORT = 0xE9  # QEMU isa-debugcon (Bochs port e9): reads back 0xe9 when present
ACPI_PM1A_CNT = 0x604  # PM1a control register on QEMU pc/q35 (PM base 0x600 + 4)

# Offset of cmdline_paddr (u64) in struct hvm_start_info:
# magic u32, version u32, flags u32, nr_modules u32, modlist_paddr u64, then cmdline_paddr.
START_INFO_CMDLINE = 24


def _u16(value: int) -> bytes:
    return struct.pack("<H", value)


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


class Code:
    """Machine code laid out from a known load address, with forward labels.

    Jumps to labels not yet defined are recorded and patched by ``finish``.
    Data (strings) is appended after the code by ``finish`` as well, so
    instructions can refer to a string's address before it is placed.
    """

    def __init__(self, base: int) -> None:
        self.base = base
        self.buf = bytearray()
        self._labels: dict[str, int] = {}
        self._fixups: list[tuple[int, str]] = []  # (offset of the rel8 byte, label)
        self._data: list[tuple[int, bytes]] = []  # (offset of the imm32 to patch, bytes)

    @property
    def here(self) -> int:
        return self.base + len(self.buf)

    def emit(self, raw: bytes) -> None:
        self.buf += raw

    def label(self, name: str) -> None:
        self._labels[name] = self.here

    def rel8(self, opcode: int, target: str) -> None:
        """Emit a 2-byte short jump ``opcode rel8`` to ``target``."""
        self.emit(bytes([opcode, 0]))
        self._fixups.append((len(self.buf) - 1, target))

    def data_address(self, prefix: bytes, blob: bytes) -> None:
        """Emit ``prefix imm32`` where imm32 is the address ``blob`` will get."""
        self.emit(prefix + bytes(4))
        self._data.append((len(self.buf) - 4, blob))

    def finish(self) -> bytes:
        for offset, blob in self._data:
            self.buf[offset : offset + 4] = _u32(self.here)
            self.emit(blob)
        for offset, target in self._fixups:
            displacement = self._labels[target] - (self.base + offset + 1)
            if not -128 <= displacement <= 127:
                raise ValueError(f"short jump to {target!r} out of range: {displacement}")
            self.buf[offset] = displacement & 0xFF
        return bytes(self.buf)


def clear_direction(code: Code) -> None:
    """PVH leaves DF unspecified; string instructions below must walk upwards."""
    code.emit(b"\xfc")  # FC: cld


def _wait_transmitter(code: Code, port: int, name: str) -> None:
    """Poll the UART's LSR until it can take a byte (clobbers al, dx).

    QEMU's UART never makes us wait for long, but a guest that writes THR
    while the transmitter is busy may lose the byte; polling costs little.
    """
    code.emit(b"\x66\xba" + _u16(port + UART_LSR))  # 66 BA imm16: mov dx, port+5 (66 = 16-bit operand size)
    code.label(name)
    code.emit(b"\xec")  # EC: in al, dx
    code.emit(bytes([0xA8, LSR_THR_EMPTY]))  # A8 imm8: test al, 0x20
    code.rel8(0x74, name)  # 74 rel8: jz back to the `in` (transmitter still busy)


def write_bytes(code: Code, port: int, text: bytes) -> None:
    """Send ``text`` to the UART at ``port`` (clobbers eax, ecx, edx, esi)."""
    if not text:
        return
    loop = f"write_{len(code.buf)}"
    code.data_address(b"\xbe", text)  # BE imm32: mov esi, address of text (B8+r, r = 6 = esi)
    code.emit(b"\xb9" + _u32(len(text)))  # B9 imm32: mov ecx, len(text) (B8+r, r = 1 = ecx)
    code.label(loop)
    _wait_transmitter(code, port, loop + "_busy")
    code.emit(b"\x66\xba" + _u16(port + UART_THR))  # 66 BA imm16: mov dx, port
    code.emit(b"\xac")  # AC: lodsb (al = [esi]; esi += 1)
    code.emit(b"\xee")  # EE: out dx, al
    code.rel8(0xE2, loop)  # E2 rel8: loop (ecx -= 1; jump back while ecx != 0)


def echo_cmdline(code: Code, port: int) -> None:
    """Send the NUL-terminated PVH command line to the UART at ``port``.

    Reads ``start_info->cmdline_paddr`` (low 32 bits: QEMU places it below
    4 GiB) and writes bytes until the NUL.  A zero pointer prints nothing.
    Clobbers eax, edx, esi.
    """
    done = f"echo_{len(code.buf)}_done"
    loop = f"echo_{len(code.buf)}_next"
    code.emit(bytes([0x8B, 0x73, START_INFO_CMDLINE]))  # 8B /r: mov esi, [ebx+24]; ModR/M 01 110 011 (disp8, esi, ebx)
    code.emit(b"\x85\xf6")  # 85 /r: test esi, esi; ModR/M 11 110 110
    code.rel8(0x74, done)  # 74 rel8: jz done (no command line)
    code.label(loop)
    _wait_transmitter(code, port, loop + "_busy")
    code.emit(b"\xac")  # AC: lodsb (al = [esi]; esi += 1)
    code.emit(b"\x84\xc0")  # 84 /r: test al, al; ModR/M 11 000 000
    code.rel8(0x74, done)  # 74 rel8: jz done (reached the NUL)
    code.emit(b"\x66\xba" + _u16(port + UART_THR))  # 66 BA imm16: mov dx, port
    code.emit(b"\xee")  # EE: out dx, al
    code.rel8(0xEB, loop)  # EB rel8: jmp next byte
    code.label(done)


def trace_timestamp_if_debugcon(code: Code, tag: bytes) -> None:
    """Write ``tag`` and the 8-byte TSC to port 0xe9 if a debugcon is there.

    This is the boot-trace channel of targets/kvm/qemu.py: QEMU's
    isa-debugcon reads back 0xe9 when present (an absent port reads 0xff),
    so a guest can tell whether the runner asked for a trace and stays
    silent otherwise.  Record format: 1 tag byte, then the TSC, 8 bytes
    little-endian.  The debugcon takes one byte per access (wider ``out``s
    are dropped), and there is no stack at the PVH entry, so the 64-bit TSC
    is shifted out of edi:eax a byte at a time.  Clobbers eax, ecx, edx, edi.
    """
    skip = f"trace_{len(code.buf)}_skip"
    loop = f"trace_{len(code.buf)}_byte"
    code.emit(b"\x66\xba" + _u16(DEBUGCON_PORT))  # 66 BA imm16: mov dx, 0xe9
    code.emit(b"\xec")  # EC: in al, dx
    code.emit(bytes([0x3C, DEBUGCON_PORT]))  # 3C imm8: cmp al, 0xe9
    code.rel8(0x75, skip)  # 75 rel8: jne skip (no debugcon: no trace)
    code.emit(bytes([0xB0, tag[0]]))  # B0 imm8: mov al, tag
    code.emit(b"\xee")  # EE: out dx, al
    code.emit(b"\x0f\x31")  # 0F 31: rdtsc (edx:eax = TSC)
    code.emit(b"\x89\xd7")  # 89 /r: mov edi, edx; ModR/M 11 010 111 (dx is needed for the port)
    code.emit(b"\x66\xba" + _u16(DEBUGCON_PORT))  # 66 BA imm16: mov dx, 0xe9
    code.emit(b"\xb9" + _u32(8))  # B9 imm32: mov ecx, 8 (bytes to send)
    code.label(loop)
    code.emit(b"\xee")  # EE: out dx, al (the lowest byte not yet sent)
    code.emit(b"\x0f\xac\xf8\x08")  # 0F AC /r ib: shrd eax, edi, 8; ModR/M 11 111 000 (edi into eax)
    code.emit(b"\xc1\xef\x08")  # C1 /5 ib: shr edi, 8; ModR/M 11 101 111
    code.rel8(0xE2, loop)  # E2 rel8: loop (ecx -= 1; next byte while ecx != 0)
    code.label(skip)


def exit_with(code: Code, status: int) -> None:
    """Report ``status`` through isa-debug-exit; halt forever if that returns."""
    if not 0 <= status <= 0x7F:
        # (status << 1) | 1 must fit the 8-bit process exit code of QEMU.
        raise ValueError(f"exit status must be 0..127, got {status}")
    halt = f"exit_{len(code.buf)}_halt"
    code.emit(b"\x66\xba" + _u16(DEBUG_EXIT_PORT))  # 66 BA imm16: mov dx, 0xf4
    code.emit(bytes([0xB0, status]))  # B0 imm8: mov al, status
    code.emit(b"\xee")  # EE: out dx, al (QEMU exits here when the device is present)
    code.label(halt)
    code.emit(b"\xf4")  # F4: hlt (interrupts are off, so this stops the CPU for good)
    code.rel8(0xEB, halt)  # EB rel8: jmp hlt (in case an NMI wakes it)


def acpi_poweroff(code: Code) -> None:
    """Power off through ACPI PM1a_CNT at port 0x604 (QEMU's pc and q35 only).

    SeaBIOS puts the PIIX4/ICH9 power-management block at 0x600; writing
    SLP_EN (bit 13) with SLP_TYP 0, which QEMU's DSDT defines as S5, turns
    the machine off.  microvm has no such port: the write is ignored there.
    """
    halt = f"off_{len(code.buf)}_halt"
    code.emit(b"\x66\xba" + _u16(ACPI_PM1A_CNT))  # 66 BA imm16: mov dx, 0x604
    code.emit(b"\x66\xb8" + _u16(0x2000))  # 66 B8 imm16: mov ax, 0x2000 (SLP_EN, SLP_TYP = 0)
    code.emit(b"\x66\xef")  # 66 EF: out dx, ax
    code.label(halt)
    code.emit(b"\xf4")  # F4: hlt
    code.rel8(0xEB, halt)  # EB rel8: jmp hlt


def spin(code: Code) -> None:
    """Busy-loop forever (keeps the vCPU running, unlike hlt)."""
    code.emit(b"\xeb\xfe")  # EB FE: jmp to itself (rel8 = -2)


def triple_fault(code: Code) -> None:
    """Load an empty IDT and raise #UD: #UD -> #GP -> #DF -> triple fault (reset)."""
    code.data_address(b"\x0f\x01\x1d", bytes(6))  # 0F 01 /3: lidt [disp32]; ModR/M 00 011 101; 6 zero bytes = limit 0, base 0
    code.emit(b"\x0f\x0b")  # 0F 0B: ud2
