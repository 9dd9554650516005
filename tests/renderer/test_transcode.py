"""transferSyntax: the stored file written in another transfer syntax and decoded back by pydicom
-- lossless targets give the original pixels exactly, lossy ones within a stated PSNR (over the
image's own range); what cannot be produced is refused, naming the transfer syntax."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from renderer.errors import NotOffered
from renderer.formats import OutputFormat
from renderer.params import RenderParams
from renderer.pipeline import render
from tests.support import corpus, videos

LOSSLESS = [
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    RLELossless,
    JPEG2000Lossless,
    JPEGLSLossless,
]
# target -> least PSNR (dB, peak = the original's range) and most error per sample (or None)
LOSSY = {JPEG2000: (45.0, None), JPEGLSNearLossless: (40.0, 2)}
SOURCES = [
    "CT_small.dcm",  # 16-bit signed, native
    "MR_small_bigendian.dcm",  # 16-bit, big endian
    "US1_J2KR.dcm",  # RGB, JPEG 2000 lossless
    "JPEGBaseline_1s_1f_u_08_08.dcm",  # 8-bit gray, JPEG baseline
    "OBXXXX1A_rle_2frame.dcm",  # palette colour, RLE, two frames
]


def read(data: bytes | str) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data) if isinstance(data, bytes) else data)


def pixels(ds: pydicom.Dataset) -> np.ndarray:
    return ds.pixel_array.astype(np.float64)


def transcoded(name: str, target: str) -> tuple[pydicom.Dataset, pydicom.Dataset]:
    path = str(corpus.sample(name).path)
    result = render(path, RenderParams(output=OutputFormat.DICOM, transfer_syntax=str(target)))
    back = read(result.data)
    assert back.file_meta.TransferSyntaxUID == target
    return read(path), back


def psnr_over_range(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    peak = float(a.max() - a.min()) or 1.0
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


@pytest.mark.parametrize("target", LOSSLESS, ids=lambda t: t.name)
@pytest.mark.parametrize("name", SOURCES)
def test_lossless_targets_keep_every_pixel(name: str, target: str) -> None:
    original, back = transcoded(name, target)
    assert (pixels(back) == pixels(original)).all()
    assert back.SOPInstanceUID == original.SOPInstanceUID
    assert "LossyImageCompression" not in back or back.LossyImageCompression == original.get(
        "LossyImageCompression"
    )


@pytest.mark.parametrize("target", list(LOSSY), ids=lambda t: t.name)
@pytest.mark.parametrize("name", SOURCES[:4])
def test_lossy_targets_stay_within_their_psnr(name: str, target: str) -> None:
    original, back = transcoded(name, target)
    least, most = LOSSY[target]
    a, b = pixels(original), pixels(back)
    assert psnr_over_range(a, b) > least
    if most is not None:
        assert np.abs(a - b).max() <= most
    assert back.LossyImageCompression == "01"
    methods = back.LossyImageCompressionMethod
    last = methods if isinstance(methods, str) else methods[-1]
    assert last == ("ISO_15444_1" if target == JPEG2000 else "ISO_14495_1")


@pytest.mark.parametrize("name", ["JPEGBaseline_1s_1f_u_08_08.dcm", "US1_J2KR.dcm"])
def test_jpeg_baseline_of_8_bit_images(name: str) -> None:
    original, back = transcoded(name, JPEGBaseline8Bit)
    assert psnr_over_range(pixels(original), pixels(back)) > 30
    assert back.LossyImageCompression == "01"
    if original.SamplesPerPixel == 3:
        assert back.PhotometricInterpretation == "YBR_FULL_422"


@pytest.mark.parametrize(
    ("name", "target", "reason"),
    [
        ("CT_small.dcm", JPEGBaseline8Bit, "unsigned 8-bit samples; this image has 16"),
        ("CT_small.dcm", "1.2.840.10008.1.2.4.100", "cannot produce transfer syntax"),
        ("CT_small.dcm", "1.2.3.4", "not a transfer syntax"),
        ("OBXXXX1A_rle_2frame.dcm", JPEGBaseline8Bit, "PALETTE COLOR"),
    ],
)
def test_what_cannot_be_produced_is_refused_by_name(name: str, target: str, reason: str) -> None:
    path = str(corpus.sample(name).path)
    with pytest.raises(NotOffered, match=reason) as refused:
        render(path, RenderParams(output=OutputFormat.DICOM, transfer_syntax=target))
    assert target in str(refused.value)


def test_the_same_transfer_syntax_is_the_file_itself() -> None:
    data = corpus.sample("CT_small.dcm").path.read_bytes()
    result = render(
        data, RenderParams(output=OutputFormat.DICOM, transfer_syntax=ExplicitVRLittleEndian)
    )
    assert result.data == data


def test_a_video_is_not_re_encoded() -> None:
    ds = videos.dataset("mpeg2")
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    with pytest.raises(NotOffered, match="video is not re-encoded"):
        render(out.getvalue(), RenderParams(output=OutputFormat.DICOM, transfer_syntax=RLELossless))


def test_an_object_without_pixels_changes_encoding_only() -> None:
    path = str(corpus.pydicom_dir() / "test-SR.dcm")
    result = render(
        path, RenderParams(output=OutputFormat.DICOM, transfer_syntax=ImplicitVRLittleEndian)
    )
    back = read(result.data)
    assert back.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert back.ContentSequence == read(path).ContentSequence
