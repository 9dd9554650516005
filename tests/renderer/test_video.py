"""Video objects: the stream comes back as stored or remuxed into MP4; a frame decodes (FFmpeg
through PyAV, the container probed) to within 30 dB of the frame it was encoded from, and
frameNumber picks it."""

from __future__ import annotations

import io

import av
import numpy as np
import pydicom
import pytest

from renderer.errors import FrameOutOfRange, NotOffered, UnsupportedImage
from renderer.formats import OutputFormat
from renderer.params import Region, RenderParams
from renderer.pipeline import render
from tests.support import corpus, videos
from tests.support.images import decode, psnr

KINDS = list(videos.KINDS)


def stored(kind: str, stream: bytes | None = None) -> bytes:
    ds = videos.dataset(kind)
    if stream is not None:
        ds.PixelData = pydicom.encaps.encapsulate([stream])
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.fixture(scope="module", params=KINDS)
def video(request: pytest.FixtureRequest) -> tuple[str, bytes]:
    return request.param, stored(request.param)


def frame(data: bytes, index: int, **params: object) -> np.ndarray:
    result = render(data, RenderParams(output=OutputFormat.PNG, frame=index, **params))  # type: ignore[arg-type]
    assert result.frames == videos.FRAMES
    return decode(result.data)


@pytest.mark.parametrize("index", [0, 5, videos.FRAMES - 1])
def test_each_frame_is_the_frame_it_was_encoded_from(video: tuple[str, bytes], index: int) -> None:
    _, data = video
    source = videos.source_frames()
    image = frame(data, index)
    assert image.shape == source[index].shape
    assert psnr(image, source[index]) > 30
    # and not a neighbour: the square moved 12 pixels a frame
    other = source[(index + 3) % videos.FRAMES]
    assert psnr(image, other) < psnr(image, source[index]) - 10


def test_the_stream_as_stored_and_as_mp4(video: tuple[str, bytes]) -> None:
    kind, data = video
    as_stored = render(data, RenderParams(output=OutputFormat.MPEG)).data
    encoded = videos.encode(kind)
    # A fragment of odd length is stored with one trailing zero byte (PS3.5 A.4): the stream as
    # stored is the encoder's, so padded whenever the encoder's output has an odd length.
    assert as_stored == encoded + b"\0" * (len(encoded) % 2)
    mp4 = render(data, RenderParams(output=OutputFormat.MP4)).data
    assert mp4[4:8] == b"ftyp"
    with av.open(io.BytesIO(mp4)) as container:
        assert "mp4" in container.format.name
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == videos.FRAMES
    assert psnr(decoded[7], videos.source_frames()[7]) > 30


def test_a_thumbnail_and_a_crop_of_a_frame(video: tuple[str, bytes]) -> None:
    _, data = video
    thumbnail = frame(data, 0, rows=64, columns=64)
    assert thumbnail.shape == (52, 64, 3)
    crop = frame(data, 3, region=Region(0.25, 0.0, 0.75, 0.5))
    assert crop.shape == (videos.ROWS // 2, videos.COLUMNS // 2, 3)
    source = videos.source_frames()[3][
        : videos.ROWS // 2, videos.COLUMNS // 4 : 3 * videos.COLUMNS // 4
    ]
    assert psnr(crop, source) > 30


def test_past_the_last_frame_is_a_client_error(video: tuple[str, bytes]) -> None:
    _, data = video
    with pytest.raises(FrameOutOfRange, match=f"has {videos.FRAMES} frame"):
        render(data, RenderParams(frame=videos.FRAMES))


def test_a_stream_ffmpeg_cannot_read_names_the_transfer_syntax() -> None:
    garbage = stored("h264", b"\x00\x00\x01\xb3" + b"\x17" * 600)
    with pytest.raises(UnsupportedImage, match=r"transfer syntax MPEG-4 AVC/H\.264"):
        render(garbage, RenderParams())


def test_other_forms_are_not_offered() -> None:
    data = stored("mpeg2")
    with pytest.raises(NotOffered, match="PDF"):
        render(data, RenderParams(output=OutputFormat.PDF))
    ct = (corpus.pydicom_dir() / "CT_small.dcm").read_bytes()
    with pytest.raises(NotOffered, match="video"):
        render(ct, RenderParams(output=OutputFormat.MPEG))
