"""Overlay planes (60xx), burned into the rendered image (PS3.3 C.9.2, C.9.3).

Up to 16 planes, each in an even group 6000..601E: a bitmap of Overlay Rows x Overlay Columns
placed at Overlay Origin (row\\column, 1-based, may lie outside the image), either in Overlay
Data (60xx,3000, one bit a pixel, packed from the least significant bit of each byte) or, in
old files, in a bit of the pixel cells above Bits Stored (the retired embedded form: no Overlay
Data, Overlay Bit Position names the bit). A multi-frame overlay (Number of Frames in Overlay)
covers image frames from Image Frame Origin on, one bitmap each; an overlay without it shows on
every frame.

Drawn as dcmtk's dcm2pnm draws them (dcmimgle DiOverlayPlane and DiMonoOutputPixel::overlay), so
it serves as the oracle: a Graphics overlay (type G) in "Replace" mode at full foreground, the
set bits white (255) in the output whatever the polarity; an ROI overlay (type R) in "Region of
Interest" mode, the pixels of the plane's rectangle outside the region dimmed to a sixteenth
(shifted right by 4 bits); planes in group order. Planes that do not add up are skipped as
dcmtk skips them: Overlay Data shorter than the bitmap, an embedded bit that lies among the
stored bits, embedded bits in compressed pixel data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from renderer.decoding.decode import ImageInfo

logger = logging.getLogger(__name__)

FIRST_GROUP, LAST_GROUP = 0x6000, 0x601E  # sixteen planes, even groups (PS3.5 7.6)
ROI_SHIFT = 4  # dcmtk dims ROI surroundings by half the output's bits: 8 >> 1
WHITE = 255

# Elements of an overlay group, by element number (PS3.6, group 60xx).
ROWS, COLUMNS, FRAMES, TYPE, ORIGIN = 0x0010, 0x0011, 0x0015, 0x0040, 0x0050
BITS_ALLOCATED, BIT_POSITION, FRAME_ORIGIN, DATA = 0x0100, 0x0102, 0x0051, 0x3000


@dataclass(frozen=True, slots=True)
class OverlayPlane:
    group: int
    rows: int
    columns: int
    top: int  # Overlay Origin, 0-based: the image row of the bitmap's first row
    left: int
    roi: bool  # Overlay Type R: a region of interest, not a graphic
    first_frame: int = 0  # Image Frame Origin, 0-based
    frames: int | None = None  # Number of Frames in Overlay; None: one bitmap for every frame
    data: bytes | None = None  # Overlay Data, packed bits; None: embedded in the pixel cells
    bit_position: int = 0  # embedded: the cell bit that holds the overlay

    def covers(self, frame: int) -> bool:
        if self.frames is None or self.data is None:
            return True
        return self.first_frame <= frame < self.first_frame + self.frames


def _value(ds: Dataset, group: int, element: int) -> object:
    elem = ds.get((group << 16) | element)
    return None if elem is None else elem.value


def _int(value: object, index: int = 0) -> int | None:
    """Value `index` of a numeric element as an int; None when absent or unusable."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[index] if len(value) > index else None
    elif index:
        return None
    if not isinstance(value, int | float | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _data_bytes(ds: Dataset, group: int) -> bytes | None:
    """Overlay Data as little-endian bytes (OW words of a Big Endian file swapped)."""
    elem = ds.get((group << 16) | DATA)
    if elem is None or not elem.value:
        return None
    raw = bytes(elem.value)
    if elem.VR == "OW" and ds.original_encoding[1] is False and len(raw) % 2 == 0:
        raw = np.frombuffer(raw, ">u2").astype("<u2").tobytes()
    return raw


def read_planes(ds: Dataset, info: ImageInfo) -> tuple[OverlayPlane, ...]:
    """The usable overlay planes of a data set, in group order."""
    planes = []
    for group in range(FIRST_GROUP, LAST_GROUP + 1, 2):
        if (group << 16) | ROWS not in ds:
            continue
        plane = _plane(ds, group, info)
        if plane is not None:
            planes.append(plane)
    return tuple(planes)


def _plane(ds: Dataset, group: int, info: ImageInfo) -> OverlayPlane | None:
    rows = _int(_value(ds, group, ROWS))
    columns = _int(_value(ds, group, COLUMNS))
    origin = _value(ds, group, ORIGIN)
    top, left = _int(origin, 0), _int(origin, 1)
    bits_allocated = _int(_value(ds, group, BITS_ALLOCATED))
    bit_position = _int(_value(ds, group, BIT_POSITION))
    if None in (rows, columns, top, bits_allocated, bit_position) or not rows or not columns:
        logger.debug("overlay group %04X lacks a required element: skipped", group)
        return None
    assert rows is not None and columns is not None and top is not None
    assert bit_position is not None
    kind = str(_value(ds, group, TYPE) or "").strip().upper()
    frames = _int(_value(ds, group, FRAMES))
    first = _int(_value(ds, group, FRAME_ORIGIN)) or 1
    data = _data_bytes(ds, group)
    common = {
        "group": group,
        "rows": rows,
        "columns": columns,
        "top": top - 1,
        "left": (left if left is not None else 1) - 1,
        "roi": kind == "R",
    }
    if data is not None:
        count = max(frames or 1, 1)
        if len(data) * 8 < count * rows * columns:
            logger.debug("overlay group %04X: Overlay Data too short, skipped", group)
            return None
        return OverlayPlane(
            **common,  # type: ignore[arg-type]
            first_frame=max(first - 1, 0),
            frames=count if frames is not None else None,
            data=data,
        )
    # Embedded in the pixel cells (retired): only in uncompressed grayscale data, and only in a
    # bit outside the stored value (dcmtk's rules).
    if (
        info.transfer_syntax.is_encapsulated
        or info.samples != 1
        or info.bits_allocated not in (8, 16)
    ):
        return None
    if bit_position >= info.bits_allocated:
        bit_position = info.bits_allocated - 1
    if bit_position <= info.high_bit < bit_position + info.bits_stored:
        logger.debug(
            "overlay group %04X: embedded bit %d is a stored bit, skipped", group, bit_position
        )
        return None
    if rows * columns > info.rows * info.columns:
        return None
    return OverlayPlane(**common, bit_position=bit_position)  # type: ignore[arg-type]


def bitmap(plane: OverlayPlane, frame: int, cells: np.ndarray | None) -> np.ndarray | None:
    """The plane's bits for image frame `frame` (0-based) as a rows x columns bool array; None
    when the plane does not cover the frame (or, embedded, no cells are at hand)."""
    if not plane.covers(frame):
        return None
    count = plane.rows * plane.columns
    if plane.data is None:
        if cells is None or cells.size < count:
            return None
        flat = cells.reshape(-1)[:count]
        unsigned = flat.view(f"u{flat.dtype.itemsize}") if flat.dtype.kind == "i" else flat
        return (
            ((unsigned >> plane.bit_position) & 1).astype(bool).reshape(plane.rows, plane.columns)
        )
    start = (frame - plane.first_frame) * count if plane.frames is not None else 0
    first_byte, offset = divmod(start, 8)
    chunk = np.frombuffer(plane.data, np.uint8, (offset + count + 7) // 8, first_byte)
    bits = np.unpackbits(chunk, bitorder="little")[offset : offset + count]
    return bits.astype(bool).reshape(plane.rows, plane.columns)


def burn(
    image: np.ndarray,
    planes: tuple[OverlayPlane, ...],
    frame: int,
    cells: np.ndarray | None,
    crop: tuple[slice, slice],
    levels: dict[int, int] | None = None,
) -> np.ndarray:
    """`image` (8-bit gray or RGB, the `crop` of the frame at native resolution) with the planes
    drawn in; the input is not changed. `cells` are the frame's stored cells, for embedded
    planes; `levels` the gray of a graphics plane by group (a presentation state's layer),
    white otherwise."""
    y0, x0 = crop[0].start or 0, crop[1].start or 0
    height, width = image.shape[:2]
    out: np.ndarray | None = None
    for plane in planes:
        bits = bitmap(plane, frame, cells)
        if bits is None:
            continue
        top, left = plane.top - y0, plane.left - x0
        ya, yb = max(top, 0), min(top + plane.rows, height)
        xa, xb = max(left, 0), min(left + plane.columns, width)
        if ya >= yb or xa >= xb:
            continue
        if out is None:
            out = np.array(image, copy=True)
        inside = bits[ya - top : yb - top, xa - left : xb - left]
        region = out[ya:yb, xa:xb]
        if plane.roi:
            region[~inside] >>= ROI_SHIFT
        else:
            region[inside] = (levels or {}).get(plane.group, WHITE)
    return image if out is None else out


__all__ = ["OverlayPlane", "bitmap", "burn", "read_planes"]
