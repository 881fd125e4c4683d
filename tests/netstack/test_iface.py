"""The interface: ARP (cache, expiry, queue, retries, gratuitous), ICMP, UDP, hostile input.

Frames are checked with struct here, independently of net.wire, where it matters.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

import net.udp as udp
import net.wire.icmp as icmp
from helpers import A_IP, B_IP, pair, run
from net.iface import ARP_ENTRY_MS, PENDING_MAX, UNREACH_BURST
from net.wire.fields import parse_ip


def frames_to_b(link):
    link.advance(link.now)
    return list(link.nic_b.inbox)


def ipv4_header(src, dst, proto, payload_len, frag=0x4000, ttl=64):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 1, frag, ttl, proto, 0,
                    src.to_bytes(4, "big"), dst.to_bytes(4, "big"))
    s = sum(struct.unpack("!10H", h))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return h[:10] + struct.pack("!H", ~s & 0xFFFF) + h[12:]


def icmp_echo(ident, seq, data, kind=8):
    body = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + data
    padded = body + b"\0" * (len(body) % 2)
    s = sum(struct.unpack(f"!{len(padded) // 2}H", padded))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return body[:2] + struct.pack("!H", ~s & 0xFFFF) + body[4:]


def eth(dst, src, kind=0x0800):
    return dst + src + struct.pack("!H", kind)


def test_gratuitous_arp_on_address_change():
    link, a, b = pair()
    link.advance(1)
    (frame,) = [f for f in link.nic_b.inbox]          # a's announcement
    assert frame[:6] == b"\xff" * 6 and frame[12:14] == b"\x08\x06"
    assert frame[28:32] == frame[38:42] == A_IP.to_bytes(4, "big")   # sender == target ip
    a.set_ipv4(A_IP, 24, 0)                            # same address: no new announcement
    link.advance(2)
    assert len(link.nic_b.inbox) == 1
    a.set_ipv4(parse_ip("10.0.0.9"), 24, 0)
    link.advance(3)
    assert len(link.nic_b.inbox) == 2
    assert a.counters.get("address_changes") == 2


def test_ping_reply_and_broadcast_ping_ignored():
    link, a, b = pair()
    udp.socket(a).sendto(b"learn me", ("10.0.0.2", 9))   # b learns a's MAC from a's ARP request
    run(link, [a, b], 0, 10)
    request = eth(b.mac, a.mac) + ipv4_header(A_IP, B_IP, 1, 8 + 5) + icmp_echo(0x1234, 7, b"hello")
    link.inject(True, request)
    link.advance(10)
    b.poll(10)
    link.advance(20)
    reply = link.nic_a.inbox[-1]
    assert reply[:6] == a.mac and reply[6:12] == b.mac
    assert reply[26:30] == B_IP.to_bytes(4, "big") and reply[30:34] == A_IP.to_bytes(4, "big")
    assert reply[34:] == icmp_echo(0x1234, 7, b"hello", kind=0)
    bcast = eth(b"\xff" * 6, a.mac) + ipv4_header(A_IP, 0x0A0000FF, 1, 8) + icmp_echo(1, 1, b"")
    link.inject(True, bcast)
    link.advance(30)
    b.poll(30)
    assert b.counters.get("tx_echo_reply") == 1
    assert b.counters.dropped("icmp_echo_not_unicast") == 1


def test_udp_echo_between_two_stacks():
    link, a, b = pair(delay=2)
    server = udp.socket(b)
    server.bind(("", 7))
    client = udp.socket(a)
    now = 0
    for size in [0, 1, 2, 100, 1471, 1472]:
        payload = bytes((i * 7 + size) % 256 for i in range(size))
        assert client.sendto(payload, ("10.0.0.2", 7)) == size
        now = run(link, [a, b], now, now + 20)
        data, addr = server.recvfrom(2048)
        assert data == payload and addr == ("10.0.0.1", client.getsockname()[1])
        server.sendto(data, addr)
        now = run(link, [a, b], now, now + 20)
        buf = bytearray(2048)
        n, addr2 = client.recvfrom_into(buf)
        assert bytes(buf[:n]) == payload and addr2 == ("10.0.0.2", 7)
    try:
        client.sendto(b"x" * 1473, ("10.0.0.2", 7))
        raise AssertionError("a datagram over the MTU was accepted")
    except OSError:
        pass
    try:
        client.recvfrom(10)
        raise AssertionError("recvfrom on an empty socket returned")
    except BlockingIOError:
        pass


def test_port_unreachable_is_rate_limited():
    link, a, b = pair()
    sock = udp.socket(a)
    sock.sendto(b"?", ("10.0.0.2", 9))            # resolves ARP; uses one token
    now = run(link, [a, b], 0, 10)
    for _ in range(UNREACH_BURST + 15):
        sock.sendto(b"?", ("10.0.0.2", 9))
    now = run(link, [a, b], now, now + 10)
    assert b.counters.dropped("udp_closed_port") == 1 + UNREACH_BURST + 15
    assert b.counters.get("tx_port_unreachable") == UNREACH_BURST
    assert b.counters.dropped("icmp_rate_limited") == 16
    now = run(link, [a, b], now, now + 1000)     # the bucket refills
    assert a.counters.get("rx_icmp_other") == UNREACH_BURST
    sock.sendto(b"?", ("10.0.0.2", 9))
    link.advance(now + 1)
    (sent,) = link.nic_b.inbox
    b.poll(now + 1)
    link.advance(now + 2)
    (err,) = link.nic_a.inbox
    assert b.counters.get("tx_port_unreachable") == UNREACH_BURST + 1
    # type 3 code 3, unused word 0, then a's IP header and the first 8 bytes of its UDP
    assert err[34:36] == b"\x03\x03" and err[38:42] == b"\0\0\0\0"
    assert err[42:] == sent[14:14 + 28]


def test_arp_unresolved_after_three_tries_and_bounded_queue():
    link, a, b = pair()
    sock = udp.socket(a)
    for i in range(PENDING_MAX + 4):
        sock.sendto(bytes([i]), ("10.0.0.77", 5))      # nobody has it
    assert a.counters.dropped("arp_queue_full") == 4
    now = run(link, [a, b], 0, 10000)
    assert a.counters.dropped("arp_unresolved") == PENDING_MAX
    assert a.counters.get("tx_arp") == 1 + 3            # announcement + 3 requests
    assert a.pending == [] and a.resolving == {}
    assert a.next_deadline(now) == -1


def test_arp_retries_after_loss():
    for lost, delivered in [(0, True), (1, True), (2, True), (3, False)]:
        link, a, b = pair()
        run(link, [a, b], 0, 5)                  # the announcements are through
        server = udp.socket(b)
        server.bind(("", 7))
        link.drop_next = lost                    # a's first `lost` ARP requests vanish
        udp.socket(a).sendto(b"hi", ("10.0.0.2", 7))
        run(link, [a, b], 5, 5000)
        assert server.readable() == delivered
        assert a.counters.get("tx_arp") == 1 + min(lost + 1, 3)
        assert a.counters.dropped("arp_unresolved") == (0 if delivered else 1)


def test_random_loss_never_more_than_three_requests():
    for seed in range(1, 30):
        link, a, b = pair(loss=40, seed=seed)
        server = udp.socket(b)
        server.bind(("", 7))
        udp.socket(a).sendto(b"hi", ("10.0.0.2", 7))
        run(link, [a, b], 0, 5000)
        requests = a.counters.get("tx_arp") - 1
        assert 1 <= requests <= 3
        resolved = B_IP in a.arp_cache
        assert resolved != (a.counters.dropped("arp_unresolved") == 1)
        if server.readable():
            assert resolved


def test_arp_cache_expires():
    link, a, b = pair()
    sock = udp.socket(a)
    sock.sendto(b"1", ("10.0.0.2", 9))
    now = run(link, [a, b], 0, 100)
    assert B_IP in a.arp_cache
    requests = a.counters.get("tx_arp")
    now = run(link, [a, b], now, now + ARP_ENTRY_MS + 10)
    assert B_IP not in a.arp_cache
    sock.sendto(b"2", ("10.0.0.2", 9))
    run(link, [a, b], now, now + 100)
    assert a.counters.get("tx_arp") == requests + 1
    assert b.counters.dropped("udp_closed_port") == 2


def test_fragments_and_unknown_protocols_are_dropped_and_counted():
    link, a, b = pair()
    run(link, [a, b], 0, 10)
    frag = eth(b.mac, a.mac) + ipv4_header(A_IP, B_IP, 17, 8, frag=0x2000) + b"\0" * 8
    tcp = eth(b.mac, a.mac) + ipv4_header(A_IP, B_IP, 6, 20) + b"\0" * 20
    other = eth(b.mac, a.mac, 0x86DD) + b"\0" * 40
    for f in (frag, tcp, other):
        link.inject(True, f)
    link.advance(20)
    b.poll(20)
    assert b.counters.dropped("ipv4_fragment") == 1
    assert b.counters.dropped("ipv4_unknown_protocol") == 1
    assert b.counters.dropped("eth_unknown_type") == 1


def assert_still_echoes(link, a, b, now):
    server = udp.socket(b)
    server.bind(("", 4242))
    client = udp.socket(a)
    client.sendto(b"alive?", ("10.0.0.2", 4242))
    now = run(link, [a, b], now, now + 50)
    assert server.recvfrom(100)[0] == b"alive?"


@settings(max_examples=60)
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=40))
def test_random_bytes_never_raise_and_are_counted(frames):
    link, a, b = pair()
    now = run(link, [a, b], 0, 5)
    before = b.counters.get("rx_frames")
    for f in frames:
        link.inject(True, f)
    link.advance(now)
    while link.nic_b.inbox:
        b.poll(now)
    assert b.counters.get("rx_frames") - before == sum(1 for f in frames if len(f) > 0)
    assert b.counters.dropped("internal_error") == 0
    assert_still_echoes(link, a, b, now)


@settings(max_examples=80)
@given(st.data())
def test_mutated_valid_frames_never_raise(data):
    link, a, b = pair()
    sock = udp.socket(b)
    sock.bind(("", 7))
    now = run(link, [a, b], 0, 5)
    valid = [
        eth(b.mac, a.mac) + ipv4_header(A_IP, B_IP, 1, 8 + 4) + icmp_echo(1, 2, b"ping"),
        eth(b.mac, a.mac) + ipv4_header(A_IP, B_IP, 17, 12) + struct.pack("!HHHH", 5, 7, 12, 0)
        + b"data",
        eth(b"\xff" * 6, a.mac, 0x0806) + struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, a.mac,
                                                        A_IP.to_bytes(4, "big"), b"\0" * 6,
                                                        B_IP.to_bytes(4, "big")),
    ]
    for _ in range(data.draw(st.integers(1, 10))):
        f = bytearray(data.draw(st.sampled_from(valid)))
        for _ in range(data.draw(st.integers(1, 4))):
            f[data.draw(st.integers(0, len(f) - 1))] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(0, len(f)))
        link.inject(True, bytes(f[:cut]))
    link.advance(now)
    while link.nic_b.inbox:
        b.poll(now)
    assert b.counters.dropped("internal_error") == 0
    assert_still_echoes(link, a, b, now)
