"""The grayscale chain (PS3.4 N.2): presentation polarity, the whole chain at hand-computed
points, and the lookup-table path giving exactly the float path's output."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset

from renderer.decoding.stored import StoredFormat
from renderer.display.grayscale import (
    Grayscale,
    apply_grayscale,
    levels,
    lookup_table,
    modality_range,
)
from renderer.display.lut import Lut
from renderer.display.modality import Rescale
from renderer.display.presentation import apply_presentation, inverts
from renderer.formats import OutputFormat
from renderer.params import RenderParams, VoiFunction, Window
from renderer.pipeline import render
from tests.support import synthetic


@pytest.mark.parametrize(
    ("photometric", "shape", "inverted"),
    [
        ("MONOCHROME2", None, False),
        ("MONOCHROME1", None, True),  # minimum is white
        ("MONOCHROME2", "INVERSE", True),
        ("MONOCHROME1", "INVERSE", True),  # the IODs' way of saying MONOCHROME1: once, not twice
        ("MONOCHROME1", "IDENTITY", False),  # the shape states the polarity outright (as dcmtk)
        ("MONOCHROME2", "IDENTITY", False),
        ("MONOCHROME2", "inverse ", True),
    ],
)
def test_polarity(photometric: str, shape: str | None, inverted: bool) -> None:
    ds = Dataset()
    if shape is not None:
        ds.PresentationLUTShape = shape
    assert inverts(ds, photometric) is inverted


def test_inversion_mirrors_the_levels() -> None:
    out = apply_presentation(np.array([0.0, 63.75, 127.5, 255.0]), True)
    assert out.tolist() == [255.0, 191.25, 127.5, 0.0]


CT = Grayscale(StoredFormat(12, True), Rescale(2, -1024), Window(0, 101), invert=False)


@pytest.mark.parametrize(
    ("spec", "cell", "level"),
    [
        # 12-bit signed stored, slope 2 intercept -1024, window c=0 w=101 (ramp over (-50.5, 49.5])
        (CT, 512, 129),  # 0 HU: ((0+0.5)/100+0.5)*255 = 128.775 -> 129
        (CT, 487, 1),  # -50 HU: 0.6375 -> 1
        (CT, 486, 0),  # -52 HU
        (CT, 537, 255),  # 50 HU
        (CT, 0x1200, 129),  # bits above the 12 stored are dropped: 0x200 = 512
        (CT, 0x0E00, 0),  # 0xE00 is -512 in 12 bits: -2048 HU
        (Grayscale(CT.stored, CT.modality, CT.voi, True), 512, 126),  # 255 - 128.775
        (Grayscale(CT.stored, CT.modality, Window(0, 100, VoiFunction.SIGMOID), False), 512, 128),
    ],
)
def test_the_whole_chain_at_hand_computed_points(spec: Grayscale, cell: int, level: int) -> None:
    cells = np.array([cell], dtype=np.uint16)
    assert apply_grayscale(cells, spec).tolist() == [level]
    assert levels(cells, spec).tolist() == [level]


SPECS = [
    CT,
    Grayscale(StoredFormat(16, True), Rescale(), Window(40, 400, VoiFunction.LINEAR_EXACT), True),
    Grayscale(
        StoredFormat(8, False), Rescale(1.5, -7), Window(100, 50, VoiFunction.SIGMOID), False
    ),
    Grayscale(
        StoredFormat(10, False, low_bit=3),
        Lut(-5, 12, np.arange(0, 4096, 4, dtype=np.uint16).tobytes()),
        Lut(10, 8, (np.arange(600) % 256).astype(np.uint16).tobytes()),
        False,
    ),
]


@pytest.mark.parametrize("dtype", ["u1", "i1", "u2", "i2"])
@pytest.mark.parametrize("spec", SPECS, ids=range(len(SPECS)))
def test_the_table_path_equals_the_float_path_for_every_cell(spec: Grayscale, dtype: str) -> None:
    bits = 8 * np.dtype(dtype).itemsize
    every = np.arange(2**bits, dtype=f"u{bits // 8}").view(dtype)
    assert np.array_equal(apply_grayscale(every, spec), levels(every, spec))


WIDE = [
    Grayscale(StoredFormat(16, True), Rescale(1, -1024), Window(40, 400), False),
    Grayscale(StoredFormat(14, False, low_bit=2), Rescale(0.5, 3), Window(900, 1500), True),
    Grayscale(
        StoredFormat(16, False),
        Lut(-100, 12, np.arange(0, 4096, 2, dtype=np.uint16).tobytes()),
        Window(2000, 3000, VoiFunction.SIGMOID),
        False,
    ),
]


@pytest.mark.parametrize("spec", WIDE, ids=range(len(WIDE)))
def test_a_wide_spec_met_first_tabulates_the_frame_then_every_cell(spec: Grayscale) -> None:
    """Each step of a window drag over 16-bit values is a spec met for the first time: its
    table covers the frame's own cells. Met again, it is the whole cached table. Both give the
    float path's levels, garbage above the stored bits included."""
    dtype = np.dtype("i2" if spec.stored.signed else "u2")
    rng = np.random.default_rng(11)
    for step in range(3):
        moved = Grayscale(spec.stored, spec.modality, spec.voi, spec.invert)
        if isinstance(spec.voi, Window):
            moved = Grayscale(
                spec.stored, spec.modality, Window(spec.voi.center + step, spec.voi.width), False
            )
        low = rng.integers(-3000, 0) if spec.stored.signed else rng.integers(0, 3000)
        cells = rng.integers(low, low + 5000, size=(64, 48)).astype(dtype)
        if spec.stored.low_bit:
            cells = (cells.astype(np.int64) | 0x3).astype(dtype)  # bits below the value
        first = apply_grayscale(cells, moved)
        assert np.array_equal(first, levels(cells, moved))
        assert np.array_equal(apply_grayscale(cells[::-1], moved), levels(cells[::-1], moved))
        assert np.array_equal(lookup_table(moved, dtype)[cells.view("u2")], first)


def test_tables_are_cached_by_what_they_depend_on() -> None:
    first = lookup_table(CT, np.dtype("i2"))
    again = Grayscale(StoredFormat(12, True), Rescale(2, -1024), Window(0, 101), invert=False)
    assert lookup_table(again, np.dtype("i2")) is first
    assert lookup_table(again, np.dtype("u2")) is not first
    assert not first.flags.writeable


def test_wide_and_float_cells_take_the_float_path() -> None:
    spec = Grayscale(StoredFormat(32, True), Rescale(0.001, 0), Window(0, 1000), False)
    cells = np.array([-500_000, 0, 500_000, 2**31 - 1], dtype=np.int32)
    assert apply_grayscale(cells, spec).tolist() == [0, 128, 255, 255]
    floats = np.array([-0.5, 0.0, np.nan, 0.5])
    spec = Grayscale(
        StoredFormat(32, False), Rescale(), Window(0, 1, VoiFunction.LINEAR_EXACT), False
    )
    out = apply_grayscale(floats, spec)
    assert out[[0, 1, 3]].tolist() == [0, 128, 255]


SMALL_LUT = Lut(1, 8, np.array([50, 7, 60], np.uint16).tobytes())  # 0 clamps to 50, 2 is 7


@pytest.mark.parametrize(
    ("cells", "stored", "modality", "span"),
    [
        (np.array([3, 9, 5], np.uint16), StoredFormat(16, False), Rescale(2, -1), (5.0, 17.0)),
        (np.array([3, 9], np.uint16), StoredFormat(16, False), Rescale(-1, 0), (-9.0, -3.0)),
        (np.array([0xF003, 9], np.uint16), StoredFormat(12, False), Rescale(), (3.0, 9.0)),
        (np.array([0, 1, 2], np.int16), StoredFormat(16, True), SMALL_LUT, (7.0, 50.0)),
        (np.array([1.5, np.nan, -2.0]), StoredFormat(32, False), Rescale(), (-2.0, 1.5)),
    ],
)  # fmt: skip
def test_modality_range_for_the_minmax_window(
    cells: np.ndarray, stored: StoredFormat, modality: Rescale | Lut, span: tuple[float, float]
) -> None:
    assert modality_range(cells, stored, modality) == span


@pytest.mark.parametrize(
    ("keyword", "bits", "dtype"),
    [("FloatPixelData", 32, "<f4"), ("DoubleFloatPixelData", 64, "<f8")],
)
def test_float_pixel_data_renders_through_its_window_or_its_range(
    tmp_path: Path, keyword: str, bits: int, dtype: str
) -> None:
    """Float cells are modality values already (PS3.3 C.7.6.3.1.4): no rescale, then the VOI."""
    values = np.array([[-1.0, 0.0, 1.0, 3.0]])
    path = synthetic.write(
        tmp_path / "f.dcm",
        synthetic.one(np.zeros((1, 4), np.int64)),
        bits_allocated=8,
        bits_stored=8,
    )
    ds = pydicom.dcmread(path)
    del ds.PixelData, ds.BitsStored, ds.HighBit, ds.PixelRepresentation
    ds.BitsAllocated = bits
    setattr(ds, keyword, values.astype(dtype).tobytes())
    ds.save_as(path, enforce_file_format=True)
    # no window in the file: the frame's own range, whatever --default-window says
    assert _levels(path, RenderParams(output=OutputFormat.PNG)) == [0, 64, 128, 255]
    exact = Window(1.0, 4.0, VoiFunction.LINEAR_EXACT)  # (x-1)/4*255 + 127.5
    assert _levels(path, RenderParams(output=OutputFormat.PNG, window=exact)) == [0, 64, 128, 255]


def _levels(path: Path, params: RenderParams) -> list[int]:
    with Image.open(io.BytesIO(render(str(path), params).data)) as image:
        return np.asarray(image)[0].tolist()  # type: ignore[no-any-return]
