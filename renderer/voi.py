"""VOI LUT: modality units to display levels (PS3.3 C.11.2.1.2, the window functions)."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from renderer.params import DefaultWindow, Window


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


def _window_from(item: Dataset | None) -> Window | None:
    if item is None:
        return None
    center = _first(item.get("WindowCenter"))
    width = _first(item.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    return Window(center, width)


def stored_window(ds: Dataset, frame: int) -> Window | None:
    """The first stored window: per-frame Frame VOI LUT Sequence, shared one, then top level."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame < len(per_frame):
        seq = per_frame[frame].get("FrameVOILUTSequence")
        found = _window_from(seq[0] if seq else None)
        if found:
            return found
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        seq = shared[0].get("FrameVOILUTSequence")
        found = _window_from(seq[0] if seq else None)
        if found:
            return found
    return _window_from(ds)


def fallback_window(
    mode: DefaultWindow, bits_stored: int, modality_values: np.ndarray | None
) -> Window:
    """The window used when neither the request nor the file gives one.

    ORTHANC: width 2^BitsStored, centre width/2, as Orthanc's core renderer does
    (ParsedDicomFile::GetDefaultWindowing), so a drop-in replacement gives the same image.
    MINMAX: the frame's own range after the modality LUT.
    """
    if mode is DefaultWindow.MINMAX and modality_values is not None and modality_values.size:
        lo = float(np.min(modality_values))
        hi = float(np.max(modality_values))
        if hi > lo:
            return Window(center=(lo + hi) / 2.0, width=hi - lo)
        return Window(center=lo, width=1.0)
    width = float(2 ** max(1, min(bits_stored, 32)))
    return Window(center=width / 2.0, width=width)


def apply_linear_window(values: np.ndarray, window: Window) -> np.ndarray:
    """LINEAR VOI LUT Function to 0..255 floats (PS3.3 C.11.2.1.2.1).

    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, clamped; w <= 1 is a threshold at c - 0.5.
    """
    c, w = window.center, window.width
    if w <= 1.0:
        return np.where(values > c - 0.5, 255.0, 0.0)
    out = values - (c - 0.5)
    out /= w - 1.0
    out += 0.5
    out *= 255.0
    np.clip(out, 0.0, 255.0, out=out)
    return out
