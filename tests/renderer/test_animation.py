"""Animated GIF of multi-frame objects: every frame, the right pixels, the cine timing."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageSequence
from pydicom.dataset import Dataset

from renderer.formats import OutputFormat
from renderer.output.animation import DEFAULT_DELAY_MS, MIN_DELAY_MS, frame_delays
from renderer.params import RenderParams
from renderer.pipeline import render
from tests.support import corpus
from tests.support.images import decode

CINE = "GREYSCALE_CINE.dcm"  # 27 frames of 800x600, 8-bit, Frame Time 33.333 ms
RGB_2F = "SC_rgb_rle_2frame.dcm"


def gif_frames(data: bytes) -> tuple[list[np.ndarray], list[int]]:
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.format == "GIF"
        frames, durations = [], []
        for frame in ImageSequence.Iterator(gif):
            durations.append(int(frame.info.get("duration", 0)))
            frames.append(np.asarray(frame.convert("RGB")))
        return frames, durations


def test_cine_animates_every_frame_with_its_frame_time() -> None:
    path = str(corpus.sample(CINE).path)
    result = render(path, RenderParams(output=OutputFormat.GIF, animate=True, rows=120))
    frames, durations = gif_frames(result.data)
    assert len(frames) == 27 == result.frames
    assert durations == [30] * 27  # 33.333 ms, in the centiseconds GIF can say
    # Gray GIF is lossless: each frame is the PNG render of that frame, exactly.
    for index in (0, 13, 26):
        png = render(path, RenderParams(output=OutputFormat.PNG, frame=index, rows=120))
        assert np.array_equal(frames[index][:, :, 0], decode(png.data))


def test_colour_animation_is_close_to_each_frame() -> None:
    path = str(corpus.sample(RGB_2F).path)
    frames, _ = gif_frames(render(path, RenderParams(output=OutputFormat.GIF, animate=True)).data)
    assert len(frames) == 2
    for index in range(2):
        png = decode(render(path, RenderParams(output=OutputFormat.PNG, frame=index)).data)
        error = np.abs(frames[index].astype(int) - png.astype(int))
        assert error.mean() < 4.0  # a 256-colour palette per frame


def test_without_animate_a_gif_is_one_frame() -> None:
    path = str(corpus.sample(CINE).path)
    frames, _ = gif_frames(
        render(path, RenderParams(output=OutputFormat.GIF, frame=4, rows=60)).data
    )
    assert len(frames) == 1
    png = render(path, RenderParams(output=OutputFormat.PNG, frame=4, rows=60))
    assert np.array_equal(frames[0][:, :, 0], decode(png.data))


def test_animation_counts_every_frame_against_max_pixels() -> None:
    from renderer.errors import OutputTooLarge

    path = str(corpus.sample(CINE).path)
    with pytest.raises(OutputTooLarge, match="27 frames"):
        render(path, RenderParams(output=OutputFormat.GIF, animate=True, max_pixels=600 * 800))


def _ds(**tags: object) -> Dataset:
    ds = Dataset()
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(
    ("tags", "frames", "expected"),
    [
        ({"FrameTime": "40"}, 3, [40.0, 40.0, 40.0]),
        ({"FrameTimeVector": ["0", "50", "70"]}, 3, [50.0, 70.0, 70.0]),
        ({"RecommendedDisplayFrameRate": "25"}, 2, [40.0, 40.0]),
        ({"CineRate": "10"}, 2, [100.0, 100.0]),
        ({"FrameTime": "2"}, 2, [MIN_DELAY_MS, MIN_DELAY_MS]),
        ({}, 2, [DEFAULT_DELAY_MS, DEFAULT_DELAY_MS]),
        ({"FrameTime": "0", "CineRate": "20"}, 1, [50.0]),
    ],
)
def test_frame_delays(tags: dict[str, object], frames: int, expected: list[float]) -> None:
    assert frame_delays(_ds(**tags), frames) == pytest.approx(expected)


def test_cine_file_frame_time_is_what_the_delay_says() -> None:
    ds = pydicom.dcmread(corpus.sample(CINE).path, stop_before_pixels=True)
    assert frame_delays(ds, 27)[0] == pytest.approx(float(ds.FrameTime))
