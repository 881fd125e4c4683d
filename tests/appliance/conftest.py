"""Fixtures of the real-peer appliance tests: a namespace with a TAP, applc images booted on it.

In: examples/*.apy sources.  Out (pytest fixtures):

- ``ns``: a fresh network namespace (netns.network_namespace) with ``tap0``
  (10.77.0.1/24) in it; deleted after the test, also on failure;
- ``workdir``: the test's tmp_path (console logs, QMP socket);
- ``kvm_image``: builds an example for the kvm target once per session (cached
  by applc's build cache) and returns the image path;
- ``boot``: ``boot(image, machine, cmdline=(), mem_mib=32)`` is a context
  manager that starts QEMU inside ``ns`` with a virtio-net NIC on tap0 and
  yields a netns.Vm (COM1 -> ``workdir/com1.log``); QEMU is killed by PID on
  leaving.

The machinery itself is netns.py (namespaces, TAP, QEMU) and realpeer.py (the
Linux side's probes and malformed frames); this folder is on sys.path for the
tests (pytest's rootdir-relative import), hence the plain imports.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import pytest

import netns
from appliance import EXAMPLES


@pytest.fixture
def ns() -> Iterator[netns.NetNs]:
    with netns.network_namespace("applc-t") as space:
        space.add_tap()
        yield space


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session")
def kvm_image(tmp_path_factory: pytest.TempPathFactory):
    """``kvm_image("hello")`` -> the kvm image of examples/hello.apy, built once per session."""
    built: dict[str, Path] = {}
    outdir = tmp_path_factory.mktemp("images")

    def build(name: str) -> Path:
        if name not in built:
            from applc.driver.build import build_file

            out = outdir / f"{name}.elf"
            build_file(str(EXAMPLES / f"{name}.apy"), target="kvm", out=str(out))
            built[name] = out
        return built[name]

    return build


@pytest.fixture
def boot(ns: netns.NetNs, workdir: Path):
    @contextlib.contextmanager
    def start(image: Path, machine: str, cmdline=(), mem_mib: float = 32, extra=()) -> Iterator[netns.Vm]:
        command, fds = netns.applc_command(image, workdir, machine=machine, cmdline=cmdline, mem_mib=mem_mib)
        with netns.booted(ns, command + list(extra), workdir / "com1.log", pass_fds=fds) as vm:
            yield vm

    return start
