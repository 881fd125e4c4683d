"""LZ4 "legacy" frames, decompressed in Python: how Debian's cloud kernel packs its bzImage payload.

In: the bytes of a legacy LZ4 stream (magic 0x184C2102, then blocks each
prefixed by a 32-bit little-endian compressed size), optionally followed by
the 4-byte uncompressed size that the kernel build appends.  Out: the
decompressed bytes.  The standard library has no LZ4, and the benchmark must
not need a package just for this, so this is the block format written out
(a token, literals, a 16-bit offset, a match length; see the LZ4 block
format description).  It is slow next to C (tens of seconds for a kernel),
which is why kernel.py caches its result.
"""

from __future__ import annotations

import struct

LEGACY_MAGIC = 0x184C2102
MAGIC_BYTES = struct.pack("<I", LEGACY_MAGIC)


class Lz4Error(ValueError):
    """The stream is not a well-formed legacy LZ4 stream."""


def decompress_legacy(data: bytes) -> bytes:
    """Decompress a whole legacy-frame stream (one or more frames back to back)."""
    if data[:4] != MAGIC_BYTES:
        raise Lz4Error("not a legacy LZ4 stream (bad magic)")
    out = bytearray()
    pos = 4
    while pos + 4 <= len(data):
        (size,) = struct.unpack_from("<I", data, pos)
        if size == LEGACY_MAGIC:  # a second frame starts
            pos += 4
            continue
        if pos + 4 + size > len(data):
            break  # the trailing uncompressed-size word, not a block
        decompress_block(memoryview(data)[pos + 4 : pos + 4 + size], out)
        pos += 4 + size
    return bytes(out)


def decompress_block(block: memoryview, out: bytearray) -> None:
    """Append the decompressed contents of one LZ4 block to ``out``.

    Matches may reach back into earlier blocks: legacy frames are written with
    independent blocks, but reaching back is harmless when they are not.
    """
    pos, end = 0, len(block)
    while pos < end:
        token = block[pos]
        pos += 1
        literal_length, pos = _length(block, pos, token >> 4)
        if pos + literal_length > end:
            raise Lz4Error("literals run past the end of the block")
        out += block[pos : pos + literal_length]
        pos += literal_length
        if pos >= end:
            return  # the last sequence has literals only
        if pos + 2 > end:
            raise Lz4Error("truncated match offset")
        offset = block[pos] | (block[pos + 1] << 8)
        pos += 2
        match_length, pos = _length(block, pos, token & 0x0F)
        _copy_match(out, offset, match_length + 4)


def _length(block: memoryview, pos: int, nibble: int) -> tuple[int, int]:
    """A 4-bit length; 15 means more bytes follow, each added, until one is not 255."""
    length = nibble
    if nibble == 15:
        while True:
            if pos >= len(block):
                raise Lz4Error("truncated length")
            byte = block[pos]
            pos += 1
            length += byte
            if byte != 255:
                break
    return length, pos


def _copy_match(out: bytearray, offset: int, length: int) -> None:
    if offset == 0 or offset > len(out):
        raise Lz4Error(f"match offset {offset} outside the {len(out)} bytes decoded so far")
    start = len(out) - offset
    if offset >= length:
        out += out[start : start + length]
    else:
        # An overlapping match repeats the last `offset` bytes.
        pattern = out[start:]
        out += (pattern * (length // offset + 1))[:length]
