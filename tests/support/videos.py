"""Videos made by the tests with PyAV (FFmpeg's encoders), wrapped as DICOM video objects with
pydicom: MPEG-2 in a program stream, H.264 in a transport stream (what PS3.5 8.2.6 asks) and as
a bare elementary stream, HEVC in a transport stream. The frames they were encoded from are kept,
so a decoded frame can be compared with its source."""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

import av
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import HEVCMP51, MPEG2MPML, MPEG4HP41

VIDEO_ENDOSCOPIC = "1.2.840.10008.5.1.4.1.1.77.1.1.1"
ROWS, COLUMNS, FRAMES, RATE = 144, 176, 12, 25


@dataclass(frozen=True)
class VideoKind:
    name: str
    codec: str  # PyAV's encoder
    container: str  # FFmpeg's muxer: what the stored stream is wrapped in
    transfer_syntax: str
    options: tuple[tuple[str, str], ...] = ()


KINDS = {
    "mpeg2": VideoKind("mpeg2", "mpeg2video", "mpeg", MPEG2MPML, (("qscale", "2"),)),
    "h264": VideoKind("h264", "libx264", "mpegts", MPEG4HP41, (("crf", "16"),)),
    "h264-es": VideoKind("h264-es", "libx264", "h264", MPEG4HP41, (("crf", "16"),)),
    "hevc": VideoKind(
        "hevc", "libx265", "mpegts", HEVCMP51, (("crf", "16"), ("x265-params", "log-level=error"))
    ),
}


def source_frames() -> list[np.ndarray]:
    """RGB frames: a colour gradient and a white square that moves right, frame by frame."""
    y, x = np.mgrid[0:ROWS, 0:COLUMNS]
    frames = []
    for index in range(FRAMES):
        image = np.stack(
            [
                (x * 255 // (COLUMNS - 1)),
                (y * 255 // (ROWS - 1)),
                np.full_like(x, 40 + 15 * index),
            ],
            axis=-1,
        ).astype(np.uint8)
        left = 8 + index * 12
        image[50:90, left : left + 32] = 255
        frames.append(image)
    return frames


@functools.cache
def encode(kind_name: str) -> bytes:
    """The stream of source_frames() as `kind` encodes and wraps it."""
    kind = KINDS[kind_name]
    out = io.BytesIO()
    with av.open(out, mode="w", format=kind.container) as container:
        stream = container.add_stream(kind.codec, rate=RATE, options=dict(kind.options))
        stream.width, stream.height, stream.pix_fmt = COLUMNS, ROWS, "yuv420p"
        if kind.codec == "mpeg2video":
            stream.bit_rate = 8_000_000
        for image in source_frames():
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def dataset(kind_name: str) -> Dataset:
    """A Video Endoscopic Image (PS3.3 A.32.7) holding the stream in its Pixel Data."""
    kind = KINDS[kind_name]
    ds = Dataset()
    ds.SOPClassUID = VIDEO_ENDOSCOPIC
    ds.Modality = "ES"
    ds.SeriesDescription = f"{kind.codec} in {kind.container}"
    ds.Rows, ds.Columns, ds.NumberOfFrames = ROWS, COLUMNS, FRAMES
    ds.FrameTime, ds.CineRate = 1000 / RATE, RATE
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 3, "YBR_PARTIAL_420"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = encapsulate([encode(kind_name)])
    ds["PixelData"].VR = "OB"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = kind.transfer_syntax
    return ds


__all__ = ["FRAMES", "KINDS", "dataset", "encode", "source_frames"]
