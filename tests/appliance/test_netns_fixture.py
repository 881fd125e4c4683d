"""The appliance fixture itself, proven without the network stack.

A namespace with a TAP is made and removed; a socket made through
NetNs.socket really lives in the namespace; an applc image (examples/hello.apy)
boots under QEMU inside the namespace with a virtio-net NIC on the TAP (QEMU
refuses to start if it cannot open the TAP, so "hello" on the console proves
the attachment) on microvm and q35; and a guest that never ends is killed by
PID when the test leaves the context.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess

import pytest

import netns
from appliance import BOOT_TIMEOUT, MACHINES


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30).stdout


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno != errno.ESRCH
    return True


def test_namespace_with_tap_is_created_and_deleted() -> None:
    with netns.network_namespace("applc-t") as ns:
        tap = ns.add_tap()
        assert ns.name in _namespaces()
        shown = ns.run(["ip", "-o", "addr", "show", "dev", tap])
        assert f"inet {netns.HOST_ADDR}/{netns.PREFIX_LEN}" in shown.stdout, shown.stdout + shown.stderr
        assert tap not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert ns.name not in _namespaces()


def test_namespace_is_deleted_when_the_body_fails() -> None:
    with pytest.raises(RuntimeError, match="inside"):
        with netns.network_namespace("applc-t") as ns:
            ns.add_tap()
            raise RuntimeError("failure inside the namespace")
    assert ns.name not in _namespaces()


def test_socket_lives_in_the_namespace(ns: netns.NetNs) -> None:
    # 10.77.0.1 exists only inside the namespace: binding to it proves where the socket is.
    with ns.socket(socket.AF_INET, socket.SOCK_DGRAM) as inside:
        inside.bind((netns.HOST_ADDR, 0))
        with ns.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.sendto(b"ping", inside.getsockname())
            inside.settimeout(10)
            assert inside.recv(16) == b"ping"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as outside:
        with pytest.raises(OSError):
            outside.bind((netns.HOST_ADDR, 0))


@pytest.mark.parametrize("machine", MACHINES)
def test_applc_image_boots_with_a_tap_nic(machine: str, boot, kvm_image) -> None:
    with boot(kvm_image("hello"), machine) as vm:
        vm.wait_for(rb"hello\n", BOOT_TIMEOUT)
        # isa-debug-exit: guest status 0 -> QEMU exit code 1.
        assert vm.wait_exit(BOOT_TIMEOUT) == 1, vm.describe()
        command = " ".join(vm.proc.args)
    assert f"ifname={netns.TAP_NAME}" in command
    assert ("virtio-net-device" if machine == "microvm" else "virtio-net-pci") in command


def test_a_guest_that_never_ends_is_killed_by_pid(boot, kvm_image) -> None:
    # -S: QEMU starts with the CPU stopped, so the guest never runs and never exits.
    with boot(kvm_image("hello"), "microvm", extra=["-S"]) as vm:
        pid = vm.pid
        with pytest.raises(netns.NetNsError, match="no 'hello'"):
            vm.wait_for("hello", timeout=1.0)
        assert vm.running()
    assert vm.proc.returncode is not None
    assert not _pid_alive(pid)


def test_dhcp_server_runs_in_the_namespace_and_is_killed_by_pid(ns: netns.NetNs, workdir) -> None:
    with netns.dhcp_server(ns, workdir) as dnsmasq:
        pid = dnsmasq.pid()
        assert pid == dnsmasq.proc.pid and _pid_alive(pid)
        # Its DHCP socket is bound to tap0 inside the namespace, on port 67.
        sockets = ns.run(["cat", "/proc/net/udp"]).stdout
        assert ":0043 " in sockets, sockets
        assert "sockets bound exclusively to interface tap0" in dnsmasq.describe()
    assert dnsmasq.proc.returncode is not None
    assert not _pid_alive(pid)
