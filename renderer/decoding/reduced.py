"""Decode a compressed frame straight at thumbnail size, when the codec can.

JPEG 2000 (PS3.5 A.4.4) stores a wavelet pyramid: resolution level k is the image shrunk 2^k
times, and openjpeg decodes it without the finer levels (~2.6 ms for 128x128 of a 512x512 CT
slice against ~28 ms for the full frame). JPEG baseline (PS3.5 A.4.1) scales in the DCT:
libjpeg-turbo decodes 1/2, 1/4 or 1/8 size by dropping coefficients. Both give a low-pass
version of the stored values that the display pipeline then windows, so a thumbnail can differ
from the area mean of the full render by a level or two where a block straddles the window's
ends; full-size renders never come here.

Only grayscale single-sample frames whose codestream matches the header (precision = Bits
Stored, signedness = Pixel Representation) are reduced; anything else returns None and takes the
full decode.
"""

from __future__ import annotations

import io
import logging

import numpy as np
import simplejpeg
from PIL import Image
from pydicom.encaps import get_frame
from pydicom.uid import JPEG2000, JPEG2000Lossless, JPEGBaseline8Bit

from renderer.decoding.decode import GRAYSCALE, ImageInfo

logger = logging.getLogger(__name__)

J2K = (JPEG2000Lossless, JPEG2000)
SOC_SIZ = b"\xff\x4f\xff\x51"  # a raw codestream: start of codestream, then the SIZ marker
SSIZ0 = 42  # offset of the first component's Ssiz byte (sign bit + precision - 1), ITU T.800 A.5.1
MIN_FACTOR = 2  # below a 2x shrink the full decode is as cheap


def _codestream(pixel_data: bytes, info: ImageInfo, frame: int) -> bytes | None:
    try:
        return get_frame(pixel_data, frame, number_of_frames=info.frames)
    except Exception:  # a malformed encapsulation: let the full decoder report it
        return None


def levels(rows: int, columns: int, out_rows: int, out_columns: int) -> int:
    """The most 2x reductions that keep the frame at least the output size each way."""
    k = 0
    while (
        2 ** (k + 1) < max(rows, columns)  # a 1x1 (or 0) output would halve forever
        and -(-rows // 2 ** (k + 1)) >= out_rows
        and -(-columns // 2 ** (k + 1)) >= out_columns
    ):
        k += 1
    return k


def decomposition_levels(stream: bytes) -> int:
    """The wavelet levels of the codestream's default coding style (COD, ITU T.800 A.6.1): the
    most reductions openjpeg can make. 0 when the main header has no readable COD marker."""
    at = 2  # past SOC; every main-header marker segment is FFxx + a length that counts itself
    while at + 4 <= len(stream) and stream[at] == 0xFF:
        marker, length = stream[at + 1], int.from_bytes(stream[at + 2 : at + 4], "big")
        if marker == 0x52:  # COD: Lcod, Scod, SGcod (order, layers x2, MCT), then levels
            return stream[at + 9] if at + 9 < len(stream) else 0
        if marker == 0x90 or length < 2:  # SOT: the tiles start, the main header is over
            return 0
        at += 2 + length
    return 0


def _j2k(stream: bytes, info: ImageInfo, out_rows: int, out_columns: int) -> np.ndarray | None:
    if not stream.startswith(SOC_SIZ) or len(stream) <= SSIZ0:
        return None  # a JP2 file or garbage: the full decoder knows what to do
    ssiz = stream[SSIZ0]
    signed, precision = bool(ssiz & 0x80), (ssiz & 0x7F) + 1
    if signed != (info.pixel_representation == 1) or precision != info.bits_stored:
        return None
    if precision > 16:
        return None
    # Asking Pillow for more reductions than the codestream has fails, and the full decode
    # then costs ~10x (a 1955x1841 CR at 128 px: 2.4 s instead of a fraction).
    k = min(levels(info.rows, info.columns, out_rows, out_columns), decomposition_levels(stream))
    if k == 0:
        return None
    try:
        with Image.open(io.BytesIO(stream)) as probe:  # reads the codestream's header only
            size = probe.size
    except (Image.DecompressionBombError, OSError, ValueError):
        return None  # a codestream Pillow refuses: the full decoder reports it in its words
    if size != (info.columns, info.rows):
        return None  # the codestream is not the image the header describes
    for reduce in range(k, 0, -1):
        try:
            with Image.open(io.BytesIO(stream)) as image:
                image.reduce = reduce  # type: ignore[assignment]  # Pillow's resolution level
                image.load()
                mode = image.mode
                cells = np.asarray(image)
            break
        except OSError as exc:
            # Some streams decode only at the finer levels (RG1_J2KR, Kakadu 2.2: "broken data
            # stream" past one reduction): one level finer still beats the full decode, ~4x.
            logger.debug("reduced decode at level %d failed: %s", reduce, exc)
    else:
        return None
    if mode == "L":
        wide = cells.astype(np.int32)
        if signed:  # Pillow moves signed 8-bit values up by 2^(precision-1)
            wide -= 1 << (precision - 1)
    elif mode.startswith("I;16"):
        # Pillow scales to 16 bits and moves signed values up: u = (v + 2^(p-1)) << (16 - p).
        wide = cells.astype(np.int32) >> (16 - precision)
        if signed:
            wide -= 1 << (precision - 1)
    else:
        return None
    return wide.astype(np.int16 if signed else np.uint16)


def _jpeg(stream: bytes, info: ImageInfo, out_rows: int, out_columns: int) -> np.ndarray | None:
    if info.bits_stored != 8 or info.pixel_representation != 0:
        return None
    shrink = shrinks(info, out_rows, out_columns)
    rows, columns = (out_rows, out_columns) if shrink else (info.rows, info.columns)
    try:
        cells: np.ndarray = simplejpeg.decode_jpeg(
            stream,
            colorspace="GRAY",
            min_height=rows,
            min_width=columns,
            min_factor=MIN_FACTOR if shrink else 1,
        )
    except ValueError:
        return None
    if not shrink and cells.shape[:2] != (info.rows, info.columns):
        return None  # the codestream disagrees with the header: let pydicom say so
    return cells[:, :, 0]  # (rows, columns, 1) for GRAY


def shrinks(info: ImageInfo, out_rows: int, out_columns: int) -> bool:
    return out_rows * MIN_FACTOR <= info.rows and out_columns * MIN_FACTOR <= info.columns


def reduced_frame(
    pixel_data: bytes, info: ImageInfo, frame: int, out_rows: int, out_columns: int
) -> np.ndarray | None:
    """The frame's cells decoded from the encapsulated Pixel Data value at the coarsest
    resolution still at least out_rows x out_columns, or None when that is not possible (or
    not worth it) for this frame. JPEG
    baseline comes here at full size too: libjpeg-turbo decodes a 512x512 slice in ~0.3 ms,
    pydicom's plugins in ~3.8 ms (values within one level: IDCT rounding)."""
    if info.samples != 1 or info.photometric not in GRAYSCALE or not 0 <= frame < info.frames:
        return None
    ts = info.transfer_syntax
    if ts not in J2K and ts != JPEGBaseline8Bit:
        return None
    if ts in J2K and not shrinks(info, out_rows, out_columns):
        return None
    stream = _codestream(pixel_data, info, frame)
    if stream is None:
        return None
    try:
        if ts in J2K:
            return _j2k(stream, info, out_rows, out_columns)
        return _jpeg(stream, info, out_rows, out_columns)
    except (OSError, ValueError, SyntaxError) as exc:  # leave the error to the full decoder
        logger.debug("reduced decode failed, decoding in full: %s", exc)
        return None
