"""The virtio-net driver against a misbehaving device, run under CPython.

In:  stdlib/drivers/virtio/net.apy and virtqueue.apy, imported as Python through
     applc's .apy import hook and the `_machine` stand-in (flat simulated memory).
Out: checks that the driver contains what a device does wrong:
     - used.len larger than the buffer (or shorter than the header): that frame
       is dropped and counted, reported once, and the NIC keeps working;
     - a used id out of range, a used id the device does not own (returned twice), a used index
       that jumps by more than the queue size: the NIC stops for good (device
       reset, reported once), recv_into returns 0, send counts tx_dropped;
     and the steady-state paths: a frame in, a frame out (header zero, one
     descriptor), a full transmit ring refusing frames until the device
     returns buffers.

The device here is `FaultyDevice`, a Transport written in Python that plays a
virtio-net device on the simulated memory: it reads the rings the driver set
up and writes the used ring as a device would -- or as a broken one would.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def apy():
    """The driver modules, imported under CPython (as `applc pyrun` would)."""
    from applc.driver.pyrun import install

    install(REPO / "examples" / "frame_echo.apy")
    import _machine
    import drivers.report
    import drivers.virtio.net as vnet
    import drivers.virtio.transport as transport

    class Modules:
        pass

    m = Modules()
    m.machine, m.vnet, m.transport, m.report = _machine, vnet, transport, drivers.report
    yield m
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ApyFinder"]


def make_device(apy):
    transport = apy.transport
    machine = apy.machine

    class FaultyDevice(transport.Transport):
        """A virtio-net device whose used ring the test writes (see module doc)."""

        def __init__(self) -> None:
            super().__init__("test-device", 1)
            self.status_value = 0
            self.queues: dict[int, tuple[int, int, int, int]] = {}
            self.used_idx = {0: 0, 1: 0}
            self.notified: list[int] = []

        def features(self, word: int) -> int:
            return (1 << 5 | 1 << 16) if word == 0 else 1

        def set_features(self, word: int, value: int) -> None:
            pass

        def status(self) -> int:
            return self.status_value

        def set_status(self, value: int) -> None:
            self.status_value = value

        def queue_max(self, index: int) -> int:
            return 256 if index in (0, 1) else 0

        def queue_setup(self, index, size, desc, avail, used, interrupts) -> None:
            self.queues[index] = (size, desc, avail, used)

        def notify(self, index: int) -> None:
            self.notified.append(index)

        def config8(self, offset: int) -> int:
            return [0x52, 0x54, 0, 0xAB, 0xCD, 0xEF][offset]

        def config_generation(self) -> int:
            return 0

        def irq_setup(self) -> bool:
            return False

        def irq_ack(self) -> None:
            pass

        # --- the device's side of the rings
        def desc(self, q: int, id: int) -> tuple[int, int, int]:
            _, desc, _, _ = self.queues[q]
            raw = machine.read_bytes(desc + 16 * id, 16)
            addr, length, flags, _ = struct.unpack("<QIHH", raw)
            return addr, length, flags

        def avail_idx(self, q: int) -> int:
            return machine.load16(self.queues[q][2] + 2)

        def use(self, q: int, id: int, length: int, idx_step: int = 1) -> None:
            size, _, _, used = self.queues[q]
            slot = self.used_idx[q] % size
            machine.store32(used + 4 + 8 * slot, id)
            machine.store32(used + 4 + 8 * slot + 4, length)
            self.used_idx[q] = (self.used_idx[q] + idx_step) & 0xFFFF
            machine.store16(used + 2, self.used_idx[q])

        def receive(self, id: int, frame: bytes) -> None:
            """Deliver `frame` into receive buffer `id` (after a zero header)."""
            addr, length, flags = self.desc(0, id)
            assert flags == 2 and length >= 12 + len(frame)  # device-writable, big enough
            machine.write_bytes(addr, bytes(12) + frame)
            self.use(0, id, 12 + len(frame))

    return FaultyDevice()


def start(apy):
    dev = make_device(apy)
    nic = apy.vnet.open_net("eth0", dev, 0)
    assert nic is not None
    return dev, nic


FRAME = bytes(range(6)) + bytes([2, 0, 0, 0, 0, 1]) + b"\x88\xb5" + bytes(range(100))


def reports(apy) -> list[str]:
    return [line for line in bytes(apy.machine.WRITTEN.get(2, b"")).decode().splitlines()]


def test_started_device_has_every_receive_buffer(apy) -> None:
    dev, nic = start(apy)
    assert nic.mac == bytes([0x52, 0x54, 0, 0xAB, 0xCD, 0xEF])
    assert dev.status_value == 1 | 2 | 4 | 8  # ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK
    assert dev.avail_idx(0) == 256 and dev.avail_idx(1) == 0


def test_frame_in_and_out(apy) -> None:
    dev, nic = start(apy)
    dev.receive(5, FRAME)
    buf = bytearray(1514)
    assert nic.recv_into(buf) == len(FRAME)
    assert bytes(buf[: len(FRAME)]) == FRAME
    assert nic.recv_into(buf) == 0
    assert dev.avail_idx(0) == 257  # buffer 5 went straight back to the device
    assert nic.send(buf, len(FRAME))
    addr, length, flags = dev.desc(1, 0)
    assert flags == 0 and length == 12 + len(FRAME)
    assert apy.machine.read_bytes(addr, length) == bytes(12) + FRAME
    assert (nic.rx_frames, nic.tx_frames, nic.rx_dropped, nic.tx_dropped) == (1, 1, 0, 0)


def test_full_transmit_ring_refuses_until_buffers_return(apy) -> None:
    dev, nic = start(apy)
    buf = bytearray(FRAME)
    for _ in range(256):
        assert nic.send(buf, len(FRAME))
    assert not nic.send(buf, len(FRAME))
    assert nic.tx_dropped == 1
    dev.use(1, 17, 0)  # the device is done with one buffer
    assert nic.send(buf, len(FRAME))
    assert dev.desc(1, 17)[1] == 12 + len(FRAME)


def test_used_length_beyond_the_buffer_drops_that_frame_only(apy) -> None:
    dev, nic = start(apy)
    before = len(reports(apy))
    dev.use(0, 3, 4096)  # claims more than the 2048-byte buffer it was given
    dev.use(0, 4, 5)  # shorter than the virtio-net header
    buf = bytearray(1514)
    assert nic.recv_into(buf) == 0
    assert nic.rx_dropped == 2
    new = reports(apy)[before:]
    assert len(new) == 1 and "4096 bytes into a 2048-byte buffer" in new[0]
    dev.receive(6, FRAME)
    assert nic.recv_into(buf) == len(FRAME)  # still working
    assert dev.avail_idx(0) == 256 + 3  # all three buffers went back


@pytest.mark.parametrize("fault", ["id out of range", "id used twice", "index jump"])
def test_bad_used_ring_stops_the_nic(apy, fault: str) -> None:
    dev, nic = start(apy)
    before = len(reports(apy))
    if fault == "id out of range":
        dev.use(0, 999, 100)
    elif fault == "id used twice":
        pass  # below: the device returns transmit descriptor 7 twice
    else:
        dev.use(0, 1, 100, idx_step=300)
    buf = bytearray(FRAME)
    if fault == "id used twice":
        for _ in range(256):
            assert nic.send(buf, len(FRAME))
        dev.use(1, 7, 0)
        dev.use(1, 7, 0)  # 7 is no longer the device's to return
        assert not nic.send(buf, len(FRAME))  # the ring is full: this send reclaims
    else:
        assert nic.recv_into(buf) == 0
    assert nic.stopped
    assert dev.status_value == 0  # reset: the device forgets every queue address
    dropped = nic.tx_dropped
    assert not nic.send(buf, len(FRAME)) and nic.tx_dropped == dropped + 1
    dev.receive(2, FRAME) if fault != "id out of range" else None
    assert nic.recv_into(buf) == 0  # nothing more is believed
    new = reports(apy)[before:]
    assert len(new) == 1 and "the NIC is stopped" in new[0]
