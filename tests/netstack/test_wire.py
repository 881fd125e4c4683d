"""Wire formats: parse(emit(x)) == x for every Repr, literal frames, checksums vs a reference.

The reference checksum below is written independently of net.wire.checksum:
it sums the data as one big integer's base-65536 digits, using the fact that
a ones'-complement sum is the ordinary sum modulo 0xFFFF (with 0xFFFF, not
0, for a non-zero multiple).
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import net.wire.arp as arp
import net.wire.checksum as checksum
import net.wire.dhcp as dhcp
import net.wire.ethernet as ethernet
import net.wire.icmp as icmp
import net.wire.ipv4 as ipv4
import net.wire.udp as udp
from net.wire.fields import Malformed, ip_str, mask_prefix, parse_ip, prefix_mask

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
macs = st.binary(min_size=6, max_size=6)


def ref_ones_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    if total == 0:
        return 0
    r = total % 0xFFFF
    return 0xFFFF if r == 0 else r


def ref_checksum(data: bytes) -> int:
    return (~ref_ones_sum(data)) & 0xFFFF


# ---------------------------------------------------------------- checksum

@given(st.binary(max_size=1600), u16)
def test_checksum_matches_reference(data, seed_word):
    buf = bytearray(data)
    assert checksum.checksum(buf, 0, len(buf), 0) == ref_checksum(data)
    pre = struct.pack("!H", seed_word)
    assert checksum.checksum(buf, 0, len(buf), seed_word) == ref_checksum(pre + data)


@given(st.binary(min_size=2, max_size=600).filter(lambda b: len(b) % 2 == 0))
def test_checksum_verifies_itself(data):
    buf = bytearray(data) + bytearray(2)
    value = checksum.checksum(buf, 0, len(buf), 0)
    buf[-2:] = struct.pack("!H", value)
    assert checksum.verify(buf, 0, len(buf), 0)


def test_rfc1071_example():
    # RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to ddf2 (folded)
    buf = bytearray.fromhex("0001f203f4f5f6f7")
    assert checksum.fold(checksum.add_range(buf, 0, 8, 0)) == 0xDDF2
    assert checksum.checksum(buf, 0, 8, 0) == 0x220D


# ---------------------------------------------------------------- round trips

def roundtrip(repr_, view_cls, parse, start=3, extra=5, **parse_args):
    """Emit into the middle of a bigger buffer (offsets matter), parse back."""
    n = repr_.buffer_len()
    buf = bytearray(b"\xaa" * (start + n + extra))
    repr_.emit(view_cls(buf, start, start + n))
    view = view_cls(buf, start, start + n)
    view.check_len()
    return parse(view, **parse_args), buf[start:start + n]


@given(macs, macs, u16)
def test_ethernet_roundtrip(src, dst, kind):
    r = ethernet.EthernetRepr(src, dst, kind)
    back, _ = roundtrip(r, ethernet.EthernetFrame, ethernet.parse)
    assert back == r


@given(st.sampled_from([1, 2]), macs, u32, macs, u32)
def test_arp_roundtrip(op, smac, sip, tmac, tip):
    r = arp.ArpRepr(op, smac, sip, tmac, tip)
    back, raw = roundtrip(r, arp.ArpPacket, arp.parse)
    assert back == r
    assert raw[:8] == bytes([0, 1, 8, 0, 6, 4, 0, op])


@given(u32, u32, u8, st.integers(0, 1480), st.integers(1, 255), u16)
def test_ipv4_roundtrip(src, dst, proto, plen, ttl, ident):
    r = ipv4.Ipv4Repr(src, dst, proto, plen, ttl, ident)
    n = ipv4.HEADER_LEN + plen
    buf = bytearray(n + 4)
    r.emit(ipv4.Ipv4Packet(buf, 2, 2 + n))
    view = ipv4.new_checked(buf, 2, 2 + n)
    assert ipv4.parse(view) == r
    assert ref_ones_sum(bytes(buf[2:22])) == 0xFFFF


@given(st.sampled_from([0, 3, 8, 11]), u8, u16, u16, st.binary(max_size=1472))
def test_icmp_roundtrip(kind, code, ident, seq, data):
    r = icmp.IcmpRepr(kind, code, ident, seq, data)
    back, raw = roundtrip(r, icmp.IcmpPacket, icmp.parse)
    assert back == r
    assert ref_ones_sum(bytes(raw)) == 0xFFFF


@given(u16, u16, st.binary(max_size=1472), u32, u32)
def test_udp_roundtrip_and_checksum(sport, dport, payload, src, dst):
    r = udp.UdpRepr(sport, dport, len(payload))
    n = r.buffer_len()
    buf = bytearray(n + 3)
    buf[8:8 + len(payload)] = payload
    r.emit(udp.UdpPacket(buf, 0, n), src, dst)
    assert udp.parse(udp.new_checked(buf, 0, n), src, dst) == r
    pseudo = struct.pack("!IIBBH", src, dst, 0, 17, n)
    stored = struct.unpack("!H", buf[6:8])[0]
    zeroed = bytes(buf[:6]) + b"\0\0" + bytes(buf[8:n])
    expect = ref_checksum(pseudo + zeroed)
    assert stored == (expect or 0xFFFF)


def test_udp_zero_checksum_accepted_wrong_rejected():
    buf = bytearray(struct.pack("!HHHH", 1000, 7, 12, 0) + b"abcd")
    assert udp.parse(udp.new_checked(buf, 0, 12), 1, 2) == udp.UdpRepr(1000, 7, 4)
    buf[6:8] = b"\x12\x34"
    with pytest.raises(Malformed, match="udp_checksum"):
        udp.parse(udp.new_checked(buf, 0, 12), 1, 2)


dhcp_types = st.sampled_from(list(range(1, 9)))


@st.composite
def dhcp_reprs(draw):
    r = dhcp.new_repr(draw(dhcp_types), draw(u32), draw(macs))
    r.secs = draw(u16)
    r.broadcast = draw(st.booleans())
    for field in ("client_ip", "your_ip", "server_ip", "relay_ip", "subnet_mask", "router",
                  "requested_ip", "server_id", "lease_time", "renew_time", "rebind_time"):
        setattr(r, field, draw(st.one_of(st.just(0), u32)))
    r.max_size = draw(st.one_of(st.just(0), u16))
    r.dns_servers = draw(st.lists(u32, max_size=3))
    r.params = draw(st.lists(st.integers(1, 254), max_size=20))
    return r


@given(dhcp_reprs())
def test_dhcp_roundtrip(r):
    back, raw = roundtrip(r, dhcp.DhcpPacket, dhcp.parse)
    assert back == r
    assert len(raw) >= 300 and raw[236:240] == b"\x63\x82\x53\x63"


# ---------------------------------------------------------------- literal frames

# A real ARP request (who-has 192.168.1.1 tell 192.168.1.100), as tcpdump shows it
ARP_REQUEST = bytes.fromhex(
    "ffffffffffff" "001122334455" "0806"
    "0001" "0800" "06" "04" "0001" "001122334455" "c0a80164" "000000000000" "c0a80101")

# An ICMP echo request 10.0.0.1 -> 10.0.0.2; header checksum 0x66de worked by hand
IPV4_ICMP = bytes.fromhex(
    "4500001c" "00010000" "4001" "66de" "0a000001" "0a000002"
    "0800" "f7fe" "0001" "0000")


def test_literal_arp():
    buf = bytearray(ARP_REQUEST)
    frame = ethernet.new_checked(buf, 0, len(buf))
    assert ethernet.parse(frame) == ethernet.EthernetRepr(
        bytes.fromhex("001122334455"), ethernet.BROADCAST, 0x0806)
    a = arp.parse(arp.new_checked(buf, 14, len(buf)))
    assert (a.operation, ip_str(a.sender_ip), ip_str(a.target_ip)) == (1, "192.168.1.100",
                                                                       "192.168.1.1")


def test_literal_ipv4_icmp():
    buf = bytearray(IPV4_ICMP)
    ip = ipv4.new_checked(buf, 0, len(buf))
    h = ipv4.parse(ip)
    assert h == ipv4.Ipv4Repr(parse_ip("10.0.0.1"), parse_ip("10.0.0.2"), 1, 8, 64, 1)
    m = icmp.parse(icmp.new_checked(buf, ip.payload_start(), ip.payload_end()))
    assert m == icmp.IcmpRepr(8, 0, 1, 0, b"")


def test_ipv4_options_are_skipped_and_padding_ignored():
    opts = b"\x01\x01\x01\x00"   # NOP NOP NOP EOL
    hdr = bytearray(bytes.fromhex("46000020" "00000000" "4011" "0000" "0a000001" "0a000002")
                    + opts)
    hdr[10:12] = struct.pack("!H", ref_checksum(bytes(hdr)))
    buf = hdr + bytearray(struct.pack("!HHHH", 5, 6, 8, 0)) + bytearray(10)   # link padding
    ip = ipv4.new_checked(buf, 0, len(buf))
    assert ip.payload_start() == 24 and ip.payload_end() == 32
    assert ipv4.parse(ip).payload_len == 8


@pytest.mark.parametrize("mutate,reason", [
    (lambda b: b[:19], "ipv4_truncated"),
    (lambda b: b"\x65" + b[1:], "ipv4_version"),
    (lambda b: b"\x44" + b[1:], "ipv4_bad_length"),
    (lambda b: b[:2] + b"\x01\x00" + b[4:], "ipv4_truncated"),
    (lambda b: b[:2] + b"\x00\x10" + b[4:], "ipv4_bad_length"),
])
def test_ipv4_impossible_lengths(mutate, reason):
    buf = bytearray(mutate(IPV4_ICMP))
    with pytest.raises(Malformed, match=reason):
        ipv4.new_checked(buf, 0, len(buf))


def test_ipv4_bad_checksum():
    buf = bytearray(IPV4_ICMP)
    buf[11] ^= 1
    with pytest.raises(Malformed, match="ipv4_checksum"):
        ipv4.parse(ipv4.new_checked(buf, 0, len(buf)))


def test_dhcp_option_overrun_and_missing_end():
    r = dhcp.new_repr(dhcp.DISCOVER, 1, b"\x02" * 6)
    n = r.buffer_len()
    buf = bytearray(n)
    r.emit(dhcp.DhcpPacket(buf, 0, n))
    buf[241] = 200   # message type option claims 200 bytes
    with pytest.raises(Malformed, match="dhcp_option"):
        dhcp.parse(dhcp.new_checked(buf, 0, n))
    r.emit(dhcp.DhcpPacket(buf, 0, n))
    with pytest.raises(Malformed, match="dhcp_no_end"):
        dhcp.parse(dhcp.new_checked(buf, 0, 243))


@given(u32)
def test_ip_text_roundtrip(a):
    assert parse_ip(ip_str(a)) == a


@pytest.mark.parametrize("text", ["", "1.2.3", "1.2.3.4.5", "1.2.3.256", "a.b.c.d", "1..2.3",
                                  " 1.2.3.4", "1.2.3.4 ", "+1.2.3.4", "1234.1.1.1"])
def test_ip_text_rejects(text):
    with pytest.raises(ValueError):
        parse_ip(text)


@given(st.integers(0, 32))
def test_prefix_mask_roundtrip(n):
    assert mask_prefix(prefix_mask(n)) == n
