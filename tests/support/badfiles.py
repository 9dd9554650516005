"""Broken DICOM files, each made from a real one with one thing wrong, and the answer each must
get from the server: status and a fragment of the one-line reason."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import MPEG4HP41

from tests.support import corpus


@dataclass(frozen=True)
class BadFile:
    name: str
    status: int
    reason: str  # a fragment the reason must contain (lower case)
    data: bytes  # b"" and non-DICOM bytes can only be planted after a store indexed a file

    @property
    def object_uid(self) -> str:
        return corpus.derived_uid(self.name, "instance")

    @property
    def is_dicom(self) -> bool:
        return self.data[128:132] == b"DICM"


def _read(path: Path) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, force=True)


def _bytes(name: str, ds: pydicom.Dataset) -> bytes:
    ds = copy.deepcopy(ds)
    uid = corpus.derived_uid(name, "instance")
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.StudyInstanceUID = corpus.derived_uid(name, "study")
    ds.SeriesInstanceUID = corpus.derived_uid(name, "series")
    ds.PatientID = ds.get("PatientID") or "WADOFARM-TEST"
    out = pydicom.filebase.DicomBytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def ct() -> pydicom.Dataset:
    return _read(corpus.sample("CT_small.dcm").path)  # 128x128, 16-bit, 32768 bytes of pixels


def padded() -> bytes:
    """CT_small with 100 bytes of trailing padding: a well-formed image, rendered as the
    original (the padding is ignored)."""
    ds = ct()
    ds.PixelData = ds.PixelData + b"\0" * 100
    return _bytes("padded_pixel_data", ds)


def catalogue() -> list[BadFile]:
    ds = ct()
    short = copy.deepcopy(ds)
    short.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    long = copy.deepcopy(ds)
    long.PixelData = ds.PixelData * 3  # three frames' worth; the header says one
    missing_frames = copy.deepcopy(ds)
    missing_frames.NumberOfFrames = 4
    huge = copy.deepcopy(ds)
    huge.Rows, huge.Columns, huge.NumberOfFrames = 65535, 65535, 1000
    mpeg = copy.deepcopy(ds)
    mpeg.file_meta.TransferSyntaxUID = MPEG4HP41  # video: no pixel decoder exists for it
    mpeg.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x17" * 600])
    mpeg["PixelData"].VR = "OB"
    mpeg.set_original_encoding(False, True)
    truncated = _read(corpus.sample("MR_truncated.dcm").path)
    rle = _read(corpus.sample("MR_small_RLE.dcm").path)
    rle.Rows, rle.Columns = 16, 16  # the codestream holds 64x64: pylibjpeg-rle panics (Rust)
    raw = b"%PDF-1.4\n" + b"this is not a DICOM file\n" * 200
    return [
        BadFile("zero_length", 415, "empty", b""),
        BadFile("not_dicom", 415, "not a", raw),
        *(
            BadFile(name, status, reason, _bytes(name, spoiled))
            for name, status, reason, spoiled in (
                ("truncated_pixel_data", 415, "pixel data", truncated),
                ("short_pixel_data", 415, "less than expected", short),
                ("long_pixel_data", 415, "more than the", long),
                ("frames_missing", 415, "less than expected", missing_frames),
                ("mpeg4_transfer_syntax", 415, "transfer syntax", mpeg),
                ("rle_decoder_panic", 415, "cannot decode the pixel data (rle", rle),
                ("huge_header", 415, "--max-pixels", huge),
            )
        ),
    ]


def good() -> bytes:
    """A clean CT: the request after each bad one asks for this."""
    return _bytes("good_ct", ct())


GOOD_UID = corpus.derived_uid("good_ct", "instance")
PADDED_UID = corpus.derived_uid("padded_pixel_data", "instance")


def placeholder(bad: BadFile) -> bytes:
    """A valid file under the bad file's UIDs, for a store to index before it is spoiled."""
    return _bytes(bad.name, ct())
