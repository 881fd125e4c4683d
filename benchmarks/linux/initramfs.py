"""The Linux baseline's initramfs: a newc cpio archive written in Python, xz-compressed.

In: busybox (static), the kernel modules to load (in order), the UDP echo
server's bytes, the guest's address.  Out: the compressed archive's bytes.
Inside: ``/init`` (a busybox shell script: load the virtio modules, configure
``eth0`` statically, print a ready line, exec the echo server), ``/bin/busybox``,
``/bin/udpecho``, the modules under ``/lib/modules``, and a ``/dev/console``
node (the kernel opens it for init's stdin/stdout before anything is mounted).

newc format: per entry a 110-byte ASCII header (magic ``070701`` and 13
eight-digit hex fields), the NUL-terminated name, padding to 4 bytes, the
data, padding to 4 bytes; the archive ends with the entry ``TRAILER!!!``.
The kernel's xz decoder wants CRC32 checks (not the default CRC64).
"""

from __future__ import annotations

import lzma
import stat
from pathlib import Path

_NEWC_MAGIC = b"070701"


class CpioWriter:
    """Collects entries and renders a newc archive (deterministic: mtime 0, inodes counted)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._inode = 0

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        self._inode += 1
        encoded = name.encode() + b"\0"
        fields = [
            self._inode, mode, 0, 0,  # ino, mode, uid, gid
            1, 0, len(data),  # nlink, mtime, filesize
            0, 0, rdev[0], rdev[1],  # devmajor, devminor, rdevmajor, rdevminor
            len(encoded), 0,  # namesize, check
        ]
        header = _NEWC_MAGIC + b"".join(b"%08X" % value for value in fields)
        self._parts += [header, encoded, _pad(len(header) + len(encoded)), data, _pad(len(data))]

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, executable: bool = False) -> None:
        self._entry(name, stat.S_IFREG | (0o755 if executable else 0o644), data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def render(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self._parts)


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


READY_LINE = "baseline: udp echo ready"


def init_script(modules: list[str], address: str, prefix_len: int, port: int) -> str:
    """/init: load the modules, bring eth0 up with ``address``, exec the echo server."""
    loads = "\n".join(f"$bb insmod /lib/modules/{name}.ko" for name in modules)
    return f"""#!/bin/busybox sh
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
{loads}
# virtio probing may finish after insmod returns: wait (bounded) for eth0.
n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 500 ]; do $bb usleep 10000; n=$((n+1)); done
$bb ip link set lo up
$bb ip addr add {address}/{prefix_len} dev eth0
$bb ip link set eth0 up
echo "{READY_LINE} on {address}:{port}"
exec /bin/udpecho
"""


def build_initramfs(busybox: Path, modules: list[tuple[str, Path]], echo_server: bytes,
                    address: str, prefix_len: int, port: int) -> bytes:
    """The xz-compressed newc archive for the baseline guest."""
    cpio = CpioWriter()
    for directory in (".", "bin", "dev", "proc", "sys", "lib", "lib/modules"):
        cpio.directory(directory)
    cpio.char_device("dev/console", 5, 1)
    cpio.file("init", init_script([name for name, _ in modules], address, prefix_len, port).encode(), executable=True)
    cpio.file("bin/busybox", busybox.read_bytes(), executable=True)
    cpio.symlink("bin/sh", "busybox")
    cpio.file("bin/udpecho", echo_server, executable=True)
    for name, path in modules:
        cpio.file(f"lib/modules/{name}.ko", path.read_bytes())
    # The kernel vmallocs the whole dictionary to decompress: 1 MiB, as its docs advise,
    # not preset 9's 64 MiB (which panics a guest with less than ~140 MiB).
    filters = [{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": 1 << 20}]
    return lzma.compress(cpio.render(), format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, filters=filters)
