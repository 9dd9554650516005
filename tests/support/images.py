"""Decoding answers and comparing pixels."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image


def decode(body: bytes) -> np.ndarray:
    """JPEG or PNG bytes to an array (by content: Orthanc's /wado mislabels its JPEGs)."""
    with Image.open(io.BytesIO(body)) as image:
        return np.asarray(image)


def as_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image[:, :, :3]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two 8-bit images, in dB (inf when identical)."""
    if a.ndim != b.ndim:
        a, b = as_rgb(a), as_rgb(b)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
