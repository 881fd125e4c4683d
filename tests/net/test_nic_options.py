"""The NIC plumbing around the drivers: --net specs, QEMU's NIC arguments, boot words.

In:  targets/kvm/qemu.py (nic_args, the machine option), `applc run --net`,
     stdlib/drivers/virtio/mmio.apy's parse_word (under CPython).
Out: well-formed specs become the devices the drivers expect (modern
     virtio-mmio on microvm, virtio-net-pci elsewhere); a malformed spec is one
     line and exit status 2; virtio_mmio.device= words parse as Linux's do, and
     malformed ones are refused rather than guessed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from applc.targets.kvm import qemu

REPO = Path(__file__).resolve().parents[2]


def test_microvm_cards_are_modern_virtio_mmio_announced_on_the_command_line() -> None:
    args = qemu.nic_args("microvm", ["dgram:4000:4001", "tap:t0,mac=52:54:00:00:00:09"])
    assert args[:2] == ["-global", "virtio-mmio.force-legacy=false"]
    assert "virtio-net-device,netdev=net0" in args
    assert "virtio-net-device,netdev=net1,mac=52:54:00:00:00:09" in args
    assert ("dgram,id=net0,local.type=inet,local.host=127.0.0.1,local.port=4000,"
            "remote.type=inet,remote.host=127.0.0.1,remote.port=4001") in args
    assert "tap,id=net1,ifname=t0,script=no,downscript=no" in args
    assert "acpi=off,auto-kernel-cmdline=on" in qemu._machine_arg("microvm", nics=True)
    assert "auto-kernel-cmdline=off" in qemu._machine_arg("microvm", nics=False)


def test_q35_cards_are_virtio_net_pci() -> None:
    args = qemu.nic_args("q35", ["user"])
    assert args == ["-netdev", "user,id=net0", "-device", "virtio-net-pci,romfile=,netdev=net0"]


def test_user_networking_forwards_a_host_port() -> None:
    args = qemu.nic_args("q35", ["user:udp:5555:7"])
    assert args[1] == "user,id=net0,hostfwd=udp:127.0.0.1:5555-:7"


@pytest.mark.parametrize("spec", ["", "bogus", "dgram:1", "dgram:0:5", "dgram:70000:5", "tap:",
                                  "tap:name-that-is-too-long", "user,mac=zz", "user,speed=10",
                                  "user:udp:5555", "user:sctp:1:2", "user:udp:0:7"])
def test_malformed_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="bad --net"):
        qemu.nic_args("microvm", [spec])


def test_applc_run_reports_a_bad_spec_in_one_line() -> None:
    r = subprocess.run([sys.executable, "-m", "applc", "run", "--net", "dgram:x:y",
                        str(REPO / "examples" / "frame_echo.apy")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("applc: error: bad --net 'dgram:x:y'")


@pytest.fixture(scope="module")
def mmio():
    from applc.driver.pyrun import install

    install(REPO / "examples" / "frame_echo.apy")
    import drivers.virtio.mmio as mmio

    yield mmio
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ApyFinder"]


@pytest.mark.parametrize("word, parsed", [
    ("virtio_mmio.device=512@0xfeb00e00:12", (0xFEB00E00, 512, 12)),
    ("virtio_mmio.device=4K@0xd0000000:5", (0xD0000000, 4096, 5)),
    ("virtio_mmio.device=0x200@0xfeb00c00:11:3", (0xFEB00C00, 512, 11)),
    ("virtio_mmio.device=512@0xfeb00e00", (-1, 0, 0)),
    ("virtio_mmio.device=512@0xfeb0zz00:12", (-1, 0, 0)),
    ("virtio_mmio.device=16@0xfeb00e00:12", (-1, 0, 0)),
    ("virtio_mmio.device=512@0xfeb00e00:999", (-1, 0, 0)),
    ("virtio_mmio.device=512@0xfeb00e00:12:1:2", (-1, 0, 0)),
    ("console=ttyS0", (-1, 0, 0)),
])
def test_boot_words_parse_like_linux(mmio, word: str, parsed: tuple[int, int, int]) -> None:
    assert mmio.parse_word(word) == parsed
