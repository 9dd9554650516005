"""Overlay planes (renderer/display/overlay.py) against dcmtk's dcm2pnm, which burns them in by
default: every synthetic overlay case (tests/support/overlays.py) and every frame of the multi-frame
one must match to 45 dB at native size, as the rest of the pipeline (test_oracle.py, which covers
the corpus's examples_overlay.dcm with overlays on both sides). Pixel expectations pin what a PSNR
could blur: the set bits are exactly 255, the plane is clipped at the image's edges, ROI
surroundings are dimmed, overlays off gives the plain image, colour images get white marks."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from renderer.formats import OutputFormat
from renderer.params import RenderParams
from renderer.pipeline import render
from tests.renderer.test_oracle import MIN_PSNR, stored_args
from tests.support import corpus, overlays, synthetic
from tests.support.images import psnr
from tests.support.oracle import dcmtk_render, header

PNG = RenderParams(output=OutputFormat.PNG)
OFF = dataclasses.replace(PNG, overlays=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("overlays")
    return {name: build(folder / f"{name}.dcm") for name, build in overlays.CASES.items()}


def ours(path: Path, params: RenderParams = PNG) -> np.ndarray:
    with Image.open(io.BytesIO(render(str(path), params).data)) as image:
        return np.asarray(image)


CASES = [
    (name, frame) for name in overlays.CASES for frame in range(overlays.FRAME_COUNTS.get(name, 1))
]


@pytest.mark.parametrize(("name", "frame"), CASES, ids=[f"{n}[frame{f + 1}]" for n, f in CASES])
def test_matches_dcm2pnm(name: str, frame: int, files: dict[str, Path], tmp_path: Path) -> None:
    path = files[name]
    theirs = dcmtk_render(path, tmp_path, frame, stored_args(header(path), frame))
    assert theirs.image is not None, theirs.error
    image = ours(path, dataclasses.replace(PNG, frame=frame))
    assert image.shape == theirs.image.shape
    assert psnr(image, theirs.image) >= MIN_PSNR, theirs.route
    # The overlay itself must be there: dcmtk's white pixels that the plain image lacks are
    # white in ours too (a PSNR alone would forgive a missing thin line).
    plain = dcmtk_render(path, tmp_path / "plain", frame, stored_args(header(path), frame), False)
    assert plain.image is not None
    drawn = (theirs.image == 255) & (plain.image != 255)
    assert np.array_equal(image[drawn], theirs.image[drawn])


def test_the_corpus_overlay_is_drawn(tmp_path: Path) -> None:
    """examples_overlay.dcm (MR, Siemens MedCom graphics in group 6000): the bits set in its
    Overlay Data are exactly the pixels that turn white."""
    sample = corpus.sample("examples_overlay.dcm")  # missing: an error, not a skip
    ds = pydicom.dcmread(sample.path)
    bits = ds.overlay_array(0x6000).astype(bool)  # pydicom's own unpacking: a third reader
    with_overlay, without = ours(sample.path), ours(sample.path, OFF)
    assert bits.any()
    assert (with_overlay[bits] == 255).all()
    assert np.array_equal(with_overlay[~bits], without[~bits])


def test_overlays_off_is_the_plain_image(files: dict[str, Path], tmp_path: Path) -> None:
    path = files["overlay_graphic"]
    theirs = dcmtk_render(path, tmp_path, 0, ("+Wi", "1"), overlays=False)
    assert theirs.image is not None
    assert psnr(ours(path, OFF), theirs.image) >= MIN_PSNR
    assert not np.array_equal(ours(path, OFF), ours(path))


def test_plane_is_placed_at_its_origin_and_clipped(files: dict[str, Path]) -> None:
    """Group 6002 of overlay_graphic is 20x30 at row 39, column 50 (1-based) of a 48x64 image:
    its bits land at [38:48, 49:64], the part past the edges is dropped."""
    path = files["overlay_graphic"]
    plain, drawn = ours(path, OFF), ours(path)
    whole = overlays.shapes(synthetic.ROWS, synthetic.COLUMNS)
    corner = overlays.shapes(20, 30, seed=1)[:10, :15]
    expected = whole.copy()
    expected[38:48, 49:64] |= corner
    assert np.array_equal(drawn == 255, expected | (plain == 255))
    assert np.array_equal(drawn[~expected], plain[~expected])


def test_roi_dims_its_surroundings(files: dict[str, Path]) -> None:
    """The ROI plane (30x40 at 5,10; the region rows 5..24, columns 8..29 of it): inside the
    plane's rectangle but outside the region, pixels are shifted right by 4 bits (dcmtk's
    'Region of Interest' mode); inside the region and outside the rectangle they are kept."""
    path = files["overlay_roi"]
    plain = ours(path, OFF)
    graphic = overlays.shapes(synthetic.ROWS, synthetic.COLUMNS, seed=3)
    image = ours(path)
    rect = np.zeros(plain.shape, bool)
    rect[4:34, 9:49] = True
    region = np.zeros(plain.shape, bool)
    region[9:29, 17:39] = True
    dimmed = rect & ~region & ~graphic
    assert np.array_equal(image[dimmed], plain[dimmed] >> 4)
    kept = ~(rect & ~region) & ~graphic
    assert np.array_equal(image[kept], plain[kept])
    assert (image[graphic] == 255).all()


def test_multiframe_overlay_follows_image_frame_origin(files: dict[str, Path]) -> None:
    """Frames 2 and 3 carry bitmaps 1 and 2 of the multi-frame plane; frames 1 and 4 none of
    it; the single-frame plane (a 4x4 square at 5,5) shows on every frame."""
    path = files["overlay_frames"]
    bitmaps = [overlays.shapes(synthetic.ROWS, synthetic.COLUMNS, seed=s) for s in (10, 11)]
    square = np.zeros((synthetic.ROWS, synthetic.COLUMNS), bool)
    square[4:8, 4:8] = True
    for frame, bits in enumerate([None, bitmaps[0], bitmaps[1], None]):
        params = dataclasses.replace(PNG, frame=frame)
        plain, image = ours(path, dataclasses.replace(params, overlays=False)), ours(path, params)
        expected = square | (bits if bits is not None else False)
        assert (image[expected] == 255).all(), f"frame {frame + 1}"
        assert np.array_equal(image[~expected], plain[~expected]), f"frame {frame + 1}"


def test_embedded_overlay_bits_and_a_stored_bit_ignored(files: dict[str, Path]) -> None:
    """Bits 15 and 14 of the cells are drawn; the plane that names bit 3 (a stored bit) is not;
    the garbage in bits 12-13 changes nothing (the pipeline masks to Bits Stored)."""
    path = files["overlay_embedded"]
    plain, image = ours(path, OFF), ours(path)
    expected = overlays.shapes(synthetic.ROWS, synthetic.COLUMNS, seed=4) | overlays.shapes(
        synthetic.ROWS, synthetic.COLUMNS, seed=5
    )
    assert (image[expected] == 255).all()
    assert np.array_equal(image[~expected], plain[~expected])


def test_colour_images_get_white_marks(tmp_path: Path) -> None:
    """dcmtk draws overlays on grayscale only; on a colour image we draw them white in RGB."""
    bits = overlays.shapes(synthetic.ROWS, synthetic.COLUMNS, seed=12)
    path = synthetic.write(
        tmp_path / "rgb.dcm",
        synthetic.one(synthetic.ramp(0, 200, (synthetic.ROWS, synthetic.COLUMNS, 3))),
        bits_allocated=8,
        bits_stored=8,
        photometric="RGB",
        sop_class=synthetic.SECONDARY_CAPTURE,
        elements=overlays.plane(0x6000, bits),
    )
    plain, image = ours(path, OFF), ours(path)
    assert (image[bits] == 255).all()
    assert np.array_equal(image[~bits], plain[~bits])


def test_thumbnail_averages_the_burned_image(files: dict[str, Path]) -> None:
    """A thumbnail is the burned image shrunk (no reduced decode under an overlay), so the mark
    stays in it; with overlays off it is the plain thumbnail."""
    path = files["mammography_cad"]
    small = dataclasses.replace(PNG, rows=160)
    full = ours(path).astype(np.float64)
    thumb = ours(path, small).astype(np.float64)
    expected = full.reshape(160, 4, 128, 4).mean(axis=(1, 3))
    assert np.abs(thumb - expected).max() <= 1.0
    plain = ours(path, dataclasses.replace(small, overlays=False))
    assert not np.array_equal(plain, thumb)
    assert thumb[75:91, 50:66].max() > plain[75:91, 50:66].max()


def test_short_overlay_data_is_skipped(tmp_path: Path) -> None:
    """Overlay Data shorter than Rows x Columns bits: the plane is ignored (as in dcmtk), the
    image renders."""
    elements = tuple(
        (tag, vr, value[:10] if tag & 0xFFFF == 0x3000 else value)  # type: ignore[index]
        for tag, vr, value in overlays.plane(
            0x6000, overlays.shapes(synthetic.ROWS, synthetic.COLUMNS)
        )
    )
    path = synthetic.write(
        tmp_path / "short.dcm",
        synthetic.one(synthetic.ramp(0, 255)),
        bits_allocated=8,
        bits_stored=8,
        elements=elements,
    )
    assert np.array_equal(ours(path), ours(path, OFF))
