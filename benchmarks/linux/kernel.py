"""Debian packages in, a PVH-bootable Linux kernel and its modules out.

In: the names of Debian packages (a kernel image package, busybox-static),
fetched with ``apt-get download`` into a cache directory (default
``~/.cache/applc-bench/linux``) and unpacked there with ``dpkg-deb -x``.
Out: ``Kernel`` -- the ``vmlinux`` ELF taken out of the bzImage (QEMU boots
an ELF kernel through its Xen PVH note, like applc's own images), the
bzImage itself (for its size), and the path of every module; and the path
of busybox.  Everything is cached: a second run downloads and decompresses
nothing.

The bzImage payload: the setup header (at 0x1f1 in the file) gives the
number of setup sectors and, at 0x248/0x24c, the offset and length of the
compressed kernel inside the protected-mode part.  The payload's magic says
how it is compressed: gzip, xz, lzma and bzip2 are in Python's standard
library, legacy LZ4 (what Debian 12's cloud kernel uses) is lz4legacy.py,
zstd needs the ``zstandard`` module.
"""

from __future__ import annotations

import bz2
import lzma
import os
import re
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

from . import lz4legacy

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "applc-bench" / "linux"
KERNEL_META_PACKAGE = "linux-image-cloud-amd64"
BUSYBOX_PACKAGE = "busybox-static"


class KernelError(Exception):
    """A package could not be fetched or a kernel could not be unpacked; the message says why."""


@dataclass(frozen=True)
class Kernel:
    version: str  # the modules directory name, e.g. 6.1.0-56-cloud-amd64
    package: str  # the Debian package it came from
    bzimage: Path
    vmlinux: Path
    modules: dict[str, Path]  # module name (virtio_net) -> .ko file

    def module_depends(self, name: str) -> list[str]:
        """The modules ``name`` needs loaded first (from its .modinfo ``depends=``)."""
        return _modinfo(self.modules[name]).get("depends", "").split(",") if name in self.modules else []

    def load_order(self, wanted: list[str]) -> list[str]:
        """``wanted`` and everything they depend on, dependencies first, each once."""
        order: list[str] = []

        def visit(name: str, path: tuple[str, ...]) -> None:
            if not name or name in order:
                return
            if name not in self.modules:
                raise KernelError(f"{self.package} has no module {name} (needed by {' -> '.join(path) or 'the benchmark'})")
            for dep in self.module_depends(name):
                visit(dep, path + (name,))
            order.append(name)

        for name in wanted:
            visit(name, ())
        return order


def fetch_kernel(cache: Path = DEFAULT_CACHE, package: str | None = None) -> Kernel:
    """Download (once) the kernel package, unpack it and extract vmlinux (once)."""
    package = package or _resolve_kernel_package()
    root = _unpacked(cache, package)
    bzimages = sorted((root / "boot").glob("vmlinuz-*"))
    if not bzimages:
        raise KernelError(f"{package} contains no /boot/vmlinuz-*")
    bzimage = bzimages[0]
    version = bzimage.name.removeprefix("vmlinuz-")
    vmlinux = cache / f"vmlinux-{version}"
    if not vmlinux.is_file():
        _write_atomically(vmlinux, extract_vmlinux(bzimage.read_bytes()))
    modules = {p.name.removesuffix(".ko"): p for p in (root / "lib" / "modules" / version).rglob("*.ko")}
    # Module names use '_' where file names may use '-' (virtio-rng.ko is virtio_rng).
    modules = {name.replace("-", "_"): path for name, path in modules.items()}
    return Kernel(version, package, bzimage, vmlinux, modules)


def fetch_busybox(cache: Path = DEFAULT_CACHE) -> Path:
    """Download (once) busybox-static and return the path of its static busybox binary."""
    busybox = _unpacked(cache, BUSYBOX_PACKAGE) / "bin" / "busybox"
    if not busybox.is_file():
        raise KernelError(f"{BUSYBOX_PACKAGE} contains no /bin/busybox")
    return busybox


# --- bzImage -> vmlinux ---------------------------------------------------------

_MAGICS = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (lz4legacy.MAGIC_BYTES, "lz4"),
    (b"BZh", "bzip2"),
    (b"\x5d\x00\x00", "lzma"),
)


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The uncompressed kernel ELF inside a bzImage (boot protocol 2.08 or later)."""
    if bzimage[0x202:0x206] != b"HdrS":
        raise KernelError("not a bzImage: no HdrS boot-protocol signature at 0x202")
    (version,) = struct.unpack_from("<H", bzimage, 0x206)
    if version < 0x208:
        raise KernelError(f"boot protocol {version >> 8}.{version & 0xff} has no payload fields (need 2.08+)")
    setup_sectors = bzimage[0x1F1] or 4  # 0 means 4, for very old kernels
    payload_offset, payload_length = struct.unpack_from("<II", bzimage, 0x248)
    start = (setup_sectors + 1) * 512 + payload_offset
    payload = bzimage[start : start + payload_length]
    elf = decompress(payload)
    if elf[:4] != b"\x7fELF":
        raise KernelError("the decompressed bzImage payload is not an ELF file")
    return elf


def decompress(payload: bytes) -> bytes:
    """Decompress a kernel payload, recognising the codec by its magic bytes."""
    for magic, codec in _MAGICS:
        if payload.startswith(magic):
            return _DECOMPRESSORS[codec](payload)
    raise KernelError(f"unknown bzImage payload compression (first bytes {payload[:6].hex()})")


def _zstd(payload: bytes) -> bytes:
    try:
        import zstandard
    except ImportError:
        raise KernelError("this kernel's payload is zstd: `pip install zstandard`") from None
    return zstandard.ZstdDecompressor().decompressobj().decompress(payload)


def zlib_member(payload: bytes) -> bytes:
    """One gzip member; the size word the kernel build appends after it is ignored."""
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)


def _lzma_stream(fmt: int):
    def run(payload: bytes) -> bytes:
        # decompressobj stops at the end of the stream and ignores the size trailer.
        return lzma.LZMADecompressor(format=fmt).decompress(payload)

    return run


_DECOMPRESSORS = {
    "gzip": zlib_member,
    "xz": _lzma_stream(lzma.FORMAT_XZ),
    "lzma": _lzma_stream(lzma.FORMAT_ALONE),
    "zstd": _zstd,
    "lz4": lz4legacy.decompress_legacy,
    "bzip2": lambda payload: bz2.BZ2Decompressor().decompress(payload),
}


# --- Debian packages -----------------------------------------------------------


def _resolve_kernel_package() -> str:
    """linux-image-cloud-amd64 is a meta package: the real one is its linux-image-* dependency."""
    text = _run(["apt-cache", "depends", KERNEL_META_PACKAGE], "apt-cache depends")
    found = re.findall(r"Depends:\s*(linux-image-\S+)", text)
    if not found:
        raise KernelError(
            f"apt-cache knows no {KERNEL_META_PACKAGE}: run `apt-get update` (Debian 12 main)"
        )
    return found[0]


def _unpacked(cache: Path, package: str) -> Path:
    """Download ``package`` into ``cache`` (once) and unpack it (once); return the tree."""
    root = cache / "unpacked" / package
    done = root / ".complete"
    if done.is_file():
        return root
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = _downloaded(debs, package)
    root.mkdir(parents=True, exist_ok=True)  # dpkg-deb's tar does not create it
    _run(["dpkg-deb", "-x", str(deb), str(root)], f"dpkg-deb -x {deb.name}")
    done.write_text(deb.name + "\n")
    return root


def _downloaded(debs: Path, package: str) -> Path:
    existing = sorted(debs.glob(f"{package}_*.deb"))
    if existing:
        return existing[-1]
    _run(["apt-get", "download", "-q", package], f"apt-get download {package}", cwd=debs)
    existing = sorted(debs.glob(f"{package}_*.deb"))
    if not existing:
        raise KernelError(f"apt-get download {package} left no .deb in {debs}")
    return existing[-1]


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=600)
    except FileNotFoundError:
        raise KernelError(f"{cmd[0]} not found: this benchmark needs Debian's apt and dpkg") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise KernelError(f"{what} failed: {detail[-1] if detail else result.returncode}")
    return result.stdout


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(data)
    tmp.replace(path)


# --- module metadata -------------------------------------------------------------


def _modinfo(ko: Path) -> dict[str, str]:
    """The key=value strings of a module's ``.modinfo`` ELF section."""
    data = ko.read_bytes()
    section = _elf_section(data, ".modinfo")
    info: dict[str, str] = {}
    for entry in section.split(b"\0"):
        key, sep, value = entry.partition(b"=")
        if sep:
            info.setdefault(key.decode(), value.decode(errors="replace"))
    return info


def _elf_section(data: bytes, name: str) -> bytes:
    """The bytes of the section called ``name`` in an ELF64 little-endian file."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise KernelError("not an ELF64 file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4]
    for sh_name, _type, _flags, _addr, offset, size, *_ in headers:
        end = data.index(b"\0", names_at + sh_name)
        if data[names_at + sh_name : end].decode() == name:
            return data[offset : offset + size]
    return b""
