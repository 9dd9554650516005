"""Synthetic files with overlay planes (60xx, PS3.3 C.9.2) for what the corpus lacks (it has one
graphic plane, examples_overlay.dcm): planes partly outside the image, ROI planes, multi-frame
overlays, overlays in the unused high bits of the pixel cells, MONOCHROME1, Big Endian OW data,
and a mammography-shaped CR with a CAD-like mark. dcmtk's dcm2pnm draws each of them too.

Bitmaps are drawn with numpy (rectangles, rings, diagonals) so every plane has set and unset
bits on both sides of every edge; `plane` packs them as PS3.5 8.1.2 packs Overlay Data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.support.synthetic import COLUMNS, ROWS, SECONDARY_CAPTURE, one, ramp, write

Element = tuple[int, str, object]
CR = "1.2.840.10008.5.1.4.1.1.1"


def shapes(rows: int, columns: int, seed: int = 0) -> np.ndarray:
    """A bitmap with a frame, a ring, a diagonal and a few random dots."""
    y, x = np.mgrid[0:rows, 0:columns]
    bits = np.zeros((rows, columns), bool)
    bits[[0, -1], :] = bits[:, [0, -1]] = True
    radius = np.hypot(y - rows / 2, x - columns / 3)
    bits |= np.abs(radius - min(rows, columns) / 4) < 1.0
    bits |= np.abs(y - x * rows / columns) < 0.6
    bits |= np.random.default_rng(seed).random((rows, columns)) > 0.97
    return bits


def pack(bitmaps: np.ndarray) -> bytes:
    """Frames x rows x columns bits, packed LSB first, continuous across frames, even length."""
    packed = np.packbits(bitmaps.astype(np.uint8).reshape(-1), bitorder="little").tobytes()
    return packed + b"\0" * (len(packed) % 2)


def plane(
    group: int,
    bitmaps: np.ndarray,
    origin: tuple[int, int] = (1, 1),
    kind: str = "G",
    *,
    frames: int | None = None,
    frame_origin: int | None = None,
    data_vr: str = "OW",
) -> tuple[Element, ...]:
    """The elements of one overlay group with its data in (60xx,3000). `bitmaps` is rows x
    columns, or frames x rows x columns with `frames` set."""
    rows, columns = bitmaps.shape[-2:]
    tag = group << 16
    elements: list[Element] = [
        (tag | 0x0010, "US", rows),
        (tag | 0x0011, "US", columns),
        (tag | 0x0040, "CS", kind),
        (tag | 0x0050, "SS", list(origin)),
        (tag | 0x0100, "US", 1),
        (tag | 0x0102, "US", 0),
        (tag | 0x3000, data_vr, pack(bitmaps)),
    ]
    if frames is not None:
        elements.append((tag | 0x0015, "IS", str(frames)))
    if frame_origin is not None:
        elements.append((tag | 0x0051, "US", frame_origin))
    return tuple(sorted(elements))


def embedded(group: int, bit: int, rows: int = ROWS, columns: int = COLUMNS) -> tuple[Element, ...]:
    """An overlay group without Overlay Data: its bits are bit `bit` of the pixel cells."""
    tag = group << 16
    return (
        (tag | 0x0010, "US", rows),
        (tag | 0x0011, "US", columns),
        (tag | 0x0040, "CS", "G"),
        (tag | 0x0050, "SS", [1, 1]),
        (tag | 0x0100, "US", 16),
        (tag | 0x0102, "US", bit),
    )


def overlay_graphic(path: Path) -> Path:
    """Two graphic planes: one over the whole image, one hanging off its bottom-right corner."""
    elements = plane(0x6000, shapes(ROWS, COLUMNS)) + plane(
        0x6002, shapes(20, 30, seed=1), origin=(ROWS - 9, COLUMNS - 14)
    )
    return write(
        path,
        one(ramp(0, 4095)),
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=4096,
        elements=elements,
    )


def overlay_negative_origin(path: Path) -> Path:
    """A plane whose origin lies above and left of the image (0\\-5): only part of it shows."""
    return write(
        path,
        one(ramp(0, 255)),
        bits_allocated=8,
        bits_stored=8,
        sop_class=SECONDARY_CAPTURE,
        elements=plane(0x6000, shapes(30, 40, seed=2), origin=(0, -5), data_vr="OB"),
    )


def overlay_roi(path: Path) -> Path:
    """An ROI plane (dcmtk dims the rest of the plane's rectangle) and a graphic plane."""
    region = np.zeros((30, 40), bool)
    region[5:25, 8:30] = True
    elements = plane(0x6000, region, origin=(5, 10), kind="R") + plane(
        0x6004, shapes(ROWS, COLUMNS, seed=3)
    )
    return write(
        path,
        one(ramp(0, 4095)),
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=4096,
        elements=elements,
    )


FRAMES = 4


def overlay_frames(path: Path) -> Path:
    """Four frames; a multi-frame plane covering frames 2 and 3 (Image Frame Origin 2), one
    bitmap each, and a single-frame plane with no Number of Frames in Overlay."""
    bitmaps = np.stack([shapes(ROWS, COLUMNS, seed=10), shapes(ROWS, COLUMNS, seed=11)])
    corner = np.zeros((8, 8), bool)
    corner[2:6, 2:6] = True
    elements = plane(0x6000, bitmaps, frames=2, frame_origin=2) + plane(
        0x6002, corner, origin=(3, 3)
    )
    cells = np.stack([ramp(0, 4095, seed=k) for k in range(FRAMES)])
    return write(
        path,
        cells,
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=4096,
        elements=elements,
    )


def overlay_embedded(path: Path) -> Path:
    """The retired form: overlays in bits 14 and 15 of 16-bit cells of 12 stored bits (bits
    12-13 hold garbage no plane names), and a plane naming a stored bit, which is ignored."""
    high = shapes(ROWS, COLUMNS, seed=4).astype(np.int64) << 15
    low = shapes(ROWS, COLUMNS, seed=5).astype(np.int64) << 14
    noise = np.random.default_rng(6).integers(0, 4, (ROWS, COLUMNS)) << 12
    cells = ramp(0, 4095) | high | low | noise
    elements = embedded(0x6000, 15) + embedded(0x6002, 14) + embedded(0x6004, 3)
    return write(
        path,
        one(cells),
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=4096,
        elements=elements,
    )


def overlay_monochrome1(path: Path) -> Path:
    """MONOCHROME1 inverts the image, not the overlay: its bits are still white."""
    return write(
        path,
        one(ramp(0, 4095)),
        bits_allocated=16,
        bits_stored=12,
        photometric="MONOCHROME1",
        WindowCenter=2048,
        WindowWidth=4096,
        elements=plane(0x6000, shapes(ROWS, COLUMNS, seed=7)),
    )


def overlay_big_endian(path: Path) -> Path:
    """Explicit VR Big Endian: the OW Overlay Data is stored as big-endian words."""
    return write(
        path,
        one(ramp(-1000, 3000) & 0xFFFF),
        bits_allocated=16,
        bits_stored=16,
        signed=True,
        big_endian=True,
        WindowCenter=1000,
        WindowWidth=4000,
        elements=plane(0x6000, shapes(ROWS, COLUMNS, seed=8)),
    )


MAMMO_ROWS, MAMMO_COLUMNS = 640, 512


def mammography_cad(path: Path) -> Path:
    """A mammography-shaped CR (MONOCHROME1, 14 of 16 bits, rectangular pixels of 0.1 mm) whose
    CAD mark (a ring and a cross) sits in a small plane placed mid-image, as CAD writers do."""
    y, x = np.mgrid[0:MAMMO_ROWS, 0:MAMMO_COLUMNS]
    breast = np.hypot((y - MAMMO_ROWS / 2) / (MAMMO_ROWS / 2), x / (MAMMO_COLUMNS * 0.9)) < 1
    tissue = 9000 + 3000 * np.sin(x / 23.0) * np.cos(y / 31.0)
    noise = np.random.default_rng(9).normal(0, 200, (MAMMO_ROWS, MAMMO_COLUMNS))
    cells = np.clip(np.where(breast, tissue + noise, 500), 0, 16383).astype(np.int64)
    my, mx = np.mgrid[0:64, 0:64]
    mark = np.abs(np.hypot(my - 31.5, mx - 31.5) - 24) < 1.5
    mark[31:33, 8:56] = mark[8:56, 31:33] = True
    return write(
        path,
        one(cells),
        bits_allocated=16,
        bits_stored=14,
        photometric="MONOCHROME1",
        sop_class=CR,
        PixelSpacing=[0.1, 0.1],
        WindowCenter=9000,
        WindowWidth=8000,
        PresentationLUTShape="INVERSE",
        elements=plane(0x6000, mark, origin=(301, 201)),
    )


Builder = Callable[[Path], Path]

CASES: dict[str, Builder] = {
    builder.__name__: builder
    for builder in (
        overlay_graphic,
        overlay_negative_origin,
        overlay_roi,
        overlay_frames,
        overlay_embedded,
        overlay_monochrome1,
        overlay_big_endian,
        mammography_cad,
    )
}
FRAME_COUNTS = {"overlay_frames": FRAMES}
