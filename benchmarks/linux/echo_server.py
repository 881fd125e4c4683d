"""A static x86-64 Linux UDP echo server of a few hundred bytes, for the Linux baseline's initramfs.

In: a UDP port.  Out: the bytes of an ELF executable that binds 0.0.0.0:port
and sends every datagram it receives back to its sender, forever (exit
status 1 if the socket cannot be made or bound).

Why it exists: Debian 12's busybox-static (1.35) has no UDP server at all
-- no inetd applet, and its ``nc`` has no ``-u`` -- and the baseline must
echo every datagram, not one per process start.  So the Linux guest runs
this loop instead: four system calls, no libc, assembled by LLVM (llvmlite)
and linked by applc's own linker, like applc's images (no system toolchain).
It is the least user-space work a Linux echo can do, so the baseline's cost
is the kernel's.
"""

from __future__ import annotations

from applc.link.elf import LinkSpec, link
from applc.link.target import init_llvm

import llvmlite.binding as llvm

_TRIPLE = "x86_64-unknown-linux-gnu"
_BUFFER = 65536

# Linux x86-64 system call numbers and constants.
_SYS = {"socket": 41, "bind": 49, "recvfrom": 45, "sendto": 44, "exit": 60}
AF_INET, SOCK_DGRAM = 2, 2


def _assembly(port: int) -> str:
    s = _SYS
    return f"""
    .text
    .globl _start
_start:
    mov ${s['socket']}, %eax
    mov ${AF_INET}, %edi
    mov ${SOCK_DGRAM}, %esi
    xor %edx, %edx
    syscall
    test %rax, %rax
    js fail
    mov %rax, %r12
    mov ${s['bind']}, %eax
    mov %r12, %rdi
    lea echo_addr(%rip), %rsi
    mov $16, %edx
    syscall
    test %rax, %rax
    js fail
next:
    movl $16, echo_peer_len(%rip)
    mov ${s['recvfrom']}, %eax
    mov %r12, %rdi
    lea echo_buf(%rip), %rsi
    mov ${_BUFFER}, %edx
    xor %r10d, %r10d
    lea echo_peer(%rip), %r8
    lea echo_peer_len(%rip), %r9
    syscall
    test %rax, %rax
    js next
    mov %rax, %rdx
    mov ${s['sendto']}, %eax
    mov %r12, %rdi
    lea echo_buf(%rip), %rsi
    xor %r10d, %r10d
    lea echo_peer(%rip), %r8
    mov echo_peer_len(%rip), %r9d
    syscall
    jmp next
fail:
    mov ${s['exit']}, %eax
    mov $1, %edi
    syscall

    .data
    .balign 8
echo_addr:
    .short {AF_INET}
    .byte {port >> 8}, {port & 0xFF}
    .long 0
    .quad 0

    .bss
    .balign 16
echo_peer:
    .zero 16
echo_peer_len:
    .zero 8
echo_buf:
    .zero {_BUFFER}
"""


def build(port: int = 7) -> bytes:
    """The executable's bytes (deterministic: same port, same bytes)."""
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is not in 1..65535")
    init_llvm()
    ir_text = "\n".join(f'module asm "{line}"' for line in _assembly(port).splitlines()) + "\n"
    module = llvm.parse_assembly(f'target triple = "{_TRIPLE}"\n' + ir_text)
    machine = llvm.Target.from_triple(_TRIPLE).create_target_machine(
        cpu="x86-64", opt=0, reloc="static", codemodel="small"
    )
    obj = machine.emit_object(module)
    return link([obj], LinkSpec(base_address=0x400000, entry="_start", gnu_stack=True)).image
