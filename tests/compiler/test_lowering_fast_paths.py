"""Fast paths of the lowering that the CPU benchmarks (benchmarks/cpu) depend on.

In:  small apy programs, built in-process for the hosted target at -O2 with
     `build_file(..., emit_llvm=True)`.
Out: pass/fail on the optimised IR (is a call gone?) and on what the program
     prints (the fast path must keep every check: same output and exceptions as
     CPython, which runs the same source here).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from applc.driver.build import build_file

EXPRESSION_FUNCTION = '''
def eval_a(i: int, j: int) -> float:
    """Spectral-norm's matrix entry: overflow-checked adds and multiply, a floor division."""
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


def row_sum(i: int, n: int) -> float:
    acc = 0.0
    for j in range(n):
        acc += eval_a(i, j)
    return acc


def col_sum(j: int, n: int) -> float:
    acc = 0.0
    for i in range(n):
        acc += eval_a(i, j)
    return acc


print(row_sum(3, 100), col_sum(5, 100))
try:
    print(eval_a(-1, 0))
except ZeroDivisionError as e:
    print("ZeroDivisionError:", e)
'''

BYTES_INDEXING = '''
def checksum(data: bytes, buf: bytearray) -> int:
    total = 0
    for i in range(len(buf)):
        total += buf[i] ^ data[i % len(data)]
    for x in buf:
        total += x
    return total


buf = bytearray(b"0123456789")
print(checksum(b"key", buf))
for i in (9, 10, -10, -11):
    try:
        print(buf[i], b"key"[i % 4])
    except IndexError as e:
        print("IndexError:", e)
'''


def build(tmp_path: Path, name: str, source: str) -> tuple[str, bytes]:
    src = tmp_path / f"{name}.apy"
    src.write_text(textwrap.dedent(source))
    exe = tmp_path / name
    res = build_file(src, "hosted", exe, opt=2, use_cache=False, emit_llvm=True)
    out = subprocess.run([str(exe)], capture_output=True, timeout=60).stdout
    expected = subprocess.run([sys.executable, str(src)], capture_output=True, timeout=60).stdout
    assert out == expected
    assert res.llvm_ir is not None
    return res.llvm_ir, out


def test_expression_function_with_checks_is_inlined(tmp_path):
    ir, out = build(tmp_path, "exprfn", EXPRESSION_FUNCTION)
    assert b"ZeroDivisionError: float division by zero" in out
    # both loops call eval_a; at -O2 it must be inlined into each of them
    assert re.search(r"call .*@__main__\.eval_a\(", ir) is None


def test_bytes_and_bytearray_items_are_read_inline(tmp_path):
    ir, out = build(tmp_path, "bytesidx", BYTES_INDEXING)
    assert b"IndexError: bytearray index out of range" in out
    assert re.search(r"call .*@rt\.bytesops\.bytes_getitem\(", ir) is None
