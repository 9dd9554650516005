"""Modality LUT: stored values to modality units (PS3.3 C.11.1, C.7.6.16.2.9).

Either Rescale Slope/Intercept or a Modality LUT Sequence of one item. Enhanced multi-frame
objects carry the rescale in the Pixel Value Transformation Sequence of the Per-frame Functional
Groups, else of the Shared ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from renderer.decoding.elements import Elements
from renderer.display.lut import Lut, apply_lut, lut_from_item


@dataclass(frozen=True, slots=True)
class Rescale:
    slope: float = 1.0
    intercept: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self.slope == 1.0 and self.intercept == 0.0


Modality = Rescale | Lut


def _first_item(ds: Elements, keyword: str) -> Dataset | None:
    seq = ds.get(keyword)
    return seq[0] if seq else None


def _rescale_from(item: Elements | None) -> Rescale | None:
    if item is None or ("RescaleSlope" not in item and "RescaleIntercept" not in item):
        return None
    try:
        slope = float(item.get("RescaleSlope", 1.0))
        intercept = float(item.get("RescaleIntercept", 0.0))
    except (TypeError, ValueError):
        return None
    if not (np.isfinite(slope) and np.isfinite(intercept)) or slope == 0.0:
        return None
    return Rescale(slope, intercept)


def rescale_for_frame(ds: Elements, frame: int) -> Rescale:
    """Rescale Slope/Intercept of one frame: per-frame, shared, top level; absent is identity."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame < len(per_frame):
        found = _rescale_from(_first_item(per_frame[frame], "PixelValueTransformationSequence"))
        if found:
            return found
    shared = _first_item(ds, "SharedFunctionalGroupsSequence")
    if shared is not None:
        found = _rescale_from(_first_item(shared, "PixelValueTransformationSequence"))
        if found:
            return found
    return _rescale_from(ds) or Rescale()


def modality_for_frame(ds: Elements, frame: int, *, signed: bool) -> Modality:
    """The Modality LUT Sequence when there is one (C.11.1: it and a rescale are exclusive;
    a file with both gets the table, as pydicom does), else the frame's rescale."""
    item = _first_item(ds, "ModalityLUTSequence")
    if item is not None and "LUTData" in item:
        little_endian = bool(ds.original_encoding[1] in (True, None))
        return lut_from_item(
            item, signed_input=signed, little_endian=little_endian, name="Modality LUT Sequence"
        )
    return rescale_for_frame(ds, frame)


def output_bits(modality: Modality, bits_stored: int) -> int:
    """How many bits the modality values span: the table's entries, else Bits Stored."""
    return modality.bits if isinstance(modality, Lut) else bits_stored


def apply_rescale(values: np.ndarray, rescale: Rescale) -> np.ndarray:
    """y = slope * x + intercept, in float64 so that the lookup-table path and the direct path
    give identical results."""
    out = values.astype(np.float64)
    if not rescale.is_identity:
        out *= rescale.slope
        out += rescale.intercept
    return out


def apply_modality(values: np.ndarray, modality: Modality) -> np.ndarray:
    """Stored values (int64, or float for Float Pixel Data) to modality values (float64)."""
    if isinstance(modality, Lut):
        return apply_lut(values, modality).astype(np.float64)
    return apply_rescale(values, modality)
