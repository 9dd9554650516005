"""8-bit gray or RGB pixels to JPEG (libjpeg-turbo through simplejpeg), PNG or GIF (Pillow)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
import simplejpeg
from PIL import Image

from renderer.formats import OutputFormat


def encode(image: np.ndarray, output: OutputFormat, quality: int) -> bytes:
    """A picture in `output` (one of the picture formats of renderer.formats)."""
    return ENCODERS[output](np.ascontiguousarray(image), quality)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    if image.ndim == 2:
        # One-channel JPEG: a third of the bytes of a gray RGB one.
        return bytes(simplejpeg.encode_jpeg(image[:, :, None], quality, colorspace="GRAY"))
    return bytes(simplejpeg.encode_jpeg(image, quality, colorspace="RGB", colorsubsampling="420"))


def encode_png(image: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def _gif_frame(image: np.ndarray) -> Image.Image:
    """GIF holds 256 palette colours: gray maps exactly; RGB gets an adaptive (median cut)
    palette per frame, without dithering so that equal input gives equal bytes."""
    picture = Image.fromarray(np.ascontiguousarray(image))
    if picture.mode == "L":
        return picture
    return picture.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def encode_gif(images: Sequence[np.ndarray], delays_ms: Sequence[float]) -> bytes:
    """One image, or an animation looping forever with a delay per frame."""
    frames = [_gif_frame(image) for image in images]
    buffer = io.BytesIO()
    if len(frames) == 1:
        frames[0].save(buffer, format="GIF")
    else:
        frames[0].save(
            buffer,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=[round(d) for d in delays_ms],
            loop=0,
            disposal=1,  # each frame covers the whole canvas: leave it in place
        )
    return buffer.getvalue()


def _single_gif(image: np.ndarray, quality: int) -> bytes:
    return encode_gif([image], [0.0])


ENCODERS: dict[OutputFormat, Callable[[np.ndarray, int], bytes]] = {
    OutputFormat.JPEG: encode_jpeg,
    OutputFormat.PNG: encode_png,
    OutputFormat.GIF: _single_gif,
}
