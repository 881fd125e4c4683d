"""Boot tests of the kvm platform: small IR programs linked with the real
platform module, booted by qemu-system-x86_64 under TCG on microvm, q35 and pc.

Each program defines `applc_main` in LLVM IR and calls the platform
interface (docs/platform.md). QEMU runs with the plain command line of the
brief (`-device isa-debug-exit` at its default port), a timeout, and is
killed by PID if it outlives it. QEMU's exit code is (status << 1) | 1.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from applc.link.target import build_image
from applc.targets.kvm import TARGET

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs qemu-system-x86_64")

MACHINES = ("microvm", "q35", "pc")
BOOT_TIMEOUT = 90  # seconds of wall time under TCG, per boot

DECLS = """
declare void @applc_plat_write(i32, ptr, i64)
declare void @applc_plat_exit(i32) noreturn
declare i64 @applc_plat_argc()
declare ptr @applc_plat_argv(i64)
declare i64 @applc_plat_heap_start()
declare i64 @applc_plat_heap_end()
declare i64 @applc_plat_monotonic_ns()
declare i64 @applc_plat_tsc_hz()
declare i64 @applc_plat_boot_tsc()
@applc_stack_limit = external global i64
@nl = private constant [1 x i8] c"\\0A"

define internal void @puts(i32 %fd, ptr %s) noredzone {
entry:
  br label %loop
loop:
  %n = phi i64 [0, %entry], [%n1, %loop]
  %p = getelementptr i8, ptr %s, i64 %n
  %c = load i8, ptr %p
  %n1 = add i64 %n, 1
  %more = icmp ne i8 %c, 0
  br i1 %more, label %loop, label %done
done:
  call void @applc_plat_write(i32 %fd, ptr %s, i64 %n)
  call void @applc_plat_write(i32 %fd, ptr @nl, i64 1)
  ret void
}
"""


def program(body: str, extra: str = "") -> str:
    """IR text: the declarations, `extra` definitions, and applc_main { body }."""
    return DECLS + extra + "\ndefine i32 @applc_main() noredzone {\nentry:\n" + body + "\n}\n"


ECHO_ARGV = program(
    """
  %argc = call i64 @applc_plat_argc()
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%i1, %loop]
  %s = call ptr @applc_plat_argv(i64 %i)
  call void @puts(i32 1, ptr %s)
  %i1 = add i64 %i, 1
  %more = icmp ult i64 %i1, %argc
  br i1 %more, label %loop, label %done
done:
  ret i32 3
"""
)


def boot(tmp_path: Path, ir_text: str, machine: str = "microvm", append: str = "", qemu_args=None):
    """Build, boot, and return (QEMU exit code, COM1 bytes, COM2 bytes or None)."""
    image = tmp_path / "image.elf"
    image.write_bytes(build_image(TARGET, ir_text).image)
    com1, com2 = tmp_path / "com1.out", tmp_path / "com2.out"
    serial = ["-serial", f"file:{com1}"] if qemu_args is None else qemu_args(com1, com2)
    command = [
        "qemu-system-x86_64", "-M", machine, "-accel", "tcg", "-m", "64M",
        "-kernel", str(image), "-append", append, "-display", "none", "-monitor", "none",
        "-no-reboot", "-device", "isa-debug-exit", *serial,
    ]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _out, err = proc.communicate(timeout=BOOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()  # by PID: this Popen's own child
        proc.communicate()
        pytest.fail(f"guest did not exit within {BOOT_TIMEOUT} s on {machine}")
    assert b"qemu-system" not in err, err.decode(errors="replace")
    return proc.returncode, com1.read_bytes(), (com2.read_bytes() if com2.exists() else None)


def guest_output(com1: bytes) -> bytes:
    """COM1 without the firmware's banner (SeaBIOS prints on q35/pc)."""
    marker = b"Booting from ROM.."
    return com1.split(marker, 1)[1] if marker in com1 else com1


@pytest.mark.parametrize("machine", MACHINES)
def test_argv_output_and_exit_status(tmp_path, machine):
    code, com1, _ = boot(tmp_path, ECHO_ARGV, machine, append="""one 'two words' "say \\"hi\\"" four\\ five""")
    assert guest_output(com1) == b'applc\none\ntwo words\nsay "hi"\nfour five\n'
    assert code == (3 << 1) | 1


def test_empty_command_line_gives_only_argv0(tmp_path):
    code, com1, _ = boot(tmp_path, ECHO_ARGV)
    assert com1 == b"applc\n"
    assert code == 7


def two_uarts(com1: Path, com2: Path) -> list[str]:
    """COM1 and COM2 as devices (microvm wires only the first -serial)."""
    return [
        "-chardev", f"file,id=com1,path={com1}", "-chardev", f"file,id=com2,path={com2}",
        "-device", "isa-serial,chardev=com1,index=0", "-device", "isa-serial,chardev=com2,index=1",
    ]


def test_fd2_goes_to_com2_when_present(tmp_path):
    ir_text = program(
        """
  call void @puts(i32 1, ptr @out)
  call void @puts(i32 2, ptr @err)
  ret i32 0
""",
        extra='@out = private constant [4 x i8] c"out\\00"\n@err = private constant [4 x i8] c"err\\00"\n',
    )
    code, com1, com2 = boot(tmp_path, ir_text, qemu_args=two_uarts)
    assert (com1, com2, code) == (b"out\n", b"err\n", 1)
    code, com1, _ = boot(tmp_path, ir_text)  # one UART: fd 2 falls back to COM1
    assert (com1, code) == (b"out\nerr\n", 1)


STACK_OVERFLOW = program(
    """
  %r = call i64 @recurse(i64 0)
  ret i32 0
""",
    extra="""
define internal i64 @recurse(i64 %n) noinline optnone noredzone {
  %buf = alloca [512 x i8]
  store volatile i8 1, ptr %buf
  %m = add i64 %n, 1
  %r = call i64 @recurse(i64 %m)
  %s = add i64 %r, 1
  ret i64 %s
}
""",
)


@pytest.mark.parametrize("machine", ["microvm", "q35"])
def test_stack_overflow_hits_guard_page(tmp_path, machine):
    code, com1, _ = boot(tmp_path, STACK_OVERFLOW, machine)
    assert guest_output(com1) == b"fatal: stack overflow (guard page hit)\n"
    assert code == (1 << 1) | 1


def test_invalid_opcode_reports_cpu_exception(tmp_path):
    ir_text = program("  call void @llvm.trap()\n  unreachable", extra="declare void @llvm.trap() noreturn\n")
    code, com1, _ = boot(tmp_path, ir_text)
    assert com1.startswith(b"fatal: CPU exception 6 at rip=0x10") and com1.endswith(b"\n")
    assert code == 3


def test_text_is_read_only(tmp_path):
    ir_text = program("  store volatile i8 0, ptr @applc_main\n  ret i32 0")
    code, com1, _ = boot(tmp_path, ir_text)
    assert com1.startswith(b"fatal: CPU exception 14 at rip=0x")
    assert b"(address 0x10" in com1
    assert code == 3


def test_page_zero_is_unmapped(tmp_path):
    ir_text = program("  %v = load volatile i64, ptr inttoptr (i64 8 to ptr)\n  ret i32 0")
    code, com1, _ = boot(tmp_path, ir_text)
    assert com1.startswith(b"fatal: CPU exception 14 at rip=0x") and b"(address 0x8)" in com1
    assert code == 3


CHECKS = program(
    """
  %hs = call i64 @applc_plat_heap_start()
  %he = call i64 @applc_plat_heap_end()
  %size = sub i64 %he, %hs
  %big = icmp ugt i64 %size, 33554432
  %first = inttoptr i64 %hs to ptr
  store volatile i64 42, ptr %first
  %lastaddr = sub i64 %he, 8
  %last = inttoptr i64 %lastaddr to ptr
  store volatile i64 43, ptr %last
  %v = load volatile i64, ptr %first
  %heapok = and i1 %big, true
  %v42 = icmp eq i64 %v, 42
  %h = and i1 %heapok, %v42
  br i1 %h, label %heap_good, label %fail
heap_good:
  call void @puts(i32 1, ptr @heap)
  %hz = call i64 @applc_plat_tsc_hz()
  %t0 = call i64 @applc_plat_monotonic_ns()
  %t1 = call i64 @applc_plat_monotonic_ns()
  %mono = icmp uge i64 %t1, %t0
  %hzok = icmp ugt i64 %hz, 1000000
  %c = and i1 %mono, %hzok
  br i1 %c, label %clock_good, label %fail
clock_good:
  call void @puts(i32 1, ptr @clock)
  %limit = load i64, ptr @applc_stack_limit
  %slot = alloca i64
  %sp = ptrtoint ptr %slot to i64
  %below = icmp ult i64 %limit, %sp
  %room = sub i64 %sp, %limit
  %enough = icmp ugt i64 %room, 262144
  %s = and i1 %below, %enough
  br i1 %s, label %stack_good, label %fail
stack_good:
  call void @puts(i32 1, ptr @stack)
  ret i32 0
fail:
  call void @puts(i32 1, ptr @bad)
  ret i32 1
""",
    extra="""@heap = private constant [8 x i8] c"heap ok\\00"
@clock = private constant [9 x i8] c"clock ok\\00"
@stack = private constant [9 x i8] c"stack ok\\00"
@bad = private constant [4 x i8] c"bad\\00"
""",
)


@pytest.mark.parametrize("machine", MACHINES)
def test_heap_clock_and_stack_limit(tmp_path, machine):
    code, com1, _ = boot(tmp_path, CHECKS, machine)
    assert guest_output(com1) == b"heap ok\nclock ok\nstack ok\n"
    assert code == 1


@pytest.mark.parametrize("machine", ["q35", "pc"])
def test_acpi_power_off_without_debug_exit(tmp_path, machine):
    image = tmp_path / "image.elf"
    image.write_bytes(build_image(TARGET, ECHO_ARGV).image)
    proc = subprocess.Popen(
        ["qemu-system-x86_64", "-M", machine, "-accel", "tcg", "-kernel", str(image),
         "-display", "none", "-monitor", "none", "-serial", "none", "-no-reboot"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        proc.communicate(timeout=BOOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the guest did not power off")
    assert proc.returncode == 0


def test_hello_image_is_small_and_deterministic():
    hello = program("  call void @puts(i32 1, ptr @msg)\n  ret i32 0", extra='@msg = private constant [6 x i8] c"hello\\00"\n')
    first, second = build_image(TARGET, hello), build_image(TARGET, hello)
    assert first.image == second.image
    assert len(first.image) < 16 * 1024
    assert first.image[:4] == b"\x7fELF"
