"""What the header stages read a file through: a pydicom Dataset, or the lean reader's
Attributes (renderer.decoding.part10) for plain files. Both answer `get` and `in` by keyword with
values converted the same way, so one builder (renderer.display.header) serves both."""

from __future__ import annotations

from typing import Any, Protocol


class Elements(Protocol):
    @property
    def original_encoding(self) -> tuple[bool, bool] | tuple[None, None]:
        """(implicit VR, little endian) of the data set as read."""
        ...

    def get(self, key: str, default: Any = None) -> Any: ...

    def __contains__(self, key: str) -> bool: ...


__all__ = ["Elements"]
