"""Objects without pixels get a placeholder card that says what they are; a file that merely lost
its pixels (cut short) is still refused with a reason."""

from __future__ import annotations

import io
import time
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest

from renderer.errors import FrameOutOfRange, NotDicom, UnsupportedImage
from renderer.formats import OutputFormat
from renderer.objects.card import BACKGROUND, TRACE_COLOUR, Card, draw, font, wrap
from renderer.objects.placeholder import ACCENTS, SIZE, card_for
from renderer.params import Region, RenderParams
from renderer.pipeline import render
from tests.support import corpus
from tests.support.images import decode

FILES = corpus.pydicom_dir()
TINY = "dicomdirtests/TINY_ALPHA/PT000000/ST000000/SE000000/IM000000"

# file -> (badge, title, a line the card must show, band colour)
EXPECTED = {
    "waveform_ecg.dcm": ("ECG", "12-lead ECG Waveform Storage", "2013-01-25", "waveform"),
    "rtplan.dcm": ("RTPLAN", "RT Plan Storage", "Plan1", "rt"),
    "rtstruct.dcm": ("RTSTRUCT", "RT Structure Set Storage", "sep30", "rt"),
    "test-SR.dcm": ("SR", "Comprehensive SR Storage", "Diagnosis", "document"),
    "ExplVR_LitEndNoMeta.dcm": ("RTPLAN", "RT Ion Plan Storage", "no image in this object", "rt"),
    TINY: ("CT", "CT Image Storage", "Testing File-set", "other"),
}


def read(name: str) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(FILES / name, force=True)


def png(path: Path | bytes, **params: object) -> np.ndarray:
    source = str(path) if isinstance(path, Path) else path
    result = render(source, RenderParams(output=OutputFormat.PNG, **params))  # type: ignore[arg-type]
    image = decode(result.data)
    assert image.shape[:2] == (result.height, result.width)
    return image


@pytest.mark.parametrize("name", EXPECTED, ids=[n.split("/")[-1] for n in EXPECTED])
def test_the_card_says_what_the_object_is(name: str) -> None:
    badge, title, line, family = EXPECTED[name]
    card = card_for(read(name))
    assert (card.badge, card.title) == (badge, title)
    assert line in card.lines
    assert card.accent == ACCENTS[family]


@pytest.mark.parametrize("name", EXPECTED, ids=[n.split("/")[-1] for n in EXPECTED])
@pytest.mark.parametrize("side", [None, 128, 64])
def test_placeholder_renders_at_any_size(name: str, side: int | None) -> None:
    image = png(FILES / name, rows=side, columns=side)
    expected = side or SIZE
    assert image.shape == (expected, expected, 3)
    band = ACCENTS[EXPECTED[name][3]]
    assert tuple(image[1, 1]) == band  # the band's colour names the family
    assert tuple(image[-1, 1]) == BACKGROUND


def test_the_badge_stays_legible_in_a_thumbnail() -> None:
    """Drawn at the output size, not shrunk: at 128 pixels the modality is ~17 pixels high."""
    image = png(FILES / "rtplan.dcm", rows=128, columns=128)
    band = image[: round(0.3 * 128)]
    white = np.argwhere((band > 240).all(axis=-1))
    height = white[:, 0].max() - white[:, 0].min() + 1
    width = white[:, 1].max() - white[:, 1].min() + 1
    assert height >= 12 and width >= 60, (height, width)


def test_a_waveform_is_drawn_as_traces() -> None:
    def traced(name: str) -> int:
        image = png(FILES / name, rows=256, columns=256)
        lower = image[int(256 * 0.6) :]
        return int((lower == TRACE_COLOUR).all(axis=-1).sum())

    assert traced("waveform_ecg.dcm") > 300
    assert traced("rtplan.dcm") == 0


def test_jpeg_gif_and_region_of_a_placeholder() -> None:
    path = str(FILES / "rtplan.dcm")
    jpeg = render(path, RenderParams())
    assert jpeg.data[:3] == b"\xff\xd8\xff" and (jpeg.width, jpeg.height) == (SIZE, SIZE)
    gif = render(path, RenderParams(output=OutputFormat.GIF, animate=True))
    assert gif.data[:6] == b"GIF89a" or gif.data[:6] == b"GIF87a"
    half = render(path, RenderParams(region=Region(0, 0, 0.5, 0.25)))
    assert (half.width, half.height) == (SIZE // 2, SIZE // 4)


def test_a_placeholder_has_one_frame() -> None:
    with pytest.raises(FrameOutOfRange, match="frameNumber 2"):
        render(str(FILES / "rtplan.dcm"), RenderParams(frame=1))


def test_a_file_cut_before_its_pixels_is_refused_not_a_placeholder() -> None:
    """pydicom keeps what it read of a truncated file: CT_small cut inside a header element
    has no Pixel Data, like an object without pixels, but the cut shows."""
    data = (FILES / "CT_small.dcm").read_bytes()
    pixels = data.index(b"\xe0\x7f\x10\x00")
    for cut in (101, 3):  # inside the value of the last header element; inside its tag
        with pytest.raises(NotDicom, match="truncated"):
            render(data[: pixels - cut], RenderParams())
    with pytest.raises(NotDicom, match="truncated"):
        render(str(FILES / "rtplan_truncated.dcm"), RenderParams())
    # Cut inside the Pixel Data: an image whose pixels are short, as before.
    with pytest.raises(UnsupportedImage, match="pixel data"):
        render(data[: pixels + 500], RenderParams())


def test_wrap_cuts_long_words_and_ends_in_an_ellipsis() -> None:
    face = font(12)
    lines = wrap("Supercalifragilisticexpialidocious " * 6, face, 60, 3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(face.getlength(line) <= 60 for line in lines)
    assert wrap("short", face, 60, 3) == ["short"]


def test_a_card_without_lines_or_traces_draws() -> None:
    image = draw(Card("OT", "x"), 40, 30)
    assert image.shape == (30, 40, 3)


def test_a_huge_mangled_value_is_cut_not_measured_for_ever() -> None:
    """A broken length can make a value kilobytes long, without a space: wrapping it stays cheap
    (it once took seconds: a fuzzed file timed out)."""
    face = font(9)
    started = time.monotonic()
    lines = wrap("x" * 20_000, face, 100, 3)
    assert time.monotonic() - started < 0.5
    assert len(lines) == 3 and lines[-1].endswith("…")


def test_an_object_without_a_sop_class_uid_is_not_a_placeholder() -> None:
    ds = read("rtplan.dcm")
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.481.5" + "\x00garbage swallowed by a bad length"
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(out)
    with pytest.raises(NotDicom, match=r"\(0008,0016\) SOP Class UID is not a UID"):
        render(out.getvalue(), RenderParams())
