"""Shared set-ups for the netstack tests: two interfaces on a Link, a simulated clock."""

from __future__ import annotations

from net.iface import Interface
from net.testing import Link
from net.wire.fields import parse_ip

A_IP = parse_ip("10.0.0.1")
B_IP = parse_ip("10.0.0.2")


def pair(loss: int = 0, delay: int = 1, seed: int = 1) -> tuple[Link, Interface, Interface]:
    link = Link(seed, loss, delay)
    a = Interface(link.nic_a)
    b = Interface(link.nic_b)
    a.set_ipv4(A_IP, 24, 0)
    b.set_ipv4(B_IP, 24, 0)
    return link, a, b


def run(link: Link, ifaces: list[Interface], now: int, until: int, max_steps: int = 100000) -> int:
    """Advance the clock to `until`, jumping to each frame arrival or timer; returns `until`."""
    steps = 0
    while now < until:
        assert steps < max_steps, "simulation did not converge"
        link.advance(now)
        for i in ifaces:
            i.poll(now)
        nxt = until
        for d in [link.next_arrival()] + [i.next_deadline(now) for i in ifaces]:
            if 0 <= d < nxt:
                nxt = d
        now = max(nxt, now + 1)
        steps += 1
    link.advance(now)
    for i in ifaces:
        i.poll(now)
    return now
