"""Where DICOM instances come from. Every store finds an instance by its UIDs and hands over
either its bytes or a path that a render worker may read itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from renderer.fetch import RenderSource


@dataclass(frozen=True, slots=True)
class Instance:
    object_uid: str
    key: str  # the store's own handle: an Orthanc ID or a file path


class Store(Protocol):
    name: str

    async def locate(
        self, object_uid: str, study_uid: str | None, series_uid: str | None
    ) -> Instance:
        """The instance, or NotFound when it is missing or its parents do not match."""
        ...

    async def read(self, instance: Instance) -> bytes:
        """The stored file, byte for byte."""
        ...

    async def render_source(self, instance: Instance) -> RenderSource:
        """What a render worker gets: bytes, or a path or URL it reads itself (no copy through
        the router)."""
        ...

    async def ready(self) -> bool:
        """Whether the store can answer now."""
        ...

    async def close(self) -> None: ...
