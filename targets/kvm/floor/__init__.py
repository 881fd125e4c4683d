"""Minimal PVH guests written byte by byte in Python (no compiler, no assembler).

In: nothing but a choice of behaviour.  Out: ELF images bootable with
``qemu-system-x86_64 -kernel``.  Used as the floor of benchmarks/boot.py and
as test guests for targets/kvm/qemu.py; the real applc image comes from the
kvm target (targets/kvm/__init__.py) and applc's linker.

- elf.py: the two-program-header ELF64 file with the Xen PVH entry note;
- code.py: hand-assembled 32-bit snippets, every byte commented;
- guests.py: the variants (exit, hello on COM1, COM2, command-line echo,
  spin forever, ACPI power-off, triple fault).

``python -m applc.targets.kvm.floor VARIANT OUT.elf`` writes one to a file.
"""

from .guests import (
    VARIANTS,
    com2_guest,
    echo_cmdline_guest,
    exit_guest,
    hello_guest,
    poweroff_guest,
    print_guest,
    spin_guest,
    triple_fault_guest,
)

__all__ = [
    "VARIANTS",
    "com2_guest",
    "echo_cmdline_guest",
    "exit_guest",
    "hello_guest",
    "poweroff_guest",
    "print_guest",
    "spin_guest",
    "triple_fault_guest",
]
