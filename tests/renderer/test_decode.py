"""Reading the header and one frame's cells: 1-bit frames that start mid-byte, the pixel aspect
from the header, and refusals that name their cause."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset

from renderer.decoding.decode import decode_frame, image_info, pixel_aspect, read_dataset
from renderer.errors import UnsupportedImage
from tests.support import corpus, synthetic


def test_one_bit_frames_unpack_even_when_they_start_mid_byte(tmp_path: Path) -> None:
    frames = (np.random.default_rng(3).random((3, 5, 7)) > 0.5).astype(np.int64)  # 35 bits each
    path = synthetic.write(tmp_path / "bits.dcm", frames, bits_allocated=1, bits_stored=1)
    ds = read_dataset(str(path))
    info = image_info(ds, 10**6)
    for index in range(3):
        cells, photometric = decode_frame(ds, info, index)
        assert photometric == "MONOCHROME2"
        assert np.array_equal(cells, frames[index])


def test_cells_come_back_raw_for_the_stored_stage(tmp_path: Path) -> None:
    cells = synthetic.ramp(0, 1023) << 4 | 0xC00F  # High Bit 13 of 16, garbage around it
    path = synthetic.write(
        tmp_path / "hb.dcm", synthetic.one(cells), bits_allocated=16, bits_stored=10, high_bit=13
    )
    ds = read_dataset(str(path))
    info = image_info(ds, 10**6)
    decoded, _ = decode_frame(ds, info, 0)
    assert np.array_equal(
        decoded, cells
    )  # not shifted, not masked: renderer.decoding.stored does that
    assert (info.stored.bits_stored, info.stored.low_bit) == (10, 4)


def test_codec_output_is_read_from_bit_0_whatever_high_bit_says() -> None:
    ds = read_dataset(str(corpus.sample("JPGExtended.dcm").path))
    ds.HighBit = 15  # lie: JPEG decoders give the 12-bit values at bit 0 anyway
    assert image_info(ds, 10**7).stored.low_bit == 0


def _spacing(**attributes: object) -> Dataset:
    ds = Dataset()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def _shared_spacing(value: list[float]) -> Dataset:
    ds, group, measures = Dataset(), Dataset(), Dataset()
    measures.PixelSpacing = value
    group.PixelMeasuresSequence = [measures]
    ds.SharedFunctionalGroupsSequence = [group]
    return ds


@pytest.mark.parametrize(
    ("ds", "aspect"),
    [
        (_spacing(), 1.0),
        (_spacing(PixelSpacing=[0.5, 1.0]), 0.5),  # row spacing (vertical) first
        (_spacing(PixelSpacing=[0.0, 0.0], PixelAspectRatio=[4, 3]), 4 / 3),  # 0\0 is no spacing
        (_spacing(PixelSpacing=[0.3, 0.3], PixelAspectRatio=[4, 3]), 1.0),  # spacing wins
        (_spacing(ImagerPixelSpacing=[0.2, 0.1]), 2.0),
        (_spacing(NominalScannedPixelSpacing=[1, 2]), 0.5),
        (_spacing(PixelAspectRatio=[1000, 1]), 1.0),  # beyond 1:100: an error, ignored
        (_shared_spacing([2.0, 1.0]), 2.0),
    ],
)
def test_pixel_aspect_from_the_header(ds: Dataset, aspect: float) -> None:
    assert pixel_aspect(ds) == pytest.approx(aspect)


@pytest.mark.parametrize("frames", ["1e308", "2147483648"])
def test_a_frame_count_past_what_is_can_hold_is_refused_naming_it(frames: str) -> None:
    """Found by the renderer fuzz: "1e308" read as an int reached the worker's reply header,
    which could not hold it, and the worker died."""
    ds = read_dataset(str(corpus.sample("CT_small.dcm").path))
    ds.NumberOfFrames = frames
    with pytest.raises(UnsupportedImage, match=r"\(0028,0008\) Number of Frames"):
        image_info(ds, 10**8)
