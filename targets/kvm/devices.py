"""Console, exit and boot-trace devices of the kvm platform (port I/O only).

In: a KvmModule. Out: these functions added to it:

    applc_kvm_serial_setup()   init COM1; probe COM2 (scratch register) and
                               init it when present; choose the error port
    applc_plat_write(fd, buf, len)   fd 1 -> COM1, fd 2 -> COM2 or COM1,
                               byte for byte, no newline translation
    applc_plat_exit(status)    isa-debug-exit at 0xf4 and at its default
                               0x501, then ACPI S5 via PM1a_CNT 0x604
                               (QEMU pc and q35), then cli;hlt forever
    applc_kvm_trace(tag)       a boot-trace record (tag, TSC) on port 0xe9
                               when an isa-debugcon answers there

UART programming (16550): 115200 baud (divisor 1), 8N1, FIFOs on,
interrupts off. Writing polls LSR.THRE; a missing UART reads 0xff, whose
THRE bit is set, so output to a missing port never hangs.
"""

from __future__ import annotations

from llvmlite import ir

from applc.link.irkit import I8, I16, I32, I64, PTR, VOID
from applc.targets.kvm.machine import KvmModule, halt_forever, inb, outb, outw

COM1, COM2 = 0x3F8, 0x2F8
DEBUG_EXIT_PORTS = (0xF4, 0x501)  # QEMU's usual iobase, and the device's default
ACPI_PM1A_CNT = 0x604  # PM base 0x600 as SeaBIOS programs PIIX4 (pc) and ICH9 (q35)
ACPI_SLP_EN_S5 = 0x2000  # SLP_EN with SLP_TYP 0, which QEMU's DSDT calls S5
DEBUGCON = 0xE9

# 16550 register offsets.
THR, IER, FCR, LCR, MCR, LSR, SCR = 0, 1, 2, 3, 4, 5, 7
DLL, DLM = 0, 1
LSR_THRE = 0x20


def add_devices(k: KvmModule) -> None:
    k.err_port = _global_i16(k, "applc_kvm_err_port", COM1)
    k.trace_on = _global_i16(k, "applc_kvm_trace_on", 0)
    _uart_init(k)
    _uart_present(k)
    _putc(k)
    _serial_setup(k)
    _write(k)
    _exit(k)
    _trace(k)


def _global_i16(k, name, value):
    g = ir.GlobalVariable(k.module, I16, name=name)
    g.linkage = "internal"
    g.initializer = I16(value)
    return g


def _uart_init(k):
    w = k.writer("applc_kvm_uart_init", VOID, (I16,))
    (base,) = w.args

    def reg(offset):
        return w.b.add(base, I16(offset))

    outb(w, reg(IER), 0x00)
    outb(w, reg(LCR), 0x80)  # DLAB: the next two registers are the divisor
    outb(w, reg(DLL), 0x01)
    outb(w, reg(DLM), 0x00)
    outb(w, reg(LCR), 0x03)  # 8 data bits, no parity, 1 stop bit
    outb(w, reg(FCR), 0xC7)  # FIFOs on and cleared
    outb(w, reg(MCR), 0x03)  # DTR, RTS
    w.b.ret_void()


def _uart_present(k):
    """A 16550 keeps what is written to its scratch register; no device reads 0xff."""
    w = k.writer("applc_kvm_uart_present", ir.IntType(1), (I16,))
    (base,) = w.args
    scratch = w.b.add(base, I16(SCR))
    ok = ir.Constant(ir.IntType(1), 1)
    for pattern in (0x5A, 0xA5):
        outb(w, scratch, pattern)
        ok = w.b.and_(ok, w.b.icmp_unsigned("==", inb(w, scratch), I8(pattern)))
    w.b.ret(ok)


def _putc(k):
    w = k.writer("applc_kvm_putc", VOID, (I16, I8))
    base, byte = w.args
    lsr = w.b.add(base, I16(LSR))
    with w.while_(lambda: w.b.icmp_unsigned("==", w.b.and_(inb(w, lsr), I8(LSR_THRE)), I8(0))):
        w.asm(VOID, "pause", "", ())
    outb(w, base, byte)
    w.b.ret_void()


def _serial_setup(k):
    w = k.writer("applc_kvm_serial_setup", VOID)
    w.call(k.fns["applc_kvm_uart_init"], I16(COM1))
    with w.if_(w.call(k.fns["applc_kvm_uart_present"], I16(COM2))):
        w.call(k.fns["applc_kvm_uart_init"], I16(COM2))
        w.b.store(I16(COM2), k.err_port)
    w.b.ret_void()


def _write(k):
    w = k.writer("applc_plat_write", VOID, (I32, PTR, I64), linkage="external")
    fd, buf, length = w.args
    is_err = w.b.icmp_signed("==", fd, I32(2))
    is_out = w.b.icmp_signed("==", fd, I32(1))
    with w.if_(w.b.not_(w.b.or_(is_err, is_out))):
        w.b.ret_void()  # only fds 1 and 2 exist on this platform
    port = w.b.select(is_err, w.b.load(k.err_port), I16(COM1))
    base = w.addr(buf)
    with w.for_range(0, length) as i:
        w.call(k.fns["applc_kvm_putc"], port, w.load_at(I8, w.b.add(base, i)))
    w.b.ret_void()


def _exit(k):
    w = k.writer("applc_plat_exit", VOID, (I32,), linkage="external", attributes=("noreturn",))
    (status,) = w.args
    for port in DEBUG_EXIT_PORTS:
        outb(w, port, status)  # QEMU exits here with (status << 1) | 1
    outw(w, ACPI_PM1A_CNT, ACPI_SLP_EN_S5)  # a VMM without debug-exit powers off
    halt_forever(w)


def _trace(k):
    """Boot-trace record: tag byte, then the TSC as 8 little-endian bytes."""
    setup = k.writer("applc_kvm_trace_setup", VOID)
    present = setup.b.icmp_unsigned("==", inb(setup, DEBUGCON), I8(DEBUGCON))
    setup.b.store(setup.b.zext(present, I16), k.trace_on)
    setup.b.ret_void()

    w = k.writer("applc_kvm_trace", VOID, (I8, I64))
    tag, tsc = w.args
    with w.if_(w.b.icmp_unsigned("!=", w.b.load(k.trace_on), I16(0))):
        outb(w, DEBUGCON, tag)
        for i in range(8):
            outb(w, DEBUGCON, w.b.trunc(w.b.lshr(tsc, I64(8 * i)), I8))
    w.b.ret_void()

