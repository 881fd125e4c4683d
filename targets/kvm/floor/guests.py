"""The floor guests: the least a PVH guest can do, as ELF image bytes.

Each function returns a complete image (see elf.py) that boots under
``qemu-system-x86_64 -kernel``.  They are the floor of the boot benchmark (no
guest can boot faster than one that exits at once) and the test doubles
for the runner in targets/kvm/qemu.py, which needs guests with a known
behaviour: an exit status, bytes on COM1 or COM2, a command line echoed
back, a guest that never ends, one that crashes.

All of them start the same way (``cld``, then an optional boot-trace record
on port 0xe9, see code.trace_timestamp_if_debugcon) and, except for the
spinning, crashing and powering-off ones, end by writing their status to
isa-debug-exit.
"""

from __future__ import annotations

from . import code as asm
from .elf import CODE_ADDR, pvh_elf


def _image(body: "callable[[asm.Code], None]") -> bytes:
    code = asm.Code(CODE_ADDR)
    asm.clear_direction(code)
    asm.trace_timestamp_if_debugcon(code, b"E")  # "E": entry reached
    body(code)
    return pvh_elf(code.finish())


def exit_guest(status: int = 0) -> bytes:
    """Exit with ``status`` (0..127) at once: the boot-time floor."""
    return _image(lambda code: asm.exit_with(code, status))


def print_guest(text: bytes = b"hello\n", *, port: int = asm.COM1, status: int = 0) -> bytes:
    """Write ``text`` to the UART at ``port`` (COM1 by default), then exit."""

    def body(code: asm.Code) -> None:
        asm.write_bytes(code, port, text)
        asm.exit_with(code, status)

    return _image(body)


def hello_guest() -> bytes:
    """Print ``hello\\n`` on COM1 and exit 0 (the console-capture test)."""
    return print_guest(b"hello\n")


def com2_guest(text: bytes = b"error report\n", status: int = 3) -> bytes:
    """Print ``text`` on COM2 (the error channel) and exit with ``status``."""
    return print_guest(text, port=asm.COM2, status=status)


def echo_cmdline_guest() -> bytes:
    """Echo the PVH command line on COM1 followed by a newline, then exit 0."""

    def body(code: asm.Code) -> None:
        asm.echo_cmdline(code, asm.COM1)
        asm.write_bytes(code, asm.COM1, b"\n")
        asm.exit_with(code, 0)

    return _image(body)


def spin_guest() -> bytes:
    """Print ``spinning\\n`` on COM1, then busy-loop forever (the timeout tests)."""

    def body(code: asm.Code) -> None:
        asm.write_bytes(code, asm.COM1, b"spinning\n")
        asm.spin(code)

    return _image(body)


def poweroff_guest(com2_text: bytes = b"") -> bytes:
    """Optionally write ``com2_text`` on COM2, then power off through ACPI (pc/q35)."""

    def body(code: asm.Code) -> None:
        asm.write_bytes(code, asm.COM2, com2_text)
        asm.acpi_poweroff(code)

    return _image(body)


def triple_fault_guest() -> bytes:
    """Crash at once with a triple fault (the VM resets)."""
    return _image(asm.triple_fault)


VARIANTS = {
    "exit": exit_guest,
    "hello": hello_guest,
    "com2": com2_guest,
    "echo": echo_cmdline_guest,
    "spin": spin_guest,
    "poweroff": poweroff_guest,
    "triple-fault": triple_fault_guest,
}
