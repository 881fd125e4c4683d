"""A thin layer over llvmlite.ir for writing platform code in Python.

In: a module and function signatures. Out: `FunctionWriter`s whose helpers
(structured loops, ifs, mutable locals, inline asm, C strings) keep the
targets' platform code readable. Mutable locals are allocas: LLVM's mem2reg
turns them into registers, so the code stays short without hand-written phis.

Used by applc.targets.hosted and applc.targets.kvm; nothing here knows about a
particular target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from llvmlite import ir

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I16 = ir.IntType(16)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
I128 = ir.IntType(128)
PTR = ir.PointerType()
VOID = ir.VoidType()

# Every platform function: no unwinding (no .eh_frame needed), and no
# library calls synthesised from loops: there is no libc under the image,
# and the weak mem* functions must not call themselves.
BASE_ATTRIBUTES = ("nounwind", '"no-builtins"')


def new_module(name: str, triple: str) -> ir.Module:
    module = ir.Module(name=name)
    module.triple = triple
    return module


def cstring(module: ir.Module, name: str, text: bytes) -> ir.GlobalVariable:
    """A private NUL-terminated constant."""
    data = bytearray(text + b"\0")
    g = ir.GlobalVariable(module, ir.ArrayType(I8, len(data)), name=name)
    g.linkage = "private"
    g.global_constant = True
    g.unnamed_addr = True
    g.initializer = ir.Constant(ir.ArrayType(I8, len(data)), data)
    return g


def global_var(module: ir.Module, name: str, ty: ir.Type, init=0, linkage: str = "internal", align: int | None = None):
    g = ir.GlobalVariable(module, ty, name=name)
    # A *defined* exported global has the default linkage ("external" would
    # print as a declaration).
    g.linkage = "" if linkage == "external" else linkage
    g.storage_class = "dso_local"  # see extern_global
    g.initializer = ir.Constant(ty, init) if not isinstance(init, ir.Constant) else init
    if align:
        g.align = align
    return g


def extern_global(module: ir.Module, name: str, ty: ir.Type = ir.ArrayType(I8, 0)) -> ir.GlobalVariable:
    """A symbol defined elsewhere (module asm or the linker), used as an address.

    dso_local: the image is static, so the symbol is addressed directly
    (rip-relative); without it LLVM loads every address from the GOT.
    """
    g = ir.GlobalVariable(module, ty, name=name)
    g.storage_class = "dso_local"
    return g


def with_module_asm(ir_text: str, asm: str) -> str:
    """IR text with `asm` appended as `module asm` lines (llvmlite.ir has no
    API for them). Quotes and backslashes are escaped the IR way (\\22, \\5C)."""
    lines = []
    for line in asm.splitlines():
        escaped = line.replace("\\", "\\5C").replace('"', "\\22")
        lines.append(f'module asm "{escaped}"')
    return ir_text + "\n" + "\n".join(lines) + "\n"


def mark_used(module: ir.Module, values: list[ir.GlobalValue]) -> None:
    """@llvm.used: keep symbols that only module asm refers to (the optimiser
    cannot see those references and would otherwise delete or rename them)."""
    arr_ty = ir.ArrayType(PTR, len(values))
    used = ir.GlobalVariable(module, arr_ty, name="llvm.used")
    used.linkage = "appending"
    used.section = "llvm.metadata"
    used.initializer = ir.Constant(arr_ty, values)


def add_attribute(fn: ir.Function, name: str) -> None:
    """Add a function attribute; '"quoted"' string attributes are allowed.

    llvmlite validates names against a fixed list that lacks LLVM's string
    attributes ("no-builtins", "stackrealign", ...), which print verbatim,
    so those bypass the check.
    """
    if name.startswith('"'):
        set.add(fn.attributes, name)
    else:
        fn.attributes.add(name)


class FunctionWriter:
    """Builds one function; `b` is the underlying IRBuilder."""

    def __init__(
        self,
        module: ir.Module,
        name: str,
        ret: ir.Type,
        args: tuple[ir.Type, ...] = (),
        linkage: str = "external",
        attributes: tuple[str, ...] = (),
        noredzone: bool = False,
    ):
        existing = module.globals.get(name)
        if existing is not None and not (isinstance(existing, ir.Function) and existing.is_declaration):
            raise ValueError(f"{name} is already defined in {module.name}")
        # Reuse an earlier declaration (a forward call), else declare it now.
        self.fn = existing or ir.Function(module, ir.FunctionType(ret, args), name=name)
        self.fn.linkage = linkage
        for attr in BASE_ATTRIBUTES + tuple(attributes) + (("noredzone",) if noredzone else ()):
            add_attribute(self.fn, attr)
        entry = self.fn.append_basic_block("entry")
        self._allocas = ir.IRBuilder(entry)
        self.b = ir.IRBuilder(self.fn.append_basic_block("body"))
        self._allocas.branch(self.b.block)
        self._allocas.position_at_start(entry)

    @property
    def args(self) -> tuple[ir.Argument, ...]:
        return tuple(self.fn.args)

    # Mutable locals -------------------------------------------------------
    def var(self, ty: ir.Type, init) -> ir.AllocaInstr:
        slot = self._allocas.alloca(ty)
        self.b.store(_const(ty, init), slot)
        return slot

    def get(self, slot: ir.Value) -> ir.Value:
        return self.b.load(slot)

    def set(self, slot: ir.AllocaInstr, value) -> None:
        self.b.store(_const(slot.allocated_type, value), slot)

    # Control flow ---------------------------------------------------------
    @contextmanager
    def while_(self, cond: Callable[[], ir.Value]) -> Iterator[ir.Block]:
        """`while cond(): body`; yields the exit block (branch to it to break)."""
        head = self.fn.append_basic_block("while.head")
        body = self.fn.append_basic_block("while.body")
        done = self.fn.append_basic_block("while.done")
        self.b.branch(head)
        self.b.position_at_end(head)
        self.b.cbranch(cond(), body, done)
        self.b.position_at_end(body)
        yield done
        if not self.b.block.is_terminated:
            self.b.branch(head)
        self.b.position_at_end(done)

    @contextmanager
    def for_range(self, lo, hi, step: int = 1) -> Iterator[ir.Value]:
        """`for i in range(lo, hi, step)` over i64; yields the loaded index."""
        i = self.var(I64, lo)
        hi_v = _const(I64, hi)
        with self.while_(lambda: self.b.icmp_signed("<", self.get(i), hi_v)):
            current = self.get(i)
            yield current
            if not self.b.block.is_terminated:
                self.b.store(self.b.add(current, I64(step)), i)

    def if_(self, cond: ir.Value):
        return self.b.if_then(cond)

    def if_else(self, cond: ir.Value):
        return self.b.if_else(cond)

    # Memory and machine ---------------------------------------------------
    def load_at(self, ty: ir.Type, address, volatile: bool = False) -> ir.Value:
        return self.b.load(self.ptr(address), typ=ty) if not volatile else self._volatile_load(ty, address)

    def store_at(self, ty: ir.Type, address, value, volatile: bool = False) -> None:
        inst = self.b.store(_const(ty, value), self.ptr(address))
        if volatile:
            inst.volatile = True

    def _volatile_load(self, ty, address):
        inst = self.b.load(self.ptr(address), typ=ty)
        inst.volatile = True  # llvmlite prints `load volatile` when set
        return inst

    def ptr(self, address) -> ir.Value:
        """A pointer from an i64 address (or a pointer, unchanged)."""
        if isinstance(address, int):
            return self.b.inttoptr(I64(address), PTR)
        if address.type == PTR:
            return address
        return self.b.inttoptr(address, PTR)

    def addr(self, pointer: ir.Value) -> ir.Value:
        return self.b.ptrtoint(pointer, I64)

    def asm(self, ret: ir.Type, text: str, constraints: str, args=(), side_effect: bool = True) -> ir.Value:
        fnty = ir.FunctionType(ret, [a.type for a in args])
        return self.b.asm(fnty, text, constraints, list(args), side_effect)

    def call(self, fn: ir.Function, *args) -> ir.Value:
        return self.b.call(fn, list(args))


def _const(ty: ir.Type, value):
    return value if isinstance(value, ir.Value) else ir.Constant(ty, value)
