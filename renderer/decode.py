"""DICOM bytes to the stored values of one frame (PS3.5 8, PS3.3 C.7.6.3).

pydicom's decoders do the codec work (native, RLE, JPEG, JPEG-LS, JPEG 2000, HTJ2K through the
pylibjpeg plugins), the Bits Stored masking, the sign extension and the YBR to RGB conversion of
the decoded codestream; this module checks the header first so that a bad or huge file is refused
before any pixel buffer is allocated.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import UID

from renderer.errors import FrameOutOfRange, ImageTooLarge, NotDicom, UnsupportedImage

logger = logging.getLogger(__name__)

PIXEL_DATA_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

Source = bytes | str  # the file's bytes, or a path a worker may read itself


@dataclass(frozen=True, slots=True)
class ImageInfo:
    rows: int
    columns: int
    frames: int
    samples: int
    photometric: str
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    transfer_syntax: UID


def read_dataset(source: Source) -> Dataset:
    """Parse a whole DICOM file; a missing preamble is tolerated (some writers omit it)."""
    if isinstance(source, str):
        try:
            if os.path.getsize(source) == 0:
                raise NotDicom("the stored file is empty (0 bytes)")
        except OSError as exc:
            raise NotDicom(f"cannot read the stored file: {exc.strerror}") from None
        fp: str | io.BytesIO = source
    else:
        if not source:
            raise NotDicom("the stored file is empty (0 bytes)")
        fp = io.BytesIO(source)
    try:
        ds = pydicom.dcmread(fp, force=True)
    except InvalidDicomError as exc:
        raise NotDicom(f"not a DICOM file: {exc}") from None
    except Exception as exc:  # pydicom raises many types on garbage input
        raise NotDicom(f"not a readable DICOM file: {type(exc).__name__}: {exc}") from None
    if not any(tag in ds for tag in PIXEL_DATA_TAGS):
        if len(ds) == 0 or "SOPClassUID" not in ds:
            raise NotDicom("not a DICOM file: no DICOM elements found")
        name = UID(str(ds.SOPClassUID)).name
        raise UnsupportedImage(f"not an image: the object ({name}) has no Pixel Data")
    _ensure_transfer_syntax(ds)
    return ds


def _ensure_transfer_syntax(ds: Dataset) -> None:
    """Files without a meta header still need a Transfer Syntax UID for the decoders."""
    meta = ds.file_meta
    if "TransferSyntaxUID" in meta:
        return
    if ds.original_encoding[0]:
        meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    elif ds.original_encoding[1]:
        meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = pydicom.uid.ExplicitVRBigEndian


def image_info(ds: Dataset, max_pixels: int) -> ImageInfo:
    """Read and check the Image Pixel module (PS3.3 C.7.6.3) without touching the pixels."""
    try:
        rows = int(ds.Rows)
        columns = int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        raise UnsupportedImage("(0028,0010) Rows or (0028,0011) Columns is missing") from None
    if rows <= 0 or columns <= 0:
        raise UnsupportedImage(f"invalid image size {columns}x{rows}")
    frames_value = ds.get("NumberOfFrames", 1)
    try:
        frames = int(frames_value) if frames_value not in (None, "") else 1
    except (TypeError, ValueError):
        raise UnsupportedImage(f"invalid (0028,0008) Number of Frames: {frames_value!r}") from None
    frames = max(frames, 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if rows * columns * samples > max_pixels:
        raise ImageTooLarge(
            f"image of {columns}x{rows}x{samples} samples per frame exceeds the limit of "
            f"{max_pixels} (--max-pixels)"
        )
    bits_allocated = int(ds.get("BitsAllocated", 8) or 8)
    return ImageInfo(
        rows=rows,
        columns=columns,
        frames=frames,
        samples=samples,
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2") or "MONOCHROME2"),
        bits_allocated=bits_allocated,
        bits_stored=int(ds.get("BitsStored", bits_allocated) or bits_allocated),
        pixel_representation=int(ds.get("PixelRepresentation", 0) or 0),
        transfer_syntax=UID(ds.file_meta.TransferSyntaxUID),
    )


def decode_frame(ds: Dataset, info: ImageInfo, frame: int) -> tuple[np.ndarray, str]:
    """Decode only frame `frame` (0-based). Returns the stored values and the photometric
    interpretation they are now in (YBR codestreams come back as RGB)."""
    if not 0 <= frame < info.frames:
        raise FrameOutOfRange(
            f"frameNumber {frame + 1} is out of range: the object has {info.frames} frame(s)"
        )
    ts = info.transfer_syntax
    try:
        decoder = get_decoder(ts)
    except NotImplementedError:
        raise UnsupportedImage(f"unsupported transfer syntax {ts.name} ({ts})") from None
    if not decoder.is_available:
        raise UnsupportedImage(f"no decoder installed for transfer syntax {ts.name} ({ts})")
    try:
        arr, meta = decoder.as_array(ds, index=frame, as_rgb=True)  # type: ignore[arg-type]
    except Exception as exc:
        raise UnsupportedImage(f"cannot decode the pixel data ({ts.name}): {exc}") from None
    return arr, str(meta.get("photometric_interpretation", info.photometric))
