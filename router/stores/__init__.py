"""Where DICOM instances come from. Every store finds an instance by its UIDs and hands over
either its bytes or a path that a render worker may read itself, and lists what it holds
(studies, their series, a series' instances) for the gallery and the study/series renders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from renderer.params import RenderSource


@dataclass(frozen=True, slots=True)
class Client:
    """Whom a store call is made for, under --auth forward: the client's own Authorization
    header (None: it sent none), for a store with users of its own (Orthanc) to judge. Passed
    to each call that needs it, never read from ambient state; a call made for no client
    (None in its place: the prewarmer, --auth none or bearer) goes with the server's own
    credentials."""

    authorization: str | None


@dataclass(frozen=True, slots=True)
class Instance:
    object_uid: str
    key: str  # the store's own handle: an Orthanc ID or a file path


@dataclass(frozen=True, slots=True)
class Download:
    """A stored file on its way to a client, in chunks, never whole in the router's memory.
    `close` frees what it holds (a file, a connection); call it however the sending ends."""

    size: int | None  # bytes, when the store knows
    chunks: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]


CHUNK = 1 << 18  # bytes read from a store per step of a download (per client in memory)


@dataclass(frozen=True, slots=True)
class StudySummary:
    study_uid: str
    patient_name: str = ""
    patient_id: str = ""
    date: str = ""  # DA, YYYYMMDD
    description: str = ""


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    study_uid: str
    series_uid: str
    number: int | None = None
    modality: str = ""
    description: str = ""
    instances: int = 0


@dataclass(frozen=True, slots=True)
class InstanceSummary:
    object_uid: str
    number: int | None = None
    frames: int = 1
    pixels: bool | None = None  # whether it holds pixel data; None: the store does not know


def to_int(value: object) -> int | None:
    """An IS value (Instance Number, Series Number, Number of Frames) or None."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def by_number(number: int | None, uid: str) -> tuple[bool, int, str]:
    """Sort key: numbered items first in number order, then by UID, so the order is stable."""
    return (number is None, number or 0, uid)


def middle(instances: list[InstanceSummary]) -> InstanceSummary:
    """The representative instance of a series: the middle one by Instance Number of those
    that hold pixels, when the store knows and the series has any (a series of images with a
    header-only or report instance among them shows an image)."""
    images = [i for i in instances if i.pixels is not False]
    ordered = sorted(images or instances, key=lambda i: by_number(i.number, i.object_uid))
    return ordered[len(ordered) // 2]


class Store(Protocol):
    name: str

    async def locate(
        self,
        object_uid: str,
        study_uid: str | None,
        series_uid: str | None,
        *,
        client: Client | None,
    ) -> Instance:
        """The instance, or NotFound when it is missing or its parents do not match."""
        ...

    async def download(self, instance: Instance, *, client: Client | None) -> Download:
        """The stored file, byte for byte, streamed; NotFound (or the store's error) is raised
        here, before the first byte."""
        ...

    async def render_source(self, instance: Instance, *, client: Client | None) -> RenderSource:
        """What a render worker gets: bytes, or a path or URL it reads itself (no copy through
        the router)."""
        ...

    async def studies(self, limit: int, *, client: Client | None) -> list[StudySummary]:
        """Up to `limit` studies, newest first."""
        ...

    async def series(self, study_uid: str, *, client: Client | None) -> list[SeriesSummary]:
        """The series of a study in Series Number order; NotFound for an unknown study."""
        ...

    async def instances(
        self, study_uid: str, series_uid: str, *, client: Client | None
    ) -> list[InstanceSummary]:
        """The instances of a series in Instance Number order; NotFound for an unknown one."""

    async def check_access(self, instance: Instance, *, client: Client) -> None:
        """Whether `client` may read the instance (--auth forward);
        raises Unauthorized, Forbidden or NotFound. Stores without users of their own allow."""
        ...

    async def check_client(self, *, client: Client) -> None:
        """Whether the store knows `client` (--auth forward), for
        routes that show nothing of the store's; raises Unauthorized or Forbidden. Stores
        without users of their own allow."""
        ...

    def forget(self, instance: Instance) -> None:
        """The instance was not found where the store said (a 404 during a render): drop what
        is remembered about where it is, so the next request looks again."""
        ...

    def fallback(self, instance: Instance) -> Instance | None:
        """Another stored copy of the instance to render, and serve from now on, after this
        one could not be rendered (a folder may hold several files with one SOP Instance UID);
        None when the store has no other."""
        ...

    async def unready(self) -> str | None:
        """Why the store cannot answer now, in words; None when it can."""
        ...

    async def close(self) -> None: ...
