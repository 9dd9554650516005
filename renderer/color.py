"""Colour images to 8-bit RGB (PS3.3 C.7.6.3.1.2). No window applies to colour.

What the decoders hand over: RGB; YBR_FULL, also for YBR_FULL_422 (native data comes back
upsampled, JPEG codestreams decoded but not colour converted); YBR_ICT and YBR_RCT come back as
RGB because the inverse component transform is part of JPEG 2000 decoding (PS3.5 8.2.4, A.4.4);
PALETTE COLOR as indices (renderer.palette).
"""

from __future__ import annotations

import functools

import numpy as np
from pydicom.dataset import Dataset

from renderer.errors import UnsupportedImage
from renderer.palette import apply_palette, palette_from
from renderer.stored import StoredFormat, stored_values

YBR_FULL = ("YBR_FULL", "YBR_FULL_422")

# PS3.3 C.7.6.3.1.2, YBR_FULL: the ITU-R BT.601 matrix at full range, Cb/Cr offset by half range.
CR_TO_R = 1.402
CB_TO_G = -0.344136
CR_TO_G = -0.714136
CB_TO_B = 1.772


def scale_to_uint8(samples: np.ndarray, stored: StoredFormat) -> np.ndarray:
    """Samples of Bits Stored bits to 8 bits: the top 8 of them (values masked first)."""
    if samples.dtype == np.uint8 and stored.is_identity_for(samples.dtype):
        return samples
    values = stored_values(samples, stored)
    shift = max(stored.bits_stored - 8, 0)
    if shift:
        values >>= shift
    out: np.ndarray = np.clip(values, 0, 255).astype(np.uint8)
    return out


@functools.cache
def _ybr_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The chroma terms of the YBR_FULL to RGB equations for every 8-bit Cb/Cr, rounded half
    up: adding them to the integer Y gives exactly round(equation), with integer work only."""
    chroma = np.arange(256, dtype=np.float64) - 128.0
    r = np.floor(CR_TO_R * chroma + 0.5).astype(np.int16)
    b = np.floor(CB_TO_B * chroma + 0.5).astype(np.int16)
    g = np.floor(CB_TO_G * chroma[:, None] + CR_TO_G * chroma[None, :] + 0.5).astype(np.int16)
    return r, g.reshape(-1), b


def ybr_full_to_rgb(ybr: np.ndarray, stored: StoredFormat) -> np.ndarray:
    """YBR_FULL to RGB (PS3.3 C.7.6.3.1.2), clamped to the sample range, as 8-bit RGB.

    R = Y + 1.402 (Cr - h); G = Y - 0.344136 (Cb - h) - 0.714136 (Cr - h); B = Y + 1.772 (Cb - h),
    with h = 2^(BitsStored - 1). 8-bit samples go through per-Cb/Cr tables, deeper ones in float.
    """
    if ybr.dtype == np.uint8 and stored.bits_stored == 8:
        r_of, g_of, b_of = _ybr_tables()
        luma = ybr[..., 0].astype(np.int16)
        cb, cr = ybr[..., 1], ybr[..., 2]
        rgb = np.empty(ybr.shape, dtype=np.int16)
        np.add(luma, r_of[cr], out=rgb[..., 0])
        np.add(luma, g_of[(cb.astype(np.intp) << 8) | cr], out=rgb[..., 1])
        np.add(luma, b_of[cb], out=rgb[..., 2])
        np.clip(rgb, 0, 255, out=rgb)
        return rgb.astype(np.uint8)
    values = stored_values(ybr, stored).astype(np.float64)
    half = float(1 << (stored.bits_stored - 1))
    y, cb, cr = values[..., 0], values[..., 1] - half, values[..., 2] - half
    rgb_float = np.stack(
        [y + CR_TO_R * cr, y + CB_TO_G * cb + CR_TO_G * cr, y + CB_TO_B * cb], axis=-1
    )
    top = float((1 << stored.bits_stored) - 1)
    np.clip(np.floor(rgb_float + 0.5), 0.0, top, out=rgb_float)
    wide = StoredFormat(stored.bits_stored, signed=False)
    return scale_to_uint8(rgb_float.astype(np.int64), wide)


def render_color(
    ds: Dataset,
    stored: StoredFormat,
    photometric: str,
    frame: np.ndarray,
    crop: tuple[slice, slice],
) -> np.ndarray:
    """Decoded colour samples (or palette indices) to the 8-bit RGB image of the crop."""
    part = frame[crop]
    if photometric == "PALETTE COLOR":
        if part.ndim != 2:
            raise UnsupportedImage(f"PALETTE COLOR with {part.shape[-1]} samples per pixel")
        return apply_palette(part, palette_from(ds, signed=stored.signed), stored)
    if part.ndim != 3 or part.shape[-1] != 3:
        raise UnsupportedImage(f"unsupported colour layout {photometric} with shape {part.shape}")
    if photometric in YBR_FULL:
        return ybr_full_to_rgb(part, stored)
    if photometric in ("RGB", "YBR_ICT", "YBR_RCT"):
        return scale_to_uint8(part, stored)
    raise UnsupportedImage(f"unsupported (0028,0004) Photometric Interpretation {photometric}")
