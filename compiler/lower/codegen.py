"""Lowering: checked apy trees -> one LLVM IR module (llvmlite.ir) for the whole program.

In:  the checked modules (runtime modules first, the program's `__main__` last),
     every expression typed and every name/call resolved by applc.check.
Out: an `ir.Module` defining `i32 @applc_main()` (runs every module's top-level
     code in order; returns the exit status) plus one internal function per
     apy function. The platform module (targets/) is linked in afterwards.

Value representation:
    int -> i64, float -> double, bool -> i1, None -> i8 0 (void as a return),
    every object type (str, containers, instances, closures, `T | None`) -> ptr to
    its heap object (docs/runtime-abi.md); None is the null pointer.

Exceptions are checked error returns (DESIGN.md section 3): raising stores the
exception in the runtime global `rt.core._exc` and jumps to the innermost
handler, or to the function's unwind block, which returns an undefined value;
after every call that may raise, the caller tests `_exc` and, if set, records a
traceback entry (file, function, line) and unwinds in turn. `applc_main` prints
the report of an uncaught exception and returns its exit status.

Every safety check of DESIGN.md section 1 is emitted here or in the mixins:
overflow of + - * << and unary -, division by zero, negative shift counts,
range() step zero, bounds of every index, None where a value is needed, and a
stack-depth check in the prologue of every function on a cycle of calls.
"""

from __future__ import annotations

from contextlib import contextmanager

from llvmlite import ir

from ..check import types as t
from ..check.classes import ClassInfo, Construct, MethodRef, SuperExcInit
from ..check.checker import const_value
from ..diag import InternalError
from ..parse import nodes as n
from .classes import ClassLowering
from .closures import ClosureLowering
from .heap import FStringLowering, HeapLowering

I64 = ir.IntType(64)
I32 = ir.IntType(32)
I8 = ir.IntType(8)
I1 = ir.IntType(1)
F64 = ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()

STR_HEADER_STATIC = 1  # header word of str objects that live in the image
STR_DATA = 24  # offset of the bytes in a str object

RUNTIME_CLASS_IDS = {"SYSTEM_EXIT": "SystemExit", "MEMORY_ERROR": "MemoryError"}
COLD_RUNTIME = {"raise_exc", "raise_system_exit", "tb_add", "report_uncaught",
                "_raise_memory_error", "raise_at", "raise_with", "tb_at"}
# runtime functions that always return with an exception in flight (see assume_raised)
RAISING_RUNTIME = {"raise_exc", "raise_system_exit", "_raise_memory_error", "raise_at",
                   "raise_with", "raise_instance", "reraise"}
# a site record (runtime/core.apy SITE_*): a function's (file, name); a raise site's adds
# (class id, how, exception name, message); 32-bit fields, as the image lies below 4 GiB
SITE_FRAME = ir.LiteralStructType([I32, I32])
SITE_RAISE = ir.LiteralStructType([I32, I32, I32, I32, I32, I32])


def lty(ty: t.Type) -> ir.Type:
    if ty is t.INT:
        return I64
    if ty is t.FLOAT:
        return F64
    if ty is t.BOOL:
        return I1
    if ty is t.STR:
        return PTR
    if ty in (t.NONE, t.NORETURN):
        return I8
    if t.is_object(ty):
        return PTR
    raise InternalError(None, f"no LLVM type for {ty}")


def ret_lty(ty: t.Type) -> ir.Type:
    return VOID if ty in (t.NONE, t.NORETURN) else lty(ty)


class ProgramLowerer:
    """Owns the ir.Module: functions, globals, string constants."""

    def __init__(self, modules: list[t.ModuleInfo], *, triple: str, data_layout: str,
                 no_red_zone: bool, target_name: str = "hosted") -> None:
        self.modules = modules
        self.target_name = target_name  # `_machine.target_name()`, a compile-time constant
        self.by_name = {m.name: m for m in modules}
        self.exc_ids = {name: c.cid for name, c in modules[0].exception_classes.items()}
        self.module = ir.Module(name="applc")
        self.module.triple = triple
        self.module.data_layout = data_layout
        self.no_red_zone = no_red_zone
        self.functions: dict[int, ir.Function] = {}
        self.pending: list[t.Function] = []
        # generated per-type functions (repr, ==, hash...): built after use, like pending
        self.generated: dict[tuple, ir.Function] = {}
        self.generated_pending: list = []
        from .kinds import Kinds

        self.kinds = Kinds(self)
        self.objhooks: dict[str, ir.Function] = {}
        self.globals: dict[int, ir.GlobalVariable] = {}
        self.strings: dict[str, ir.Constant] = {}
        self.sites: dict[tuple, ir.Constant] = {}  # see site_record()
        self.defaults: dict[tuple[int, int], ir.GlobalVariable] = {}
        self.init_functions: list[ir.Function] = []
        self.stack_limit = ir.GlobalVariable(self.module, I64, "applc_stack_limit")
        self.stack_limit.linkage = "external"
        # the image is static: symbols from the platform are addressed directly, not via a GOT
        self.stack_limit.storage_class = "dso_local"
        self.platform_functions: dict[str, ir.Function] = {}
        from .intrinsics import declare_memfuncs

        self.memfuncs = declare_memfuncs(self)

    def memfunc(self, name: str) -> ir.Function:
        return self.memfuncs[name]

    def linker_symbol(self, name: str) -> ir.GlobalVariable:
        gv = self.module.globals.get(name)
        if gv is None:
            gv = ir.GlobalVariable(self.module, I8, name)
            gv.linkage = "external"
            gv.storage_class = "dso_local"
        return gv

    def platform(self, name: str, ret: ir.Type, params: list[ir.Type]) -> ir.Function:
        """A function of the platform interface (docs/platform.md), declared on first use."""
        fn = self.platform_functions.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ret, params), name)
            fn.attributes.add("nounwind")
            fn.storage_class = "dso_local"
            self.platform_functions[name] = fn
        return fn

    # ------------------------------------------------------------------ program

    def lower(self) -> ir.Module:
        self.recursive = recursive_functions(all_functions(self.modules))
        for m in self.modules:
            self.declare_module(m)
        # Function bodies are lowered on demand: module top-level code and exported
        # symbols first, then whatever they reference. Most of the runtime is never
        # referenced by a given program, and is then never lowered at all.
        for m in self.modules:
            self.init_functions.append(FunctionLowerer(self, m, None).lower_module_init())
            for sym in m.globals.values():
                if isinstance(sym, t.Function) and sym.module is m and sym.export:
                    self.function(sym)
        self.define_main()
        self.drain()
        self.finish_kinds()
        return self.module

    def drain(self) -> None:
        while self.pending or self.generated_pending:
            if self.pending:
                f = self.pending.pop()
                FunctionLowerer(self, f.module, f).lower_function()
            else:
                self.generated_pending.pop()()

    def finish_kinds(self) -> None:
        """Generate the objhooks switches and the tuple-descriptor setup, once every
        type that reaches the runtime is known (generating may add more: repeat)."""
        from .kinds import generate_objhook

        while True:
            count = len(self.kinds.object_types)
            for name, fn in self.objhooks.items():
                fn.blocks.clear()
                generate_objhook(self, name, fn)
            self.drain()
            if len(self.kinds.object_types) == count:
                break
        b = ir.IRBuilder(self.kinds_setup.append_basic_block("entry"))
        self.kinds.emit_descriptor_setup(b)
        b.ret_void()

    def declare_module(self, m: t.ModuleInfo) -> None:
        for sym in m.globals.values():
            if isinstance(sym, t.GlobalVar) and sym.module is m:
                self.declare_global(sym)
            elif isinstance(sym, ClassInfo) and sym.module is m:
                for g in sym.consts.values():
                    if g.ty is not t.ERROR:
                        self.declare_global(g)

    def function(self, f: t.Function) -> ir.Function:
        """The ir.Function of `f`, declared (and queued for lowering) on first use."""
        from .kinds import OBJHOOKS

        fn = self.functions.get(id(f))
        if fn is None:
            fn = self.declare_function(f)
            if f.module.name == "rt.objhooks" and f.name in OBJHOOKS:
                self.objhooks[f.name] = fn  # generated at the end (applc.lower.kinds)
            else:
                self.pending.append(f)
        return fn

    def declare_function(self, f: t.Function) -> ir.Function:
        from .closures import takes_env

        env = [PTR] if takes_env(f) else []
        fnty = ir.FunctionType(ret_lty(f.ret), env + [lty(p.ty) for p in f.params])
        fn = ir.Function(self.module, fnty, f.llvm_name)
        fn.linkage = "external" if f.export else "internal"
        self.add_attributes(fn)
        if f.module.name == "rt.core" and f.name in COLD_RUNTIME:
            # error paths: keep them out of line so hot code stays small
            fn.attributes.add("cold")
            fn.attributes.add("noinline")
        elif is_expression_function(f) and not self.size_optimised():
            # `def f(...): return <expr>`: its checks (overflow, division) can cost more
            # than LLVM's -O2 budget allows although the hot path is a few instructions
            # (not where images are built for size: the hint costs ~6% of udp_echo's)
            fn.attributes.add("inlinehint")
        self.functions[id(f)] = fn
        return fn

    def size_optimised(self) -> bool:
        """Does the driver build this target's code for size (optsize/minsize)?"""
        from ..driver.build import size_attr  # the driver owns that choice

        return bool(size_attr(self.target_name))

    def add_attributes(self, fn: ir.Function) -> None:
        fn.attributes.add("nounwind")
        if self.no_red_zone:
            fn.attributes.add("noredzone")

    def declare_global(self, g: t.GlobalVar) -> None:
        if g.static_buffer is not None:
            buf = ir.GlobalVariable(self.module, ir.ArrayType(I8, g.static_buffer),
                                    g.llvm_name + ".buf")
            buf.initializer = ir.Constant(buf.value_type, None)
            buf.linkage = "internal"
            buf.align = 64
            self.globals[id(g)] = buf
            return
        if g.name == "__name__":
            return
        gv = ir.GlobalVariable(self.module, lty(g.ty), g.llvm_name)
        gv.linkage = "internal"
        if g.module.name == "rt.core" and g.name in RUNTIME_CLASS_IDS:
            # the runtime's copy of a class id: the program decides the numbering
            gv.initializer = ir.Constant(I64, self.exc_ids[RUNTIME_CLASS_IDS[g.name]])
        elif g.const is not None:
            gv.initializer = ir.Constant(lty(g.ty), g.const)
        elif g.ty is t.STR:
            gv.initializer = ir.Constant(PTR, None)
        else:
            gv.initializer = ir.Constant(lty(g.ty), None)
        self.globals[id(g)] = gv

    def global_value(self, b: ir.IRBuilder, g: t.GlobalVar) -> ir.Value:
        if g.name == "__name__":
            return self.str_const(g.const)
        gv = self.globals[id(g)]
        if g.static_buffer is not None:
            return gv.ptrtoint(I64)
        return b.load(gv, typ=lty(g.ty))

    def str_const(self, s: str) -> ir.Constant:
        gv = self.strings.get(s)
        if gv is None:
            data = s.encode("utf-8")
            body = ir.ArrayType(I8, len(data) + 1)
            sty = ir.LiteralStructType([I64, I64, I64, body])
            gv = ir.GlobalVariable(self.module, sty, f".str.{len(self.strings)}")
            gv.initializer = ir.Constant(
                sty,
                [
                    ir.Constant(I64, STR_HEADER_STATIC),
                    ir.Constant(I64, len(data)),
                    ir.Constant(I64, len(s)),
                    ir.Constant(body, bytearray(data + b"\0")),
                ],
            )
            gv.global_constant = True
            gv.linkage = "private"
            gv.unnamed_addr = True
            gv.align = 8
            # every str value is an opaque `ptr` (llvmlite would keep the pointee type)
            self.strings[s] = ir.FormattedConstant(PTR, gv.get_reference())
        return self.strings[s]

    def site_record(self, file: str, func: str,
                    exc: tuple[str, str, int] | None = None) -> ir.Constant:
        """The address (i64) of the static record of a function (file, name) for traceback
        frames, or of a raise site when `exc` = (exception name, message, how) is given
        (runtime/core.apy SITE_*).

        Records are shared by every site with the same contents, and the line is a
        separate argument: a site costs one call with two constant arguments (~15 bytes),
        and the sites of one function raising the same error share one record.
        """
        key = (file, func, exc)
        rec = self.sites.get(key)
        if rec is None:
            strs = [file, func]
            ints: list[int] = []
            if exc is not None:
                name, msg, how = exc
                ints = [self.exc_ids[name], how]
                strs_tail = [name, msg]
            else:
                strs_tail = []
            fields = ([self.str_const(x).ptrtoint(I32) for x in strs]
                      + [ir.Constant(I32, v) for v in ints]
                      + [self.str_const(x).ptrtoint(I32) for x in strs_tail])
            ty = SITE_RAISE if exc is not None else SITE_FRAME
            gv = ir.GlobalVariable(self.module, ty, f".site.{len(self.sites)}")
            gv.initializer = ir.Constant(ty, fields)
            gv.global_constant = True
            gv.linkage = "private"
            gv.unnamed_addr = True
            gv.align = 4
            rec = self.sites[key] = gv.ptrtoint(I64)
        return rec

    def rt_function(self, module: str, name: str) -> tuple[t.Function, ir.Function]:
        m = self.by_name.get(module)
        f = m.globals.get(name) if m else None
        if not isinstance(f, t.Function):
            raise InternalError(None, f"runtime function {module}.{name} is missing")
        return f, self.function(f)

    def rt_global(self, module: str, name: str) -> ir.GlobalVariable:
        g = self.by_name[module].globals[name]
        return self.globals[id(g)]

    def default_slot(self, f: t.Function, i: int) -> ir.GlobalVariable:
        key = (id(f), i)
        gv = self.defaults.get(key)
        if gv is None:
            ty = lty(f.params[i].ty)
            gv = ir.GlobalVariable(self.module, ty, f"{f.llvm_name}.default.{i}")
            gv.linkage = "internal"
            gv.initializer = ir.Constant(ty, None)
            self.defaults[key] = gv
        return gv

    def define_main(self) -> None:
        fn = ir.Function(self.module, ir.FunctionType(I32, []), "applc_main")
        self.add_attributes(fn)
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.kinds_setup = ir.Function(self.module, ir.FunctionType(VOID, []), "applc.kinds.setup")
        self.kinds_setup.linkage = "internal"
        self.add_attributes(self.kinds_setup)
        b.call(self.kinds_setup, [])
        exc = self.rt_global("rt.core", "_exc")
        _, report = self.rt_function("rt.core", "report_uncaught")
        _, flush = self.rt_function("rt.core", "flush_stdout")
        failed = fn.append_basic_block("uncaught")
        for init in self.init_functions:
            b.call(init, [])
            nxt = fn.append_basic_block("next")
            b.cbranch(b.icmp_signed("!=", b.load(exc, typ=I64), ir.Constant(I64, 0)), failed, nxt)
            b.position_at_end(nxt)
        b.call(flush, [])
        b.ret(ir.Constant(I32, 0))
        b.position_at_end(failed)
        b.call(flush, [])
        status = b.call(report, [])
        b.ret(b.trunc(status, I32))


def all_functions(modules: list[t.ModuleInfo]) -> list[t.Function]:
    """Every function of the program: top level, methods, nested functions and lambdas."""
    out: list[t.Function] = []

    def add(f: t.Function) -> None:
        out.append(f)
        for g in f.nested:
            add(g)

    for m in modules:
        for sym in m.globals.values():
            if isinstance(sym, t.Function) and sym.module is m:
                add(sym)
            elif isinstance(sym, ClassInfo) and sym.module is m:
                for f in sym.methods.values():
                    add(f)
        for f in m.lambdas:
            add(f)
    return out


def recursive_functions(functions: list[t.Function]) -> set[int]:
    """ids of the functions that are on a cycle of the call graph (Tarjan's SCCs)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[t.Function] = []
    result: set[int] = set()
    counter = 0

    def visit(f: t.Function) -> None:
        nonlocal counter
        # iterative DFS: deep call chains must not hit Python's recursion limit
        work = [(f, 0)]
        while work:
            node, i = work.pop()
            key = id(node)
            if i == 0:
                index[key] = low[key] = counter
                counter += 1
                stack.append(node)
                on_stack.add(key)
            if i < len(node.callees):
                work.append((node, i + 1))
                callee = node.callees[i]
                ck = id(callee)
                if ck not in index:
                    work.append((callee, 0))
                elif ck in on_stack:
                    low[key] = min(low[key], index[ck])
                continue
            for callee in node.callees:  # propagate lows of finished children
                if id(callee) in on_stack:
                    low[key] = min(low[key], low[id(callee)])
            if low[key] == index[key]:
                scc = []
                while True:
                    w = stack.pop()
                    on_stack.discard(id(w))
                    scc.append(w)
                    if w is node:
                        break
                if len(scc) > 1 or node in node.callees or node.indirect_calls:
                    result.update(id(w) for w in scc)

    for f in functions:
        if id(f) not in index:
            visit(f)
    return result


class Loop:
    def __init__(self, continue_bb: ir.Block, break_bb: ir.Block, finally_depth: int = 0) -> None:
        self.continue_bb = continue_bb
        self.break_bb = break_bb
        self.finally_depth = finally_depth  # try/finally blocks already open at the loop


class FinallyCtx:
    """An open `try ... finally`: its body, and where exceptions went outside it."""

    def __init__(self, body: list[n.Stmt], outer_unwind: list[ir.Block]) -> None:
        self.body = body
        self.outer_unwind = outer_unwind


def is_expression_function(f: t.Function) -> bool:
    """Is `f` a def whose body is one `return <expr>` (after an optional docstring)?"""
    node = f.node
    if not isinstance(node, n.FunctionDef):
        return False
    body = node.body
    if body and isinstance(body[0], n.ExprStmt) and isinstance(body[0].value, n.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return len(body) == 1 and isinstance(body[0], n.Return) and body[0].value is not None


class FunctionLowerer(HeapLowering, ClassLowering, FStringLowering, ClosureLowering):
    """Lowers one function body (or one module's top-level code) into an ir.Function."""

    def __init__(self, prog: ProgramLowerer, module: t.ModuleInfo, func: t.Function | None,
                 name: str | None = None):
        self.prog = prog
        self.module = module
        self.func = func
        self.vars: dict[int, ir.Value] = {}  # LocalVar id -> alloca
        self.loops: list[Loop] = []
        self.unwind_targets: list[ir.Block] = []  # where a raise goes: innermost last
        self.finally_stack: list[FinallyCtx] = []  # try/finally we are inside
        self.handling: list[ir.Value] = []  # the caught exception of enclosing handlers
        self.span: n.Span | None = None
        self.guard_blocks: dict[tuple, ir.Block] = {}  # see guard()
        self.fn: ir.Function
        self.b: ir.IRBuilder
        self.unwind_bb: ir.Block
        self.file_name = module.path
        self.func_name = name or (func.name if func else "<module>")

    # ------------------------------------------------------------------ setup

    def lower_function(self) -> None:
        f = self.func
        self.fn = self.prog.functions[id(f)]  # declared by prog.function()
        self.begin()
        if f.synthetic == "dataclass_init":
            obj, *fields = self.fn.args
            for i, (arg, p) in enumerate(zip(fields, f.params[1:])):
                self.store_at(obj, 8 + 8 * i, self.to_slot(arg, p.ty))
            self.b.ret_void()
            self.finish()
            return
        from .closures import takes_env

        args = list(self.fn.args)
        env = args.pop(0) if takes_env(f) else None
        for p, arg in zip(f.params, args):
            arg.name = p.name
        for local in f.locals.values():
            self.vars[id(local)] = self.entry_alloca(lty(local.ty), local.name)
        for p, arg in zip(f.params, args):
            self.b.store(arg, self.vars[id(f.locals[p.name])])
        self.setup_cells(f, env)
        for local in f.locals.values():
            if local.captured:
                self.make_cell(local)
        if id(f) in self.prog.recursive:
            # only a cycle of calls can exhaust the stack; a fixed chain of calls is
            # bounded by the program and stopped by the guard page if ever too deep
            self.stack_check(f.node.span)
        if isinstance(f.node, n.Lambda):
            v = self.expr(f.node.body)
            if f.ret in (t.NONE, t.NORETURN):
                self.b.ret_void()
            else:
                self.b.ret(self.coerce(v, f.node.body.ty, f.ret))
            self.finish()
            return
        self.lower_block(f.node.body)
        if not self.b.block.is_terminated:
            if f.ret in (t.NONE, t.NORETURN):
                self.b.ret_void()
            else:
                self.b.unreachable()  # the checker proved every path returns
        self.finish()

    def lower_module_init(self) -> ir.Function:
        m = self.module
        fn = ir.Function(self.prog.module, ir.FunctionType(VOID, []), f"{m.name}.<init>")
        fn.linkage = "internal"
        self.prog.add_attributes(fn)
        self.fn = fn
        self.begin()
        for local in m.init_locals.values():
            self.vars[id(local)] = self.entry_alloca(lty(local.ty), local.name)
        self.lower_block(m.tree.body)
        if not self.b.block.is_terminated:
            self.b.ret_void()
        self.finish()
        return fn

    def begin(self) -> None:
        # the entry block holds only allocas (mem2reg promotes them); code starts in "body"
        self.entry_bb = self.fn.append_basic_block("entry")
        self.alloca_builder = ir.IRBuilder(self.entry_bb)
        self.body_bb = self.fn.append_basic_block("body")
        self.b = ir.IRBuilder(self.body_bb)
        self.unwind_bb = self.fn.append_basic_block("unwind")
        ub = ir.IRBuilder(self.unwind_bb)
        rt = self.fn.function_type.return_type
        if isinstance(rt, ir.VoidType):
            ub.ret_void()
        else:
            ub.ret(ir.Constant(rt, ir.Undefined))

    def finish(self) -> None:
        self.alloca_builder.branch(self.body_bb)
        for bb in self.fn.blocks:  # blocks left open after a raise are never reached
            if not bb.is_terminated:
                ir.IRBuilder(bb).unreachable()
        # keep the unwind block last: it is cold
        self.fn.blocks.remove(self.unwind_bb)
        self.fn.blocks.append(self.unwind_bb)

    def entry_alloca(self, ty: ir.Type, name: str) -> ir.Value:
        return self.alloca_builder.alloca(ty, name=name)

    def new_block(self, name: str) -> ir.Block:
        return self.fn.append_basic_block(name)

    @contextmanager
    def at(self, node: n.Node):
        saved = self.span
        self.span = node.span
        try:
            yield
        except InternalError:
            raise
        except Exception as exc:  # a bug here: report it where it happened
            raise InternalError(node.span, f"{type(exc).__name__}: {exc}") from exc
        finally:
            self.span = saved

    # ------------------------------------------------------------------ exceptions

    def current_unwind(self) -> ir.Block:
        return self.unwind_targets[-1] if self.unwind_targets else self.unwind_bb

    @property
    def line(self) -> int:
        return self.span.line if self.span else 0

    def rt(self, name: str, module: str = "rt.core") -> ir.Function:
        return self.prog.rt_function(module, name)[1]

    def call_rt(self, name: str, args: list[ir.Value], module: str = "rt.core",
                may_raise: bool = True) -> ir.Value:
        fn = self.rt(name, module)
        args = [self.adapt(a, pt) for a, pt in zip(args, fn.function_type.args)]
        res = self.b.call(fn, args)
        if may_raise:
            self.check_exc()
        return res

    def adapt(self, v: ir.Value, want: ir.Type) -> ir.Value:
        """Runtime functions take objects as i64 addresses or as ptr: convert as needed."""
        if v.type == want:
            return v
        if isinstance(want, ir.PointerType) and v.type == I64:
            return self.b.inttoptr(v, PTR)
        if want == I64 and isinstance(v.type, ir.PointerType):
            return self.b.ptrtoint(v, I64)
        if want == I64 and v.type == I1:
            return self.b.zext(v, I64)
        return v

    def check_exc(self) -> None:
        exc = self.prog.rt_global("rt.core", "_exc")
        pending = self.b.icmp_signed("!=", self.b.load(exc, typ=I64), ir.Constant(I64, 0))
        bad = self.new_block("propagate")
        ok = self.new_block("ok")
        self.b.cbranch(pending, bad, ok, )
        self.b.position_at_end(bad)
        self.add_traceback()
        self.b.branch(self.current_unwind())
        self.b.position_at_end(ok)

    def add_traceback(self) -> None:
        """Record this frame (file, function, current line) for the exception in flight."""
        self.b.call(self.rt("tb_at"), [self.prog.site_record(self.file_name, self.func_name),
                                       ir.Constant(I64, self.line)])
        self.assume_raised()

    def assume_raised(self) -> None:
        """Tell LLVM that an exception is in flight here (`_exc` != 0).

        Then the test of `_exc` that follows an inlined callee's unwinding folds away:
        without it, every raise site inlined into a caller is followed by a reload of
        `_exc` and a branch back to the code that would run if it were 0.
        """
        exc = self.b.load(self.prog.rt_global("rt.core", "_exc"), typ=I64)
        assume = self.prog.module.declare_intrinsic("llvm.assume", fnty=ir.FunctionType(VOID,
                                                                                        [I1]))
        self.b.call(assume, [self.b.icmp_signed("!=", exc, ir.Constant(I64, 0))])

    def raise_exc(self, name: str, msg: ir.Value | str | None) -> None:
        """Raise builtin exception `name` here; leaves the builder in a fresh dead block.

        The site is one call: raise_at(site record) when the message is known now,
        raise_with(site record, message) when it is computed.
        """
        how = 0 if msg is None else 2 if name == "KeyError" else 1
        line = ir.Constant(I64, self.line)
        if msg is None or isinstance(msg, str):
            site = self.prog.site_record(self.file_name, self.func_name, (name, msg or "", how))
            self.b.call(self.rt("raise_at"), [site, line])
        else:
            site = self.prog.site_record(self.file_name, self.func_name, (name, "", how))
            self.b.call(self.rt("raise_with"), [site, line, msg])
        self.assume_raised()
        self.b.branch(self.current_unwind())
        self.b.position_at_end(self.new_block("dead"))

    def guard(self, failed: ir.Value, exc: str, msg: str) -> None:
        """If `failed` (i1) is true, raise `exc(msg)`; code continues on the other path.

        The checks of one line that raise the same error to the same handler share one
        raising block: the block is the same code either way, and each copy would count
        against LLVM's inlining budget (a small function full of overflow checks, like
        `1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)`, would not be inlined).
        """
        key = (id(self.fn), exc, msg, self.line, id(self.current_unwind()))
        bad = self.guard_blocks.get(key)
        ok = self.new_block("ok")
        if bad is not None:
            self.b.cbranch(failed, bad, ok)
        else:
            bad = self.guard_blocks[key] = self.new_block("fail")
            self.b.cbranch(failed, bad, ok)
            self.b.position_at_end(bad)
            self.raise_exc(exc, msg)
            self.b.unreachable()
        self.b.position_at_end(ok)

    def stack_check(self, span: n.Span) -> None:
        sp = self.b.asm(ir.FunctionType(I64, []), "mov %rsp, $0", "=r", [], False)
        limit = self.b.load(self.prog.stack_limit, typ=I64)
        saved = self.span
        self.span = span
        self.guard(self.b.icmp_unsigned("<", sp, limit), "RecursionError",
                   "maximum recursion depth exceeded")
        self.span = saved

    # ------------------------------------------------------------------ statements

    def lower_block(self, body: list[n.Stmt]) -> None:
        for stmt in body:
            if self.b.block.is_terminated:
                return  # the rest is unreachable
            with self.at(stmt):
                getattr(self, "stmt_" + type(stmt).__name__)(stmt)

    def stmt_Pass(self, s: n.Pass) -> None:
        pass

    def top_level_def(self, s: n.FunctionDef) -> None:
        """Executing a `def` evaluates its non-constant defaults, once (as Python does)."""
        from ..check.checker import fd_ref

        f = fd_ref.get(id(s))
        if f is None:
            return
        for i, p in enumerate(f.params):
            if p.default is not None and not self.is_const_default(p.default):
                v = self.expr(p.default)
                self.b.store(v, self.prog.default_slot(f, i))

    def is_const_default(self, e: n.Expr) -> bool:
        if isinstance(e, n.Constant) and (e.value is None or isinstance(e.value, str)):
            return True
        return const_value(e, None) is not None

    def stmt_ImportFrom(self, s: n.ImportFrom) -> None:
        pass

    def stmt_Import(self, s: n.Import) -> None:
        pass

    def stmt_Global(self, s: n.Global) -> None:
        pass

    def stmt_Nonlocal(self, s: n.Nonlocal) -> None:
        pass

    def stmt_Delete(self, s: n.Delete) -> None:
        for target in s.targets:
            if isinstance(target, n.Name):
                continue  # the checker forbids reading it again; the object is left to the GC
            ct = target.value.ty
            obj = self.b.ptrtoint(self.expr(target.value), I64)
            if isinstance(ct, t.DictType):
                from .containers import _kinds
                from .reprs import repr_value

                key = self.coerce(self.expr(target.index), target.index.ty, ct.key)
                kk, _ = _kinds(self, ct)
                self.call_rt("dict_delitem", [obj, self.to_slot(key, ct.key), kk,
                                              repr_value(self, key, ct.key)], module="rt.dicts")
            elif target.ref == "slice":
                lo, hi, st, flags = self.slice_bounds(target.index)
                self.call_rt("list_delslice", [obj, lo, hi, st, flags], module="rt.lists")
            elif isinstance(ct, t.ListType):
                idx = self.as_int(self.expr(target.index), target.index.ty)
                self.call_rt("list_delitem", [obj, idx], module="rt.lists")
            else:
                idx = self.as_int(self.expr(target.index), target.index.ty)
                self.call_rt("bytearray_delitem", [obj, idx], module="rt.bytesops")

    def stmt_ExprStmt(self, s: n.ExprStmt) -> None:
        if isinstance(s.value, n.Constant) and isinstance(s.value.value, str):
            return
        self.expr(s.value)
        if s.value.ty is t.NORETURN:
            self.b.unreachable()

    def stmt_Return(self, s: n.Return) -> None:
        value = None
        if s.value is not None:
            value = self.expr(s.value)
            if self.func.ret is not t.NONE:
                value = self.coerce(value, s.value.ty, self.func.ret)
        self.run_finally_blocks(0)  # a return leaves every try of the function
        if self.b.block.is_terminated:
            return
        if value is None or self.func.ret is t.NONE:
            self.b.ret_void()
        else:
            self.b.ret(value)

    def run_finally_blocks(self, keep: int) -> None:
        """Inline the finally bodies being left (innermost first), down to depth `keep`."""
        saved_stack = self.finally_stack
        saved_unwind = self.unwind_targets
        for i in range(len(saved_stack) - 1, keep - 1, -1):
            if self.b.block.is_terminated:
                break
            ctx = saved_stack[i]
            self.finally_stack = saved_stack[:i]
            self.unwind_targets = list(ctx.outer_unwind)
            self.lower_block(ctx.body)
        self.finally_stack = saved_stack
        self.unwind_targets = saved_unwind

    def stmt_Assign(self, s: n.Assign) -> None:
        if len(s.targets) == 1 and isinstance(s.targets[0], (n.TupleExpr, n.ListExpr)):
            self.assign_parallel(s.targets[0], s.value)
            return
        v = self.expr(s.value)
        for target in s.targets:
            if isinstance(target, (n.TupleExpr, n.ListExpr)):
                self.unpack_into(target, v, s.value.ty)
            elif isinstance(target, n.Name):
                self.store_name(target, v, initial=s.value)
            else:
                self.store_complex_target(target, v, s.value.ty)

    def assign_parallel(self, target: n.TupleExpr, value: n.Expr) -> None:
        """`a, b = b, a % b`: evaluate every right-hand value first, then store left to right."""
        if not isinstance(value, n.TupleExpr):
            tup = self.expr(value)
            self.unpack_into(target, tup, value.ty)
            return
        values = [self.expr(v) for v in value.elts]
        for tgt, v, src in zip(target.elts, values, value.elts):
            if isinstance(tgt, (n.TupleExpr, n.ListExpr)):
                self.unpack_into(tgt, v, src.ty)
            else:
                self.store_target(tgt, v, src.ty)

    def unpack_into(self, target: n.TupleExpr, tup: ir.Value, ty: t.Type) -> None:
        items = [self.tuple_item(tup, i, et) for i, et in enumerate(ty.elems)]
        for tgt, v, et in zip(target.elts, items, ty.elems):
            if isinstance(tgt, (n.TupleExpr, n.ListExpr)):
                self.unpack_into(tgt, v, et)
            else:
                self.store_target(tgt, v, et)

    def store_target(self, target: n.Expr, v: ir.Value, vty: t.Type) -> None:
        """Store to a name, `x[i]`, or `obj.field`."""
        if isinstance(target, n.Name):
            self.store_name(target, v, vty=vty)
        else:
            self.store_complex_target(target, v, vty)

    def stmt_AnnAssign(self, s: n.AnnAssign) -> None:
        if s.value is None:
            return
        if isinstance(s.target.ref, t.GlobalVar) and s.target.ref.static_buffer is not None:
            return  # `X: int = static_buffer(N)`: the buffer is a global of the image
        v = self.expr(s.value)
        if isinstance(s.target, n.Name):
            self.store_name(s.target, v, initial=s.value)
        else:
            self.store_complex_target(s.target, v, s.value.ty)

    def stmt_AugAssign(self, s: n.AugAssign) -> None:
        tgt = s.target
        if isinstance(tgt.ty, t.ListType) and s.op == "+":
            # list += iterable: extends in place (the same list object stays bound)
            lst = self.expr(tgt)
            self.list_extend(lst, tgt.ty, s.value)
            return
        if isinstance(tgt, n.Name):
            cur = self.expr(tgt)
            rhs = self.expr(s.value)
            self.store_name(tgt, self.binop(s.op, cur, tgt.ty, rhs, s.value.ty))
            return
        # obj.f op= v / xs[i] op= v: the object (and index) are evaluated once
        from ..check.classes import FieldRef
        from .classes import field_offset

        if isinstance(tgt, n.Attribute) and isinstance(tgt.ref, FieldRef):
            ref = tgt.ref
            obj = self.coerce(self.expr(tgt.value), tgt.value.ty, ref.info.ty)
            fty = ref.info.fields[ref.name]
            cur = self.from_slot(self.load_at(obj, field_offset(ref.index)), fty)
            rhs = self.expr(s.value)
            res = self.coerce(self.binop(s.op, cur, fty, rhs, s.value.ty), tgt.ty, fty)
            self.store_at(obj, field_offset(ref.index), self.to_slot(res, fty))
            return
        if isinstance(tgt, n.Subscript) and isinstance(tgt.value.ty, t.ListType) and \
                tgt.ref == "index":
            et = tgt.value.ty.elem
            lst = self.expr(tgt.value)
            idx = self.as_int(self.expr(tgt.index), tgt.index.ty)
            cur = self.from_slot(self.list_slot(lst, idx, "list index out of range"), et)
            rhs = self.expr(s.value)
            res = self.binop(s.op, cur, et, rhs, s.value.ty)
            self.list_store(lst, idx, self.to_slot(res, et))
            return
        if isinstance(tgt, n.Subscript) and isinstance(tgt.value.ty, t.DictType):
            dt = tgt.value.ty
            d = self.expr(tgt.value)
            key = self.coerce(self.expr(tgt.index), tgt.index.ty, dt.key)
            cur = self.dict_getitem(d, dt, key, tgt.index)
            rhs = self.expr(s.value)
            res = self.coerce(self.binop(s.op, cur, dt.value, rhs, s.value.ty), tgt.ty, dt.value)
            self.dict_setitem(d, dt, key, res)
            return
        if isinstance(tgt, n.Subscript) and tgt.ref == "index" and \
                (tgt.value.ty is t.BYTEARRAY or tgt.value.ty is t.MEMORYVIEW):
            # ba[i] op= v: CPython reads the item (IndexError), then evaluates v, then
            # stores (ValueError for a result outside 0..255)
            ct = tgt.value.ty
            obj = self.expr(tgt.value)
            idx = self.as_int(self.expr(tgt.index), tgt.index.ty)
            cur = self.sequence_runtime_index(obj, ct, idx)
            rhs = self.expr(s.value)
            res = self.as_int(self.binop(s.op, cur, t.INT, rhs, s.value.ty), tgt.ty)
            prefix = "bytearray" if ct is t.BYTEARRAY else "memoryview"
            self.call_rt(f"{prefix}_setitem", [self.b.ptrtoint(obj, I64), idx, res],
                         module="rt.bytesops")
            return
        raise InternalError(s.span, "augmented assignment to this target")

    def store_name(self, target: n.Name, v: ir.Value, initial: n.Expr | None = None,
                   vty: t.Type | None = None) -> None:
        sym = target.ref
        if vty is None and initial is not None:
            vty = initial.ty
        if vty is not None and sym is not None:
            v = self.coerce(v, vty, sym.ty)
        if isinstance(sym, t.LocalVar):
            self.store_var(sym, v)
        elif isinstance(sym, t.GlobalVar):
            if sym.static_buffer is not None:
                return  # the address is fixed at link time
            if sym.const is not None and initial is not None and self.func is None:
                return  # the global's initializer already holds it
            self.b.store(v, self.prog.globals[id(sym)])
        else:
            raise InternalError(target.span, f"cannot store to a {type(sym).__name__}")

    def stmt_Assert(self, s: n.Assert) -> None:
        ok = self.cond(s.test)
        fail = self.new_block("assert.fail")
        cont = self.new_block("assert.ok")
        self.b.cbranch(ok, cont, fail)
        self.b.position_at_end(fail)
        msg = self.to_str(self.expr(s.msg), s.msg.ty) if s.msg is not None else None
        self.raise_exc("AssertionError", msg)
        self.b.unreachable()
        self.b.position_at_end(cont)

    def stmt_Raise(self, s: n.Raise) -> None:
        e = s.exc
        if e is None:  # bare raise: the exception being handled continues
            self.b.call(self.rt("reraise"), [self.handling[-1]])
            self.add_traceback()
            self.b.branch(self.current_unwind())
            return
        if isinstance(e, n.Name) and isinstance(e.ref, ClassInfo):
            info = e.ref
            if info.builtin:
                obj = self.new_instance(info)
            else:
                obj = self.lower_construct(e, Construct(info, info.find_method("__init__"),
                                                        t.BoundCall(info.find_method("__init__"),
                                                                    [None], [])
                                                        if info.find_method("__init__") else None))
        else:
            obj = self.expr(e)
        self.raise_object(obj)
        self.b.unreachable()

    def stmt_ClassDef(self, s: n.ClassDef) -> None:
        """Running a class statement evaluates its constants (class attributes)."""
        info = self.module.globals.get(s.name)
        if not isinstance(info, ClassInfo):
            return
        for name, g in info.consts.items():
            value = next(st.value for st in s.body if isinstance(st, n.Assign)
                         and isinstance(st.targets[0], n.Name) and st.targets[0].id == name)
            v = self.expr(value)
            self.b.store(v, self.prog.globals[id(g)])

    def stmt_If(self, s: n.If) -> None:
        c = self.cond(s.test)
        then = self.new_block("if.then")
        other = self.new_block("if.else") if s.orelse else None
        end = self.new_block("if.end")
        self.b.cbranch(c, then, other or end)
        self.b.position_at_end(then)
        self.lower_block(s.body)
        self.branch_if_open(end)
        if other is not None:
            self.b.position_at_end(other)
            self.lower_block(s.orelse)
            self.branch_if_open(end)
        self.b.position_at_end(end)

    def stmt_While(self, s: n.While) -> None:
        head = self.new_block("while.head")
        body = self.new_block("while.body")
        orelse = self.new_block("while.else") if s.orelse else None
        end = self.new_block("while.end")
        self.b.branch(head)
        self.b.position_at_end(head)
        with self.at(s.test):
            c = self.cond(s.test)
        self.b.cbranch(c, body, orelse or end)
        self.b.position_at_end(body)
        self.loops.append(Loop(head, end, len(self.finally_stack)))
        self.lower_block(s.body)
        self.loops.pop()
        self.branch_if_open(head)
        if orelse is not None:
            self.b.position_at_end(orelse)
            self.lower_block(s.orelse)
            self.branch_if_open(end)
        self.b.position_at_end(end)

    def stmt_For(self, s: n.For) -> None:
        it = s.iter
        if (isinstance(it, n.Call) and isinstance(it.func, n.Name)
                and isinstance(it.func.ref, t.Builtin) and it.func.ref.name == "range"
                and isinstance(s.target, n.Name)):
            self.for_range(s)
            return
        orelse = self.new_block("for.else") if s.orelse else None
        end = self.new_block("for.end")

        def body(item, head, exit_bb):
            self.bind_loop_target(s.target, item, s.target.ty)
            self.loops.append(Loop(head, end, len(self.finally_stack)))
            self.lower_block(s.body)
            self.loops.pop()
            self.branch_if_open(head)

        self.for_each(it, body, done_bb=orelse or end, loop_syntax=True)
        if orelse is not None:
            self.b.position_at_end(orelse)
            self.lower_block(s.orelse)
            self.branch_if_open(end)
        self.b.position_at_end(end)

    def for_range(self, s: n.For) -> None:
        """`for x in range(start, stop, step)`, with a hidden counter (the body may rebind x)."""
        args = [self.expr(a) for a in s.iter.args]
        args = [self.as_int(a, e.ty) for a, e in zip(args, s.iter.args)]
        if len(args) == 1:
            start, stop, step = ir.Constant(I64, 0), args[0], ir.Constant(I64, 1)
        elif len(args) == 2:
            start, stop, step = args[0], args[1], ir.Constant(I64, 1)
        else:
            start, stop, step = args
        const_step = step.constant if isinstance(step, ir.Constant) else None
        if const_step is None:
            with self.at(s.iter):
                self.guard(self.b.icmp_signed("==", step, ir.Constant(I64, 0)), "ValueError",
                           "range() arg 3 must not be zero")
        elif const_step == 0:
            with self.at(s.iter):
                self.raise_exc("ValueError", "range() arg 3 must not be zero")
                return
        counter = self.entry_alloca(I64, "for.i")
        self.b.store(start, counter)
        head = self.new_block("for.head")
        body = self.new_block("for.body")
        step_bb = self.new_block("for.step")
        orelse = self.new_block("for.else") if s.orelse else None
        end = self.new_block("for.end")
        self.b.branch(head)
        self.b.position_at_end(head)
        i = self.b.load(counter, typ=I64)
        up = self.b.icmp_signed("<", i, stop)
        down = self.b.icmp_signed(">", i, stop)
        if const_step is not None:
            more = up if const_step > 0 else down
        else:
            more = self.b.select(self.b.icmp_signed(">", step, ir.Constant(I64, 0)), up, down)
        self.b.cbranch(more, body, orelse or end)
        self.b.position_at_end(body)
        self.store_name(s.target, i)
        self.loops.append(Loop(step_bb, end, len(self.finally_stack)))
        self.lower_block(s.body)
        self.loops.pop()
        self.branch_if_open(step_bb)
        self.b.position_at_end(step_bb)
        pair = self.b.sadd_with_overflow(self.b.load(counter, typ=I64), step)
        self.b.store(self.b.extract_value(pair, 0), counter)
        # i + step leaving int64 means it passed `stop`, which is an int64: the range is done
        self.b.cbranch(self.b.extract_value(pair, 1), orelse or end, head)
        if orelse is not None:
            self.b.position_at_end(orelse)
            self.lower_block(s.orelse)
            self.branch_if_open(end)
        self.b.position_at_end(end)

    def stmt_Break(self, s: n.Break) -> None:
        self.run_finally_blocks(self.loops[-1].finally_depth)
        self.branch_if_open(self.loops[-1].break_bb)

    def stmt_Continue(self, s: n.Continue) -> None:
        self.run_finally_blocks(self.loops[-1].finally_depth)
        self.branch_if_open(self.loops[-1].continue_bb)

    def stmt_Try(self, s: n.Try) -> None:
        b = self.b
        outer = list(self.unwind_targets)
        outer_target = self.current_unwind()
        fin_exc = self.new_block("finally.exc") if s.finalbody else None
        after_handlers = fin_exc or outer_target
        normal = self.new_block("try.end")
        landing = self.new_block("try.landing") if s.handlers else after_handlers
        if s.finalbody:
            self.finally_stack.append(FinallyCtx(s.finalbody, outer))
        self.unwind_targets.append(landing)
        self.lower_block(s.body)
        self.unwind_targets.pop()
        if not b.block.is_terminated:
            self.unwind_targets.append(after_handlers)
            self.lower_block(s.orelse)
            self.unwind_targets.pop()
            if not b.block.is_terminated:
                b.branch(normal)
        if s.handlers:
            self.lower_handlers(s, landing, after_handlers, normal)
        if s.finalbody:
            self.finally_stack.pop()
        b.position_at_end(normal)
        if s.finalbody:
            self.lower_block(s.finalbody)
            after = b.block
            # the exception path: the finally body runs with no exception in flight
            b.position_at_end(fin_exc)
            exc_g = self.prog.rt_global("rt.core", "_exc")
            saved = b.load(exc_g, typ=I64)
            b.store(ir.Constant(I64, 0), exc_g)
            self.unwind_targets = list(outer)
            self.lower_block(s.finalbody)
            if not b.block.is_terminated:
                b.store(saved, exc_g)
                b.branch(outer_target)
            self.unwind_targets = outer
            b.position_at_end(after)

    def lower_handlers(self, s: n.Try, landing: ir.Block, after_handlers: ir.Block,
                       normal: ir.Block) -> None:
        b = self.b
        b.position_at_end(landing)
        exc_g = self.prog.rt_global("rt.core", "_exc")
        exc = b.load(exc_g, typ=I64)
        cid = b.lshr(self.load_at(exc, 0), ir.Constant(I64, 32))
        for h in s.handlers:
            classes = ([x.ref for x in h.type.elts] if isinstance(h.type, n.TupleExpr)
                       else [h.type.ref] if h.type is not None else [None])
            hit = ir.Constant(I1, 0)
            for info in classes:
                if info is None:  # bare except: everything
                    hit = ir.Constant(I1, 1)
                    continue
                hit = b.or_(hit, b.and_(b.icmp_unsigned(">=", cid, ir.Constant(I64, info.cid)),
                                        b.icmp_unsigned("<", cid, ir.Constant(I64, info.cid_end))))
            body, nxt = self.new_block("except"), self.new_block("except.next")
            b.cbranch(hit, body, nxt)
            b.position_at_end(body)
            b.store(ir.Constant(I64, 0), exc_g)  # handled
            if h.ref is not None:
                b.store(b.inttoptr(exc, PTR), self.vars[id(h.ref)])
            self.unwind_targets.append(after_handlers)
            self.handling.append(exc)
            with self.at(h):
                self.lower_block(h.body)
            self.handling.pop()
            self.unwind_targets.pop()
            if not b.block.is_terminated:
                b.branch(normal)
            b.position_at_end(nxt)
        b.branch(after_handlers)  # no handler matched: on it goes

    # ------------------------------------------------------------------ expressions

    def expr(self, e: n.Expr) -> ir.Value:
        with self.at(e):
            return getattr(self, "expr_" + type(e).__name__)(e)

    def expr_Constant(self, e: n.Constant) -> ir.Value:
        v = e.value
        if v is None:
            return ir.Constant(I8, 0)
        if isinstance(v, bool):
            return ir.Constant(I1, int(v))
        if isinstance(v, int):
            return ir.Constant(I64, v)
        if isinstance(v, float):
            return ir.Constant(F64, v)
        if isinstance(v, str):
            return self.prog.str_const(v)
        if isinstance(v, bytes):
            from .containers import bytes_constant

            return bytes_constant(self.prog, v)
        raise InternalError(e.span, f"constant of type {type(v).__name__}")

    def expr_Name(self, e: n.Name) -> ir.Value:
        sym = e.ref
        if isinstance(sym, t.LocalVar):
            v = self.load_var(sym)
            return self.coerce(v, sym.ty, e.ty)  # a narrowed `T | None` is read as T
        if isinstance(sym, t.GlobalVar):
            v = self.prog.global_value(self.b, sym)
            if isinstance(sym.ty, t.OptionalType) and not isinstance(e.ty, t.OptionalType) \
                    and e.ty is not t.NONE:
                # narrowed by a test, but a call since then may have set it to None
                is_none = self.b.icmp_unsigned("==", self.b.ptrtoint(v, I64), ir.Constant(I64, 0))
                self.guard(is_none, "TypeError", f"'{e.id}' is None here")
            return self.coerce(v, sym.ty, e.ty)
        from ..check.closures import FunctionValue

        if isinstance(sym, FunctionValue):
            return self.function_value(sym)
        raise InternalError(e.span, f"name {e.id} resolved to a {type(sym).__name__}")

    def expr_IfExp(self, e: n.IfExp) -> ir.Value:
        c = self.cond(e.test)
        then = self.new_block("ifexp.then")
        other = self.new_block("ifexp.else")
        end = self.new_block("ifexp.end")
        self.b.cbranch(c, then, other)
        self.b.position_at_end(then)
        a = self.expr(e.body)
        a_bb = self.b.block
        self.b.branch(end)
        self.b.position_at_end(other)
        o = self.expr(e.orelse)
        o_bb = self.b.block
        self.b.branch(end)
        self.b.position_at_end(end)
        phi = self.b.phi(lty(e.ty))
        phi.add_incoming(a, a_bb)
        phi.add_incoming(o, o_bb)
        return phi

    def expr_BoolOp(self, e: n.BoolOp) -> ir.Value:
        if e.ref == "cond":
            return self.cond(e)
        # value semantics: `a or b` is a if a is true, else b
        end = self.new_block("boolop.end")
        incoming: list[tuple[ir.Value, ir.Block]] = []
        for i, v in enumerate(e.values):
            val = self.expr(v)
            if i == len(e.values) - 1:
                incoming.append((val, self.b.block))
                self.b.branch(end)
                break
            truth = self.truthy(val, v.ty)
            nxt = self.new_block("boolop.next")
            incoming.append((val, self.b.block))
            if e.op == "or":
                self.b.cbranch(truth, end, nxt)
            else:
                self.b.cbranch(truth, nxt, end)
            self.b.position_at_end(nxt)
        self.b.position_at_end(end)
        phi = self.b.phi(lty(e.ty))
        for val, bb in incoming:
            phi.add_incoming(val, bb)
        return phi

    def cond(self, e: n.Expr) -> ir.Value:
        """Lower an expression for its truth value only: an i1, short-circuiting."""
        with self.at(e):
            if isinstance(e, n.BoolOp):
                end = self.new_block("cond.end")
                incoming = []
                for i, v in enumerate(e.values):
                    c = self.cond(v)
                    if i == len(e.values) - 1:
                        incoming.append((c, self.b.block))
                        self.b.branch(end)
                        break
                    nxt = self.new_block("cond.next")
                    incoming.append((c, self.b.block))
                    if e.op == "or":
                        self.b.cbranch(c, end, nxt)
                    else:
                        self.b.cbranch(c, nxt, end)
                    self.b.position_at_end(nxt)
                self.b.position_at_end(end)
                phi = self.b.phi(I1)
                for c, bb in incoming:
                    phi.add_incoming(c, bb)
                return phi
            if isinstance(e, n.UnaryOp) and e.op == "not":
                return self.b.not_(self.cond(e.operand))
            return self.truthy(self.expr(e), e.ty)

    def truthy(self, v: ir.Value, ty: t.Type) -> ir.Value:
        if ty is t.BOOL:
            return v
        if ty is t.INT:
            return self.b.icmp_signed("!=", v, ir.Constant(I64, 0))
        if ty is t.FLOAT:
            return self.b.fcmp_unordered("!=", v, ir.Constant(F64, 0.0))
        if ty is t.STR:
            return self.b.icmp_signed("!=", self.str_nbytes(v), ir.Constant(I64, 0))
        if ty is t.NONE:
            return ir.Constant(I1, 0)
        if isinstance(ty, t.OptionalType):
            # None is false; otherwise the value's own truth (0, "", [] are false too)
            return self.unless_none(v, ty, ir.Constant(I1, 0),
                                    lambda inner: self.truthy(inner, ty.inner))
        if isinstance(ty, (t.ListType, t.DictType, t.SetType, t.TupleType)) or ty in (
                t.BYTES, t.BYTEARRAY):
            n_ = self.load_at(v, 8)  # every sized object keeps its length at offset 8
            return self.b.icmp_signed("!=", n_, ir.Constant(I64, 0))
        if ty is t.MEMORYVIEW:
            return self.b.icmp_signed("!=", self.load_at(v, 24), ir.Constant(I64, 0))
        from ..check.classes import ClassType

        if isinstance(ty, ClassType):
            if ty.info.find_method("__bool__") is not None:
                return self.call_special(ty, "__bool__", v, [])
            if ty.info.find_method("__len__") is not None:
                n_ = self.call_special(ty, "__len__", v, [])
                return self.b.icmp_signed("!=", n_, ir.Constant(I64, 0))
            return ir.Constant(I1, 1)
        raise InternalError(self.span, f"truth value of {ty}")

    def str_nbytes(self, s: ir.Value) -> ir.Value:
        p = self.b.gep(s, [ir.Constant(I64, 8)], source_etype=I8)
        return self.b.load(p, typ=I64)

    def expr_UnaryOp(self, e: n.UnaryOp) -> ir.Value:
        if e.op == "not":
            return self.b.not_(self.cond(e.operand))
        v = self.expr(e.operand)
        ty = e.operand.ty
        if ty is t.BOOL:
            v, ty = self.b.zext(v, I64), t.INT
        if e.op == "+":
            return v
        if e.op == "-":
            if ty is t.FLOAT:
                return self.b.fneg(v)
            pair = self.b.ssub_with_overflow(ir.Constant(I64, 0), v)
            self.overflow_guard(self.b.extract_value(pair, 1))
            return self.b.extract_value(pair, 0)
        if e.op == "~":
            return self.b.not_(v)
        raise InternalError(e.span, f"unary {e.op}")

    def overflow_guard(self, flag: ir.Value) -> None:
        self.guard(flag, "OverflowError", "integer result does not fit in 64 bits "
                   "(apy ints are 64-bit)")

    def expr_BinOp(self, e: n.BinOp) -> ir.Value:
        a = self.expr(e.left)
        b = self.expr(e.right)
        return self.binop(e.op, a, e.left.ty, b, e.right.ty)

    def as_int(self, v: ir.Value, ty: t.Type) -> ir.Value:
        return self.b.zext(v, I64) if ty is t.BOOL else v

    def as_float(self, v: ir.Value, ty: t.Type) -> ir.Value:
        if ty is t.FLOAT:
            return v
        return self.b.sitofp(self.as_int(v, ty), F64)

    def checker_compatible(self, a: t.Type, b: t.Type) -> bool:
        return a == b or (isinstance(b, t.OptionalType) and (a is t.NONE or a == b.inner))

    def binop(self, op: str, a: ir.Value, at: t.Type, b: ir.Value, bt: t.Type) -> ir.Value:
        from . import arith

        if isinstance(at, (t.ListType, t.TupleType)) or isinstance(bt, (t.ListType, t.TupleType)):
            return arith.sequence_op(self, op, a, at, b, bt)
        if at in (t.BYTES, t.BYTEARRAY) or bt in (t.BYTES, t.BYTEARRAY) or isinstance(
                at, (t.SetType, t.DictType)):
            from .containers import container_binop

            return container_binop(self, op, a, at, b, bt)

        if at is t.STR or bt is t.STR:
            if op == "+":
                return self.call_rt("str_concat", [a, b])
            if at is t.STR:
                return self.call_rt("str_repeat", [a, self.as_int(b, bt)])
            return self.call_rt("str_repeat", [b, self.as_int(a, at)])
        if op in ("&", "|", "^") and at is t.BOOL and bt is t.BOOL:
            return {"&": self.b.and_, "|": self.b.or_, "^": self.b.xor}[op](a, b)
        if op == "/" or at is t.FLOAT or bt is t.FLOAT:
            if op == "/" and at is not t.FLOAT and bt is not t.FLOAT:
                return arith.int_truediv(self, self.as_int(a, at), self.as_int(b, bt))
            return arith.float_op(self, op, self.as_float(a, at), self.as_float(b, bt))
        return arith.int_op(self, op, self.as_int(a, at), self.as_int(b, bt))

    def expr_Compare(self, e: n.Compare) -> ir.Value:
        from . import arith

        operands = [e.left] + e.comparators
        end = self.new_block("cmp.end")
        incoming = []
        left = self.expr(e.left)
        for i, op in enumerate(e.ops):
            right = self.expr(operands[i + 1])
            res = arith.compare(self, op, left, operands[i].ty, right, operands[i + 1].ty)
            if i == len(e.ops) - 1:
                incoming.append((res, self.b.block))
                self.b.branch(end)
                break
            nxt = self.new_block("cmp.next")
            incoming.append((res, self.b.block))
            self.b.cbranch(res, nxt, end)
            self.b.position_at_end(nxt)
            left = right
        self.b.position_at_end(end)
        if len(incoming) == 1:
            return incoming[0][0]
        phi = self.b.phi(I1)
        for v, bb in incoming:
            phi.add_incoming(v, bb)
        return phi

    def expr_Call(self, e: n.Call) -> ir.Value:
        ref = e.ref
        if isinstance(ref, t.BoundCall):
            return self.call_function(ref, e)
        from ..check.heap import BoundMethodCall

        if isinstance(ref, BoundMethodCall):
            return self.lower_method_call(e, ref)
        if isinstance(ref, Construct):
            return self.lower_construct(e, ref)
        if isinstance(ref, MethodRef):
            return self.lower_method_ref(e, ref)
        if isinstance(ref, SuperExcInit):
            return self.lower_super_exc_init(e, ref)
        from ..check.closures import IndirectCall

        if isinstance(ref, IndirectCall):
            return self.lower_indirect_call(e, ref)
        if isinstance(ref, t.Intrinsic):
            from .intrinsics import lower_intrinsic

            return lower_intrinsic(self, ref.name, e)
        if ref == "sys.exit":
            return self.sys_exit(e)
        if isinstance(ref, tuple) and ref[0] == "stream":
            from .builtins import lower_stream_call

            return lower_stream_call(self, e, ref[1], ref[2])
        if isinstance(ref, tuple) and ref[0] == "math":
            return self.math_call(e, ref[1], ref[2])
        fref = e.func.ref
        if isinstance(fref, t.Builtin) and fref.name == "isinstance":
            return self.lower_isinstance(e)
        if isinstance(fref, t.Builtin):
            from .builtins import lower_builtin

            return lower_builtin(self, fref.name, e)
        raise InternalError(e.span, f"call to {fref!r}")

    def math_call(self, e: n.Call, attr: str, elem: t.Type | None) -> ir.Value:
        """math.f(...): runtime/mathmod.apy, arguments converted as math converts them."""
        m = "rt.mathmod"
        if attr in ("fsum", "prod"):
            from .builtins import _list_of

            lst = _list_of(self, n.Call(n.Name("list", span=e.span), e.args, [], span=e.span,
                                        ty=t.list_of(elem)))
            if attr == "fsum":
                return self.call_rt("fsum_ints" if elem is not t.FLOAT else "fsum", [lst],
                                    module=m)
            if elem is t.FLOAT:
                return self.call_rt("prod_floats", [lst, ir.Constant(F64, 1.0)], module=m)
            return self.call_rt("prod_ints", [lst, ir.Constant(I64, 1)], module=m)
        args = [self.expr(a) for a in e.args]
        if attr in ("modf", "frexp"):
            x = self.as_float(args[0], e.args[0].ty)
            if attr == "modf":
                return self.make_tuple([self.call_rt("modf_frac", [x], module=m),
                                        self.call_rt("modf_int", [x], module=m)],
                                       [t.FLOAT, t.FLOAT])
            return self.make_tuple([self.call_rt("frexp_mant", [x], module=m),
                                    self.call_rt("frexp_exp", [x], module=m)], [t.FLOAT, t.INT])
        name = "log_base" if attr == "log" and len(args) == 2 else attr
        f, fn = self.prog.rt_function(m, name)
        conv = [self.as_float(v, a.ty) if p.ty is t.FLOAT else self.as_int(v, a.ty)
                for v, a, p in zip(args, e.args, f.params)]
        if attr == "isclose":
            tol = {"rel_tol": ir.Constant(F64, 1e-09), "abs_tol": ir.Constant(F64, 0.0)}
            for k in e.keywords:
                tol[k.arg] = self.as_float(self.expr(k.value), k.value.ty)
            conv += [tol["rel_tol"], tol["abs_tol"]]
        return self.call_rt(name, conv, module=m)

    def sys_exit(self, e: n.Call) -> ir.Value:
        code, msg, has_msg = ir.Constant(I64, 0), self.prog.str_const(""), ir.Constant(I1, 0)
        if e.args:
            a = e.args[0]
            v = self.expr(a)
            if a.ty is t.STR:
                msg, has_msg = v, ir.Constant(I1, 1)
            elif a.ty in (t.INT, t.BOOL):
                code = self.as_int(v, a.ty)
        self.b.call(self.rt("raise_system_exit"), [code, msg, has_msg])
        self.add_traceback()
        self.b.branch(self.current_unwind())
        self.b.position_at_end(self.new_block("dead"))
        return ir.Constant(I8, 0)

    def call_function(self, bc: t.BoundCall, e: n.Call) -> ir.Value:
        values: list[ir.Value | None] = [None] * len(bc.args)
        for i in bc.order:
            a = bc.args[i]
            values[i] = self.coerce(self.expr(a), a.ty, bc.func.params[i].ty)
        f = bc.func
        for i, v in enumerate(values):
            if v is None:
                d = f.params[i].default
                if self.is_const_default(d):
                    values[i] = self.const_default(d, f.params[i].ty)
                else:
                    values[i] = self.b.load(self.prog.default_slot(f, i), typ=lty(f.params[i].ty))
        res = self.b.call(self.prog.function(f), values)
        if f.module.name == "rt.core" and f.name in RAISING_RUNTIME:
            self.assume_raised()  # e.g. alloc's MemoryError: no path on from here
        self.check_exc()
        if f.ret is t.NONE:
            return ir.Constant(I8, 0)
        if f.ret is t.NORETURN:
            return ir.Constant(I8, 0)
        return res

    def const_default(self, d: n.Expr, ty: t.Type) -> ir.Value:
        if isinstance(d, n.Constant) and isinstance(d.value, str):
            return self.prog.str_const(d.value)
        if isinstance(d, n.Constant) and d.value is None:
            return ir.Constant(I8, 0)
        v = const_value(d, None)
        if ty is t.FLOAT:
            return ir.Constant(F64, float(v))
        if ty is t.BOOL:
            return ir.Constant(I1, int(v))
        return ir.Constant(I64, int(v))

    # ------------------------------------------------------------------ conversions

    llvm_type = staticmethod(lambda ty: lty(ty))

    def to_str(self, v: ir.Value, ty: t.Type) -> ir.Value:
        if ty is t.STR:
            return v
        if ty is t.INT:
            return self.call_rt("str_from_int", [v])
        if ty is t.FLOAT:
            return self.call_rt("str_from_float", [v])
        if ty is t.BOOL:
            return self.b.select(v, self.prog.str_const("True"), self.prog.str_const("False"))
        if ty is t.NONE:
            return self.prog.str_const("None")
        from .reprs import str_value

        return str_value(self, v, ty)
