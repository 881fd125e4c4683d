"""What a target tells the compiler, and the platform contract it implements.

In: nothing (targets construct `Target`s). Out:
- `Target`: name, LLVM triple/cpu/features, `no_red_zone`, `platform_ir()`
  (LLVM IR text implementing PLATFORM_CONTRACT plus the entry point),
  `target_machine()` and `link(objects, keep_symbols)`;
- `PLATFORM_CONTRACT`: the exact IR signatures every platform defines
  (docs/platform.md documents each one as a contract);
- `build_image()`: the reference back-end pipeline (platform IR linked into
  the program module, optimised together, emitted, linked). The driver may
  call it as-is; the platform tests do.

Neighbours: applc.targets.hosted / applc.targets.kvm construct the Targets;
elf.py is the linker they call.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import llvmlite.binding as llvm

from applc.link.elf import LinkResult, LinkSpec, link

# name -> LLVM declaration (what the compiler's module may `declare`).
PLATFORM_CONTRACT = {
    "applc_plat_write": "declare void @applc_plat_write(i32, ptr, i64)",
    "applc_plat_exit": "declare void @applc_plat_exit(i32) noreturn",
    "applc_plat_heap_start": "declare i64 @applc_plat_heap_start()",
    "applc_plat_heap_end": "declare i64 @applc_plat_heap_end()",
    "applc_plat_argc": "declare i64 @applc_plat_argc()",
    "applc_plat_argv": "declare ptr @applc_plat_argv(i64)",
    "applc_plat_monotonic_ns": "declare i64 @applc_plat_monotonic_ns()",
    "applc_plat_boot_tsc": "declare i64 @applc_plat_boot_tsc()",
    "applc_plat_tsc_hz": "declare i64 @applc_plat_tsc_hz()",
    "applc_plat_stack_top": "declare i64 @applc_plat_stack_top()",
    "applc_stack_limit": "@applc_stack_limit = external global i64",
}

# The program defines this; the platform's entry point calls it.
PROGRAM_ENTRY = "applc_main"  # i32 @applc_main()

_initialised = False


def init_llvm() -> None:
    """Initialise the LLVM x86 back end once per process."""
    global _initialised
    if not _initialised:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        llvm.initialize_native_asmparser()
        _initialised = True


@attrs.frozen
class Target:
    name: str
    triple: str
    cpu: str
    features: str
    no_red_zone: bool
    link_spec: LinkSpec
    make_platform_ir: Callable[[], str] = attrs.field(repr=False)

    def platform_ir(self) -> str:
        """The platform module (LLVM IR text, with its `module asm`)."""
        return self.make_platform_ir()

    def target_machine(self, opt: int = 2) -> llvm.TargetMachine:
        """Static relocation, small code model: what the linker expects."""
        init_llvm()
        return llvm.Target.from_triple(self.triple).create_target_machine(
            cpu=self.cpu, features=self.features, opt=opt, reloc="static", codemodel="small"
        )

    def link(self, objects: list[bytes], keep_symbols: bool = False) -> LinkResult:
        return link(objects, attrs.evolve(self.link_spec, keep_symbols=keep_symbols))


def build_image(target: Target, program_ir: str, opt: int = 2, keep_symbols: bool = False) -> LinkResult:
    """Program IR text (defining applc_main) -> linked image for `target`."""
    init_llvm()
    program = llvm.parse_assembly(program_ir)
    program.triple = target.triple
    program.link_in(llvm.parse_assembly(target.platform_ir()))
    program.verify()
    tm = target.target_machine(opt)
    if opt:
        pto = llvm.create_pipeline_tuning_options(speed_level=opt)
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(program, pb)
    return target.link([tm.emit_object(program)], keep_symbols=keep_symbols)
