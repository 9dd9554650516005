"""Cine timing of multi-frame objects, for animated output (PS3.3 C.7.6.5 Cine Module,
C.7.6.16.2.2 Frame Content for enhanced objects)."""

from __future__ import annotations

from pydicom.dataset import Dataset

DEFAULT_DELAY_MS = 100.0  # 10 frames per second when the object says nothing
MIN_DELAY_MS = 20.0  # GIF counts in centiseconds; browsers slow anything faster to 100 ms


def _positive(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def frame_delays(ds: Dataset, frames: int) -> list[float]:
    """Milliseconds to show each frame.

    Frame Time (0018,1063) is the nominal time per frame; Frame Time Vector (0018,1065) gives
    the increment before each frame (its first entry is 0, so frame k is shown for the
    increment of k+1); else Recommended Display Frame Rate (0008,2144) or Cine Rate
    (0018,0040) in frames per second; else DEFAULT_DELAY_MS.
    """
    delay = _positive(ds.get("FrameTime"))
    if delay is None:
        vector = ds.get("FrameTimeVector")
        if vector is not None and len(vector) == frames and frames > 1:
            steps = [_positive(v) for v in list(vector)[1:]]
            if all(s is not None for s in steps):
                delays = [s for s in steps if s is not None]
                return [max(d, MIN_DELAY_MS) for d in [*delays, delays[-1]]]
    if delay is None:
        for keyword in ("RecommendedDisplayFrameRate", "CineRate"):
            rate = _positive(ds.get(keyword))
            if rate is not None:
                delay = 1000.0 / rate
                break
    return [max(delay or DEFAULT_DELAY_MS, MIN_DELAY_MS)] * frames
