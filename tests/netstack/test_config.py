"""Boot arguments --ipv4=ADDR/PREFIX and --ipv4-gateway=ADDR; bad ones exit with status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from net.config import ConfigError, parse_args
from net.wire.fields import ip_str

PROBE = Path(__file__).resolve().parent / "progs" / "config_probe.apy"


def test_static():
    cfg = parse_args(["--port=7", "--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.1"])
    assert (cfg.dhcp, ip_str(cfg.addr), cfg.prefix_len, ip_str(cfg.gateway)) == (
        False, "10.0.0.2", 24, "10.0.0.1")
    assert cfg.describe() == "ipv4 10.0.0.2/24 gateway 10.0.0.1"


def test_dhcp_without_ipv4():
    cfg = parse_args(["--port=7"])
    assert cfg.dhcp and cfg.describe() == "ipv4 dhcp"


@pytest.mark.parametrize("args,needle", [
    (["--ipv4=10.0.0.2"], "ADDR/PREFIX"),
    (["--ipv4=10.0.0.256/24"], "0 to 255"),
    (["--ipv4=10.0.0.2/33"], "prefix length"),
    (["--ipv4=10.0.0.2/"], "prefix length"),
    (["--ipv4=10.0.0.0/24"], "network's own or broadcast"),
    (["--ipv4=224.0.0.1/24"], "unicast"),
    (["--ipv4"], "needs a value"),
    (["--ipv4-gateway=10.0.0.1"], "needs --ipv4"),
    (["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.1.0.1"], "not in 10.0.0.0/24"),
    (["--ipv4=10.0.0.2/24", "--ipv4-gateway=x"], "four numbers"),
    # str.isdigit() says yes to these, int() says no: only ASCII digits are numbers here
    (["--ipv4=10.0.0.2/\u00b2"], "prefix length"),
    (["--ipv4=10.0.0.\u00b2/24"], "four numbers"),
    (["--ipv4=10.0.0.\u0663/24"], "four numbers"),
    (["--ipv4=10.0.0.2/+8"], "prefix length"),
    (["--ipv4=10.0.0. 2/24"], "four numbers"),
])
def test_malformed(args, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_args(args)


def applc(*args):
    script = Path(sys.executable).with_name("applc")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "applc"]
    return subprocess.run(cmd + list(args), capture_output=True, timeout=120)


def test_bad_argument_exits_2_with_one_line():
    r = applc("pyrun", str(PROBE), "--ipv4=10.0.0.2/40")
    assert r.returncode == 2 and r.stdout == b""
    lines = r.stderr.decode().splitlines()
    assert lines == ["error: bad boot argument '--ipv4=10.0.0.2/40': the prefix length is a "
                     "number from 1 to 30"]


def test_good_argument_runs():
    r = applc("pyrun", str(PROBE), "--ipv4=10.0.0.2/24")
    assert r.returncode == 0 and r.stdout.decode() == "ipv4 10.0.0.2/24\n"


def test_stack_static_and_dhcp():
    import net.stack
    from net.testing import Link

    link = Link(1, 0, 1)
    static = net.stack.start(link.nic_a, ["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.1"])
    assert static.configured() and static.dhcp is None
    assert (ip_str(static.iface.addr), ip_str(static.iface.gateway)) == ("10.0.0.2", "10.0.0.1")
    dyn = net.stack.start(link.nic_b, [])
    assert not dyn.configured() and dyn.dhcp is not None
    dyn.poll(0)                                  # the client starts: DISCOVER goes out
    assert dyn.dhcp.state_name() == "selecting"
    assert dyn.next_deadline(0) == 4000
    assert "dhcp_tx 1" in dyn.report().splitlines()
