"""A folder of DICOM files, indexed by SOP Instance UID when the server starts."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import stat
import struct
import threading
import time
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from pydicom.filereader import read_partial
from pydicom.tag import BaseTag, Tag

from renderer.errors import RenderError
from renderer.files.local_file import open_nofollow
from router.errors import NotFound
from router.stores import (
    CHUNK,
    Client,
    Download,
    Instance,
    InstanceSummary,
    SeriesSummary,
    StudySummary,
    by_number,
    to_int,
)
from router.uid import is_uid

logger = logging.getLogger(__name__)

UID_KEYWORDS = ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
# What the listings show; read with the UIDs, in the same pass over the header.
LISTING_KEYWORDS = (
    "InstanceNumber",
    "NumberOfFrames",
    "SeriesNumber",
    "Modality",
    "SeriesDescription",
    "StudyDescription",
    "StudyDate",
    "PatientName",
    "PatientID",
)
INDEX_TAGS: list[BaseTag | int] = [Tag(k) for k in (*UID_KEYWORDS, *LISTING_KEYWORDS)]
LAST_INDEX_TAG = int(max(INDEX_TAGS))  # the scan stops reading a header past it
# Bytes of a file the scan reads at most: the tags it wants sit in the first groups, long before
# the pixels; a 2 GB zero-filled .dcm once kept the server from listening for minutes.
SCAN_BYTES = 1 << 20
# The tags of Pixel Data, Float and Double Float Pixel Data as a file holds them, in either byte
# order: whether a file holds pixels is seen in the bytes the scan reads anyway.
PIXEL_TAG_BYTES = tuple(
    struct.pack(order + "HH", 0x7FE0, element) for order in "<>" for element in (0x10, 0x08, 0x09)
)
PROGRESS_EVERY = 2.0  # seconds between progress lines while scanning a big folder


@dataclass(frozen=True, slots=True)
class IndexEntry:
    path: str
    study_uid: str
    series_uid: str
    listing: tuple[str, ...] = ("",) * len(LISTING_KEYWORDS)  # LISTING_KEYWORDS' values
    pixels: bool = True  # it holds Pixel Data (or Float or Double Float Pixel Data), or may

    def tag(self, keyword: str) -> str:
        return self.listing[LISTING_KEYWORDS.index(keyword)]

    @property
    def rank(self) -> tuple[bool, bool]:
        """Which of the files that share a SOP Instance UID is served first: one with pixels
        (not a header-only copy), then one whose Number of Frames reads as a number. The others
        are kept in this order as fallbacks for a copy that will not render."""
        frames = self.tag("NumberOfFrames")
        return (self.pixels, not frames or (to_int(frames) or 0) > 0)


def _past_index_tags(tag: int, vr: str | None, length: int) -> bool:
    return int(tag) > LAST_INDEX_TAG


def _plausible(head: bytes) -> bool:
    """A Part 10 file (DICM after the preamble), or a bare dataset starting with the File Meta
    or the Identifying group: not a zero-filled or foreign file, which pydicom would walk
    element by element to its end (forced)."""
    if head[128:132] == b"DICM":
        return True
    return len(head) >= 8 and int.from_bytes(head[:2], "little") in (0x0002, 0x0008)


def _holds_pixels(head: bytes, whole: bool) -> bool:
    """Whether a file holds pixels, from the bytes the scan read: a pixel data tag among them,
    or (a header longer than SCAN_BYTES, so far unseen) perhaps."""
    return not whole or any(tag in head for tag in PIXEL_TAG_BYTES)


def _read_entry(path: str) -> tuple[str, IndexEntry] | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(SCAN_BYTES)  # all the scan reads of a file, however big
        if not _plausible(head):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # odd files are expected; they are just skipped
            ds = read_partial(
                io.BytesIO(head),
                stop_when=_past_index_tags,
                specific_tags=INDEX_TAGS,
                force=True,
            )
            # values are converted as they are read, with pydicom's warnings about them
            object_uid = str(ds.SOPInstanceUID)
            entry = IndexEntry(
                path,
                str(ds.get("StudyInstanceUID", "")),
                str(ds.get("SeriesInstanceUID", "")),
                tuple(str(ds.get(k, "") or "") for k in LISTING_KEYWORDS),
                pixels=_holds_pixels(head, whole=len(head) < SCAN_BYTES),
            )
    except Exception:
        return None
    return (object_uid, entry) if is_uid(object_uid) else None


def scan(roots: list[Path], stop: threading.Event | None = None) -> dict[str, list[IndexEntry]]:
    """Walk the folders; keep regular files inside their root (symlinks out are skipped).
    Stops between two files once `stop` is set (SIGTERM during the start). Each SOP Instance
    UID maps to its files, the one to serve first (IndexEntry.rank) at the head."""
    logging.getLogger("pydicom").setLevel(logging.ERROR)
    copies: dict[str, list[IndexEntry]] = {}
    seen = 0
    last = time.monotonic()
    for root in roots:
        real_root = Path(os.path.realpath(root))
        for folder, _dirs, files in os.walk(real_root):
            for name in sorted(files):
                if stop is not None and stop.is_set():
                    logger.info("scan stopped after %d files", seen)
                    return copies
                path = os.path.join(folder, name)
                real = os.path.realpath(path)
                if not Path(real).is_relative_to(real_root) or not os.path.isfile(real):
                    continue
                seen += 1
                found = _read_entry(real)
                if found is None:
                    continue
                copies.setdefault(found[0], []).append(found[1])
                if time.monotonic() - last > PROGRESS_EVERY:
                    last = time.monotonic()
                    logger.info("scanning: %d files read, %d instances indexed", seen, len(copies))
    duplicates = 0
    for entries in copies.values():
        entries.sort(key=lambda e: e.rank, reverse=True)  # stable: the first found among equals
        duplicates += len(entries) - 1
    logger.info(
        "indexed %d instances from %d files in %s%s",
        len(copies),
        seen,
        ", ".join(str(r) for r in roots),
        f" ({duplicates} more files repeat a SOP Instance UID: kept as fallbacks)"
        if duplicates
        else "",
    )
    return copies


def still_inside(instance: Instance) -> None:
    """The indexed path is the real path of a file inside a root: if anything on it became a
    symlink since the scan, its real path differs now, and the file is no longer served."""
    path = instance.key
    try:
        if os.path.realpath(path) != path or not stat.S_ISREG(os.lstat(path).st_mode):
            raise NotFound(f"instance {instance.object_uid} is no longer inside the folder")
    except OSError:
        raise NotFound(f"instance {instance.object_uid} is no longer readable") from None


def open_inside(instance: Instance) -> tuple[int, int]:
    """The indexed file itself, opened for reading: checked, then opened without following a
    symlink anywhere on its path (renderer.files.local_file), so nothing can be swapped in between.
    A descriptor and the file's size."""
    still_inside(instance)
    try:
        fd = open_nofollow(instance.key)
    except RenderError as exc:
        raise NotFound(f"instance {instance.object_uid}: {exc.reason}") from None
    return fd, os.fstat(fd).st_size


def _download(fd: int, size: int) -> Download:
    closed = False

    async def chunks() -> AsyncIterator[bytes]:
        offset = 0
        while not closed and (chunk := await asyncio.to_thread(os.pread, fd, CHUNK, offset)):
            offset += len(chunk)
            yield chunk

    async def close() -> None:
        nonlocal closed
        if not closed:
            closed = True
            os.close(fd)

    return Download(size, chunks(), close)


class FolderStore:
    name = "folder"

    def __init__(self, copies: dict[str, list[IndexEntry]]) -> None:
        self.index = {object_uid: entries[0] for object_uid, entries in copies.items()}
        # The other files with the same SOP Instance UID, best first (see fallback).
        self.fallbacks = {uid: entries[1:] for uid, entries in copies.items() if entries[1:]}
        # study UID -> series UID -> SOP Instance UIDs: listings without a scan of the index
        self.tree: dict[str, dict[str, list[str]]] = {}
        for object_uid, entry in self.index.items():
            self._place(object_uid, entry)

    def _place(self, object_uid: str, entry: IndexEntry) -> None:
        series = self.tree.setdefault(entry.study_uid, {})
        series.setdefault(entry.series_uid, []).append(object_uid)

    def fallback(self, instance: Instance) -> Instance | None:
        """Another file with the instance's SOP Instance UID, served from now on in place of
        `instance`'s, which could not be rendered; None when there is none left."""
        entry = self.index.get(instance.object_uid)
        others = self.fallbacks.get(instance.object_uid)
        if entry is None or entry.path != instance.key or not others:
            return None
        chosen = others.pop(0)
        old = self.tree[entry.study_uid][entry.series_uid]
        old.remove(instance.object_uid)
        if not old:
            del self.tree[entry.study_uid][entry.series_uid]
            if not self.tree[entry.study_uid]:
                del self.tree[entry.study_uid]
        self.index[instance.object_uid] = chosen
        self._place(instance.object_uid, chosen)
        logger.info(
            "instance %s: %s could not be rendered; serving %s instead",
            instance.object_uid,
            entry.path,
            chosen.path,
        )
        return Instance(instance.object_uid, chosen.path)

    @classmethod
    async def open(cls, roots: list[Path]) -> FolderStore:
        stop = threading.Event()
        try:
            return cls(await asyncio.to_thread(scan, roots, stop))
        finally:
            stop.set()  # cancelled (SIGTERM while scanning): the thread ends after its file

    async def locate(
        self,
        object_uid: str,
        study_uid: str | None,
        series_uid: str | None,
        *,
        client: Client | None,
    ) -> Instance:
        entry = self.index.get(object_uid)
        if entry is None:
            raise NotFound(f"no instance with objectUID {object_uid}")
        if study_uid and study_uid != entry.study_uid:
            raise NotFound(f"instance {object_uid} is not in study {study_uid}")
        if series_uid and series_uid != entry.series_uid:
            raise NotFound(f"instance {object_uid} is not in series {series_uid}")
        return Instance(object_uid, entry.path)

    async def download(self, instance: Instance, *, client: Client | None) -> Download:
        return _download(*await asyncio.to_thread(open_inside, instance))

    async def render_source(self, instance: Instance, *, client: Client | None) -> str:
        """The path, for the worker to read, once it is checked to still be the regular file
        indexed inside the root (not a symlink swapped in since the scan)."""
        await asyncio.to_thread(still_inside, instance)
        return instance.key

    async def studies(self, limit: int, *, client: Client | None) -> list[StudySummary]:
        found = []
        for study_uid, series in self.tree.items():
            if not study_uid:
                continue  # files without a Study Instance UID are served, not listed
            entry = self.index[next(iter(series.values()))[0]]
            found.append(
                StudySummary(
                    study_uid,
                    patient_name=entry.tag("PatientName"),
                    patient_id=entry.tag("PatientID"),
                    date=entry.tag("StudyDate"),
                    description=entry.tag("StudyDescription"),
                )
            )
        newest = sorted(found, key=lambda s: (s.date, s.study_uid), reverse=True)
        return newest[:limit]

    async def series(self, study_uid: str, *, client: Client | None) -> list[SeriesSummary]:
        series = self.tree.get(study_uid)
        if not series:
            raise NotFound(f"no study {study_uid}")
        found = []
        for series_uid, members in series.items():
            entry = self.index[members[0]]
            found.append(
                SeriesSummary(
                    study_uid,
                    series_uid,
                    number=to_int(entry.tag("SeriesNumber")),
                    modality=entry.tag("Modality"),
                    description=entry.tag("SeriesDescription"),
                    instances=len(members),
                )
            )
        return sorted(found, key=lambda s: by_number(s.number, s.series_uid))

    async def instances(
        self, study_uid: str, series_uid: str, *, client: Client | None
    ) -> list[InstanceSummary]:
        members = self.tree.get(study_uid, {}).get(series_uid)
        if not members:
            raise NotFound(f"no series {series_uid} in study {study_uid}")
        found = [
            InstanceSummary(
                object_uid,
                number=to_int(self.index[object_uid].tag("InstanceNumber")),
                frames=to_int(self.index[object_uid].tag("NumberOfFrames")) or 1,
                pixels=self.index[object_uid].pixels,
            )
            for object_uid in members
        ]
        return sorted(found, key=lambda i: by_number(i.number, i.object_uid))

    async def check_access(self, instance: Instance, *, client: Client) -> None:
        return None

    async def check_client(self, *, client: Client) -> None:
        return None

    def forget(self, instance: Instance) -> None:
        return None  # the index is the scan; a file gone from it is refused by its path

    async def unready(self) -> str | None:
        return None

    async def close(self) -> None:
        return None
