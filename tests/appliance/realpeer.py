"""What a real Linux peer does to a UDP echo appliance: probe it, echo through it, time it, attack it.

In: a socket made inside the test's namespace (netns.NetNs.socket) and the
appliance's address.  Out:

- ``wait_for_echo``: sends small probes until one comes back (bounded); returns
  the host time of the first reply -- the "QEMU launch to first UDP reply" clock;
- ``echo``: one datagram out, the same bytes back (or EchoError);
- ``round_trips``: sequential echoes for a bounded count/time, returns the rate;
- ``malformed_frames``: an endless, seeded stream of bad Ethernet frames aimed at
  the appliance (random bytes, truncated headers, bad checksums, bogus lengths,
  for Ethernet, ARP, IPv4, ICMP and UDP; none shorter than 14 bytes, which
  Linux's AF_PACKET refuses to send), for an AF_PACKET socket on the TAP.

Used by the real-peer tests (tests/appliance) and the benchmarks
(benchmarks/udp_echo.py, benchmarks/linux_baseline.py).  Frames are built here
with struct, checksums included, so no packet library is needed.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import time
from typing import Iterator

ECHO_PORT = 7
MAX_UDP_PAYLOAD = 1472  # 1500-byte MTU - 20 (IPv4) - 8 (UDP)
# wait_for_echo's probes start with this; echo() skips late answers to them.
PROBE_PREFIX = b"\xffapplc-probe "


class EchoError(AssertionError):
    """The appliance did not echo a datagram correctly."""


def udp_socket(ns) -> socket.socket:
    """A UDP socket inside namespace ``ns`` (a netns.NetNs)."""
    return ns.socket(socket.AF_INET, socket.SOCK_DGRAM)


def _drain(sock: socket.socket) -> None:
    """Drop replies still queued (late probe answers) so they are not taken for new ones."""
    while select.select([sock], [], [], 0)[0]:
        sock.recv(65536)


def wait_for_echo(sock: socket.socket, addr: str, port: int = ECHO_PORT, *, timeout: float,
                  interval: float = 0.02, deadline_check=None) -> float:
    """Send a probe every ``interval`` s until one is echoed; return time.monotonic() of that reply.

    Raises EchoError after ``timeout`` s.  ``deadline_check`` (optional) is called
    each round and may raise to give up early (e.g. when the guest has exited).
    """
    sock.setblocking(False)
    start = time.monotonic()
    sent: set[bytes] = set()
    n = 0
    while time.monotonic() - start < timeout:
        probe = PROBE_PREFIX + b"%d" % n
        n += 1
        sent.add(probe)
        try:
            sock.sendto(probe, (addr, port))
        except OSError:
            pass  # e.g. EHOSTUNREACH while ARP fails: keep probing
        until = time.monotonic() + interval
        while (left := until - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                break
            try:
                data = sock.recv(65536)
            except OSError:
                continue  # ICMP port unreachable surfaces as ECONNREFUSED on some sockets
            if data in sent:
                now = time.monotonic()
                _drain(sock)
                return now
        if deadline_check is not None:
            deadline_check()
    raise EchoError(f"no UDP echo from {addr}:{port} within {timeout:g} s ({n} probes)")


def echo(sock: socket.socket, addr: str, payload: bytes, port: int = ECHO_PORT, timeout: float = 10.0) -> None:
    """Send ``payload`` once and require exactly it back within ``timeout`` s."""
    sock.setblocking(False)
    sock.sendto(payload, (addr, port))
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([sock], [], [], left)[0]:
            break
        data, peer = sock.recvfrom(65536)
        if peer != (addr, port) or (data.startswith(PROBE_PREFIX) and not payload.startswith(PROBE_PREFIX)):
            continue  # not the appliance, or a late answer to a start-up probe
        if data != payload:
            raise EchoError(f"sent {len(payload)} bytes, got back {len(data)} different bytes: {data[:32]!r}...")
        return
    raise EchoError(f"no echo of a {len(payload)}-byte datagram within {timeout:g} s")


def round_trips(sock: socket.socket, addr: str, *, size: int = 64, count: int = 5000,
                seconds: float = 10.0, port: int = ECHO_PORT, timeout: float = 5.0) -> tuple[int, float]:
    """Echo ``size``-byte datagrams one after another until ``count`` or ``seconds``; (n, elapsed)."""
    payload = bytes(range(256)) * (size // 256 + 1)
    done = 0
    start = time.monotonic()
    while done < count and time.monotonic() - start < seconds:
        echo(sock, addr, payload[:size], port, timeout)
        done += 1
    return done, time.monotonic() - start


# --- malformed frames --------------------------------------------------------------


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def ip_bytes(addr: str) -> bytes:
    return socket.inet_aton(addr)


def inet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): one's complement of the one's-complement sum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ethernet(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, *, ttl: int = 64, ident: int = 0,
         flags_frag: int = 0x4000, total_length: int | None = None, ihl: int = 5, options: bytes = b"",
         checksum: int | None = None) -> bytes:
    """An IPv4 header + payload; lengths and checksum are right unless overridden."""
    length = 20 + len(options) + len(payload) if total_length is None else total_length
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl & 0xF), 0, length & 0xFFFF, ident, flags_frag,
                         ttl, proto, 0, src, dst) + options
    csum = inet_checksum(header) if checksum is None else checksum
    return header[:10] + struct.pack("!H", csum) + header[12:] + payload


def udp(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes, *, length: int | None = None,
        checksum: int | None = None) -> bytes:
    """A UDP header + payload with the pseudo-header checksum, unless overridden."""
    ulen = 8 + len(payload) if length is None else length
    header = struct.pack("!HHHH", sport, dport, ulen & 0xFFFF, 0)
    if checksum is None:
        pseudo = src + dst + struct.pack("!BBH", 0, 17, 8 + len(payload))
        checksum = inet_checksum(pseudo + header + payload) or 0xFFFF
    return header[:6] + struct.pack("!H", checksum) + payload


def icmp_echo(ident: int, seq: int, payload: bytes, *, checksum: int | None = None, kind: int = 8) -> bytes:
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    csum = inet_checksum(header + payload) if checksum is None else checksum
    return header[:2] + struct.pack("!H", csum) + header[4:] + payload


def arp(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes, *, hlen: int = 6, plen: int = 4,
        htype: int = 1, ptype: int = 0x0800) -> bytes:
    return struct.pack("!HHBBH", htype, ptype, hlen, plen, op) + sha + spa + tha + tpa


def malformed_frames(seed: int, *, guest_mac: str, host_mac: str, guest_ip: str, host_ip: str,
                     port: int = ECHO_PORT) -> Iterator[tuple[str, bytes]]:
    """An endless stream of (kind, frame): bad frames aimed at the appliance, in a seeded order."""
    rng = random.Random(seed)
    ctx = _FrameContext(rng, mac_bytes(guest_mac), mac_bytes(host_mac), ip_bytes(guest_ip), ip_bytes(host_ip), port)
    makers = [getattr(ctx, name) for name in sorted(dir(ctx)) if name.startswith("bad_")]
    while True:
        maker = rng.choice(makers)
        yield maker.__name__.removeprefix("bad_"), maker()


class _FrameContext:
    """One method per kind of malformed frame (each ``bad_*`` returns a frame)."""

    def __init__(self, rng: random.Random, gmac: bytes, hmac: bytes, gip: bytes, hip: bytes, port: int):
        self.rng, self.gmac, self.hmac, self.gip, self.hip, self.port = rng, gmac, hmac, gip, hip, port

    def _dst(self) -> bytes:
        return self.rng.choice([self.gmac, b"\xff" * 6])

    def _bytes(self, n: int) -> bytes:
        return self.rng.randbytes(n)

    def _udp_to_guest(self, payload: bytes, **kw) -> bytes:
        return udp(self.hip, self.gip, self.rng.randrange(1024, 65536), self.port, payload, **kw)

    def _ip_frame(self, proto: int, payload: bytes, **kw) -> bytes:
        return ethernet(self.gmac, self.hmac, 0x0800, ipv4(self.hip, self.gip, proto, payload, **kw))

    # Linux refuses AF_PACKET frames shorter than an Ethernet header (EINVAL),
    # so the shortest frames here are a bare 14-byte header.

    def bad_random_bytes(self) -> bytes:
        return self._dst() + self._bytes(self.rng.randrange(8, 1509))

    def bad_header_only(self) -> bytes:
        ethertype = self.rng.choice([0x0800, 0x0806])
        return ethernet(self._dst(), self.hmac, ethertype, self._bytes(self.rng.randrange(0, 4)))

    def bad_random_ethertype_payload(self) -> bytes:
        ethertype = self.rng.choice([0x0800, 0x0806, 0x86DD, 0x8100, self.rng.randrange(0x10000)])
        return ethernet(self._dst(), self.hmac, ethertype, self._bytes(self.rng.randrange(0, 1500)))

    def bad_truncated_ipv4(self) -> bytes:
        full = ipv4(self.hip, self.gip, 17, self._udp_to_guest(b"truncated"))
        return ethernet(self.gmac, self.hmac, 0x0800, full[: self.rng.randrange(0, 20)])

    def bad_ipv4_checksum(self) -> bytes:
        return self._ip_frame(17, self._udp_to_guest(b"bad ip checksum"), checksum=self.rng.randrange(0x10000) | 1)

    def bad_ipv4_ihl(self) -> bytes:
        return self._ip_frame(17, self._udp_to_guest(b"bad ihl"), ihl=self.rng.choice([0, 1, 4, 6, 15]))

    def bad_ipv4_total_length(self) -> bytes:
        payload = self._udp_to_guest(b"bogus total length")
        length = self.rng.choice([0, 1, 19, 20, 27, 28 + len(payload) + 1, 1500, 65535])
        return self._ip_frame(17, payload, total_length=length)

    def bad_ipv4_version(self) -> bytes:
        frame = bytearray(self._ip_frame(17, self._udp_to_guest(b"version")))
        frame[14] = (self.rng.choice([0, 4 + 2, 6, 15]) << 4) | 5
        return bytes(frame)

    def bad_ipv4_fragment(self) -> bytes:
        flags_frag = self.rng.choice([0x2000, 0x2000 | self.rng.randrange(1, 0x2000), self.rng.randrange(1, 0x2000), 0x1FFF])
        return self._ip_frame(17, self._udp_to_guest(self._bytes(self.rng.randrange(0, 64))),
                              flags_frag=flags_frag, ident=self.rng.randrange(0x10000))

    def bad_ipv4_options(self) -> bytes:
        options = self._bytes(4 * self.rng.randrange(1, 11))
        return self._ip_frame(17, self._udp_to_guest(b"options"), ihl=5 + len(options) // 4, options=options)

    def bad_udp_checksum(self) -> bytes:
        return self._ip_frame(17, self._udp_to_guest(b"bad udp checksum", checksum=self.rng.randrange(1, 0xFFFF)))

    def bad_udp_length(self) -> bytes:
        length = self.rng.choice([0, 1, 7, 9, 100, 1473, 65535])
        return self._ip_frame(17, self._udp_to_guest(b"bogus udp length", length=length))

    def bad_truncated_udp(self) -> bytes:
        return self._ip_frame(17, self._udp_to_guest(b"cut")[: self.rng.randrange(0, 8)])

    def bad_icmp_checksum(self) -> bytes:
        return self._ip_frame(1, icmp_echo(0x77, self.rng.randrange(0x10000), b"bad", checksum=self.rng.randrange(1, 0xFFFF)))

    def bad_truncated_icmp(self) -> bytes:
        return self._ip_frame(1, icmp_echo(0x77, 1, b"short")[: self.rng.randrange(0, 8)])

    def bad_icmp_random_type(self) -> bytes:
        return self._ip_frame(1, icmp_echo(0x77, 1, self._bytes(self.rng.randrange(0, 100)),
                                           kind=self.rng.randrange(256)))

    def bad_unknown_ip_protocol(self) -> bytes:
        return self._ip_frame(self.rng.choice([0, 2, 6, 41, 50, 255]), self._bytes(self.rng.randrange(0, 200)))

    def bad_arp_lengths(self) -> bytes:
        body = arp(self.rng.choice([1, 2]), self.hmac, self.hip, b"\0" * 6, self.gip,
                   hlen=self.rng.choice([0, 1, 5, 7, 255]), plen=self.rng.choice([0, 3, 5, 16, 255]))
        return ethernet(b"\xff" * 6, self.hmac, 0x0806, body)

    def bad_arp_truncated(self) -> bytes:
        body = arp(1, self.hmac, self.hip, b"\0" * 6, self.gip)
        return ethernet(b"\xff" * 6, self.hmac, 0x0806, body[: self.rng.randrange(0, 28)])

    def bad_arp_opcode_or_types(self) -> bytes:
        body = arp(self.rng.choice([0, 3, 4, 0xFFFF]), self.hmac, self.hip, b"\0" * 6, self.gip,
                   htype=self.rng.choice([1, 6, 0xFFFF]), ptype=self.rng.choice([0x0800, 0x86DD, 0]))
        return ethernet(b"\xff" * 6, self.hmac, 0x0806, body)

    def bad_dhcp_like_garbage(self) -> bytes:
        # Garbage to the DHCP client port: a stack with a DHCP client must drop it.
        payload = udp(self.hip, self.gip, 67, 68, self._bytes(self.rng.randrange(0, 600)))
        return self._ip_frame(17, payload)
