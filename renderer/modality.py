"""Modality LUT: stored values to modality units (PS3.3 C.11.1, C.7.6.16.2.9)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset


@dataclass(frozen=True, slots=True)
class Rescale:
    slope: float = 1.0
    intercept: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self.slope == 1.0 and self.intercept == 0.0


def _first_item(ds: Dataset, keyword: str) -> Dataset | None:
    seq = ds.get(keyword)
    return seq[0] if seq else None


def _rescale_from(item: Dataset | None) -> Rescale | None:
    if item is None or ("RescaleSlope" not in item and "RescaleIntercept" not in item):
        return None
    try:
        return Rescale(
            float(item.get("RescaleSlope", 1.0)), float(item.get("RescaleIntercept", 0.0))
        )
    except (TypeError, ValueError):
        return None


def rescale_for_frame(ds: Dataset, frame: int) -> Rescale:
    """Rescale Slope/Intercept of one frame.

    Enhanced multi-frame objects put them in the Pixel Value Transformation Sequence of the
    Per-frame Functional Groups, else of the Shared ones (PS3.3 C.7.6.16.2.9); others at the top
    level. Absent means identity.
    """
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


def apply_rescale(values: np.ndarray, rescale: Rescale) -> np.ndarray:
    """y = slope * x + intercept, in float64 so that the lookup-table path and the direct path
    give identical results."""
    out = values.astype(np.float64)
    if not rescale.is_identity:
        out *= rescale.slope
        out += rescale.intercept
    return out
