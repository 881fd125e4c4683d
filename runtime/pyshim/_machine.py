"""CPython stand-in for `_machine`, the privileged intrinsics module of apy.

In:  calls from runtime apy modules (numfmt.apy, fmath.apy, ...) run under CPython,
     with runtime/pyshim on sys.path so that `from _machine import ...` finds this.
Out: the same results the compiled intrinsics give, over a simulated flat memory.

Compiled code sees real addresses; here memory is one bytearray of `MEMORY_SIZE`
bytes and an address is an offset into it. Addresses below `FIRST_ADDRESS` are
never handed out, so that 0 (and small garbage) always fault, like an unmapped
page would. Every access is bounds-checked and may be unaligned (x86-64 allows it).

Every result is a signed 64-bit integer exactly as the compiled code sees it:
`load64` of 0xFFFF_FFFF_FFFF_FFFF is -1, `umulhi` returns the high half's bit
pattern as a signed value, and so on. Arguments are taken by their low 64 bits
(two's complement), the way a register holds them.

Implemented: the memory, float-bit and 64-bit integer intrinsics, memcpy/memset,
sqrt, str_addr/str_at (str objects laid out as docs/runtime-abi.md says; a
Python str stands for an apy str value), plat_argc/plat_argv, and the heap and
root intrinsics the collector uses (plat_heap_start/end, stack_pointer,
stack_top, data_start, data_end, spill_registers), over regions tests choose,
and plat_write (kept in WRITTEN). Not here: plat_exit and the clocks.
Besides the intrinsics, `read_bytes`/`write_bytes` let tests look at memory; apy
code never calls them (they are not intrinsics).

Machine intrinsics (drivers): memory above the flat memory is made of *regions*:
the buffers of bytearray/bytes objects (`bytearray_addr`/`bytes_addr` give them
an address, so memcpy/load/store reach the object itself) and simulated devices
that tests attach (`attach_mmio(base, size, device)`: `device.read(offset,
width) -> int`, `device.write(offset, width, value)`; `attach_port(port,
device)` likewise for port I/O, the offset is the port). An access that hits
nothing raises MemoryError (port I/O: OSError), like a fault would. `rdtsc` is
a nanosecond counter, `cpuid` answers from CPUID (a dict tests may replace),
MSRs live in MSRS, `syscall` is Linux's (through ctypes), `target_name()` is
"cpython", and `halt_until_interrupt` sleeps until the next `raise_irq` or
for at most HALT_MAX_S seconds (a spurious wake-up, which callers allow).
"""

from __future__ import annotations

import math
import struct
import time as _time

MEMORY_SIZE = 64 * 1024 * 1024  # shared by every test module a pytest worker loads
FIRST_ADDRESS = 4096
STATIC_ALIGN = 16

_MASK64 = (1 << 64) - 1
_memory = bytearray(MEMORY_SIZE)
_next_static = FIRST_ADDRESS

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")


def _signed(v: int) -> int:
    """The int64 that the low 64 bits of `v` spell."""
    v &= _MASK64
    return v - (1 << 64) if v >> 63 else v


def _check(addr: int, size: int) -> int:
    if not (FIRST_ADDRESS <= addr and addr + size <= MEMORY_SIZE):
        raise MemoryError(f"_machine: access of {size} bytes at {addr:#x} is outside memory")
    return addr


# --------------------------------------------------------------------------- memory


def static_buffer(nbytes: int) -> int:
    """A zeroed buffer of `nbytes` bytes that lives for the whole program."""
    global _next_static
    if nbytes < 0:
        raise ValueError("static_buffer: negative size")
    addr = _next_static
    end = addr + nbytes
    if end > MEMORY_SIZE:
        raise MemoryError("_machine: static memory exhausted")
    _next_static = (end + STATIC_ALIGN - 1) // STATIC_ALIGN * STATIC_ALIGN
    return addr


def load8(addr: int) -> int:
    if addr >= MEMORY_SIZE:
        return _far_read(addr, 1)
    return _memory[_check(addr, 1)]


def load16(addr: int) -> int:
    if addr >= MEMORY_SIZE:
        return _far_read(addr, 2)
    return _U16.unpack_from(_memory, _check(addr, 2))[0]


def load32(addr: int) -> int:
    if addr >= MEMORY_SIZE:
        return _far_read(addr, 4)
    return _U32.unpack_from(_memory, _check(addr, 4))[0]


def load64(addr: int) -> int:
    if addr >= MEMORY_SIZE:
        return _signed(_far_read(addr, 8))
    return _I64.unpack_from(_memory, _check(addr, 8))[0]


def store8(addr: int, value: int) -> None:
    if addr >= MEMORY_SIZE:
        return _far_write(addr, 1, value)
    _memory[_check(addr, 1)] = value & 0xFF


def store16(addr: int, value: int) -> None:
    if addr >= MEMORY_SIZE:
        return _far_write(addr, 2, value)
    _U16.pack_into(_memory, _check(addr, 2), value & 0xFFFF)


def store32(addr: int, value: int) -> None:
    if addr >= MEMORY_SIZE:
        return _far_write(addr, 4, value)
    _U32.pack_into(_memory, _check(addr, 4), value & 0xFFFF_FFFF)


def store64(addr: int, value: int) -> None:
    if addr >= MEMORY_SIZE:
        return _far_write(addr, 8, value)
    _I64.pack_into(_memory, _check(addr, 8), _signed(value))


# --------------------------------------------------------------------------- float bits


def f64_bits(x: float) -> int:
    """The IEEE-754 bit pattern of `x` as a signed int64 (NaN payloads kept)."""
    return _I64.unpack(_F64.pack(x))[0]


def f64_from_bits(b: int) -> float:
    return _F64.unpack(_I64.pack(_signed(b)))[0]


# --------------------------------------------------------------------------- 64-bit integer ops


def wrap_add(a: int, b: int) -> int:
    return _signed(a + b)


def wrap_sub(a: int, b: int) -> int:
    return _signed(a - b)


def wrap_mul(a: int, b: int) -> int:
    return _signed(a * b)


def umulhi(a: int, b: int) -> int:
    """High 64 bits of the unsigned 128-bit product of the two bit patterns."""
    return _signed(((a & _MASK64) * (b & _MASK64)) >> 64)


def udiv(a: int, b: int) -> int:
    if b & _MASK64 == 0:
        raise ZeroDivisionError("integer division or modulo by zero")
    return _signed((a & _MASK64) // (b & _MASK64))


def urem(a: int, b: int) -> int:
    if b & _MASK64 == 0:
        raise ZeroDivisionError("integer division or modulo by zero")
    return _signed((a & _MASK64) % (b & _MASK64))


def lshr(a: int, n: int) -> int:
    """Logical shift right of the 64-bit pattern; counts above 63 (as unsigned) give 0."""
    n &= _MASK64
    return 0 if n > 63 else _signed((a & _MASK64) >> n)


# --------------------------------------------------------------------------- block memory, sqrt


def memcpy(dst: int, src: int, n: int) -> None:
    """Copy n bytes; the regions may overlap (the compiler lowers it to memmove)."""
    if n <= 0:
        return
    if dst >= MEMORY_SIZE or src >= MEMORY_SIZE:
        write_bytes(dst, read_bytes(src, n))
        return
    _check(dst, n)
    _memory[dst : dst + n] = _memory[_check(src, n) : src + n]


def memset(dst: int, byte: int, n: int) -> None:
    if n <= 0:
        return
    if dst >= MEMORY_SIZE:
        write_bytes(dst, bytes([byte & 0xFF]) * n)
        return
    _memory[_check(dst, n) : dst + n] = bytes([byte & 0xFF]) * n


def sqrt(x: float) -> float:
    """llvm.sqrt (sqrtsd): correctly rounded; NaN for x < 0, -0.0 for -0.0."""
    return math.sqrt(x) if x >= 0.0 or x != x else math.nan


# --------------------------------------------------------------------------- str objects

# docs/runtime-abi.md: a str object is header | nbytes | ncodepoints | UTF-8 | NUL,
# and the compiler's literals carry TAG_STR with the STATIC bit.
_STR_STATIC_HEADER = 1 | (1 << 17)
_literals: dict[str, int] = {}


class ApyStr(str):
    """A Python str that remembers the str object it was read from (`str_at`),
    so that `str_addr(str_at(a)) == a`, as for the compiled intrinsics."""

    apy_addr: int


def str_addr(s: str) -> int:
    """The address of the str object holding `s`.

    A value that came from `str_at` is that very object. Any other Python str is
    a literal or a value made by CPython: it gets one static object per distinct
    text (the compiler likewise emits one object per distinct literal).
    """
    addr = getattr(s, "apy_addr", None)
    if addr is not None:
        return addr
    addr = _literals.get(s)
    if addr is None:
        data = s.encode("utf-8", "surrogatepass")
        addr = static_buffer(24 + len(data) + 1)
        store64(addr, _STR_STATIC_HEADER)
        store64(addr + 8, len(data))
        store64(addr + 16, len(s))
        _memory[addr + 24 : addr + 24 + len(data)] = data
        _literals[s] = addr
    return addr


def str_at(addr: int) -> str:
    """The str object at `addr` as a Python str (it remembers `addr`)."""
    n = load64(addr + 8)
    s = ApyStr(read_bytes(addr + 24, n).decode("utf-8", "surrogatepass"))
    s.apy_addr = addr
    return s


# --------------------------------------------------------------------------- console

WRITTEN: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}  # what each fd was sent


def plat_write(fd: int, addr: int, n: int) -> None:
    """Console output: collected per fd in WRITTEN, for tests to read (and clear)."""
    WRITTEN.setdefault(fd, bytearray()).extend(read_bytes(addr, n))


# --------------------------------------------------------------------------- platform

ARGV: list[bytes] = [b"applc"]  # tests may replace it
_argv_addrs: dict[int, int] = {}


def plat_argc() -> int:
    return len(ARGV)


def plat_argv(i: int) -> int:
    """Address of a NUL-terminated copy of argument i (made once per argument)."""
    if i not in _argv_addrs:
        data = ARGV[i] + b"\0"
        addr = static_buffer(len(data))
        write_bytes(addr, data)
        _argv_addrs[i] = addr
    return _argv_addrs[i]


def plat_devarg(i: int) -> int:
    """The platform's own boot words (kvm: virtio_mmio.device=...): CPython has none."""
    return 0


# --------------------------------------------------------------------------- heap and GC roots
#
# The collector (runtime/gc.apy) takes its heap from the platform and finds roots
# on the stack, in the registers and in the image's globals. Under CPython there
# is no apy stack and there are no apy registers or globals in shim memory, so
# tests say which shim memory stands for them: `set_stack(lo, hi)` (the stack
# pointer is `lo`, the top `hi`) and `set_data(lo, hi)`, both empty until set.
# With no roots, a collection frees every object (rtload.reset_heap relies on
# it); the collector starts one by itself after 1 MiB of allocation, so a test
# that holds objects longer than that must put them in its roots.
# The heap is `set_heap(lo, hi)`, or else DEFAULT_HEAP_SIZE bytes taken from
# static memory on first use.

DEFAULT_HEAP_SIZE = 4 * 1024 * 1024
_heap: tuple[int, int] | None = None
_stack: tuple[int, int] = (0, 0)
_data: tuple[int, int] = (0, 0)


def _heap_region() -> tuple[int, int]:
    global _heap
    if _heap is None:
        lo = static_buffer(DEFAULT_HEAP_SIZE)
        _heap = (lo, lo + DEFAULT_HEAP_SIZE)
    return _heap


def plat_heap_start() -> int:
    return _heap_region()[0]


def plat_heap_end() -> int:
    return _heap_region()[1]


def stack_pointer() -> int:
    """The lowest address of the live stack (compiled: rsp)."""
    return _stack[0]


def stack_top() -> int:
    """The end of the stack: its highest address + 1."""
    return _stack[1]


def data_start() -> int:
    """The image's globals, [data_start(), data_end()): .data and .bss."""
    return _data[0]


def data_end() -> int:
    return _data[1]


def spill_registers() -> None:
    """Compiled: stores the callee-saved registers on the stack. CPython holds
    no apy values in registers, so there is nothing to store."""


def set_heap(lo: int, hi: int) -> None:
    """Test helper (not an intrinsic): the region plat_heap_start/end report."""
    global _heap
    _heap = (lo, hi)


def set_stack(lo: int, hi: int) -> None:
    """Test helper (not an intrinsic): shim memory that stands for the stack."""
    global _stack
    _stack = (lo, hi)


def set_data(lo: int, hi: int) -> None:
    """Test helper (not an intrinsic): shim memory that stands for the globals."""
    global _data
    _data = (lo, hi)


# --------------------------------------------------------------------------- test helpers


def read_bytes(addr: int, n: int) -> bytes:
    """Test helper (not an intrinsic): a copy of `n` bytes of memory at `addr`."""
    if addr >= MEMORY_SIZE:
        buf, off = _buffer_at(addr, n, False)
        return bytes(buf[off : off + n])
    return bytes(_memory[_check(addr, n) : addr + n])


def write_bytes(addr: int, data: bytes) -> None:
    """Test helper (not an intrinsic): copy `data` into memory at `addr`."""
    if addr >= MEMORY_SIZE:
        buf, off = _buffer_at(addr, len(data), True)
        buf[off : off + len(data)] = data
        return
    _memory[_check(addr, len(data)) : addr + len(data)] = data


# --------------------------------------------------------------------------- regions: objects, devices
#
# Addresses at or above MEMORY_SIZE belong to regions: object buffers get a slot
# of their own (OBJECT_SLOT apart, from OBJECT_BASE up); simulated devices sit
# where the test attaches them (a device's registers, e.g. 0xfeb00000).

OBJECT_BASE = 1 << 40
OBJECT_SLOT = 1 << 32
_regions: list[tuple[int, int, object]] = []  # (base, end, bytearray | bytes | device)
_object_slots: dict[int, tuple[int, object, int]] = {}  # id(obj) -> (base, obj, len)
_next_object = OBJECT_BASE


def _region(addr: int, n: int) -> tuple[int, object]:
    for base, end, obj in _regions:
        if base <= addr and addr + n <= end:
            return base, obj
    raise MemoryError(f"_machine: access of {n} bytes at {addr:#x} hits no memory or device")


def _buffer_at(addr: int, n: int, writing: bool):
    base, obj = _region(addr, n)
    if not isinstance(obj, (bytes, bytearray)):
        raise MemoryError(f"_machine: block access at {addr:#x} to a device")
    if writing and isinstance(obj, bytes):
        raise MemoryError(f"_machine: write at {addr:#x} into a bytes object")
    return obj, addr - base


def _far_read(addr: int, n: int) -> int:
    base, obj = _region(addr, n)
    if isinstance(obj, (bytes, bytearray)):
        return int.from_bytes(obj[addr - base : addr - base + n], "little")
    return obj.read(addr - base, n) & ((1 << (8 * n)) - 1)


def _far_write(addr: int, n: int, value: int) -> None:
    base, obj = _region(addr, n)
    value &= (1 << (8 * n)) - 1
    if isinstance(obj, (bytes, bytearray)):
        buf, off = _buffer_at(addr, n, True)
        buf[off : off + n] = value.to_bytes(n, "little")
        return
    obj.write(addr - base, n, value)


def _object_addr(obj) -> int:
    """The region of `obj`'s current buffer; a resized object gets a new one
    (as a compiled bytearray's buffer moves when it grows)."""
    global _next_object
    known = _object_slots.get(id(obj))
    if known is not None and known[1] is obj and known[2] == len(obj):
        return known[0]
    if known is not None:
        _regions[:] = [r for r in _regions if r[0] != known[0]]
    base = _next_object
    _next_object += OBJECT_SLOT
    _object_slots[id(obj)] = (base, obj, len(obj))
    _regions.append((base, base + len(obj), obj))
    return base


def attach_mmio(base: int, size: int, device) -> None:
    """Test helper (not an intrinsic): a simulated device's registers at
    [base, base + size), above the flat memory."""
    if base < MEMORY_SIZE:
        raise ValueError("attach_mmio: device registers must lie above the flat memory")
    _regions.append((base, base + size, device))


def detach_all() -> None:
    """Test helper (not an intrinsic): forget every device and object region."""
    _regions.clear()
    _object_slots.clear()
    _ports.clear()


# --------------------------------------------------------------------------- machine intrinsics

_ports: dict[int, object] = {}
CPUID: dict[tuple[int, int], tuple[int, int, int, int]] = {
    # leaf 0: highest leaf 1, vendor "applc shim  " (ebx, edx, ecx spell it)
    (0, 0): (1, 0x6C707061, 0x20206D69, 0x68732063),
    (1, 0): (0, 0, 0, 0),
}
MSRS: dict[int, int] = {}
HALT_MAX_S = 0.01
_irq_enabled = False
_irq_raised = False


def attach_port(port: int, device) -> None:
    """Test helper (not an intrinsic): `device.read(port, width)`/`write(port, width,
    value)` answer in/out at `port` (of any width)."""
    _ports[port] = device


def _port(port: int):
    dev = _ports.get(port & 0xFFFF)
    if dev is None:
        raise OSError(f"_machine: no device at I/O port {port & 0xFFFF:#x}")
    return dev


def inb(port: int) -> int:
    return _port(port).read(port & 0xFFFF, 1) & 0xFF


def inw(port: int) -> int:
    return _port(port).read(port & 0xFFFF, 2) & 0xFFFF


def inl(port: int) -> int:
    return _port(port).read(port & 0xFFFF, 4) & 0xFFFF_FFFF


def outb(port: int, value: int) -> None:
    _port(port).write(port & 0xFFFF, 1, value & 0xFF)


def outw(port: int, value: int) -> None:
    _port(port).write(port & 0xFFFF, 2, value & 0xFFFF)


def outl(port: int, value: int) -> None:
    _port(port).write(port & 0xFFFF, 4, value & 0xFFFF_FFFF)


def mmio_read8(addr: int) -> int:
    return load8(addr)


def mmio_read16(addr: int) -> int:
    return load16(addr)


def mmio_read32(addr: int) -> int:
    return load32(addr)


def mmio_read64(addr: int) -> int:
    return load64(addr)


def mmio_write8(addr: int, value: int) -> None:
    store8(addr, value)


def mmio_write16(addr: int, value: int) -> None:
    store16(addr, value)


def mmio_write32(addr: int, value: int) -> None:
    store32(addr, value)


def mmio_write64(addr: int, value: int) -> None:
    store64(addr, value)


def mb() -> None:
    """CPython executes in order: barriers have nothing to do."""


def rmb() -> None:
    """See mb."""


def wmb() -> None:
    """See mb."""


def rdtsc() -> int:
    """A counter at 1 GHz (CPython's monotonic nanoseconds)."""
    return _time.monotonic_ns()


def cpuid(leaf: int, subleaf: int, reg: int) -> int:
    regs = CPUID.get((leaf & 0xFFFF_FFFF, subleaf & 0xFFFF_FFFF), (0, 0, 0, 0))
    return regs[reg] if 0 <= reg < 4 else 0


def rdmsr(msr: int) -> int:
    return MSRS.get(msr & 0xFFFF_FFFF, 0)


def wrmsr(msr: int, value: int) -> None:
    MSRS[msr & 0xFFFF_FFFF] = _signed(value)


def irq_enable() -> None:
    global _irq_enabled
    _irq_enabled = True


def irq_disable() -> None:
    global _irq_enabled
    _irq_enabled = False


def raise_irq() -> None:
    """Test helper (not an intrinsic): the next halt_until_interrupt returns at once."""
    global _irq_raised
    _irq_raised = True


def halt_until_interrupt() -> None:
    """Sleeps until raise_irq() or HALT_MAX_S; interrupts end up disabled (cli)."""
    global _irq_raised, _irq_enabled
    if not _irq_raised:
        _time.sleep(HALT_MAX_S)
    _irq_raised = False
    _irq_enabled = False


def dma_alloc(nbytes: int) -> int:
    """Page-aligned zeroed memory from static memory, for the whole run."""
    if nbytes < 0:
        raise ValueError("dma_alloc: negative size")
    pages = max(1, (nbytes + 4095) // 4096)
    addr = static_buffer(pages * 4096 + 4095)
    return (addr + 4095) // 4096 * 4096


def phys_addr(addr: int) -> int:
    return addr


def bytearray_addr(b: bytearray) -> int:
    return _object_addr(b) if len(b) else 0


def bytes_addr(b: bytes) -> int:
    return _object_addr(b)


def target_name() -> str:
    return "cpython"


def syscall(nr: int, a1: int, a2: int, a3: int, a4: int, a5: int, a6: int) -> int:
    """Linux's syscall(2) through libc; -errno on failure, like the raw instruction.
    Pointer arguments are real addresses (not shim memory)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    args = [ctypes.c_long(_signed(a)) for a in (a1, a2, a3, a4, a5, a6)]
    r = libc.syscall(ctypes.c_long(nr), *args)
    return -ctypes.get_errno() if r == -1 else r


def plat_monotonic_ns() -> int:
    return _time.monotonic_ns()


def plat_tsc_hz() -> int:
    """rdtsc here counts nanoseconds."""
    return 1_000_000_000


_irq_pending = 0


def plat_irq_pending() -> int:
    """The 4-word pending bitmap (nothing sets it under CPython but tests)."""
    global _irq_pending
    if not _irq_pending:
        _irq_pending = static_buffer(32)
    return _irq_pending


def flush_stdout() -> None:
    """Compiled: print()'s buffer goes out. Here: CPython's."""
    import sys

    sys.stdout.flush()
