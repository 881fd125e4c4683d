"""The kvm target's hand-written assembly: PVH note, 32-bit entry, GDT, stacks.

In: nothing. Out: `BOOT_ASM` (appended to the platform module as `module
asm`) and the memory-layout constants the IR side shares with it.

This is only what cannot be IR: the code that runs before long mode exists.
From the first instruction to the call of `applc_kvm_start` (IR, in
platform.py):

    rdtsc                       boot timestamp, kept in esi:ebp
    zero .bss                   the PVH ABI does not promise it
    store TSC and %ebx          %ebx = physical address of hvm_start_info
    boot page tables            [0, 4 GiB) identity mapped with 2 MiB pages
    CR4.PAE|OSFXSR|OSXMMEXCPT   PAE for long mode; SSE usable
    EFER.LME (+NXE if CPUID has NX)
    CR0.PG|WP|NE|MP|PE, EM=TS=0 paging on, writes honour read-only pages
    lgdt, ljmp to 64-bit code, data segments, rsp = top of the real stack

The stacks live in `.noinit` (NOBITS, after .bss): never zeroed, so their
pages are touched only when used. A 4 KiB guard page sits below the main
stack; applc_kvm_start leaves it unmapped in the final page tables.
"""

STACK_SIZE = 512 << 10
IST_STACK_SIZE = 16 << 10
GUARD_SIZE = 4096
STACK_SLACK = 64 << 10  # applc_stack_limit sits this far above the guard page

# GDT selectors (the TSS descriptor is filled in at run time by traps.py).
CODE64_SELECTOR = 0x08
DATA_SELECTOR = 0x10
TSS_SELECTOR = 0x18

XEN_ELFNOTE_PHYS32_ENTRY = 18

BOOT_ASM = f"""\
.section .note.Xen,"a",@note
.balign 4
.long 4
.long 4
.long {XEN_ELFNOTE_PHYS32_ENTRY}
.asciz "Xen"
.long applc_pvh_start

.section .text.applc_boot,"ax",@progbits
.code32
.globl applc_pvh_start
.type applc_pvh_start,@function
applc_pvh_start:
    rdtsc
    movl %eax, %esi
    movl %edx, %ebp
    cld
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
    movl %esi, applc_kvm_boot_tsc
    movl %ebp, applc_kvm_boot_tsc+4
    movl %ebx, applc_kvm_start_info
    movl $applc_kvm_boot_pd, %edi
    movl $0x83, %eax
1:
    movl %eax, (%edi)
    addl $8, %edi
    addl $0x200000, %eax
    jnc 1b
    movl $applc_kvm_boot_pdpt, %edi
    movl $applc_kvm_boot_pd+3, %eax
    movl $4, %ecx
2:
    movl %eax, (%edi)
    addl $8, %edi
    addl $4096, %eax
    loop 2b
    movl $applc_kvm_boot_pdpt+3, applc_kvm_boot_pml4
    movl $applc_kvm_boot_pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x620, %eax
    movl %eax, %cr4
    movl $0x80000001, %eax
    cpuid
    movl %edx, %esi
    movl $0xC0000080, %ecx
    rdmsr
    orl $0x100, %eax
    btl $20, %esi
    jnc 3f
    orl $0x800, %eax
3:
    wrmsr
    movl %cr0, %eax
    andl $0xFFFFFFF3, %eax
    orl $0x80010023, %eax
    movl %eax, %cr0
    lgdt applc_kvm_gdt_pointer
    ljmp ${CODE64_SELECTOR}, $applc_kvm_long_mode
.code64
applc_kvm_long_mode:
    movw ${DATA_SELECTOR}, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movl $applc_kvm_stack_top, %esp
    fninit
    callq applc_kvm_start
    ud2
.size applc_pvh_start, .-applc_pvh_start

.section .data.applc_gdt,"aw",@progbits
.balign 16
.globl applc_kvm_gdt
applc_kvm_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
    .quad 0
    .quad 0
applc_kvm_gdt_pointer:
    .word applc_kvm_gdt_pointer - applc_kvm_gdt - 1
    .quad applc_kvm_gdt

.section .bss.applc_boot,"aw",@nobits
.balign 4096
applc_kvm_boot_pml4:
    .skip 4096
applc_kvm_boot_pdpt:
    .skip 4096
applc_kvm_boot_pd:
    .skip 16384

# Written by the entry code before anything reads them, so they need no zeroing; and
# outside .data/.bss, which the collector scans as roots: the boot TSC is a number of
# the size of a heap address that differs from boot to boot, and as a root it kept
# garbage alive in some runs and not others.
.section .noinit.applc_boot_words,"aw",@nobits
.balign 8
.globl applc_kvm_boot_tsc
applc_kvm_boot_tsc:
    .skip 8
.globl applc_kvm_start_info
applc_kvm_start_info:
    .skip 8

.section .noinit.applc_stacks,"aw",@nobits
.balign 4096
.globl applc_kvm_stack_guard
applc_kvm_stack_guard:
    .skip {GUARD_SIZE}
    .skip {STACK_SIZE}
.globl applc_kvm_stack_top
applc_kvm_stack_top:
    .skip {IST_STACK_SIZE}
.globl applc_kvm_ist_top
applc_kvm_ist_top:

.text
"""
