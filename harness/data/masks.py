"""Label-map PNG I/O: palette PNGs where pixel value = object id (0 = background).

Reading validates what the official tools silently get wrong (RGB masks, truncated files) and
names the file; writing is atomic (temp file in the same folder + ``os.replace``), so a killed job
never leaves a half-written mask behind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from harness.atomic import atomic_write_bytes
from harness.errors import DataError


def davis_palette() -> bytes:
    """The 256-colour DAVIS / PASCAL-VOC palette as 768 bytes (RGB triplets)."""
    pal = bytearray(768)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[3 * i : 3 * i + 3] = bytes((r, g, b))
    return bytes(pal)


_PALETTE = davis_palette()


def read_label_png(path: str | os.PathLike, *, expect_size: tuple[int, int] | None = None,
                   what: str = "mask") -> np.ndarray:
    """Read a palette/greyscale label PNG as ``(H, W) uint8`` object ids.

    Args:
        expect_size: ``(height, width)`` the mask must have (e.g. its frame's size).
        what: how the error message names the file ("ground-truth mask", "prediction", ...).

    Raises:
        DataError: missing, truncated/corrupt, RGB(A) instead of palette, or wrong size.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode not in ("P", "L", "1"):
                raise DataError(
                    f"{what} {path} is a {mode} image; expected a palette (mode P) PNG whose pixel "
                    "values are object ids. Convert it with Image.fromarray(ids).convert('P') "
                    "(never save the colour-rendered mask)."
                )
            im.load()
            arr = np.array(im, dtype=np.uint8)  # a writable copy (np.asarray of an image is read-only)
    except FileNotFoundError:
        raise DataError(f"{what} {path} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{what} {path} is corrupt or truncated ({exc}); re-export or re-download it") from None
    if expect_size is not None and arr.shape != tuple(expect_size):
        raise DataError(
            f"{what} {path} is {arr.shape[1]}x{arr.shape[0]} (WxH) but its frame is "
            f"{expect_size[1]}x{expect_size[0]}; masks must have their frame's size"
        )
    return arr


def check_gt_ids(labels: np.ndarray, objects: tuple[int, ...] | list[int], path: str | os.PathLike, video: str,
                 *, void: int | None = None) -> None:
    """Raise :class:`DataError` when ground truth ``labels`` ``(H, W) uint8`` holds ids outside ``objects``
    (the meta's list; ``void``: an id that is no object, 255 under DAVIS): those pixels would count for
    no object, silently."""
    known = np.zeros(256, dtype=bool)
    known[[0, *objects]] = True
    if void is not None:
        known[void] = True
    extra = np.flatnonzero((np.bincount(labels.ravel(), minlength=256) > 0) & ~known).tolist()
    if extra:
        raise DataError(f"ground-truth mask {path} contains object id(s) {extra} that meta.json does not list for video "
                        f"{video!r} (listed: {list(objects)}); those pixels would count for no object. Fix the meta "
                        "or the mask (mosebench check-data lists every such mask)")


def encode_label_png(labels: np.ndarray) -> bytes:
    """Encode ``(H, W)`` integer ids (< 256) as palette-PNG bytes with the DAVIS palette."""
    import io

    from PIL import Image

    if labels.ndim != 2:
        raise ValueError(f"label map must be (H, W), got shape {labels.shape}")
    if labels.dtype != np.uint8:
        if labels.size and (labels.min() < 0 or labels.max() > 255):
            raise ValueError("object ids must be in 0..255 to fit a palette PNG")
        labels = labels.astype(np.uint8)
    im = Image.frombytes("P", (labels.shape[1], labels.shape[0]), np.ascontiguousarray(labels).tobytes())
    im.putpalette(_PALETTE)
    buf = io.BytesIO()
    # compress_level=1: masks compress well anyway, and level 6 costs ~5x the time on the writer thread.
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def write_label_png(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Atomically write ``(H, W)`` object ids as a palette PNG (mode P, DAVIS palette)."""
    atomic_write_bytes(path, encode_label_png(labels))


def masks_to_labels(masks: Mapping[int, np.ndarray | None], shape: tuple[int, int]) -> np.ndarray:
    """Merge ``obj_id -> (H, W) bool`` masks into one ``(H, W) uint8`` label map.

    Overlaps go to the LOWER object id, as in the official SAM2 VOS script (``tools/vos_inference.py``
    ``put_per_obj_mask`` writes the ids in descending order, so the lowest id is written last;
    checked in tests/test_conventions_sam2.py against that function's output). Each mask is copied over only the rows it
    occupies (one cheap ``any`` per row finds them): ~4x faster than whole-frame assignment at 720p,
    and this runs once per frame on the model's thread.
    """
    out = np.zeros(shape, dtype=np.uint8)
    for obj_id in sorted(masks, reverse=True):  # the lowest id last: it wins overlaps
        m = masks[obj_id]
        if m is None:
            continue
        m = np.asarray(m, dtype=bool)
        rows = np.flatnonzero(m.any(axis=1))
        if rows.size:
            a, b = rows[0], rows[-1] + 1
            np.copyto(out[a:b], np.uint8(obj_id), where=m[a:b])
    return out
