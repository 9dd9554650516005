"""Colour images to 8-bit RGB (PS3.3 C.7.6.3.1.2). No window applies to colour.

What the decoders hand over: RGB; YBR_FULL, also for YBR_FULL_422 (native data comes back
upsampled, JPEG codestreams decoded but not colour converted); YBR_ICT and YBR_RCT come back as
RGB because the inverse component transform is part of JPEG 2000 decoding (PS3.5 8.2.4, A.4.4);
PALETTE COLOR as indices (renderer.display.palette).
"""

from __future__ import annotations

import functools

import numpy as np

from renderer.decoding.stored import StoredFormat, stored_values
from renderer.display.palette import Palette, apply_palette
from renderer.errors import UnsupportedImage

YBR_FULL = ("YBR_FULL", "YBR_FULL_422")

# PS3.3 C.7.6.3.1.2, YBR_FULL: the ITU-R BT.601 matrix at full range, Cb/Cr offset by half range.
# In millionths, so that the 8-bit tables round exact decimal ties (e.g. G = Y - 18.5) exactly.
MICRO = 1_000_000
CR_TO_R = 1_402_000
CB_TO_G = -344_136
CR_TO_G = -714_136
CB_TO_B = 1_772_000


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
    up in integer arithmetic: adding them to the integer Y gives exactly round(equation)."""
    chroma = np.arange(256, dtype=np.int64) - 128
    r = (CR_TO_R * chroma + MICRO // 2) // MICRO
    b = (CB_TO_B * chroma + MICRO // 2) // MICRO
    g = (CB_TO_G * chroma[:, None] + CR_TO_G * chroma[None, :] + MICRO // 2) // MICRO
    return r.astype(np.int16), g.reshape(-1).astype(np.int16), b.astype(np.int16)


def ybr_full_to_rgb(ybr: np.ndarray, stored: StoredFormat) -> np.ndarray:
    """YBR_FULL to RGB (PS3.3 C.7.6.3.1.2), clamped to the sample range, as 8-bit RGB.

    R = Y + 1.402 (Cr - h); G = Y - 0.344136 (Cb - h) - 0.714136 (Cr - h); B = Y + 1.772 (Cb - h),
    with h = 2^(BitsStored - 1), rounded half up. 8-bit samples go through per-Cb/Cr tables,
    deeper ones through the same integer arithmetic per pixel.
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
    values = stored_values(ybr, stored)
    half = 1 << (stored.bits_stored - 1)
    y, cb, cr = values[..., 0] * MICRO, values[..., 1] - half, values[..., 2] - half
    terms = [y + CR_TO_R * cr, y + CB_TO_G * cb + CR_TO_G * cr, y + CB_TO_B * cb]
    rgb_deep = (np.stack(terms, axis=-1) + MICRO // 2) // MICRO
    np.clip(rgb_deep, 0, (1 << stored.bits_stored) - 1, out=rgb_deep)
    return scale_to_uint8(rgb_deep, StoredFormat(stored.bits_stored, signed=False))


def render_color(
    palette: Palette | None,
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
        if palette is None:
            raise UnsupportedImage("PALETTE COLOR without its Palette Color LUTs")
        return apply_palette(part, palette, stored)
    if part.ndim != 3 or part.shape[-1] != 3:
        raise UnsupportedImage(f"unsupported colour layout {photometric} with shape {part.shape}")
    if photometric in YBR_FULL:
        return ybr_full_to_rgb(part, stored)
    if photometric in ("RGB", "YBR_ICT", "YBR_RCT"):
        return scale_to_uint8(part, stored)
    raise UnsupportedImage(f"unsupported (0028,0004) Photometric Interpretation {photometric}")
