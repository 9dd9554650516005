"""Video transfer syntaxes (MPEG-2, MPEG-4 AVC/H.264, HEVC/H.265; PS3.5 8.2.5-8.2.8): the stream
itself, or one frame decoded by FFmpeg through PyAV -- `frameNumber` picks the frame.

Pixel Data holds one bit stream split over fragments after an empty Basic Offset Table. Real
files carry an elementary stream, a program stream or a transport stream, so FFmpeg probes the
container rather than being told one. `video/mpeg` is the stream as stored; `video/mp4` the same
packets remuxed into an MP4 container (no re-encoding).
"""

from __future__ import annotations

import io
import logging
from fractions import Fraction

import av
import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import generate_fragments
from pydicom.uid import UID

from renderer.errors import FrameOutOfRange, UnsupportedImage
from renderer.formats import OutputFormat
from renderer.output.picture import finish, fitted
from renderer.params import RenderParams, RenderResult

logger = logging.getLogger(__name__)

# FFmpeg's probe reads this much of the stream to decide the container and codec.
PROBE_BYTES = 5_000_000


def stream(ds: Dataset) -> bytes:
    """The bit stream: every fragment of the encapsulated Pixel Data after the offset table."""
    try:
        fragments = list(generate_fragments(ds.PixelData))
    except Exception as exc:
        raise UnsupportedImage(f"cannot read the video's encapsulated Pixel Data: {exc}") from None
    return b"".join(fragments[1:])


def _syntax(ds: Dataset) -> str:
    ts = UID(ds.file_meta.TransferSyntaxUID)
    return f"transfer syntax {ts.name}, {ts}"


def _open(data: bytes, ds: Dataset) -> av.container.InputContainer:
    try:
        return av.open(io.BytesIO(data), mode="r", options={"probesize": str(PROBE_BYTES)})
    except (av.FFmpegError, ValueError) as exc:
        raise UnsupportedImage(f"cannot read the video stream ({_syntax(ds)}): {exc}") from None


def decode_frame(data: bytes, index: int, ds: Dataset) -> tuple[np.ndarray, int]:
    """Frame `index` (0-based) as RGB, and how many frames were decoded to reach it."""
    container = _open(data, ds)
    count = 0
    try:
        if not container.streams.video:
            raise UnsupportedImage(f"the video stream ({_syntax(ds)}) holds no video")
        for frame in container.decode(container.streams.video[0]):
            if count == index:
                return frame.to_ndarray(format="rgb24"), count + 1
            count += 1
    except av.FFmpegError as exc:
        raise UnsupportedImage(f"cannot decode the video stream ({_syntax(ds)}): {exc}") from None
    finally:
        container.close()
    if count == 0:
        raise UnsupportedImage(f"no frame decodes from the video stream ({_syntax(ds)})")
    raise FrameOutOfRange(
        f"frameNumber {index + 1} is out of range: the video has {count} frame(s)"
    )


def to_mp4(data: bytes, ds: Dataset) -> bytes:
    """The stream's video packets remuxed into an MP4 container, as they are."""
    container = _open(data, ds)
    out = io.BytesIO()
    try:
        if not container.streams.video:
            raise UnsupportedImage(f"the video stream ({_syntax(ds)}) holds no video")
        video = container.streams.video[0]
        with av.open(out, mode="w", format="mp4") as target:
            copy = target.add_stream_from_template(video)
            step = _frame_ticks(video)
            for index, packet in enumerate(container.demux(video)):
                if packet.size == 0:  # the flushing packet at the end
                    continue
                if packet.dts is None:  # an elementary stream has no timestamps: one per frame
                    packet.pts = packet.dts = index * step
                packet.stream = copy
                target.mux(packet)
    except av.FFmpegError as exc:
        raise UnsupportedImage(
            f"cannot remux the video stream ({_syntax(ds)}) as MP4: {exc}"
        ) from None
    finally:
        container.close()
    return out.getvalue()


def _frame_ticks(video: av.video.stream.VideoStream) -> int:
    """One frame's duration in the stream's time base (25 frames a second when unknown)."""
    rate = video.average_rate or video.guessed_rate or Fraction(25)
    base = video.time_base or Fraction(1, 90_000)
    return max(1, round(1 / (rate * base)))


def render_video(ds: Dataset, params: RenderParams) -> RenderResult:
    data = stream(ds)
    if params.output is OutputFormat.MPEG:
        return RenderResult(data, params.output, 0, 0, 0, 0, 1)
    if params.output is OutputFormat.MP4:
        return RenderResult(to_mp4(data, ds), params.output, 0, 0, 0, 0, 1)
    if params.frame < 0:
        raise FrameOutOfRange(f"frameNumber {params.frame + 1} is out of range")
    pixels, decoded = decode_frame(data, params.frame, ds)
    rows, columns = pixels.shape[:2]
    try:
        frames = max(int(ds.get("NumberOfFrames") or 0), decoded)
    except (TypeError, ValueError):
        frames = decoded
    return finish(rows, columns, params, fitted(pixels), frames=frames)


__all__ = ["decode_frame", "render_video", "stream", "to_mp4"]
