"""examples/udp_echo.apy against real Linux peers, on -M microvm (virtio-mmio) and -M q35 (virtio-pci).

Each test boots the appliance under QEMU inside a fresh network namespace,
on a TAP whose Linux side is 10.77.0.1/24 (fixtures in conftest.py), and
checks one thing a user relies on:

- Linux's ``ping`` gets a reply to every echo request;
- a Linux UDP socket gets every datagram of every size from 1 to 1472 bytes
  echoed back unchanged;
- with dnsmasq as the DHCP server (no ``--ipv4``), the appliance leases the
  address dnsmasq pins for its MAC and answers UDP and ping there;
- thousands of malformed frames (random bytes, truncated headers, bad
  checksums, bogus lengths; realpeer.malformed_frames) sent from an AF_PACKET
  socket on the TAP leave it answering, checked after every burst.

Until the network stack and the virtio-net driver land, examples/udp_echo.apy
does not exist and these tests are skipped for that reason alone.
"""

from __future__ import annotations

import re
import socket

import pytest

import netns
import realpeer
from appliance import BOOT_TIMEOUT, EXAMPLES, MACHINES

UDP_ECHO = EXAMPLES / "udp_echo.apy"
pytestmark = pytest.mark.skipif(
    not UDP_ECHO.exists(), reason="examples/udp_echo.apy does not exist yet (issue 6: stack + driver)"
)

STATIC_ARGS = [f"--ipv4={netns.GUEST_ADDR}/{netns.PREFIX_LEN}"]
MALFORMED_FRAMES = 5000
BURST = 250  # frames between two liveness checks


def _wait_until_answering(ns: netns.NetNs, vm: netns.Vm, address: str = netns.GUEST_ADDR) -> None:
    """Probe with UDP until the appliance echoes (it is then booted and configured)."""

    def alive() -> None:
        if not vm.running():
            raise AssertionError(f"the appliance exited ({vm.proc.returncode}) before answering" + vm.describe())

    with realpeer.udp_socket(ns) as sock:
        try:
            realpeer.wait_for_echo(sock, address, timeout=BOOT_TIMEOUT, interval=0.2, deadline_check=alive)
        except realpeer.EchoError as error:
            raise AssertionError(str(error) + vm.describe()) from None


def _ping(ns: netns.NetNs, address: str, count: int = 5) -> None:
    result = ns.run(["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "10", address], timeout=120)
    received = re.search(r"(\d+) received", result.stdout)
    assert received and int(received.group(1)) == count, f"ping {address}:\n{result.stdout}{result.stderr}"


def _tap_counter(ns: netns.NetNs, name: str) -> int:
    """A statistics counter of the TAP; tx_* count frames handed to QEMU (the guest's RX)."""
    result = ns.run(["cat", f"/sys/class/net/{netns.TAP_NAME}/statistics/{name}"])
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def _tap_mac(ns: netns.NetNs) -> str:
    result = ns.run(["cat", f"/sys/class/net/{netns.TAP_NAME}/address"])
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("machine", MACHINES)
def test_linux_ping_gets_replies(machine: str, ns, boot, kvm_image) -> None:
    with boot(kvm_image("udp_echo"), machine, cmdline=STATIC_ARGS) as vm:
        _wait_until_answering(ns, vm)
        _ping(ns, netns.GUEST_ADDR, count=10)
        assert vm.running(), vm.describe()


@pytest.mark.parametrize("machine", MACHINES)
def test_every_datagram_size_is_echoed(machine: str, ns, boot, kvm_image) -> None:
    with boot(kvm_image("udp_echo"), machine, cmdline=STATIC_ARGS) as vm:
        _wait_until_answering(ns, vm)
        with realpeer.udp_socket(ns) as sock:
            for size in range(1, realpeer.MAX_UDP_PAYLOAD + 1):
                # A different byte pattern per size: a stale or shifted reply cannot pass.
                payload = bytes((size + i) & 0xFF for i in range(size))
                try:
                    realpeer.echo(sock, netns.GUEST_ADDR, payload)
                except realpeer.EchoError as error:
                    raise AssertionError(f"size {size}: {error}" + vm.describe()) from None


@pytest.mark.parametrize("machine", MACHINES)
def test_dhcp_lease_from_dnsmasq(machine: str, ns, boot, kvm_image, workdir) -> None:
    with netns.dhcp_server(ns, workdir) as dnsmasq:
        with boot(kvm_image("udp_echo"), machine) as vm:  # no --ipv4: DHCP
            try:
                leased = dnsmasq.wait_for_lease(netns.GUEST_MAC, BOOT_TIMEOUT)
            except netns.NetNsError as error:
                raise AssertionError(str(error) + vm.describe()) from None
            assert leased == netns.DHCP_PINNED, dnsmasq.describe()
            _wait_until_answering(ns, vm, leased)
            with realpeer.udp_socket(ns) as sock:
                realpeer.echo(sock, leased, b"leased and answering")
            _ping(ns, leased)


@pytest.mark.parametrize("machine", MACHINES)
def test_malformed_frames_leave_it_answering(machine: str, ns, boot, kvm_image) -> None:
    with boot(kvm_image("udp_echo"), machine, cmdline=STATIC_ARGS) as vm:
        _wait_until_answering(ns, vm)
        frames = realpeer.malformed_frames(
            seed=6, guest_mac=netns.GUEST_MAC, host_mac=_tap_mac(ns), guest_ip=netns.GUEST_ADDR, host_ip=netns.HOST_ADDR
        )
        kinds: dict[str, int] = {}
        handed, dropped = _tap_counter(ns, "tx_packets"), _tap_counter(ns, "tx_dropped")
        with ns.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw, realpeer.udp_socket(ns) as sock:
            raw.bind((netns.TAP_NAME, 0))
            for sent in range(1, MALFORMED_FRAMES + 1):
                kind, frame = next(frames)
                kinds[kind] = kinds.get(kind, 0) + 1
                raw.send(frame)
                if sent % BURST == 0:
                    try:
                        realpeer.echo(sock, netns.GUEST_ADDR, b"still there after %d frames" % sent, timeout=30)
                    except realpeer.EchoError as error:
                        raise AssertionError(f"after {sent} malformed frames ({kinds}): {error}" + vm.describe()) from None
            assert vm.running(), vm.describe()
        # Every frame really went to QEMU (plus the liveness echoes and ARP): none died in the TAP's queue.
        assert _tap_counter(ns, "tx_packets") - handed >= MALFORMED_FRAMES
        assert _tap_counter(ns, "tx_dropped") == dropped
        assert len(kinds) >= 15, kinds  # every kind of damage was sent, not one kind thousands of times
        _ping(ns, netns.GUEST_ADDR)
