"""Everything a render of one frame reads from the file's header, read once into a frozen value:
the stages take it instead of going back to the file (a pydicom Dataset converts elements and
walks its sequences on every look-up; a window drag re-renders from this value alone).

Grayscale frames need the Modality LUT (PS3.3 C.11.1), the file's own VOI (C.11.2) and the
presentation polarity (C.11.6); PALETTE COLOR ones their palette (C.7.6.3.1.5); any image its
overlay planes (C.9.2), which only pydicom reads (the lean reader declines files that have any).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset

from renderer.decoding.decode import GRAYSCALE, ImageInfo
from renderer.decoding.elements import Elements
from renderer.display.modality import Modality, Rescale, modality_for_frame
from renderer.display.overlay import OverlayPlane, read_planes
from renderer.display.palette import Palette, palette_from
from renderer.display.presentation import lut_shape
from renderer.display.supplemental import supplemental_palette
from renderer.display.voi import Voi, stored_voi

IDENTITY = Rescale()
FLOAT_PIXELS = ("FloatPixelData", "DoubleFloatPixelData")


@dataclass(frozen=True, slots=True)
class Header:
    info: ImageInfo
    modality: Modality = IDENTITY  # identity for Float Pixel Data: it holds modality values
    voi: Voi | None = None  # the file's own window or VOI LUT
    presentation: str = ""  # (2050,0020) Presentation LUT Shape, upper case
    palette: Palette | None = None
    overlays: tuple[OverlayPlane, ...] = ()
    supplemental: Palette | None = None  # a grayscale image's Supplemental Palette Color LUT
    icc: bytes | None = None  # a colour image's ICC Profile


def describe(ds: Elements, info: ImageInfo, frame: int) -> Header:
    """The header values of frame `frame` (0-based) of a file whose Image Pixel module is
    `info`. Only what the photometric interpretation needs is read, so a colour image with a
    stray Modality LUT renders as before."""
    signed = info.stored.signed
    overlays = read_planes(ds, info) if isinstance(ds, Dataset) else ()
    if info.photometric not in GRAYSCALE:
        icc = ds.get("ICCProfile") or None
        palette = palette_from(ds, signed=signed) if info.photometric == "PALETTE COLOR" else None
        return Header(info, palette=palette, overlays=overlays, icc=bytes(icc) if icc else None)
    modality: Modality = IDENTITY
    if not any(keyword in ds for keyword in FLOAT_PIXELS):
        modality = modality_for_frame(ds, frame, signed=signed)
    # A VOI LUT's first mapped value is signed when modality values may be negative.
    negative = signed or (isinstance(modality, Rescale) and modality.intercept < 0)
    voi = stored_voi(ds, frame, signed=negative)
    supplemental = supplemental_palette(ds, signed=signed)
    return Header(info, modality, voi, lut_shape(ds), overlays=overlays, supplemental=supplemental)


__all__ = ["Header", "describe"]
