"""Crop and fit arithmetic, and the resize."""

from __future__ import annotations

import numpy as np
import pytest

from renderer.geometry import crop_box, fit, resize
from renderer.params import Region


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


def test_enlarging_is_smooth_and_exact_on_flat_areas() -> None:
    flat = np.full((10, 10, 3), 77, np.uint8)
    assert np.all(resize(flat, 25, 25) == 77)
