"""Differential: the two-stack scenario (echo with loss, ping, DHCP with loss, garbage)
compiled for the hosted target prints exactly what CPython prints; so does a bad
boot argument (one line, exit status 2). This is also what proves that apy accepts
every line of stdlib/net."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGS = Path(__file__).resolve().parent / "progs"


def applc(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("applc")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "applc"]
    return subprocess.run(cmd + list(args), capture_output=True, timeout=timeout)


def compiled_run(apy, name: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    exe = apy.build(PROGS / name, tmp_path / (Path(name).stem + ".exe"))
    return subprocess.run([str(exe), *args], capture_output=True, timeout=300)


def test_two_stacks_compiled_matches_cpython(apy, tmp_path):
    expected = applc("pyrun", str(PROGS / "two_stacks.apy"))
    assert expected.returncode == 0, expected.stderr.decode()
    actual = compiled_run(apy, "two_stacks.apy", tmp_path)
    assert actual.returncode == 0, actual.stderr.decode()
    assert actual.stdout.decode() == expected.stdout.decode()
    text = expected.stdout.decode()
    assert "echoed 40 of 40" in text and "internal 0" in text and "stopped 0.0.0.0" in text


def test_bad_boot_argument_compiled(apy, tmp_path):
    actual = compiled_run(apy, "config_probe.apy", tmp_path, "--ipv4-gateway=10.0.0.1")
    expected = applc("pyrun", str(PROGS / "config_probe.apy"), "--ipv4-gateway=10.0.0.1")
    assert actual.returncode == expected.returncode == 2
    assert actual.stdout == expected.stdout == b""
    assert actual.stderr == expected.stderr
    assert len(actual.stderr.decode().splitlines()) == 1
