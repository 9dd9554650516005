"""A bounded cache of decoded frames in each render worker.

A window drag, a zoom or a thumbnail after the full view re-renders an instance that the same
worker decoded a moment ago; with the frame cached that costs no fetch from Orthanc and no
decode, only the display pipeline and the encoder. Keys name the content: the store's key for
a fetched file (an Orthanc ID; Orthanc derives it from the UIDs), or a path with its size and
modification time. Files sent as bytes are not cached: they have no cheap name.

Off (0 bytes) unless the worker configures it, so `render()` called directly stays pure.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from renderer.display.header import Header
from renderer.lru import SizedLru
from renderer.params import HttpSource, RenderSource

OVERHEAD = 4_096  # bytes counted per entry for the header


@dataclass(frozen=True, slots=True)
class Decoded:
    header: Header
    frame: np.ndarray
    photometric: str
    size: int  # bytes held: the buffer under the frame (the whole file, for a view into it)


def key_for(source: RenderSource, frame: int) -> Hashable | None:
    if isinstance(source, HttpSource):
        return ("http", source.base, source.key, frame)
    if isinstance(source, str):
        try:
            stat = os.stat(source)
        except OSError:
            return None  # the decoder reports the missing file
        return ("path", source, stat.st_size, stat.st_mtime_ns, frame)
    return None


def measure(frame: np.ndarray) -> int:
    """What keeping `frame` keeps alive: the array that owns its memory, or the whole buffer
    (the file's bytes) it is a view of."""
    root: object = frame
    while isinstance(root, np.ndarray) and root.base is not None:
        root = root.base
    if isinstance(root, np.ndarray):
        return OVERHEAD + root.nbytes
    if isinstance(root, memoryview):
        root = root.obj
    try:
        return OVERHEAD + memoryview(root).nbytes  # type: ignore[arg-type]
    except TypeError:
        return OVERHEAD + frame.nbytes


FrameCache = SizedLru[Hashable, Decoded]

CACHE = FrameCache()


def configure(max_bytes: int) -> None:
    """Called once by a worker at start: this process's frame cache size."""
    global CACHE
    CACHE = FrameCache(max_bytes)


__all__ = ["CACHE", "Decoded", "FrameCache", "configure", "key_for", "measure"]
