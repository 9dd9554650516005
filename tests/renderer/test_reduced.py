"""Reduced-resolution decodes for thumbnails (JPEG 2000 resolution levels, JPEG DCT scaling):
the values keep their sign and bit depth, match the area mean of the full decode on smooth
content, and anything the codec cannot reduce falls back to the full decode."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
import simplejpeg
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGBaseline8Bit

from renderer.decoding.decode import image_info, read_dataset
from renderer.decoding.reduced import decomposition_levels, levels, reduced_frame
from renderer.formats import OutputFormat
from renderer.params import RenderParams, Window
from renderer.pipeline import render
from tests.support import corpus

SIZE = 128


def smooth(lo: int, hi: int) -> np.ndarray:
    """A gentle 2-D ramp over the whole range: no edges for the wavelet to ring on."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    return lo + (hi - lo) * (0.5 + 0.25 * np.sin(3 * x) + 0.25 * np.cos(2 * y) * x)


def dataset(values: np.ndarray, bits: int, signed: bool) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = pydicom.uid.SecondaryCaptureImageStorage
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.Rows, ds.Columns = values.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16 if bits > 8 else 8
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = int(signed)
    ds.PixelData = values.tobytes()
    return ds


def to_bytes(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def j2k(bits: int, signed: bool) -> tuple[bytes, np.ndarray]:
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    values = np.rint(smooth(lo, hi)).astype(np.int16 if signed else np.uint16)
    ds = dataset(values, bits, signed)
    ds.compress(JPEG2000Lossless, values, generate_instance_uid=False)
    return to_bytes(ds), values


def jpeg8() -> tuple[bytes, np.ndarray]:
    values = np.rint(smooth(0, 255)).astype(np.uint8)
    ds = dataset(values, 8, False)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([bytes(simplejpeg.encode_jpeg(values[:, :, None], 95, "GRAY"))])
    ds["PixelData"].VR = "OB"
    return to_bytes(ds), values


def area_mean(values: np.ndarray, factor: int) -> np.ndarray:
    n = SIZE // factor
    return values.astype(np.float64).reshape(n, factor, n, factor).mean(axis=(1, 3))


def test_levels_keep_the_frame_at_least_the_output_size() -> None:
    assert levels(512, 512, 128, 128) == 2
    assert levels(512, 512, 129, 100) == 1
    assert levels(512, 300, 64, 64) == 2  # 300 -> 150 -> 75, not 38
    assert levels(100, 100, 100, 100) == 0


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("bits", [10, 12, 16])
def test_jpeg2000_levels_keep_sign_and_bit_depth(bits: int, signed: bool) -> None:
    data, values = j2k(bits, signed)
    ds = read_dataset(data)
    small = reduced_frame(ds.PixelData, image_info(ds, 10**8), 0, 32, 32)
    assert small is not None and small.shape == (32, 32)
    assert small.dtype == (np.int16 if signed else np.uint16)
    span = float(values.max()) - float(values.min())
    # The wavelet's low band follows the area mean on smooth content, within its filter's
    # reach (it is centred on a block's first pixel, not its middle); a wrong offset or bit
    # shift would be off by half the range or more.
    assert np.abs(small - area_mean(values, 4)).max() <= 0.05 * span


def test_jpeg_baseline_scales_in_the_dct() -> None:
    data, values = jpeg8()
    ds = read_dataset(data)
    small = reduced_frame(ds.PixelData, image_info(ds, 10**8), 0, 32, 32)
    assert small is not None and small.shape == (32, 32) and small.dtype == np.uint8
    assert np.abs(small - area_mean(values, 4)).max() <= 3


def decoded(result_data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(result_data)) as image:
        return np.asarray(image).astype(np.float64)


@pytest.mark.parametrize("codec", ["j2k", "jpeg"])
def test_a_reduced_thumbnail_looks_like_the_full_one(codec: str) -> None:
    data = j2k(12, True)[0] if codec == "j2k" else jpeg8()[0]
    thumb = decoded(render(data, RenderParams(rows=32, columns=32)).data)
    full = decoded(render(data, RenderParams()).data)
    assert thumb.shape == (32, 32)
    assert np.abs(thumb - area_mean(full, 4)).mean() <= 2.0


@pytest.mark.parametrize("codec", ["j2k", "jpeg"])
def test_exact_thumbnails_are_the_area_mean_of_the_full_render(codec: str) -> None:
    """--exact-thumbnails (reduced_decode=False): the thumbnail is the full render shrunk, within
    one level, even where a narrow window clips; the reduced decode is not (it low-passes
    before the window), which is why the switch exists."""
    data, values = j2k(12, True) if codec == "j2k" else jpeg8()
    mid = float(np.median(values))
    span = float(values.max()) - float(values.min())
    window = Window(mid, span / 8)  # clips most of the ramp: blocks straddle both ends
    png = OutputFormat.PNG  # lossless output: compare pixels, not JPEG artefacts

    def shown(reduced: bool, side: int | None) -> np.ndarray:
        params = RenderParams(
            output=png, window=window, rows=side, columns=side, reduced_decode=reduced
        )
        return decoded(render(data, params).data)

    full = area_mean(shown(False, None), 4)
    assert np.abs(shown(False, 32) - full).max() <= 1
    assert np.abs(shown(True, 32) - full).max() > 1


def test_what_cannot_be_reduced_is_decoded_in_full() -> None:
    data, values = j2k(12, False)
    ds = read_dataset(data)
    info = image_info(ds, 10**8)
    assert reduced_frame(ds.PixelData, info, 0, 100, 100) is None  # less than a 2x shrink
    assert reduced_frame(ds.PixelData, info, 1, 32, 32) is None  # no such frame
    native = read_dataset(to_bytes(dataset(values, 12, False)))
    assert reduced_frame(native.PixelData, image_info(native, 10**8), 0, 32, 32) is None
    cropped = render(data, RenderParams(rows=16, columns=16, region=None))
    assert (cropped.width, cropped.height) == (16, 16)


def test_jpeg_baseline_full_size_goes_to_libjpeg_turbo_directly() -> None:
    data = jpeg8()[0]
    ds = read_dataset(data)
    cells = reduced_frame(ds.PixelData, image_info(ds, 10**8), 0, SIZE, SIZE)
    assert cells is not None and cells.shape == (SIZE, SIZE) and cells.dtype == np.uint8
    reference = pydicom.dcmread(io.BytesIO(data)).pixel_array  # pydicom's own plugins
    assert np.abs(cells.astype(int) - reference).max() <= 1  # IDCT rounding only


def test_the_codestream_says_how_far_it_reduces() -> None:
    """COD's decomposition levels bound the reductions: asking Pillow for more fails."""
    stream, _ = j2k(12, False)
    coded = pydicom.dcmread(io.BytesIO(stream))
    codestream = pydicom.encaps.get_frame(coded.PixelData, 0, number_of_frames=1)
    assert decomposition_levels(codestream) == 5  # openjpeg's default
    assert decomposition_levels(codestream[:40]) == 0  # no COD in reach


def test_a_stream_that_reduces_only_one_level_still_takes_the_reduced_path() -> None:
    """RG1_J2KR (Kakadu 2.2) is 'broken' to openjpeg past one reduction: a 128-px thumbnail
    decodes at half size (978x921) rather than in full (1955x1841, ~4x the time)."""
    ds = read_dataset(str(corpus.sample("RG1_J2KR.dcm").path))
    info = image_info(ds, 10**8)
    cells = reduced_frame(ds.PixelData, info, 0, SIZE, SIZE)
    assert cells is not None and cells.shape == (978, 921)
    full = ds.pixel_array.astype(np.float64)
    halves = full[:1954, :1840].reshape(977, 2, 920, 2).mean(axis=(1, 3))
    # The wavelet's low-pass is not a box mean: on this noisy CR they differ by ~0.3% of the range.
    error = np.abs(cells[:977, :920].astype(np.float64) - halves).mean()
    assert error < 0.005 * (1 << info.bits_stored)
