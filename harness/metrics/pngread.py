"""Fast path for reading label PNGs while scoring (falls back to the validating reader).

Label masks are 8-bit palette or greyscale PNGs whose rows are stored unfiltered (what Pillow
writes for palette images). For those, decoding is one raw inflate into a buffer of the exact size
and a reshape, which skips Pillow's image object and the copy through ``tobytes``. The zlib stream's
Adler-32 trailer is not recomputed: over the inflated 0.9 MB of a 720p mask it costs twice the
inflate itself. Damage is caught instead by each IDAT chunk's CRC-32 (PNG's own check, over the
few kilobytes as stored), so a damaged file still goes to Pillow. Anything else (other bit depths,
colour types, interlacing, row filters, damage, a wrong size) goes to
:func:`harness.data.masks.read_label_png`, which decodes it or raises the usual ``DataError``.
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _fast(data: bytes) -> np.ndarray | None:
    return _fast_with_colour(data)[0]


def _fast_with_colour(data: bytes) -> tuple[np.ndarray | None, int]:
    """``(ids or None, PNG colour type)``; colour type -1 where the header is not a PNG's."""
    if len(data) < 29 or not data.startswith(_SIGNATURE) or data[12:16] != b"IHDR":
        return None, -1
    colour = data[25]
    return _decode(data), colour


def _decode(data: bytes) -> np.ndarray | None:
    width, height, depth, colour, _comp, _filt, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if depth != 8 or colour not in (0, 3) or interlace != 0 or height * (width + 1) > 1 << 28:
        return None  # (very large images go to Pillow and its decompression-bomb check)
    idat = []
    pos = 8
    n = len(data)
    while pos + 12 <= n:
        (length,) = struct.unpack(">I", data[pos: pos + 4])
        kind = data[pos + 4: pos + 8]
        if kind == b"IDAT":
            chunk = data[pos + 4: pos + 8 + length]
            crc = data[pos + 8 + length: pos + 12 + length]
            if len(crc) != 4 or zlib.crc32(chunk) != struct.unpack(">I", crc)[0]:
                return None  # damaged or truncated: Pillow decides (and names the file)
            idat.append(chunk[4:])
        elif kind == b"IEND":
            break
        pos += 12 + length
    stream = b"".join(idat)
    # zlib header: deflate (CM 8), window <= 32 KiB, no preset dictionary, header checksum
    if len(stream) < 2 or stream[0] & 0x0F != 8 or stream[0] >> 4 > 7 or stream[1] & 0x20 \
            or (stream[0] << 8 | stream[1]) % 31:
        return None
    try:
        # raw inflate (no Adler-32 pass); the exact output size as the initial buffer: zlib otherwise
        # grows it 16 KiB at a time, and the re-allocations cost more than the inflate itself
        raw = zlib.decompress(stream[2:], wbits=-15, bufsize=height * (width + 1))
    except zlib.error:
        return None
    if len(raw) != height * (width + 1):
        return None
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, width + 1)
    if rows[:, 0].any():  # some row is filtered (Sub/Up/Average/Paeth): let Pillow undo it
        return None
    return rows[:, 1:]


def read_labels(path: str | os.PathLike, *, expect_size: tuple[int, int] | None = None,
                what: str = "mask") -> np.ndarray:
    """``(H, W) uint8`` object ids of a label PNG; same results and errors as ``read_label_png``.

    The array may be a read-only view; copy it before writing into it.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        data = b""
    arr = _fast(data) if data else None
    if arr is None or (expect_size is not None and arr.shape != tuple(expect_size)):
        from harness.data.masks import read_label_png

        return read_label_png(path, expect_size=expect_size, what=what)
    return arr


def read_labels_mode(path: str | os.PathLike, *, expect_size: tuple[int, int] | None = None,
                     what: str = "mask") -> tuple[np.ndarray, str]:
    """Like :func:`read_labels`, plus the PNG's Pillow mode (``"P"``, ``"L"``, ``"1"``, ...).

    Scoring uses it to count greyscale predictions: their pixel values are taken as object ids, so
    a 0/255 binary mask is object 255, which the official scorer silently scores as an empty mask.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        data = b""
    arr, colour = _fast_with_colour(data) if data else (None, -1)
    if arr is None or (expect_size is not None and arr.shape != tuple(expect_size)):
        from PIL import Image

        from harness.data.masks import read_label_png

        arr = read_label_png(path, expect_size=expect_size, what=what)  # raises the usual DataError
        with Image.open(path) as im:
            return arr, im.mode
    return arr, "P" if colour == 3 else "L"
