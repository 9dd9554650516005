"""Colour management (renderer/display/supplemental.py, icc.py): the Supplemental Palette Color LUT
of a grayscale image with Pixel Presentation COLOR or MIXED, and the ICC profile of a colour image
through Pillow's ImageCms. dcmtk applies neither, so the colours are checked against tables read
independently and against ImageCms itself; the gray part of a supplemental image against dcm2pnm."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageCms
from pydicom.data import get_testdata_file

from renderer.formats import OutputFormat
from renderer.params import RenderParams
from renderer.pipeline import render
from tests.renderer.test_oracle import MIN_PSNR
from tests.support import corpus, synthetic
from tests.support.images import psnr
from tests.support.oracle import dcmtk_render

PNG = RenderParams(output=OutputFormat.PNG)


def ours(path: Path, params: RenderParams = PNG) -> np.ndarray:
    with Image.open(io.BytesIO(render(str(path), params).data)) as picture:
        return np.asarray(picture)


def tables(ds: pydicom.Dataset) -> tuple[int, np.ndarray]:
    """The first mapped value and the palette's 8-bit RGB entries, read with numpy alone."""
    count, first, bits = (int(v) for v in ds.RedPaletteColorLookupTableDescriptor)
    channels = []
    for colour in ("Red", "Green", "Blue"):
        raw = ds[f"{colour}PaletteColorLookupTableData"].value
        words = np.frombuffer(raw, "<u2")[:count].astype(np.int64)
        channels.append(words >> (bits - 8) if bits > 8 else words)
    return first, np.stack(channels, axis=-1).astype(np.uint8)


@pytest.mark.parametrize("frame", [0, 1])
def test_supplemental_palette_of_the_enhanced_ct(frame: int, tmp_path: Path) -> None:
    """eCT_Supplemental.dcm: stored values 1024..1123 (0..99 HU) take the palette's colour;
    the rest is the gray render, the same as dcm2pnm's under the file's frame window."""
    sample = corpus.sample("eCT_Supplemental.dcm")  # missing: an error, not a skip
    ds = pydicom.dcmread(sample.path)
    first, palette = tables(ds)
    values = ds.pixel_array[frame].astype(np.int64)
    inside = (values >= first) & (values < first + len(palette))
    image = ours(sample.path, RenderParams(output=OutputFormat.PNG, frame=frame))
    assert image.shape == (*values.shape, 3)
    assert 0.05 < inside.mean() < 0.95
    assert np.array_equal(image[inside], palette[values[inside] - first])
    gray = image[~inside]
    assert (gray[:, 0] == gray[:, 1]).all() and (gray[:, 1] == gray[:, 2]).all()
    theirs = dcmtk_render(sample.path, tmp_path, frame, ("+Ww", "49", "102"))
    assert theirs.image is not None, theirs.error
    assert psnr(gray[:, 0], theirs.image[~inside]) >= MIN_PSNR


def supplemental(path: Path, presentation: str | None) -> Path:
    index = np.arange(64)
    rgb = [index * 4, 255 - index * 4, (index * 37) % 256]
    extra: dict[str, object] = {} if presentation is None else {"PixelPresentation": presentation}
    return synthetic.write(
        path,
        synthetic.one(synthetic.ramp(0, 255)),
        bits_allocated=8,
        bits_stored=8,
        WindowCenter=128,
        WindowWidth=256,
        **synthetic.palette(100, [t.astype(np.int64) for t in rgb], 8),
        **extra,
    )


def test_mixed_presentation_colours_its_range(tmp_path: Path) -> None:
    path = supplemental(tmp_path / "mixed.dcm", "MIXED")
    values = synthetic.ramp(0, 255)
    image = ours(path)
    inside = (values >= 100) & (values < 164)
    index = values[inside] - 100
    expected = np.stack([index * 4, 255 - index * 4, (index * 37) % 256], axis=-1)
    assert np.array_equal(image[inside], expected)
    plain = ours(supplemental(tmp_path / "plain.dcm", None))
    assert plain.ndim == 2  # without Pixel Presentation COLOR/MIXED the palette is not used
    assert np.array_equal(image[~inside][:, 0], plain[~inside])


def rgb_file(path: Path, profile: bytes | None) -> Path:
    extra: dict[str, object] = {} if profile is None else {"ICCProfile": profile}
    return synthetic.write(
        path,
        synthetic.one(synthetic.ramp(0, 255, (synthetic.ROWS, synthetic.COLUMNS, 3))),
        bits_allocated=8,
        bits_stored=8,
        photometric="RGB",
        sop_class=synthetic.SECONDARY_CAPTURE,
        **extra,
    )


def test_icc_profile_is_applied(tmp_path: Path) -> None:
    """pydicom's test profile (crayons.icc) to sRGB, as ImageCms computes it on its own."""
    profile = Path(get_testdata_file("crayons.icc")).read_bytes()  # type: ignore[arg-type]
    plain = ours(rgb_file(tmp_path / "plain.dcm", None))
    managed = ours(rgb_file(tmp_path / "icc.dcm", profile))
    expected = ImageCms.profileToProfile(
        Image.fromarray(plain),
        ImageCms.ImageCmsProfile(io.BytesIO(profile)),
        ImageCms.createProfile("sRGB"),
        renderingIntent=ImageCms.Intent.PERCEPTUAL,
        outputMode="RGB",
    )
    assert expected is not None
    assert np.array_equal(managed, np.asarray(expected))
    assert not np.array_equal(managed, plain)


def test_an_unusable_profile_is_ignored(tmp_path: Path) -> None:
    plain = ours(rgb_file(tmp_path / "plain.dcm", None))
    assert np.array_equal(ours(rgb_file(tmp_path / "bad.dcm", b"not a profile")), plain)
