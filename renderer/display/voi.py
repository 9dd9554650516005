"""VOI LUT: modality values to display levels 0..255 (PS3.3 C.11.2).

A window (Window Center/Width with a VOI LUT Function, C.11.2.1.2) or a VOI LUT Sequence table
(C.11.2.1.1). The request's window overrides; else the file's first window, else its first VOI
LUT (the two are alternative views, C.11.2.1.3: we take the window first, as Orthanc does, so a
drop-in renders the same); enhanced objects keep theirs in the Frame VOI LUT Sequence.
"""

from __future__ import annotations

import numpy as np
from pydicom.multival import MultiValue

from renderer.decoding.elements import Elements
from renderer.display.lut import Lut, apply_lut, lut_from_item
from renderer.params import DefaultWindow, VoiFunction, Window

Voi = Window | Lut

LEVELS = 255.0  # ymax - ymin of the 8-bit output


def _first(value: object) -> float | None:
    """Window Center/Width have VM 1-n: pairs of alternative views, the first is the default."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return result if np.isfinite(result) else None


def voi_function(value: object) -> VoiFunction:
    """(0028,1056) VOI LUT Function; absent or unknown means LINEAR (C.11.2.1.3)."""
    text = str(value or "").strip().upper()
    try:
        return VoiFunction(text)
    except ValueError:
        return VoiFunction.LINEAR


def _window_from(item: Elements | None) -> Window | None:
    if item is None:
        return None
    center = _first(item.get("WindowCenter"))
    width = _first(item.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    return Window(center, width, voi_function(item.get("VOILUTFunction")))


def _voi_from(item: Elements | None, *, signed: bool, little_endian: bool) -> Voi | None:
    """A window, else the first VOI LUT Sequence item, of one level of the dataset."""
    window = _window_from(item)
    if window is not None or item is None:
        return window
    seq = item.get("VOILUTSequence")
    if seq and "LUTData" in seq[0]:
        return lut_from_item(
            seq[0], signed_input=signed, little_endian=little_endian, name="VOI LUT Sequence"
        )
    return None


def stored_voi(ds: Elements, frame: int, *, signed: bool) -> Voi | None:
    """The file's own VOI for one frame: per-frame Frame VOI LUT Sequence, shared, top level.

    `signed` says whether modality values may be negative (for a VOI LUT's first mapped value).
    """
    little_endian = bool(ds.original_encoding[1] in (True, None))
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    levels: list[Elements | None] = []
    if per_frame is not None and frame < len(per_frame):
        seq = per_frame[frame].get("FrameVOILUTSequence")
        levels.append(seq[0] if seq else None)
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        seq = shared[0].get("FrameVOILUTSequence")
        levels.append(seq[0] if seq else None)
    levels.append(ds)
    for item in levels:
        found = _voi_from(item, signed=signed, little_endian=little_endian)
        if found is not None:
            return found
    return None


def fallback_window(
    mode: DefaultWindow, bits: int, modality_range: tuple[float, float] | None
) -> Window:
    """The window used when neither the request nor the file gives one.

    ORTHANC: width 2^bits (Bits Stored, or a Modality LUT's bits), centre width/2, as Orthanc's
    core renderer does (ParsedDicomFile::GetDefaultWindowing), so a drop-in gives the same image.
    MINMAX: the frame's own range of modality values, lo to black and hi to white, linear in
    between: LINEAR_EXACT over [lo, hi], which for integer data is exactly the LINEAR window
    c = (lo+hi+1)/2, w = hi-lo+1 (dcmtk's min-max window), and also right for float data.
    A flat frame is black, as in dcmtk.
    """
    if mode is DefaultWindow.MINMAX and modality_range is not None:
        lo, hi = modality_range
        if hi > lo:
            return Window((lo + hi) / 2.0, hi - lo, VoiFunction.LINEAR_EXACT)
        return Window(center=lo + 0.5, width=1.0)
    width = float(2 ** max(1, min(bits, 32)))
    return Window(center=width / 2.0, width=width)


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """Window Center c and Width w to levels 0..255 (float64), PS3.3 C.11.2.1.2:

    LINEAR (C.11.2.1.2.1): x <= c-0.5-(w-1)/2 -> 0; x > c-0.5+(w-1)/2 -> 255;
        else ((x-(c-0.5))/(w-1)+0.5)*255. w <= 1 leaves only the two ends: a threshold at c-0.5.
    LINEAR_EXACT (C.11.2.1.3.2): x <= c-w/2 -> 0; x > c+w/2 -> 255; else (x-c)/w*255 + 127.5.
    SIGMOID (C.11.2.1.3.1): 255 / (1 + exp(-4(x-c)/w)).
    """
    c, w = window.center, window.width
    x = values.astype(np.float64, copy=False)
    if window.function is VoiFunction.SIGMOID:
        out = x - c
        out *= -4.0 / w
        with np.errstate(over="ignore"):  # far below c: exp is inf and the level 0, as it should
            np.exp(out, out=out)
        out += 1.0
        np.divide(LEVELS, out, out=out)
        return out
    if window.function is VoiFunction.LINEAR_EXACT:
        out = x - c
        out *= LEVELS / w
        out += LEVELS / 2.0
    elif w <= 1.0:
        return np.where(x > c - 0.5, LEVELS, 0.0)
    else:
        out = x - (c - 0.5)
        out /= w - 1.0
        out += 0.5
        out *= LEVELS
    np.clip(out, 0.0, LEVELS, out=out)
    return out


def apply_voi_lut(values: np.ndarray, lut: Lut) -> np.ndarray:
    """VOI LUT Sequence table (C.11.2.1.1): entry / (2^bits - 1), as levels 0..255."""
    return apply_lut(values, lut).astype(np.float64) * (LEVELS / lut.max_output)


def apply_voi(values: np.ndarray, voi: Voi) -> np.ndarray:
    if isinstance(voi, Lut):
        return apply_voi_lut(values, voi)
    return apply_window(values, voi)
