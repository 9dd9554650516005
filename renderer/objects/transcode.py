"""The stored file in another transfer syntax (WADO-URI `transferSyntax`, PS3.18 8.2.11): native
(Implicit or Explicit VR Little Endian, Deflated), RLE Lossless, JPEG 2000 lossless or lossy,
JPEG-LS lossless or near-lossless (pydicom with the pylibjpeg, openjpeg and pyjpegls encoders) and
JPEG baseline (libjpeg-turbo through simplejpeg, 8-bit samples only). A compressed stored file
is decoded first. Whatever cannot be produced is refused with the reason, never sent half-done.

Lossy targets set Lossy Image Compression (0028,2110) and its method and ratio (PS3.3 C.7.6.1.1.5).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pydicom
import simplejpeg
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.pixels.utils import pixel_array
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEGLSNearLossless,
    MPEGTransferSyntaxes,
    RLELossless,
)

from renderer.decoding.decode import PIXEL_DATA_TAGS
from renderer.errors import ImageTooLarge, NotOffered

NATIVE = (ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian)
# pydicom's encoders, with the options for the lossy ones.
ENCODED: dict[UID, dict[str, Any]] = {
    RLELossless: {},
    JPEG2000Lossless: {},
    JPEG2000: {"j2k_cr": [5]},  # 5:1 (of the native size): ~55 dB over a CT's range
    JPEGLSLossless: {},
    JPEGLSNearLossless: {"jls_error": 2},  # each sample within 2 of the original
}
LOSSY_METHODS = {
    JPEG2000: "ISO_15444_1",
    JPEGLSNearLossless: "ISO_14495_1",
    JPEGBaseline8Bit: "ISO_10918_1",
}
PRODUCED = (*NATIVE, *ENCODED, JPEGBaseline8Bit)
JPEG_QUALITY = 90
SAMPLE_LIMIT = 4  # a transcode holds at most this many times --max-pixels samples decoded


def offered() -> str:
    return ", ".join(PRODUCED)


def transcode(
    data: bytes, ds: Dataset, target: str, max_pixels: int, rewrite: bool = False
) -> bytes:
    """The file `data` (parsed as `ds`) written in transfer syntax `target`; the file itself
    when it is in `target` already, unless `rewrite` (`ds` was changed)."""
    goal = UID(target)
    current = UID(ds.file_meta.get("TransferSyntaxUID", ExplicitVRLittleEndian))
    if goal == current and not rewrite:
        return data
    if goal not in PRODUCED and goal != current:
        name = goal.name if goal.is_transfer_syntax else "not a transfer syntax"
        raise NotOffered(
            f"cannot produce transfer syntax {goal} ({name}); this server produces {offered()}"
        )
    has_pixels = "PixelData" in ds
    other_pixels = any(tag in ds for tag in PIXEL_DATA_TAGS if tag != "PixelData")
    if goal == current:
        pass  # written as it was read: only the data set changed
    elif has_pixels and current in MPEGTransferSyntaxes:
        raise NotOffered(
            f"cannot produce transfer syntax {goal.name} ({goal}) from a video "
            f"({current.name}): video is not re-encoded"
        )
    elif has_pixels:
        _check_size(ds, max_pixels)
        if current.is_compressed:
            _refuse_on_error(goal, lambda: ds.decompress(generate_instance_uid=False))
        elif not current.is_little_endian:
            _refuse_on_error(goal, lambda: _to_little_endian(ds))
        if goal == JPEGBaseline8Bit:
            _to_jpeg_baseline(ds)
        elif goal in ENCODED:
            _refuse_on_error(
                goal,
                lambda: ds.compress(goal, generate_instance_uid=False, **ENCODED[goal]),
            )
    elif goal.is_compressed and other_pixels:
        raise NotOffered(
            f"cannot produce transfer syntax {goal.name} ({goal}): Float Pixel Data has no "
            "encapsulated form"
        )
    if goal in LOSSY_METHODS and has_pixels and goal != current:
        _mark_lossy(ds, goal)
    ds.file_meta.TransferSyntaxUID = goal
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pydicom.dcmwrite(
                out,
                ds,
                implicit_vr=goal.is_implicit_VR,
                little_endian=goal.is_little_endian,
                enforce_file_format=True,
            )
        except (AttributeError, ValueError) as exc:  # e.g. no SOP Class UID to write
            raise NotOffered(f"cannot write the object as a DICOM file: {exc}") from None
    return out.getvalue()


def _check_size(ds: Dataset, max_pixels: int) -> None:
    try:
        samples = (
            int(ds.Rows)
            * int(ds.Columns)
            * int(ds.get("SamplesPerPixel", 1) or 1)
            * int(ds.get("NumberOfFrames", 1) or 1)
        )
    except (AttributeError, TypeError, ValueError):
        raise NotOffered("cannot transcode: the Image Pixel module is incomplete") from None
    if samples > SAMPLE_LIMIT * max_pixels:
        raise ImageTooLarge(
            f"transcoding {samples} samples exceeds {SAMPLE_LIMIT}x the limit of {max_pixels} "
            "(--max-pixels)"
        )


def _refuse_on_error(goal: UID, step: Callable[[], None]) -> None:
    """Run a pydicom decode or encode; its refusal becomes ours, with its reason."""
    try:
        step()
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as exc:  # the codecs raise many types, Rust ones BaseException
        raise NotOffered(f"cannot produce transfer syntax {goal.name} ({goal}): {exc}") from None


def _to_little_endian(ds: Dataset) -> None:
    """Native big-endian cells rewritten little-endian: pydicom writes Pixel Data's bytes as
    they are, whatever byte order the rest of the file is written in."""
    bits = int(ds.BitsAllocated)
    if bits <= 8:
        return
    cells = pixel_array(ds, raw=True)
    kind = "i" if cells.dtype.kind == "i" else "u"
    ds.PixelData = cells.astype(f"<{kind}{bits // 8}").tobytes()
    if int(ds.get("SamplesPerPixel", 1) or 1) > 1:
        ds.PlanarConfiguration = 0  # pixel_array interleaves the samples


def _values(value: object) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str | int | float):
        return [value]
    return [*value] if isinstance(value, Iterable) else [value]


def _to_jpeg_baseline(ds: Dataset) -> None:
    """Every frame through libjpeg-turbo: 8-bit gray stays gray; colour goes to YBR_FULL_422,
    what a baseline JPEG of RGB holds (PS3.5 8.2.1)."""
    bits = int(ds.get("BitsAllocated", 0) or 0), int(ds.get("BitsStored", 0) or 0)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    photometric = str(ds.get("PhotometricInterpretation", ""))
    colours = {1: ("MONOCHROME1", "MONOCHROME2"), 3: ("RGB",)}
    if bits != (8, 8) or int(ds.get("PixelRepresentation", 0) or 0) != 0:
        raise NotOffered(
            f"cannot produce transfer syntax {JPEGBaseline8Bit.name} ({JPEGBaseline8Bit}): it "
            f"holds unsigned 8-bit samples; this image has {bits[1]} bits stored in {bits[0]}"
        )
    if photometric not in colours.get(samples, ()):
        raise NotOffered(
            f"cannot produce transfer syntax {JPEGBaseline8Bit.name} ({JPEGBaseline8Bit}) from "
            f"{photometric} with {samples} samples per pixel"
        )
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    pixels = pixel_array(ds) if frames == 1 else None
    encoded = []
    for index in range(frames):
        frame = pixels if pixels is not None else pixel_array(ds, index=index)
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if samples == 1:
            encoded.append(simplejpeg.encode_jpeg(frame[:, :, None], JPEG_QUALITY, "GRAY"))
        else:
            encoded.append(
                simplejpeg.encode_jpeg(frame, JPEG_QUALITY, "RGB", colorsubsampling="422")
            )
    ds.PixelData = encapsulate([bytes(e) for e in encoded])
    ds["PixelData"].VR = "OB"
    if samples == 3:
        ds.PhotometricInterpretation = "YBR_FULL_422"
        ds.PlanarConfiguration = 0


def _mark_lossy(ds: Dataset, goal: UID) -> None:
    """Lossy Image Compression (0028,2110) "01", the method and the ratio, each appended to
    what earlier lossy steps recorded."""
    ds.LossyImageCompression = "01"
    methods = _values(ds.get("LossyImageCompressionMethod"))
    ds.LossyImageCompressionMethod = [*methods, LOSSY_METHODS[goal]]
    native = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1) or 1)
    native *= int(ds.get("NumberOfFrames", 1) or 1) * (int(ds.BitsAllocated) // 8 or 1)
    ratio = native / max(len(ds.PixelData), 1)
    ratios = _values(ds.get("LossyImageCompressionRatio"))
    ds.LossyImageCompressionRatio = [*ratios, round(ratio, 2)]


__all__ = ["PRODUCED", "transcode"]
