"""The DICOMweb viewport: a source rectangle in pixels, flips, and the fit into vw x vh."""

from __future__ import annotations

import numpy as np
import pytest

from renderer.errors import RegionOutOfRange
from renderer.formats import OutputFormat
from renderer.output.layout import layout, pixel_crop
from renderer.params import PixelRegion, RenderParams
from renderer.pipeline import render
from tests.support import corpus
from tests.support.images import decode

MR = "MR2_UNCR.dcm"  # 1024x1024


def png(**kwargs: object) -> np.ndarray:
    path = str(corpus.sample(MR).path)
    return decode(render(path, RenderParams(output=OutputFormat.PNG, **kwargs)).data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        (PixelRegion(0, 0, None, None), (0, 0, 100, 80)),
        (PixelRegion(10, 20, 30, 40), (10, 20, 40, 60)),
        (PixelRegion(10, 20, -30, -40), (10, 20, 40, 60)),
        (PixelRegion(90, 70, 50, 50), (90, 70, 100, 80)),  # clipped to the image
    ],
)
def test_source_crop(box: PixelRegion, expected: tuple[int, int, int, int]) -> None:
    assert pixel_crop(80, 100, box) == expected


@pytest.mark.parametrize("box", [PixelRegion(100, 0), PixelRegion(0, 80), PixelRegion(0, 0, 0, 5)])
def test_source_outside_the_image_is_refused(box: PixelRegion) -> None:
    with pytest.raises(RegionOutOfRange):
        pixel_crop(80, 100, box)


def test_layout_fits_the_viewport_keeping_the_aspect() -> None:
    params = RenderParams(rows=50, columns=200, pixel_region=PixelRegion(0, 0, 40, 20))
    plan = layout(80, 100, params)
    assert (plan.width, plan.height) == (100, 50)


def test_source_rectangle_is_the_crop_of_the_full_render() -> None:
    full = png()
    part = png(pixel_region=PixelRegion(256, 512, 300, 200))
    assert np.array_equal(part, full[512:712, 256:556])


@pytest.mark.parametrize(("width", "height"), [(-300, 200), (300, -200), (-300, -200)])
def test_negative_sides_flip(width: int, height: int) -> None:
    plain = png(pixel_region=PixelRegion(256, 512, 300, 200))
    flipped = png(pixel_region=PixelRegion(256, 512, width, height))
    expected = plain[:, ::-1] if width < 0 else plain
    expected = expected[::-1] if height < 0 else expected
    assert np.array_equal(flipped, expected)
