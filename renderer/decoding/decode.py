"""DICOM bytes to the stored values of one frame (PS3.5 8, PS3.3 C.7.6.3).

pydicom's decoders do the codec work (native, RLE, JPEG, JPEG-LS, JPEG 2000, HTJ2K through the
pylibjpeg plugins), unpack 1-bit cells, upsample native YBR_FULL_422, undo Planar Configuration 1
and fix the sign of JPEG 2000 / JPEG-LS codestreams. The cells come back as the decoder gives
them: renderer.decoding.stored masks and sign-extends them, renderer.display.color converts YBR.
This module checks the header first so that a bad or huge file is refused before any pixel
buffer is allocated.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import UID, RLELossless

from renderer.decoding.elements import Elements
from renderer.decoding.stored import StoredFormat, stored_format
from renderer.errors import FrameOutOfRange, ImageTooLarge, NotDicom, UnsupportedImage
from renderer.params import LocalSource

logger = logging.getLogger(__name__)

PIXEL_DATA_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")
# Photometric interpretations of three samples per pixel (PS3.3 C.7.6.3.1.2); all others have one.
THREE_SAMPLES = (
    "RGB",
    "HSV",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_PARTIAL_420",
    "YBR_PARTIAL_422",
    "YBR_ICT",
    "YBR_RCT",
)


# Cells as stored, YBR unconverted: renderer.decoding.stored masks them knowing where High Bit
# puts the value (pydicom's own correction assumes bit 0), renderer.display.color converts the
# colour.
RAW_CELLS: Any = {"as_rgb": False, "correct_unused_bits": False}

MIN_ASPECT = 0.01  # pixel aspect ratios beyond 1:100 are taken for errors and ignored


@dataclass(frozen=True, slots=True)
class ImageInfo:
    rows: int
    columns: int
    frames: int
    samples: int
    photometric: str
    bits_allocated: int
    bits_stored: int
    high_bit: int
    pixel_representation: int
    transfer_syntax: UID
    pixel_aspect: float = 1.0  # a pixel's height over its width

    @property
    def stored(self) -> StoredFormat:
        """Where the value sits in the cell. Image codecs give values at bit 0 whatever High Bit
        says; native and RLE data keep whole cells, so the value may sit higher (PS3.5 8.1.1)."""
        whole_cells = (
            not self.transfer_syntax.is_encapsulated or self.transfer_syntax == RLELossless
        )
        high_bit = self.high_bit if whole_cells else self.bits_stored - 1
        return stored_format(
            self.bits_allocated, self.bits_stored, high_bit, self.pixel_representation == 1
        )


def read_dataset(source: LocalSource) -> Dataset:
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
        raise NotDicom(f"not a readable DICOM file: {exc}") from None
    # An object without pixels is fine (renderer.objects.kinds decides what draws it); nothing at
    # all that names an object is garbage.
    if not any(tag in ds for tag in PIXEL_DATA_TAGS) and (len(ds) == 0 or "SOPClassUID" not in ds):
        raise NotDicom("not a DICOM file: no DICOM elements found")
    _ensure_transfer_syntax(ds)
    # A value no default mends is left as it is: image_info or the decoder names it.
    with contextlib.suppress(TypeError, ValueError, OverflowError):
        complete_image_pixel(ds)
    return ds


def _absent(ds: Elements, keyword: str) -> bool:
    return keyword not in ds or ds.get(keyword) in (None, "")


def complete_image_pixel(ds: Dataset) -> None:
    """Repair, in place, the Image Pixel attributes (PS3.3 C.7.6.3) that real files omit or
    get wrong where the pixels still have one reading, as Orthanc does; pydicom's decoders
    refuse such files. Missing Type 1 values get the standard's defaults (see _defaults);
    Photometric Interpretation is upper-cased, and a Bits Stored beyond Bits Allocated is
    clamped to it. Bits Allocated, Rows and Columns have no default: without them the cells
    cannot be found. image_info gives a lean-read header the same values."""
    defaults = _defaults(ds)
    ds.SamplesPerPixel = defaults["SamplesPerPixel"]
    ds.PhotometricInterpretation = defaults["PhotometricInterpretation"]
    if "PixelData" not in ds:
        return  # Float Pixel Data: no integer cells to describe
    if not _absent(ds, "BitsAllocated"):
        ds.BitsStored = defaults["BitsStored"]
        if _absent(ds, "HighBit"):
            ds.HighBit = defaults["BitsStored"] - 1
    if _absent(ds, "PixelRepresentation"):
        ds.PixelRepresentation = 0
    if ds.SamplesPerPixel == 3 and _absent(ds, "PlanarConfiguration"):
        ds.PlanarConfiguration = 0
    if "NumberOfFrames" in ds and ds.get("NumberOfFrames") in (None, "", 0):
        _count_frames(ds)


def _count_frames(ds: Dataset) -> None:
    """A Number of Frames present but empty (or 0) in native Pixel Data: the frames the data
    holds, as many whole ones as fit (PS3.5 8.1.1: frames follow each other, unpadded)."""
    if ds.file_meta.TransferSyntaxUID.is_encapsulated or _absent(ds, "BitsAllocated"):
        return
    try:
        frame_bits = int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel)
        frame_bits *= int(ds.BitsAllocated)
    except (AttributeError, TypeError, ValueError):
        return  # image_info names what is wrong
    if frame_bits > 0:
        ds.NumberOfFrames = max(1, 8 * len(ds.PixelData) // frame_bits)


def _defaults(ds: Elements) -> dict[str, Any]:
    """Samples per Pixel (3 for the colour interpretations, else 1), Photometric
    Interpretation (MONOCHROME2, or RGB for three samples), Bits Allocated and Bits Stored (the
    cell: Bits Allocated, at most), where the file has none or a value that cannot be right."""
    photometric = ds.get("PhotometricInterpretation")
    photometric = str(photometric).strip().upper() if photometric else ""
    samples = int(ds.get("SamplesPerPixel") or (3 if photometric in THREE_SAMPLES else 1))
    bits_allocated = int(ds.get("BitsAllocated") or 8)
    bits_stored = int(ds.get("BitsStored") or bits_allocated)
    return {
        "SamplesPerPixel": samples,
        "PhotometricInterpretation": photometric or ("RGB" if samples == 3 else "MONOCHROME2"),
        "BitsAllocated": bits_allocated,
        "BitsStored": min(bits_stored, bits_allocated),
    }


IS_MAX = 2**31 - 1  # the largest Integer String (PS3.5 table 6.2-1)


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


def image_info(ds: Elements, max_pixels: int, transfer_syntax: str | None = None) -> ImageInfo:
    """Read and check the Image Pixel module (PS3.3 C.7.6.3) without touching the pixels.
    Without `transfer_syntax`, `ds` is a pydicom Dataset and its file meta says."""
    if transfer_syntax is None:
        if not isinstance(ds, Dataset):
            raise TypeError("image_info needs the transfer syntax of a file read without pydicom")
        transfer_syntax = ds.file_meta.TransferSyntaxUID
    try:
        rows = int(ds.get("Rows"))
        columns = int(ds.get("Columns"))
    except (AttributeError, TypeError, ValueError):
        raise UnsupportedImage("(0028,0010) Rows or (0028,0011) Columns is missing") from None
    if rows <= 0 or columns <= 0:
        raise UnsupportedImage(f"invalid image size {columns}x{rows}")
    frames_value = ds.get("NumberOfFrames", 1)
    try:
        frames = int(frames_value) if frames_value not in (None, "") else 1
    except (TypeError, ValueError):
        raise UnsupportedImage(f"invalid (0028,0008) Number of Frames: {frames_value!r}") from None
    if frames > IS_MAX:  # "1e308" reads as an int: past what VR IS can hold (PS3.5 6.2)
        raise UnsupportedImage(f"invalid (0028,0008) Number of Frames: {frames_value!r}")
    frames = max(frames, 1)
    defaults = _defaults(ds)
    samples = defaults["SamplesPerPixel"]
    if rows * columns * samples > max_pixels:
        raise ImageTooLarge(
            f"image of {columns}x{rows}x{samples} samples per frame exceeds the limit of "
            f"{max_pixels} (--max-pixels)"
        )
    bits_stored = defaults["BitsStored"]
    return ImageInfo(
        rows=rows,
        columns=columns,
        frames=frames,
        samples=samples,
        photometric=defaults["PhotometricInterpretation"],
        bits_allocated=defaults["BitsAllocated"],
        bits_stored=bits_stored,
        high_bit=int(ds.get("HighBit", bits_stored - 1) or bits_stored - 1),
        pixel_representation=int(ds.get("PixelRepresentation", 0) or 0),
        transfer_syntax=transfer_syntax_uid(transfer_syntax),
        pixel_aspect=pixel_aspect(ds),
    )


@functools.lru_cache(maxsize=64)
def transfer_syntax_uid(value: str) -> UID:
    """pydicom's UID of a transfer syntax, made once per value: UID() checks its value against
    a pattern each time (three times per render, 8% of a thumbnail's render, measured)."""
    uid = UID(value)
    try:
        uid.is_encapsulated  # noqa: B018 - pydicom raises here for a UID that is no transfer syntax
    except ValueError:
        raise UnsupportedImage(
            f"(0002,0010) Transfer Syntax UID {value!r} is not a transfer syntax"
        ) from None
    return uid


def _ratio(value: object) -> float | None:
    """vertical / horizontal from a two-valued spacing or ratio; None when unusable."""
    try:
        vertical, horizontal = (float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    if not (vertical > 0 and horizontal > 0):
        return None
    ratio = vertical / horizontal
    return ratio if MIN_ASPECT <= ratio <= 1 / MIN_ASPECT else None


def pixel_aspect(ds: Elements) -> float:
    """A pixel's height over its width (PS3.3 C.7.6.3.1.7): from the physical spacing when
    there is one (Pixel Spacing, also in the shared Pixel Measures Sequence, then Imager and
    Nominal Scanned Pixel Spacing), else Pixel Aspect Ratio, else square. Each is row spacing
    (vertical) first."""
    candidates: list[object] = [ds.get("PixelSpacing")]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        measures = shared[0].get("PixelMeasuresSequence")
        if measures:
            candidates.append(measures[0].get("PixelSpacing"))
    candidates += [
        ds.get("ImagerPixelSpacing"),
        ds.get("NominalScannedPixelSpacing"),
        ds.get("PixelAspectRatio"),
    ]
    for value in candidates:
        if value is not None:
            ratio = _ratio(value)
            if ratio is not None:
                return ratio
    return 1.0


def decode_frame(ds: Dataset, info: ImageInfo, frame: int) -> tuple[np.ndarray, str]:
    """Decode only frame `frame` (0-based). Returns the cells, in native byte order, and the
    photometric interpretation they are now in (see the module docstring)."""
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
    if not ts.is_encapsulated:
        _check_native_length(ds, info)
    if info.bits_allocated == 1 and not ts.is_encapsulated and ts.is_little_endian:
        return bit_packed_frame(ds, info, frame), info.photometric
    try:
        arr, meta = decoder.as_array(ds, index=frame, **RAW_CELLS)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # Rust codecs (pylibjpeg-rle) panic with a BaseException
        raise UnsupportedImage(f"cannot decode the pixel data ({ts.name}): {exc}") from None
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr, str(meta.get("photometric_interpretation", info.photometric))


def bit_packed_frame(ds: Dataset, info: ImageInfo, frame: int) -> np.ndarray:
    """One frame of Bits Allocated 1 native data (PS3.5 8.1.1): cells packed eight to a byte,
    first pixel in the lowest bit, frames one after the other with no padding, so a frame may
    start in the middle of a byte. Only the bytes of this frame are unpacked."""
    count = info.rows * info.columns * info.samples
    first_bit = frame * count
    data = ds.PixelData
    start, stop = first_bit // 8, -(-(first_bit + count) // 8)
    if len(data) < stop:
        raise UnsupportedImage(
            f"the pixel data holds {len(data)} bytes, frame {frame + 1} needs {stop}"
        )
    bits = np.unpackbits(np.frombuffer(data, np.uint8, stop - start, start), bitorder="little")
    offset = first_bit - 8 * start
    shape = (
        (info.rows, info.columns, info.samples) if info.samples > 1 else (info.rows, info.columns)
    )
    return bits[offset : offset + count].reshape(shape)


def _check_native_length(ds: Dataset, info: ImageInfo) -> None:
    """Native Pixel Data (PS3.5 8.1.1) holds exactly Rows x Columns x Samples x Frames values,
    plus at most padding. Less is refused by the decoder; a whole frame or more in excess means
    the header does not describe the data (wrong Rows, Columns or Number of Frames), and an image
    drawn from it would be wrong, so it is refused too. Trailing padding shorter than a frame
    (pydicom's MR_small_padded.dcm) is ignored, as pydicom and dcmtk do."""
    if "PixelData" not in ds:
        return
    try:
        expected = int(get_expected_length(ds, unit="bytes"))
    except Exception:
        return  # the decoder reports what is wrong with the header
    actual = len(ds.PixelData)
    frame_bytes = expected // info.frames
    if frame_bytes and actual - expected >= frame_bytes:
        raise UnsupportedImage(
            f"(7FE0,0010) Pixel Data holds {actual} bytes, more than the {expected} that Rows, "
            f"Columns, Samples per Pixel and Number of Frames describe"
        )


# What no default can stand in for (complete_image_pixel): a file without one of them is left
# to pydicom, which names the missing element.
REQUIRED = ("Rows", "Columns", "BitsAllocated")
NATIVE_LAYOUTS = {1: GRAYSCALE, 3: ("RGB", "YBR_FULL")}


def native_frame(
    ds: Elements, pixel_data: memoryview, info: ImageInfo, frame: int
) -> np.ndarray | None:
    """Frame `frame` of native little-endian Pixel Data (PS3.5 8.1.1, A.2) as a read-only view
    of the file's bytes: the cells pydicom's native decoder gives (the same dtype, unmasked),
    without its copy. Only whole 8/16/32-bit cells of a header pydicom would accept once
    completed (complete_image_pixel: `info` holds the same defaults), one grayscale sample or
    three interleaved colour ones (Planar Configuration 0); None for anything else, which
    pydicom decodes or refuses in its own words."""
    ts = info.transfer_syntax
    if ts.is_encapsulated or not ts.is_little_endian or not 0 <= frame < info.frames:
        return None
    if any(ds.get(keyword) is None for keyword in REQUIRED):
        return None
    if info.photometric not in NATIVE_LAYOUTS.get(info.samples, ()):
        return None
    if info.samples == 3 and ds.get("PlanarConfiguration", 0) != 0:
        return None
    bits_allocated = info.bits_allocated
    if bits_allocated not in (8, 16, 32):
        return None
    if ds.get("PixelRepresentation", 0) not in (0, 1):
        return None
    kind = "i" if info.pixel_representation == 1 else "u"
    dtype = np.dtype(f"<{kind}{bits_allocated // 8}")
    frame_bytes = info.rows * info.columns * info.samples * dtype.itemsize
    expected = frame_bytes * info.frames
    if not expected <= len(pixel_data) < expected + frame_bytes:
        return None  # short, or a frame too long: decode_frame refuses it in its own words
    start = frame * frame_bytes
    shape = (info.rows, info.columns, 3) if info.samples == 3 else (info.rows, info.columns)
    count = info.rows * info.columns * info.samples
    return np.frombuffer(pixel_data, dtype, count, start).reshape(shape)
