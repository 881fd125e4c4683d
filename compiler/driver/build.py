"""The build pipeline: an apy file in, a checked program, LLVM IR, or a linked image out.

    service.apy + runtime/*.apy
      -> parse (applc.parse)          -> nodes.Module per file
      -> check (applc.check)          -> typed, resolved trees
      -> lower (applc.lower)          -> one llvmlite ir.Module
      -> + the target's platform IR   -> one LLVM module, optimised whole (O2)
      -> object code (llvmlite)       -> applc's own linker (applc.link) -> image

`check_file` stops after checking; `build_file` goes all the way and caches the
image under a key made of every input's hash (the program, the runtime, the
compiler's own sources, the target and the options), so a rebuild with no change
is a file copy.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import stat
import pickle
import shutil
import time
from pathlib import Path

import attrs
import llvmlite.binding as llvm

from ..check import types as t
from ..check.checker import Checker
from ..diag import SOURCES, CompileError, Diagnostics
from ..parse import nodes
from ..lower.codegen import ProgramLowerer
from ..parse.parser import parse_module

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # compiler/ (the applc package)
# The runtime modules compiled with every program (the optimiser drops what a program
# doesn't use). A module is listed here once the compiler calls into it.
RUNTIME_MODULES = ["core", "gc", "numfmt", "fmath", "unidata", "strings", "objhooks", "hashes",
                   "lists", "dicts", "mathmod", "fmt", "bytesops"]


def runtime_modules() -> list[str]:
    extra = os.environ.get("APPLC_EXTRA_RUNTIME", "")  # for runtime work in progress
    return RUNTIME_MODULES + [m for m in extra.split(",") if m and m not in RUNTIME_MODULES]
TARGETS = ["kvm", "hosted"]
DEFAULT_TARGET = "kvm"
# The LLVM function attribute that trades speed for size, per target ("" for none): an
# appliance image should be small (issue 6: <= 128 KiB); hosted executables are where
# the CPU benchmarks run. APPLC_SIZE_ATTR=optsize|minsize|none overrides it (to measure).
SIZE_ATTR = {"kvm": "optsize", "hosted": ""}
SIZE_ATTRS = ("optsize", "minsize")


def size_attr(target: str) -> str:
    forced = os.environ.get("APPLC_SIZE_ATTR")
    if forced is not None:
        return forced if forced in SIZE_ATTRS else ""
    return SIZE_ATTR.get(target, "")


def runtime_dir() -> Path:
    import applc.runtime

    return Path(applc.runtime.__file__).resolve().parent


def load_target(name: str):
    if name not in TARGETS:
        raise ValueError(f"unknown target '{name}' (choose from {', '.join(TARGETS)})")
    return importlib.import_module(f"applc.targets.{name}").TARGET


def read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CompileError([_file_diag(path, f"file is not valid UTF-8: {e.reason}")]) from None


def _file_diag(path: Path, msg: str):
    from ..diag import Diagnostic
    from ..parse.nodes import Span

    return Diagnostic(Span(str(path), 1, 1, 1, 1), msg)


def parse_cached(path: Path) -> "nodes.Module":
    """Parse a library file, reusing a pickled tree when the file and parser are unchanged.

    The runtime is parsed for every build; its trees are cached on disk (the
    checker annotates trees, so each build gets fresh objects from the pickle).
    """
    text = read_source(path)
    SOURCES.add(str(path), text)
    key = hashlib.sha256(
        (_parser_hash() + "\0" + str(path) + "\0" + text).encode("utf-8")
    ).hexdigest()[:32]
    cached = cache_dir() / "parse" / f"{key}.pickle"
    try:
        return pickle.loads(cached.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
        pass
    tree = parse_module(text, str(path))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, cached)
    except OSError:
        pass  # a read-only cache only costs time
    return tree


_PARSER_HASH: str | None = None


def _parser_hash() -> str:
    global _PARSER_HASH
    if _PARSER_HASH is None:
        h = hashlib.sha256()
        for f in sorted((PACKAGE_ROOT / "parse").glob("*")):
            if f.suffix in (".py", ".lark"):
                h.update(f.read_bytes())
        _PARSER_HASH = h.hexdigest()
    return _PARSER_HASH


def load_program(path: Path) -> list[t.ModuleInfo]:
    """Parse the runtime modules and the program; runtime first (they initialise first)."""
    modules = []
    rdir = runtime_dir()
    for name in runtime_modules():
        rpath = rdir / f"{name}.apy"
        tree = parse_cached(rpath)
        modules.append(t.ModuleInfo(f"rt.{name}", str(rpath), tree, privileged=True))
    tree = parse_module(read_source(path), str(path))
    main = t.ModuleInfo("__main__", str(path), tree)
    user: dict[str, t.ModuleInfo] = {}
    order: list[t.ModuleInfo] = []
    _load_imports(main, path.parent, user, order, set())
    return modules + order + [main]


def stdlib_dir() -> Path:
    import applc.stdlib

    return Path(applc.stdlib.__file__).resolve().parent


def find_module(name: str, base: Path) -> tuple[Path, bool] | None:
    """The file of module `name`: next to the program first, then in stdlib/.

    Returns (path, privileged): stdlib modules may use `_machine` (drivers).
    """
    rel = Path(*name.split("."))
    for root, privileged in ((base, False), (stdlib_dir(), True)):
        for candidate in (root / rel.with_suffix(".apy"), root / rel / "__init__.apy"):
            if candidate.is_file():
                return candidate, privileged
    return None


def _imported_names(tree: nodes.Module) -> list[tuple[str, nodes.Node]]:
    """Modules a file imports at its top level (and inside top-level ifs)."""
    out = []

    def scan(body):
        for st in body:
            if isinstance(st, nodes.Import):
                out.extend((a.name, a) for a in st.names)
            elif isinstance(st, nodes.ImportFrom) and st.level == 0 and st.module:
                out.append((st.module, st))
                # `from package import submodule`: loaded when such a module exists
                out.extend((f"{st.module}.{a.name}", None) for a in st.names if a.name != "*")
            elif isinstance(st, nodes.If):
                scan(st.body)
                scan(st.orelse)

    scan(tree.body)
    return out


def _load_imports(m: t.ModuleInfo, base: Path, user: dict, order: list, active: set) -> None:
    """Load the modules `m` imports, dependencies first (their code runs first)."""
    from ..check.builtins import BUILTIN_MODULES
    from ..diag import Diagnostic

    active.add(m.name)
    for name, node in _imported_names(m.tree):
        if name in BUILTIN_MODULES or name in ("typing", "dataclasses", "__future__", "_machine"):
            continue
        if node is None:  # a name that may be a submodule (`from pkg import mod`)
            found = find_module(name, base)
            if name not in user and found is not None:
                _load_one(name, found, base, user, order, active)
            continue
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # `import a.b` imports a, then a.b
            sub = ".".join(parts[:i])
            if sub in user:
                if sub in active:
                    raise CompileError([Diagnostic(node.span, f"circular import of '{sub}' is "
                                                   "not supported by apy")])
                continue
            found = find_module(sub, base)
            if found is None:
                if i == len(parts):
                    raise CompileError([Diagnostic(node.span, f"no module named '{name}'",
                                                   hint=f"apy looks for {sub.replace('.', '/')}"
                                                   ".apy next to the program and in stdlib/")])
                continue
            _load_one(sub, found, base, user, order, active)
    active.discard(m.name)


def _load_one(name: str, found: tuple[Path, bool], base: Path, user: dict, order: list,
              active: set) -> None:
    """Parse module `name` from `found` (path, privileged), then what it imports."""
    fpath, privileged = found
    tree = parse_module(read_source(fpath), str(fpath))
    mod = t.ModuleInfo(name, str(fpath), tree, privileged=privileged)
    user[name] = mod
    _load_imports(mod, base, user, order, active)
    order.append(mod)


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def check_file(path: str | os.PathLike) -> list[t.ModuleInfo]:
    """Parse and type-check; raise CompileError with every diagnostic of the file."""
    p = Path(path)
    modules = load_program(p)
    diags = Diagnostics()
    Checker(diags).check_program(modules)
    diags.check()
    return modules


@attrs.define
class BuildResult:
    image: Path
    target: str
    size: int
    cached: bool
    seconds: float
    symbols: dict = attrs.Factory(dict)  # name -> (address, size, section)
    llvm_ir: str | None = None
    modules: list[str] = attrs.Factory(list)  # the program's apy modules (rt.*, stdlib, own)


def symbol_owner(name: str, modules: list[str]) -> tuple[str, str]:
    """Which module a symbol of the image comes from, and its name inside it.

    Function and global symbols are `<module>.<name>` (`net.iface.Interface.poll` ->
    (net.iface, Interface.poll)): the longest module name that prefixes the symbol wins.
    The rest is the target's platform code (applc_*) or unnamed constants (.L*).
    """
    best = ""
    for m in modules:
        if len(m) > len(best) and name.startswith(m + "."):
            best = m
    if best:
        return best, name[len(best) + 1:]
    if name.startswith(".L") or name.startswith(".str") or name.startswith(".site"):
        return "(constants)", name
    return "(platform)", name


_llvm_ready = False


def _init_llvm() -> None:
    global _llvm_ready
    if not _llvm_ready:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        llvm.initialize_native_asmparser()  # inline asm (memcpy, the stack check)
        _llvm_ready = True


def target_machine(target):
    _init_llvm()
    tgt = llvm.Target.from_triple(target.triple)
    return tgt.create_target_machine(
        cpu=target.cpu, features=target.features, opt=3, reloc="static", codemodel="small"
    )


def lower_program(modules: list[t.ModuleInfo], target) -> str:
    tm = target_machine(target)
    prog = ProgramLowerer(
        modules,
        triple=target.triple,
        data_layout=str(tm.target_data),
        no_red_zone=target.no_red_zone,
        target_name=target.name,
    )
    return str(prog.lower())


def compile_ir(program_ir: str, target, opt: int = 2) -> tuple[bytes, str]:
    """Link the program's IR with the platform's, optimise, emit an object file."""
    tm = target_machine(target)
    mod = llvm.parse_assembly(program_ir)
    plat = llvm.parse_assembly(target.platform_ir())
    mod.link_in(plat)
    mod.verify()
    attr = size_attr(target.name)
    if attr:
        for fn in mod.functions:
            if not fn.is_declaration:
                fn.add_function_attribute(attr)
    if opt > 0:
        pto = llvm.create_pipeline_tuning_options(speed_level=opt)
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
    return tm.emit_object(mod), str(mod)


def cache_dir() -> Path:
    base = os.environ.get("APPLC_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "applc"


def _compiler_hash() -> str:
    h = hashlib.sha256()
    roots = [PACKAGE_ROOT, runtime_dir(), runtime_dir().parent / "targets", stdlib_dir()]
    for root in roots:
        if not root.exists():
            continue
        for f in sorted(root.rglob("*")):
            if f.suffix in (".py", ".apy", ".lark", ".s", ".ll") and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(root)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()


_COMPILER_HASH: str | None = None


def cache_key(path: Path, target: str, opt: int) -> str:
    global _COMPILER_HASH
    if _COMPILER_HASH is None:
        _COMPILER_HASH = _compiler_hash()
    h = hashlib.sha256()
    h.update(_COMPILER_HASH.encode())
    h.update(f"{target}|{opt}|{size_attr(target)}|{path.name}|".encode())
    h.update(path.read_bytes())
    return h.hexdigest()[:32]


def build_file(
    path: str | os.PathLike,
    target: str = DEFAULT_TARGET,
    out: str | os.PathLike | None = None,
    *,
    opt: int = 2,
    use_cache: bool = True,
    keep_symbols: bool = False,
    emit_llvm: bool = False,
) -> BuildResult:
    """Build `path` for `target`; write the image to `out` (default: next to the source)."""
    start = time.perf_counter()
    src = Path(path)
    tgt = load_target(target)
    out_path = Path(out) if out is not None else src.with_suffix(".elf" if target == "kvm" else "")
    key = cache_key(src, target, opt) + ("-sym" if keep_symbols else "")
    cached = cache_dir() / f"{key}.img"
    if use_cache and not emit_llvm and cached.exists():
        _copy(cached, out_path, target)
        return BuildResult(out_path, target, out_path.stat().st_size, True,
                           time.perf_counter() - start)
    modules = check_file(src)
    module_names = [m.name for m in modules]
    program_ir = lower_program(modules, tgt)
    obj, final_ir = compile_ir(program_ir, tgt, opt)
    linked = tgt.link([obj], keep_symbols=keep_symbols)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _write_image(out_path, linked.image, target)
    if use_cache:
        cache_dir().mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(linked.image)
        os.replace(tmp, cached)
    return BuildResult(
        out_path, target, len(linked.image), False, time.perf_counter() - start,
        dict(linked.symbols), final_ir if emit_llvm else None, module_names,
    )


def _is_special(path: Path) -> bool:
    """An existing output that is not a regular file (/dev/null, a fifo): written into,
    never replaced -- renaming over /dev/null as root would destroy it."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def _write_image(path: Path, data: bytes, target: str) -> None:
    if _is_special(path):
        with open(path, "wb") as out:
            out.write(data)
        return
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o755 if target == "hosted" else 0o644)
    os.replace(tmp, path)


def _copy(src: Path, dst: Path, target: str) -> None:
    if _is_special(dst):
        _write_image(dst, src.read_bytes(), target)
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o755 if target == "hosted" else 0o644)
    os.replace(tmp, dst)
