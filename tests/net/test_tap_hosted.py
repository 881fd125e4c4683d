"""examples/frame_echo.apy on the hosted target: frames with Linux through a TAP device.

In:  the hosted frame_echo executable; a network namespace this test creates
     (its own name, deleted in `finally`) holding a TAP device `fe0`, IPv6 off
     so that Linux itself sends nothing on it.
Out: frame_echo, run inside the namespace with --tap=fe0 --frames=N, echoes the
     N random frames that tap_peer.py sends from the Linux side (AF_PACKET):
     every one comes back with swapped MACs; then it exits 0 and prints
     counters showing N frames each way and nothing dropped.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FRAMES = 3000
TIMEOUT = 120.0

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _in_ns(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd]


def _wait_carrier(ns: str, ifname: str) -> None:
    """The TAP has carrier once a process has attached to it (bounded wait)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = subprocess.run(_in_ns(ns, "cat", f"/sys/class/net/{ifname}/carrier"),
                             capture_output=True, text=True, timeout=30)
        if out.stdout.strip() == "1":
            return
        time.sleep(0.1)
    raise TimeoutError(f"{ifname} got no carrier: frame_echo did not attach")


def test_tap_frames_with_linux(tmp_path: Path) -> None:
    from applc.driver.build import build_file

    exe = tmp_path / "frame_echo"
    build_file(str(REPO / "examples" / "frame_echo.apy"), target="hosted", out=str(exe))
    ns = f"applc-fe-{os.getpid()}-{secrets.token_hex(3)}"
    _ip("netns", "add", ns)
    proc = None
    try:
        subprocess.run(_in_ns(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                              "net.ipv6.conf.default.disable_ipv6=1"), check=True, timeout=30)
        _ip("-n", ns, "tuntap", "add", "dev", "fe0", "mode", "tap")
        _ip("-n", ns, "link", "set", "fe0", "up")
        proc = subprocess.Popen(_in_ns(ns, str(exe), "--tap=fe0", f"--frames={FRAMES}"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_carrier(ns, "fe0")
        peer = subprocess.run(_in_ns(ns, sys.executable, str(HERE / "tap_peer.py"), "fe0", str(FRAMES), "7",
                                     "02a700000001"), capture_output=True, text=True, timeout=TIMEOUT)
        assert peer.stdout.strip() == f"ok {FRAMES}", peer.stdout + peer.stderr
        out, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, err
        assert out.decode().strip() == (f"fe0 02:a7:00:00:00:01 rx {FRAMES} tx {FRAMES} "
                                        "rx_dropped 0 tx_dropped 0")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
