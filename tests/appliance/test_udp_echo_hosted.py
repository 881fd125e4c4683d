"""examples/udp_echo.apy on the hosted target: the same stack, on a TAP device, as a Linux process.

The program is built with `-t hosted` and runs inside a network namespace that the
test creates, attached to the namespace's TAP (`--tap=tap0`, the argument `applc run
-t hosted --net tap:tap0` passes); Linux's own stack is the peer on 10.77.0.1. This is
the issue's "the hosted target on a TAP device": the layers above netif cannot tell.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import netns
import realpeer
from appliance import BOOT_TIMEOUT, EXAMPLES

UDP_ECHO = EXAMPLES / "udp_echo.apy"
ADDRESS = "10.77.0.3"


@pytest.fixture(scope="module")
def hosted_udp_echo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from applc.driver.build import build_file

    out = tmp_path_factory.mktemp("hosted") / "udp_echo"
    build_file(str(UDP_ECHO), target="hosted", out=str(out))
    return out


def test_hosted_udp_echo_on_a_tap(ns, workdir: Path, hosted_udp_echo: Path) -> None:
    console = workdir / "console.log"
    console.write_bytes(b"")
    # exec: the PID that `booted` kills is the program's own
    command = ["sh", "-c", f"exec {shlex.quote(str(hosted_udp_echo))} --tap={netns.TAP_NAME} "
               f"--ipv4={ADDRESS}/{netns.PREFIX_LEN} --port=7 > {shlex.quote(str(console))}"]
    with netns.booted(ns, command, console) as proc:
        proc.wait_for(rb"listening on 10\.77\.0\.3:7", timeout=BOOT_TIMEOUT)
        with realpeer.udp_socket(ns) as sock:
            realpeer.wait_for_echo(sock, ADDRESS, timeout=BOOT_TIMEOUT, interval=0.2)
            for size in (1, 2, 100, 576, 1000, 1471, 1472):
                realpeer.echo(sock, ADDRESS, bytes((i * 7 + size) & 0xFF for i in range(size)))
        result = ns.run(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "10", ADDRESS], timeout=60)
        received = re.search(r"(\d+) received", result.stdout)
        assert received and int(received.group(1)) == 3, result.stdout + result.stderr
        assert proc.running(), proc.describe()
