"""Tests of the hosted platform: small IR programs linked with the real
platform module into static Linux executables, run with subprocess."""

import resource
import subprocess
from pathlib import Path

import pytest

from applc.link.target import build_image
from applc.targets.hosted import TARGET

RUN_TIMEOUT = 30

DECLS = """
declare void @applc_plat_write(i32, ptr, i64)
declare i64 @applc_plat_argc()
declare ptr @applc_plat_argv(i64)
declare i64 @applc_plat_heap_start()
declare i64 @applc_plat_heap_end()
declare i64 @applc_plat_monotonic_ns()
declare i64 @strlen(ptr)
@applc_stack_limit = external global i64
@nl = private constant [1 x i8] c"\\0A"

define internal void @puts(i32 %fd, ptr %s) {
  %n = call i64 @strlen(ptr %s)
  call void @applc_plat_write(i32 %fd, ptr %s, i64 %n)
  call void @applc_plat_write(i32 %fd, ptr @nl, i64 1)
  ret void
}
"""


def program(body: str, extra: str = "") -> str:
    return DECLS + extra + "\ndefine i32 @applc_main() {\nentry:\n" + body + "\n}\n"


def run(tmp_path: Path, ir_text: str, *args: str, stack_limit: int | None = None) -> subprocess.CompletedProcess:
    exe = tmp_path / "prog"
    exe.write_bytes(build_image(TARGET, ir_text).image)
    exe.chmod(0o755)

    def limit_stack():
        if stack_limit is not None:
            resource.setrlimit(resource.RLIMIT_STACK, (stack_limit, resource.getrlimit(resource.RLIMIT_STACK)[1]))

    return subprocess.run([str(exe), *args], capture_output=True, timeout=RUN_TIMEOUT, preexec_fn=limit_stack)


def test_argv_stdout_stderr_and_exit_status(tmp_path):
    ir_text = program(
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
  %past = call ptr @applc_plat_argv(i64 %argc)
  %null = icmp eq ptr %past, null
  br i1 %null, label %ok, label %bad
ok:
  call void @puts(i32 2, ptr @err)
  ret i32 3
bad:
  ret i32 4
""",
        extra='@err = private constant [4 x i8] c"err\\00"\n',
    )
    proc = run(tmp_path, ir_text, "one", "two words")
    assert proc.stdout == f"{tmp_path / 'prog'}\none\ntwo words\n".encode()
    assert proc.stderr == b"err\n"
    assert proc.returncode == 3


def test_large_write_to_a_pipe_arrives_whole(tmp_path):
    size = 3 << 20  # larger than a pipe buffer: the write loop must handle partial writes
    ir_text = program(
        f"""
  %buf = call i64 @applc_plat_heap_start()
  %p = inttoptr i64 %buf to ptr
  call void @llvm.memset.p0.i64(ptr %p, i8 120, i64 {size}, i1 false)
  call void @applc_plat_write(i32 1, ptr %p, i64 {size})
  ret i32 0
""",
        extra="declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)\n",
    )
    proc = run(tmp_path, ir_text)
    assert proc.returncode == 0
    assert proc.stdout == b"x" * size


def test_heap_clock_and_stack_limit(tmp_path):
    ir_text = program(
        """
  %hs = call i64 @applc_plat_heap_start()
  %he = call i64 @applc_plat_heap_end()
  %size = sub i64 %he, %hs
  %big = icmp uge i64 %size, 16777216
  %last = inttoptr i64 %he to ptr
  %lastw = getelementptr i8, ptr %last, i64 -8
  store volatile i64 1, ptr %lastw
  %t0 = call i64 @applc_plat_monotonic_ns()
  %t1 = call i64 @applc_plat_monotonic_ns()
  %mono = icmp uge i64 %t1, %t0
  %positive = icmp sgt i64 %t0, 0
  %clock = and i1 %mono, %positive
  %limit = load i64, ptr @applc_stack_limit
  %slot = alloca i64
  %sp = ptrtoint ptr %slot to i64
  %room = sub i64 %sp, %limit
  %low = icmp ugt i64 %room, 2097152
  %high = icmp ult i64 %room, 4194304
  %stack = and i1 %low, %high
  %a = and i1 %big, %clock
  %all = and i1 %a, %stack
  %status = select i1 %all, i32 0, i32 1
  ret i32 %status
"""
    )
    # RLIMIT_STACK 4 MiB: the limit leaves a bit under 4 MiB - 64 KiB below main.
    assert run(tmp_path, ir_text, stack_limit=4 << 20).returncode == 0


def test_recursing_down_to_the_stack_limit_does_not_fault(tmp_path):
    ir_text = program(
        """
  %r = call i64 @deep(i64 0)
  %ok = icmp sgt i64 %r, 1000
  %status = select i1 %ok, i32 0, i32 1
  ret i32 %status
""",
        extra="""
define internal i64 @deep(i64 %n) noinline optnone {
  %buf = alloca [256 x i8]
  store volatile i8 1, ptr %buf
  %sp = ptrtoint ptr %buf to i64
  %limit = load i64, ptr @applc_stack_limit
  %stop = icmp ult i64 %sp, %limit
  br i1 %stop, label %base, label %more
base:
  ret i64 %n
more:
  %m = add i64 %n, 1
  %r = call i64 @deep(i64 %m)
  ret i64 %r
}
""",
    )
    assert run(tmp_path, ir_text, stack_limit=2 << 20).returncode == 0


def test_image_is_a_static_w_xor_x_executable(tmp_path):
    result = build_image(TARGET, program("  ret i32 0"))
    image = result.image
    assert image[16] == 2  # ET_EXEC
    import struct

    phoff, phnum = struct.unpack_from("<Q", image, 32)[0], struct.unpack_from("<H", image, 56)[0]
    flags = [struct.unpack_from("<II", image, phoff + 56 * i) for i in range(phnum)]
    loads = [f for t, f in flags if t == 1]
    assert all(not (f & 1 and f & 2) for f in loads)  # no W+X segment
    assert (0x6474E551, 6) in flags  # PT_GNU_STACK, RW: non-executable stack
