"""8-bit gray or RGB pixels to JPEG (libjpeg-turbo through simplejpeg) or PNG (Pillow)."""

from __future__ import annotations

import io

import numpy as np
import simplejpeg
from PIL import Image

from renderer.params import OutputFormat


def encode(image: np.ndarray, output: OutputFormat, quality: int) -> bytes:
    image = np.ascontiguousarray(image)
    if output is OutputFormat.JPEG:
        if image.ndim == 2:
            # One-channel JPEG: a third of the bytes of a gray RGB one.
            return bytes(simplejpeg.encode_jpeg(image[:, :, None], quality, colorspace="GRAY"))
        return bytes(
            simplejpeg.encode_jpeg(image, quality, colorspace="RGB", colorsubsampling="420")
        )
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()
