"""Crop and fit arithmetic (with non-square pixels), and the resize: area means, no aliasing."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from renderer.formats import OutputFormat
from renderer.output.geometry import resize
from renderer.output.layout import crop_box, fit
from renderer.params import Region, RenderParams
from renderer.pipeline import render
from tests.support import corpus, synthetic


@pytest.mark.parametrize(
    ("size", "box", "expected"),
    [
        ((512, 512), (128, 128), (128, 128)),
        ((640, 480), (128, 128), (128, 96)),
        ((640, 480), (None, 96), (128, 96)),
        ((640, 480), (1280, None), (1280, 960)),
        ((3, 3), (100, 50), (50, 50)),
        ((1000, 1), (10, 10), (10, 1)),
        ((640, 480), (None, None), (640, 480)),
    ],
)
def test_fit_keeps_the_aspect_ratio_inside_the_box(size, box, expected) -> None:  # type: ignore[no-untyped-def]
    assert fit(*size, *box) == expected


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        (None, (0, 0, 100, 50)),
        (Region(0, 0, 0.5, 0.5), (0, 0, 50, 25)),
        (Region(0.333, 0.1, 0.334, 0.11), (33, 5, 34, 6)),  # at least one pixel
        (Region(0.999, 0.999, 1, 1), (99, 49, 100, 50)),
    ],
)
def test_crop_box_covers_the_region(region, expected) -> None:  # type: ignore[no-untyped-def]
    assert crop_box(50, 100, region) == expected


def test_shrinking_averages_areas_so_a_checkerboard_turns_grey() -> None:
    board = (np.indices((256, 256)).sum(axis=0) % 2 * 255).astype(np.uint8)
    small = resize(board, 64, 64)
    assert np.abs(small.astype(int) - 127.5).max() <= 1


@pytest.mark.parametrize(
    ("shape", "size"),
    [((512, 512), (128, 128)), ((96, 64, 3), (16, 48)), ((60, 90), (30, 20)), ((70, 35), (7, 10))],
)
def test_whole_factor_shrinks_are_block_means(shape, size) -> None:  # type: ignore[no-untyped-def]
    """Exact (rounded half up) for powers of two; other factors within the rounding step."""
    image = np.random.default_rng(7).integers(0, 256, shape, dtype=np.uint8)
    width, height = size
    fy, fx = shape[0] // height, shape[1] // width
    blocks = image.reshape(height, fy, width, fx, *shape[2:]).astype(np.int64).sum(axis=(1, 3))
    small = resize(image, width, height)
    assert small.shape == (height, width, *shape[2:])
    if (fx * fy) & (fx * fy - 1) == 0:
        assert np.array_equal(small, (blocks * 2 + fx * fy) // (2 * fx * fy))
    else:
        assert np.abs(small - blocks / (fx * fy)).max() < 0.6


def test_enlarging_is_smooth_and_exact_on_flat_areas() -> None:
    flat = np.full((10, 10, 3), 77, np.uint8)
    assert np.all(resize(flat, 25, 25) == 77)


@pytest.mark.parametrize(
    ("size", "box", "aspect", "expected"),
    [
        ((64, 48), (32, None), 0.5, (32, 12)),  # pixels half as tall: shown 64x24
        ((100, 100), (None, 50), 2.0, (25, 50)),  # pixels twice as tall: shown 100x200
        ((100, 100), (50, None), 2.0, (50, 100)),
        ((100, 100), (50, 50), 2.0, (25, 50)),
        ((100, 100), (None, None), 2.0, (100, 100)),  # no box: the stored grid, as in WADO
        ((640, 480), (128, 128), 1.0, (128, 96)),
    ],
)
def test_fit_shows_non_square_pixels_in_their_proportions(size, box, aspect, expected) -> None:  # type: ignore[no-untyped-def]
    assert fit(*size, *box, aspect=aspect) == expected


def _png(path: Path, **params: object) -> np.ndarray:
    result = render(str(path), RenderParams(output=OutputFormat.PNG, **params))  # type: ignore[arg-type]
    with Image.open(io.BytesIO(result.data)) as image:
        return np.asarray(image).astype(np.float64)


@pytest.mark.parametrize(
    ("name", "factor"),
    [
        ("693_UNCI.dcm", 8),  # CT 512x512 -> 64
        ("US1_UNCR.dcm", 4),  # RGB 640x480 -> 160x120
        ("OBXXXX1A_rle_2frame.dcm", 4),  # palette 800x600 -> 200x150
        ("RG1_UNCI.dcm", 5),  # MONOCHROME1 1841x1955: 1841 is not a multiple; crop to 1840x1955
    ],
)
def test_a_thumbnail_is_the_area_mean_of_the_full_render(name: str, factor: int) -> None:
    path = corpus.sample(name).path
    full = _png(path)
    rows, columns = full.shape[0] // factor, full.shape[1] // factor
    if (rows * factor, columns * factor) != full.shape[:2]:  # a region that divides evenly
        region = Region(0, 0, columns * factor / full.shape[1], rows * factor / full.shape[0])
        full = full[: rows * factor, : columns * factor]
        thumb = _png(path, region=region, columns=columns)
    else:
        thumb = _png(path, columns=columns)
    shape = (rows, factor, columns, factor, *full.shape[2:])
    mean = full.reshape(shape).mean(axis=(1, 3))
    assert thumb.shape == mean.shape
    assert np.abs(thumb - mean).max() <= 1.0


def test_a_dicom_checkerboard_shrunk_4x_is_flat_grey(tmp_path: Path) -> None:
    board = np.indices((64, 96)).sum(axis=0) % 2 * 4095
    path = synthetic.write(
        tmp_path / "board.dcm",
        synthetic.one(board),
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=4096,
    )
    small = _png(path, rows=16)
    assert small.shape == (16, 24)
    assert np.abs(small - 127.5).max() <= 1


def test_non_square_pixels_shrink_by_area_on_each_axis(tmp_path: Path) -> None:
    path = synthetic.non_square_pixels(tmp_path / "tall.dcm")  # 64x48, pixels half as tall
    full = _png(path)
    thumb = _png(path, columns=32)  # shown 64x24: 2x across, 4x down
    assert thumb.shape == (12, 32)
    mean = full.reshape(12, 4, 32, 2).mean(axis=(1, 3))
    assert np.abs(thumb - mean).max() <= 1.0
