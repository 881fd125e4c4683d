"""The `applc` command line: check, build, run.

In:  argv.
Out: an exit status (0 ok; 1 the program has errors, or the run program's own
     status for `run`; 2 bad usage; 70 an internal compiler error) and text:
     diagnostics and summaries on stderr; `run` leaves stdout to the program.

    applc check prog.apy
    applc build prog.apy [-t kvm|hosted] [-o OUT] [--report] [--emit-llvm]
    applc run prog.apy [-t kvm|hosted] [--machine microvm|q35|pc] [--accel auto|kvm|tcg]
                       [--mem MiB] [--timeout S] [--boot-trace] [--net SPEC]... [--] [ARGS...]
    applc pyrun prog.apy [ARGS...]     (the same program under CPython, .apy imports found)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from ..diag import CompileError, InternalError
from . import build as b

EXIT_INTERNAL = 70


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(message)


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="applc", description="Compile apy services into bare-metal VM images.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    c = sub.add_parser("check", help="type-check a program")
    c.add_argument("file")

    bp = sub.add_parser("build", help="build an image (kvm) or an executable (hosted)")
    bp.add_argument("file")
    _target_args(bp)
    bp.add_argument("-o", "--output", help="where to write the image")
    bp.add_argument("--report", action="store_true",
                    help="show what went into the image, by module and function")
    bp.add_argument("--emit-llvm", action="store_true",
                    help="print the optimised LLVM IR of the whole program on stdout")
    bp.add_argument("--symbols", action="store_true", help="keep a symbol table in the image")

    r = sub.add_parser("run", help="build (cached) and run a program")
    r.add_argument("file")
    _target_args(r)
    r.add_argument("--machine", choices=["microvm", "q35", "pc"], default="microvm",
                   help="QEMU machine type (kvm target)")
    r.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto",
                   help="auto = hardware KVM when there is one, else TCG")
    r.add_argument("--mem", type=_positive_float, default=32.0, metavar="MiB",
                   help="VM memory in MiB (default 32)")
    r.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                   help="stop the program after this long (exit status 124)")
    r.add_argument("--boot-trace", action="store_true",
                   help="report guest time from the PVH entry to main on stderr")
    r.add_argument("--net", action="append", default=[], metavar="SPEC",
                   help="add a virtio-net card: user | user:udp|tcp:HOSTPORT:GUESTPORT | tap:IFNAME | "
                        "dgram:LPORT:RPORT | "
                        "dgram:LHOST:LPORT:RHOST:RPORT [,mac=..]; hosted: tap:IFNAME only "
                        "(passed to the program as --tap=IFNAME)")
    r.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the program")
    return p


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be positive: '{text}'")
    return v


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--target", choices=b.TARGETS, default=b.DEFAULT_TARGET,
                   help=f"what to build for (default {b.DEFAULT_TARGET})")
    p.add_argument("-O", dest="opt", type=int, choices=[0, 1, 2, 3], default=2,
                   help="LLVM optimisation level (default 2)")
    p.add_argument("--no-cache", action="store_true", help="rebuild even if nothing changed")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "pyrun":
        # the program under CPython (the oracle), with .apy imports: no argparse here,
        # every further argument is the program's
        from .pyrun import main as pyrun

        return pyrun(argv[1:])
    try:
        args = make_parser().parse_args(argv)
    except UsageError as e:
        print(f"applc: error: {e}", file=sys.stderr)
        return 2
    try:
        if not Path(args.file).is_file():
            print(f"applc: error: no such file: '{args.file}'", file=sys.stderr)
            return 2
        return COMMANDS[args.command](args)
    except CompileError as e:
        print(e.render(), file=sys.stderr)
        n = len(e.diagnostics)
        print(f"{n} error{'s' if n != 1 else ''} in {args.file}", file=sys.stderr)
        return 1
    except InternalError as e:
        print(str(e), file=sys.stderr)
        return EXIT_INTERNAL
    except ToolMissing as e:
        print(f"applc: error: {e}", file=sys.stderr)
        return 2


class ToolMissing(Exception):
    pass


def cmd_check(args) -> int:
    b.check_file(args.file)  # silent on success, like a compiler
    return 0


def cmd_build(args) -> int:
    res = b.build_file(args.file, args.target, args.output, opt=args.opt,
                       use_cache=not args.no_cache, keep_symbols=args.symbols,
                       emit_llvm=args.emit_llvm or args.report)
    how = "cached" if res.cached else f"{res.seconds:.2f} s"
    print(f"applc: {res.image}: {res.target} image, {res.size} bytes "
          f"({res.size / 1024:.1f} KiB), {how}", file=sys.stderr)
    if args.emit_llvm and res.llvm_ir:
        sys.stdout.write(res.llvm_ir)
    if args.report:
        print_report(res)
    return 0


def print_report(res: b.BuildResult) -> None:
    """What went into the image: bytes per module (in the file; .bss apart), then per symbol."""
    in_file: dict[str, int] = {}
    bss: dict[str, int] = {}
    rows = []
    for name, (addr, size, section) in res.symbols.items():
        if size <= 0:
            continue
        module, func = b.symbol_owner(name, res.modules)
        into = bss if section == ".bss" else in_file
        into[module] = into.get(module, 0) + size
        bss.setdefault(module, 0)
        in_file.setdefault(module, 0)
        rows.append((module, func, section, size))
    print(f"{'module':<28} {'bytes':>8} {'bss':>8}")
    for module, size in sorted(in_file.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{module:<28} {size:>8} {bss[module]:>8}")
    print(f"{'total (symbols)':<28} {sum(in_file.values()):>8} {sum(bss.values()):>8}"
          f"   image file: {res.size} bytes")
    print()
    print(f"{'module':<28} {'symbol':<32} {'section':<8} {'bytes':>8}")
    for module, func, section, size in sorted(rows, key=lambda r: (r[0], -r[3])):
        print(f"{module:<28} {func:<32} {section:<8} {size:>8}")


def cmd_run(args) -> int:
    prog_args = list(args.args)
    if prog_args and prog_args[0] == "--":
        prog_args = prog_args[1:]
    try:
        prog_args = _net_args(args, prog_args)
    except UsageError as e:
        print(f"applc: error: {e}", file=sys.stderr)
        return 2
    cache_out = b.cache_dir() / "run" / (Path(args.file).stem + (".elf" if args.target == "kvm" else ""))
    res = b.build_file(args.file, args.target, cache_out, opt=args.opt,
                       use_cache=not args.no_cache)
    if args.target == "hosted":
        return run_hosted(res.image, Path(args.file), prog_args, args.timeout)
    return run_kvm(res.image, args, prog_args)


def _net_args(args, prog_args: list[str]) -> list[str]:
    """Check the --net specs (UsageError on a bad one); hosted: they become --tap= arguments."""
    from applc.targets.kvm import qemu

    if args.target == "hosted":
        taps = []
        for spec in args.net:
            if not spec.startswith("tap:") or "," in spec or not 0 < len(spec) - 4 < 16:
                raise UsageError(f"--net {spec!r}: the hosted target has only tap:IFNAME cards")
            taps.append("--tap=" + spec[4:])
        return taps + prog_args
    try:
        qemu.nic_args(args.machine, args.net)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return prog_args


def run_hosted(image: Path, source: Path, prog_args: list[str], timeout: float | None) -> int:
    sys.stdout.flush()
    try:
        proc = subprocess.Popen([str(image), *prog_args], executable=str(image))
    except OSError as e:
        print(f"applc: error: cannot run {image}: {e}", file=sys.stderr)
        return 2
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        print(f"applc: {source}: timed out after {timeout:g} s", file=sys.stderr)
        return 124
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 130
    return rc if rc >= 0 else 128 - rc


def run_kvm(image: Path, args, prog_args: list[str]) -> int:
    from applc.targets.kvm import qemu

    try:
        return qemu.run_image(
            image, machine=args.machine, accel=args.accel, mem_mib=args.mem,
            cmdline=prog_args, timeout=args.timeout, boot_trace=args.boot_trace, nics=args.net,
        )
    except qemu.QemuNotFoundError as e:
        raise ToolMissing(str(e)) from None
    except qemu.QemuError as e:
        print(f"applc: error: {e}", file=sys.stderr)
        return 2


COMMANDS = {"check": cmd_check, "build": cmd_build, "run": cmd_run}


if __name__ == "__main__":
    sys.exit(main())
