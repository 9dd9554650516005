"""DICOM lookup tables (PS3.3 C.11.1.1, C.11.2.1.1): the descriptor, the entries in their several
encodings, clamping below the first mapped value and past the last entry; and the Modality LUT
stage that uses them."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from renderer.display.lut import Lut, apply_lut, descriptor, entries, lut_from_item
from renderer.display.modality import Rescale, apply_modality, modality_for_frame, rescale_for_frame
from renderer.errors import UnsupportedImage

TABLE = Lut(first=-2, bits=16, data=np.array([10, 20, 30, 40], np.uint16).tobytes())


@pytest.mark.parametrize(
    ("x", "entry"),
    [(-1000, 10), (-3, 10), (-2, 10), (-1, 20), (0, 30), (1, 40), (2, 40), (65535, 40)],
)
def test_inputs_clamp_to_the_first_and_the_last_entry(x: int, entry: int) -> None:
    assert apply_lut(np.array([x], dtype=np.int64), TABLE).tolist() == [entry]


@pytest.mark.parametrize("dtype", ["i2", "u2", "i1", "u1"])
def test_narrow_inputs_do_not_wrap_round_when_offset(dtype: str) -> None:
    lut = Lut(first=-2048, bits=16, data=np.array([1, 2, 3], np.uint16).tobytes())
    top = np.iinfo(dtype).max  # top + 2048 does not fit the input's own type
    assert apply_lut(np.array([top], dtype=dtype), lut).tolist() == [3]


def test_fractional_inputs_take_the_entry_at_or_below() -> None:
    assert apply_lut(np.array([-1.5, 0.99]), TABLE).tolist() == [10, 30]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([4, -2, 16], (4, -2, 16)),
        ([0, 0, 16], (65536, 0, 16)),
        ([256, 10, 8], (256, 10, 8)),
        ([-32768, 0, 16], (32768, 0, 16)),  # 32768 entries, read as SS
    ],
)
def test_descriptor_zero_entries_means_65536(value: list[int], expected: tuple[int, ...]) -> None:
    assert descriptor(value, "test") == expected


@pytest.mark.parametrize("value", [[4, 0], [4, 0, 0], [4, 0, 17], "junk", None])
def test_bad_descriptors_are_refused_with_the_attribute_named(value: object) -> None:
    with pytest.raises(UnsupportedImage, match="test"):
        descriptor(value, "test")


@pytest.mark.parametrize(
    ("data", "count", "bits", "little_endian", "expected"),
    [
        ([1, 2, 3], 3, 16, True, [1, 2, 3]),  # US values, parsed
        (7, 1, 16, True, [7]),  # a single US value
        (b"\x01\x00\x02\x01", 2, 16, True, [1, 258]),  # OW bytes, little endian
        (b"\x00\x01\x01\x02", 2, 16, False, [1, 258]),  # OW bytes, big endian
        (b"\x01\x02\x03\x04", 4, 8, True, [1, 2, 3, 4]),  # 8-bit entries packed in OW
        ([0x0201, 0x0403], 4, 8, True, [1, 2, 3, 4]),  # ... or in US words
        ([0x0201, 0x0003], 3, 8, True, [1, 2, 3]),  # odd count: the pad byte is dropped
    ],
)
def test_entries_in_every_encoding(
    data: object, count: int, bits: int, little_endian: bool, expected: list[int]
) -> None:
    assert entries(data, count, bits, little_endian).tolist() == expected


def _item(desc: list[int], data: list[int], vr: str = "US") -> Dataset:
    item = Dataset()
    item.add_new(0x00283002, vr, desc)
    item.add_new(0x00283006, "US", data)
    return item


def test_a_lut_item_with_a_signed_first_value_written_as_us() -> None:
    lut = lut_from_item(
        _item([3, 65534, 12], [0, 5, 9]), signed_input=True, little_endian=True, name="t"
    )
    assert (lut.first, lut.bits, lut.table.tolist()) == (-2, 12, [0, 5, 9])


def test_entries_wider_than_declared_widen_the_range() -> None:
    lut = lut_from_item(
        _item([2, 0, 8], [0, 1000]), signed_input=False, little_endian=True, name="t"
    )
    assert lut.bits == 10


def test_a_lut_shorter_than_its_descriptor_is_refused() -> None:
    with pytest.raises(UnsupportedImage, match="2 entries, the descriptor says 3"):
        lut_from_item(_item([3, 0, 16], [0, 1]), signed_input=False, little_endian=True, name="t")


def test_modality_lut_sequence_maps_stored_values_and_wins_over_a_rescale() -> None:
    ds = Dataset()
    ds.RescaleSlope, ds.RescaleIntercept = 2, -5  # not both allowed (C.11.1): the table wins
    ds.ModalityLUTSequence = [_item([4, 65535, 16], [100, 200, 300, 400], "US")]
    modality = modality_for_frame(ds, 0, signed=True)
    assert isinstance(modality, Lut) and modality.first == -1
    out = apply_modality(np.array([-9, -1, 0, 2, 3, 900]), modality)
    assert out.tolist() == [100, 100, 200, 400, 400, 400]


@pytest.mark.parametrize(
    ("slope", "intercept", "x", "y"),
    [(1, -1024, 1024, 0.0), (2.5, 10, -4, 0.0), (0.001, 0, 1_234_567, 1234.567), (1, 0, 7, 7.0)],
)
def test_rescale(slope: float, intercept: float, x: int, y: float) -> None:
    out = apply_modality(np.array([x]), Rescale(slope, intercept))
    assert out.tolist() == [pytest.approx(y)]


def _pvt(slope: float, intercept: float) -> Dataset:
    group, item = Dataset(), Dataset()
    item.RescaleSlope, item.RescaleIntercept = slope, intercept
    group.PixelValueTransformationSequence = [item]
    return group


def test_enhanced_rescale_per_frame_then_shared_then_top_level() -> None:
    ds = Dataset()
    ds.RescaleSlope, ds.RescaleIntercept = 1, 1
    ds.SharedFunctionalGroupsSequence = [_pvt(1, 2)]
    ds.PerFrameFunctionalGroupsSequence = [Dataset(), _pvt(1, 3)]
    assert rescale_for_frame(ds, 1) == Rescale(1, 3)
    assert rescale_for_frame(ds, 0) == Rescale(1, 2)
    del ds.SharedFunctionalGroupsSequence
    assert rescale_for_frame(ds, 0) == Rescale(1, 1)
    assert rescale_for_frame(Dataset(), 0) == Rescale()


def test_a_zero_slope_is_ignored() -> None:
    ds = Dataset()
    ds.RescaleSlope, ds.RescaleIntercept = 0, 5
    assert rescale_for_frame(ds, 0) == Rescale()
