"""The DHCP client against a scripted server (net.testing.DhcpServer) over a lossy, slow link."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import net.dhcp as dhcp
from helpers import run
from net.iface import Interface
from net.testing import DhcpServer, Link
from net.wire.fields import ip_str, parse_ip, prefix_mask

SERVER_IP = parse_ip("192.168.1.1")
POOL_IP = parse_ip("192.168.1.50")


def setup(loss=0, delay=20, seed=1, lease_s=120):
    link = Link(seed, loss, delay)
    srv_if = Interface(link.nic_a)
    srv_if.set_ipv4(SERVER_IP, 24, 0)
    server = DhcpServer(srv_if, POOL_IP, prefix_mask(24), lease_s)
    cli_if = Interface(link.nic_b)
    client = dhcp.DhcpClient(cli_if, 3)
    return link, srv_if, server, cli_if, client


def kinds(server):
    """The server's log as (time, message type, destination) triples."""
    out = []
    for line in server.log:
        t, kind, _, _, _, dst, *_ = line.split()
        out.append((int(t), kind, dst))
    return out


def test_lease_configures_the_interface():
    link, srv_if, server, cli_if, client = setup()
    run(link, [srv_if, cli_if], 0, 1000)
    assert client.state_name() == "bound"
    assert (ip_str(cli_if.addr), cli_if.prefix_len, ip_str(cli_if.gateway)) == (
        "192.168.1.50", 24, "192.168.1.1")
    assert cli_if.dns_servers == [SERVER_IP]
    assert [k for _, k, _ in kinds(server)] == ["discover", "request"]
    assert cli_if.counters.get("address_changes") == 1


def test_retransmission_backs_off_exponentially():
    link, srv_if, server, cli_if, client = setup()
    server.silent = True
    times = []
    now = 0
    last = 0
    while now < 300000:
        run(link, [srv_if, cli_if], now, now)          # one poll at `now`
        sent = cli_if.counters.get("dhcp_tx")
        if sent != last:
            times.append(now)
            last = sent
        d = cli_if.next_deadline(now)
        now = d if d > now else now + 1
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[:6] == [4000, 8000, 16000, 32000, 64000, 64000]


def test_renew_at_t1_unicast_then_rebind_at_t2_broadcast_then_expiry():
    link, srv_if, server, cli_if, client = setup(lease_s=1000)
    now = run(link, [srv_if, cli_if], 0, 1000)
    bound_at = client.lease.acquired
    now = run(link, [srv_if, cli_if], now, bound_at + 500000 + 1000)      # past T1
    renew = kinds(server)[2]
    assert renew[1] == "request" and renew[2] == "192.168.1.1"           # unicast to the server
    assert bound_at + 500000 <= renew[0] < bound_at + 500000 + 100
    assert client.state_name() == "bound" and client.leases == 2
    server.silent = True
    t1 = client.lease.t1
    t2 = client.lease.t2
    expires = client.lease.expires
    now = run(link, [srv_if, cli_if], now, t1 + 10)
    assert client.state_name() == "renewing"
    now = run(link, [srv_if, cli_if], now, t2 + 10)
    assert client.state_name() == "rebinding"
    now = run(link, [srv_if, cli_if], now, expires + 10)
    assert client.state_name() == "selecting" and cli_if.addr == 0
    assert cli_if.counters.get("dhcp_lease_expired") == 1


def test_rebind_request_is_broadcast():
    link, srv_if, server, cli_if, client = setup(lease_s=1000)
    now = run(link, [srv_if, cli_if], 0, 1000)
    server.silent = True                        # renewals go unanswered ...
    now = run(link, [srv_if, cli_if], now, client.lease.t2 - 10)
    server.silent = False                       # ... the rebinding broadcast is answered
    now = run(link, [srv_if, cli_if], now, client.lease.t2 + 1000)
    last = kinds(server)[-1]
    assert last[1] == "request" and last[2] == "255.255.255.255"
    assert client.state_name() == "bound" and client.leases == 2


def test_nak_restarts_and_release_on_shutdown():
    link, srv_if, server, cli_if, client = setup()
    server.nak_next = True
    now = run(link, [srv_if, cli_if], 0, 2000)
    assert cli_if.counters.get("dhcp_nak") == 1
    assert client.state_name() == "bound"
    assert [k for _, k, _ in kinds(server)] == ["discover", "request", "discover", "request"]
    client.release(now)
    now = run(link, [srv_if, cli_if], now, now + 1000)
    assert cli_if.addr == 0 and client.state_name() == "stopped"
    assert kinds(server)[-1][1:] == ("release", "192.168.1.1")
    assert cli_if.next_deadline(now) == -1


def test_replies_for_other_transactions_are_dropped():
    link, srv_if, server, cli_if, client = setup()
    run(link, [srv_if, cli_if], 0, 5)
    client.xid ^= 1                             # the server now answers a stale xid
    run(link, [srv_if, cli_if], 5, 1000)
    assert cli_if.counters.dropped("dhcp_unexpected") >= 1
    assert cli_if.addr == 0


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 10**6), st.integers(0, 50), st.integers(0, 2000))
def test_binds_despite_loss_and_delay(seed, loss, delay):
    link, srv_if, server, cli_if, client = setup(loss=loss, delay=delay, seed=seed, lease_s=3600)
    run(link, [srv_if, cli_if], 0, 3000000)
    # loss of half the frames cannot keep it unbound for 50 minutes of retries
    assert client.state_name() in ("bound", "renewing", "rebinding")
    assert cli_if.addr == POOL_IP
    assert cli_if.counters.dropped("internal_error") == 0
    assert cli_if.counters.dropped("service_error") == 0
