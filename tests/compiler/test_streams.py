"""print(file=sys.stderr), print(flush=True), sys.stdout/sys.stderr write() and flush().

In:  a program writing to both streams.
Out: compiled (hosted, and kvm where the console's COM2 carries stderr) gives
     CPython's stdout and stderr, byte for byte.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = '''
import sys

print("out", 1, 2.5, file=sys.stdout)
print("err", [1, 2], {"a": 3}, sep="|", file=sys.stderr)
print("flushed", flush=True)
n = sys.stdout.write("written\\n")
sys.stdout.flush()
m = sys.stderr.write("to stderr\\n")
sys.stderr.flush()
print(n, m, end="!\\n", flush=False)
print(end="", file=sys.stderr)
'''


def _run(cmd: list[str]) -> tuple[bytes, bytes, int]:
    p = subprocess.run(cmd, capture_output=True, timeout=240)
    return p.stdout, p.stderr, p.returncode


def test_streams_match_cpython(apy, target: str, tmp_path: Path) -> None:
    src = tmp_path / "streams.apy"
    src.write_text(PROGRAM)
    expected = _run([sys.executable, str(src)])
    if target == "hosted":
        exe = apy.build(src, tmp_path / "streams.exe", cache=False)
        actual = _run([str(exe)])
    else:
        out = apy.cli("run", "-t", target, str(src))
        actual = (out.stdout, out.stderr, out.status)
    assert actual == expected


def test_print_file_must_be_a_sys_stream(apy, tmp_path: Path) -> None:
    src = tmp_path / "bad.apy"
    src.write_text("import sys\nprint('x', file=sys.argv)\n")
    out = apy.cli("check", str(src))
    assert out.status == 1
    assert b"bad.apy:2:17: error: print(file=...) takes sys.stdout or sys.stderr" in (
        out.stdout + out.stderr)
