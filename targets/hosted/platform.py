"""The hosted platform: the applc platform interface on Linux system calls.

In: nothing. Out: `platform_ir()`, an LLVM IR module (text) that defines the
process entry `_start` and every function of the platform contract
(docs/platform.md) with raw `syscall` instructions -- no libc:

    _start (asm: rsp -> first argument)
      -> applc_hosted_start(sp, tsc): argv, stack limit, heap mmap
      -> applc_main() -> applc_plat_exit(status) = exit_group

Neighbours: applc.link.irkit (IR helpers), applc.link.freestanding (mem*),
targets/hosted/__init__.py (the Target record).
"""

from __future__ import annotations

from llvmlite import ir

from applc.link.freestanding import add_mem_functions
from applc.link.irkit import I8, I32, I64, PTR, VOID, FunctionWriter, global_var, mark_used, new_module, with_module_asm

TRIPLE = "x86_64-unknown-linux-gnu"

# Linux x86-64 system call numbers and constants.
SYS_WRITE, SYS_MMAP, SYS_GETRLIMIT, SYS_CLOCK_GETTIME, SYS_EXIT_GROUP = 1, 9, 97, 228, 231
EINTR = 4
PROT_READ_WRITE = 0x3
MAP_PRIVATE_ANONYMOUS_NORESERVE = 0x02 | 0x20 | 0x4000
RLIMIT_STACK = 3
CLOCK_MONOTONIC = 1
AT_NULL, AT_EXECFN = 0, 31

HEAP_RESERVE = 4 << 30  # address space only (MAP_NORESERVE): pages cost when touched
HEAP_MINIMUM = 16 << 20
STACK_CAP = 8 << 20  # used when RLIMIT_STACK is unlimited
STACK_SLACK = 64 << 10  # room left below the limit for raising RecursionError
PAGE = 4096

# The entry point: the kernel leaves argc at (%rsp), argv after it. The asm
# only hands the stack pointer (and the first TSC reading) to IR code.
ENTRY_ASM = """\
.text
.globl _start
.type _start,@function
_start:
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    movq %rax, %rsi
    movq %rsp, %rdi
    xorl %ebp, %ebp
    andq $-16, %rsp
    callq applc_hosted_start
    ud2
.size _start, .-_start
"""


def platform_ir() -> str:
    module = new_module("applc.platform.hosted", TRIPLE)
    g = _Globals(module)
    sys = _Syscalls(module)
    _write(module, sys)
    exit_fn = _exit(module, sys)
    _accessors(module, g)
    _monotonic(module, sys)
    start = _start(module, g, sys, exit_fn)
    add_mem_functions(module, noredzone=False)
    mark_used(module, [start])
    return with_module_asm(str(module), ENTRY_ASM)


class _Globals:
    def __init__(self, module: ir.Module):
        self.stack_limit = global_var(module, "applc_stack_limit", I64, 0, linkage="external")
        self.argc = global_var(module, "applc_hosted_argc", I64)
        self.argv = global_var(module, "applc_hosted_argv", I64)
        self.heap_start = global_var(module, "applc_hosted_heap_start", I64)
        self.heap_end = global_var(module, "applc_hosted_heap_end", I64)
        self.boot_tsc = global_var(module, "applc_hosted_boot_tsc", I64)
        self.stack_top = global_var(module, "applc_hosted_stack_top", I64)


class _Syscalls:
    """One private `syscall6` function; LLVM inlines it at each use."""

    def __init__(self, module: ir.Module):
        w = FunctionWriter(module, "applc_hosted_syscall", I64, (I64,) * 7, linkage="private", attributes=("alwaysinline",))
        result = w.asm(
            I64,
            "syscall",
            "={rax},{rax},{rdi},{rsi},{rdx},{r10},{r8},{r9},~{rcx},~{r11},~{memory}",
            w.args,
        )
        w.b.ret(result)
        self.fn = w.fn

    def __call__(self, w: FunctionWriter, number: int, *args) -> ir.Value:
        padded = [a if isinstance(a, ir.Value) else I64(a) for a in args] + [I64(0)] * (6 - len(args))
        return w.call(self.fn, I64(number), *padded)


def _write(module, sys):
    """write(2) until every byte is out; retry on EINTR, give up on other errors."""
    w = FunctionWriter(module, "applc_plat_write", VOID, (I32, PTR, I64))
    fd, buf, length = w.args
    fd64 = w.b.sext(fd, I64)
    done = w.var(I64, 0)
    with w.while_(lambda: w.b.icmp_signed("<", w.get(done), length)) as exit_block:
        at = w.b.add(w.addr(buf), w.get(done))
        n = sys(w, SYS_WRITE, fd64, at, w.b.sub(length, w.get(done)))
        with w.if_(w.b.icmp_signed(">=", n, I64(0))):
            w.set(done, w.b.add(w.get(done), n))
        failed = w.b.and_(w.b.icmp_signed("<", n, I64(0)), w.b.icmp_signed("!=", n, I64(-EINTR)))
        with w.if_(failed):
            w.b.branch(exit_block)
    w.b.ret_void()


def _exit(module, sys):
    w = FunctionWriter(module, "applc_plat_exit", VOID, (I32,), attributes=("noreturn",))
    sys(w, SYS_EXIT_GROUP, w.b.sext(w.args[0], I64))
    w.b.unreachable()
    return w.fn


def _accessors(module, g: _Globals):
    for name, var in (
        ("applc_plat_heap_start", g.heap_start),
        ("applc_plat_heap_end", g.heap_end),
        ("applc_plat_argc", g.argc),
        ("applc_plat_boot_tsc", g.boot_tsc),
        ("applc_plat_stack_top", g.stack_top),
    ):
        w = FunctionWriter(module, name, I64, ())
        w.b.ret(w.b.load(var))
    w = FunctionWriter(module, "applc_plat_tsc_hz", I64, ())
    w.b.ret(I64(0))  # unknown on a hosted process: see docs/platform.md
    # no interrupts in a process: the pending bitmap (docs/platform.md) stays zero
    pending = global_var(module, "applc_hosted_irq_pending", ir.ArrayType(I64, 4), ir.Constant(ir.ArrayType(I64, 4), None))
    w = FunctionWriter(module, "applc_plat_irq_pending", I64, ())
    w.b.ret(w.addr(pending))
    w = FunctionWriter(module, "applc_plat_argv", PTR, (I64,))
    (i,) = w.args
    in_range = w.b.icmp_unsigned("<", i, w.b.load(g.argc))
    with w.if_(w.b.not_(in_range)):
        w.b.ret(ir.Constant(PTR, None))
    slot = w.b.add(w.b.load(g.argv), w.b.mul(i, I64(8)))
    w.b.ret(w.load_at(PTR, slot))
    # The platform's own boot words (kvm: virtio_mmio.device=...): a process has none.
    w = FunctionWriter(module, "applc_plat_devarg", PTR, (I64,))
    w.b.ret(ir.Constant(PTR, None))


def _monotonic(module, sys):
    w = FunctionWriter(module, "applc_plat_monotonic_ns", I64, ())
    ts = w.b.alloca(ir.ArrayType(I64, 2))
    sys(w, SYS_CLOCK_GETTIME, CLOCK_MONOTONIC, w.addr(ts))
    sec = w.load_at(I64, w.addr(ts))
    nsec = w.load_at(I64, w.b.add(w.addr(ts), I64(8)))
    w.b.ret(w.b.add(w.b.mul(sec, I64(1_000_000_000)), nsec))


def _start(module, g: _Globals, sys, exit_fn) -> ir.Function:
    w = FunctionWriter(module, "applc_hosted_start", VOID, (PTR, I64), attributes=("noreturn", "noinline"))
    sp, tsc = w.args
    w.b.store(tsc, g.boot_tsc)
    # the collector scans the stack up to here (the kernel's argv/env strings lie above)
    w.b.store(w.addr(sp), g.stack_top)
    argc = w.load_at(I64, sp)
    argv = w.b.add(w.addr(sp), I64(8))
    w.b.store(argc, g.argc)
    w.b.store(argv, g.argv)
    _set_stack_limit(w, g, sys, argv)
    _reserve_heap(w, g, sys)
    main = ir.Function(module, ir.FunctionType(I32, ()), name="applc_main")
    status = w.call(main)
    w.call(exit_fn, status)
    w.b.unreachable()
    return w.fn


def _string_end(w: FunctionWriter, s) -> ir.Value:
    """Address one past the NUL of the string at `s`."""
    p = w.var(I64, s)
    with w.while_(lambda: w.b.icmp_unsigned("!=", w.load_at(I8, w.get(p)), I8(0))):
        w.set(p, w.b.add(w.get(p), I64(1)))
    return w.b.add(w.get(p), I64(1))


def _set_stack_limit(w: FunctionWriter, g: _Globals, sys, argv) -> None:
    """applc_stack_limit = top of the stack - RLIMIT_STACK + slack.

    The stack's top lies above the argument and environment strings (and the
    AT_EXECFN name, which the kernel puts last), so the highest string end,
    rounded up to a page, bounds it from above.
    """
    top = w.var(I64, 0)
    vec = w.var(I64, argv)  # walks argv, then envp, then auxv

    def remember(string_ptr):
        end = _string_end(w, string_ptr)
        with w.if_(w.b.icmp_unsigned(">", end, w.get(top))):
            w.set(top, end)

    for _vector in ("argv", "envp"):
        with w.while_(lambda: w.b.icmp_unsigned("!=", w.load_at(I64, w.get(vec)), I64(0))):
            remember(w.load_at(I64, w.get(vec)))
            w.set(vec, w.b.add(w.get(vec), I64(8)))
        w.set(vec, w.b.add(w.get(vec), I64(8)))  # skip the NULL terminator
    with w.while_(lambda: w.b.icmp_unsigned("!=", w.load_at(I64, w.get(vec)), I64(AT_NULL))):
        with w.if_(w.b.icmp_unsigned("==", w.load_at(I64, w.get(vec)), I64(AT_EXECFN))):
            remember(w.load_at(I64, w.b.add(w.get(vec), I64(8))))
        w.set(vec, w.b.add(w.get(vec), I64(16)))
    stack_top = w.b.and_(w.b.add(w.get(top), I64(PAGE - 1)), I64(-PAGE))

    rlim = w.b.alloca(ir.ArrayType(I64, 2))
    w.b.store(ir.Constant(ir.ArrayType(I64, 2), [STACK_CAP, STACK_CAP]), rlim)
    sys(w, SYS_GETRLIMIT, RLIMIT_STACK, w.addr(rlim))
    cur = w.load_at(I64, w.addr(rlim))
    unlimited = w.b.icmp_unsigned(">", cur, I64(1 << 46))  # RLIM_INFINITY, or absurdly large
    size = w.b.select(unlimited, I64(STACK_CAP), cur)
    w.b.store(w.b.add(w.b.sub(stack_top, size), I64(STACK_SLACK)), g.stack_limit)


def _reserve_heap(w: FunctionWriter, g: _Globals, sys) -> None:
    """mmap a large MAP_NORESERVE region; halve the request while it fails."""
    size = w.var(I64, HEAP_RESERVE)
    with w.while_(lambda: w.b.icmp_unsigned(">=", w.get(size), I64(HEAP_MINIMUM))) as done:
        base = sys(w, SYS_MMAP, 0, w.get(size), PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS_NORESERVE, -1, 0)
        # mmap returns -errno (in [-4095, -1]) on failure.
        with w.if_(w.b.icmp_unsigned("<", base, I64(-4095))):
            w.b.store(base, g.heap_start)
            w.b.store(w.b.add(base, w.get(size)), g.heap_end)
            w.b.branch(done)
        w.set(size, w.b.lshr(w.get(size), I64(1)))
