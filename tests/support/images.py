"""Small real images for tests (a browser must be able to draw them): PNGs made here,
with no imaging library."""

from __future__ import annotations

import struct
import zlib


def png(width: int = 120, height: int = 80, rgb: tuple[int, int, int] = (18, 140, 126)) -> bytes:
    """A solid-colour PNG, with a lighter diagonal band so a screenshot shows it is drawn."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # no filter
        for x in range(width):
            band = abs(x * height // width - y) < height // 8
            rows += bytes(min(c + 90, 255) for c in rgb) if band else bytes(rgb)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(bytes(rows)))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


# Enough of a JPEG for the checks (its first bytes); no browser draws it.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 200 + b"\xff\xd9"
