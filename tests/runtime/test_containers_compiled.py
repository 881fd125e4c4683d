"""The container runtime compiled: programs in tests/runtime/containers/ print the
same bytes compiled (hosted) as under CPython started with PYTHONHASHSEED=0.

The property tests run the runtime under CPython; these run it as machine code,
through the compiler's calls, so that the two agree. Sets of strs need the seed:
the runtime hashes strs as CPython does under PYTHONHASHSEED=0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAMS = sorted((Path(__file__).resolve().parent / "containers").glob("*.apy"))
TIMEOUT = 60.0


def run(cmd: list[str], env: dict | None = None) -> tuple[bytes, int]:
    """stdout and exit status; the process is killed (and the test fails) after TIMEOUT."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"timed out after {TIMEOUT:.0f}s: {' '.join(cmd)}")
    return out, proc.returncode


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_compiled_containers_match_cpython(program: Path, tmp_path: Path) -> None:
    from applc.driver.build import build_file

    want = run([sys.executable, str(program)], env=dict(os.environ, PYTHONHASHSEED="0"))
    exe = tmp_path / (program.stem + ".exe")
    build_file(str(program), target="hosted", out=str(exe))
    got = run([str(exe)])
    assert got == want


def test_there_are_programs():
    assert len(PROGRAMS) >= 2
