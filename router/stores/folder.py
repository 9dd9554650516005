"""A folder of DICOM files, indexed by SOP Instance UID when the server starts."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.tag import Tag

from router.errors import NotFound
from router.stores import Instance
from router.uid import is_uid

logger = logging.getLogger(__name__)

INDEX_TAGS = [Tag("SOPInstanceUID"), Tag("StudyInstanceUID"), Tag("SeriesInstanceUID")]
PROGRESS_EVERY = 2.0  # seconds between progress lines while scanning a big folder


@dataclass(frozen=True, slots=True)
class IndexEntry:
    path: str
    study_uid: str
    series_uid: str


def _read_uids(path: str) -> tuple[str, str, str] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # odd files are expected; they are just skipped
            ds = pydicom.dcmread(
                path, stop_before_pixels=True, specific_tags=INDEX_TAGS, force=True
            )
        uids = (
            str(ds.SOPInstanceUID),
            str(ds.get("StudyInstanceUID", "")),
            str(ds.get("SeriesInstanceUID", "")),
        )
    except Exception:
        return None
    return uids if is_uid(uids[0]) else None


def scan(roots: list[Path]) -> dict[str, IndexEntry]:
    """Walk the folders; keep regular files inside their root (symlinks out are skipped)."""
    logging.getLogger("pydicom").setLevel(logging.ERROR)
    index: dict[str, IndexEntry] = {}
    seen = duplicates = 0
    last = time.monotonic()
    for root in roots:
        real_root = Path(os.path.realpath(root))
        for folder, _dirs, files in os.walk(real_root):
            for name in sorted(files):
                path = os.path.join(folder, name)
                real = os.path.realpath(path)
                if not Path(real).is_relative_to(real_root) or not os.path.isfile(real):
                    continue
                seen += 1
                uids = _read_uids(real)
                if uids is None:
                    continue
                if uids[0] in index:
                    duplicates += 1
                    continue
                index[uids[0]] = IndexEntry(real, uids[1], uids[2])
                if time.monotonic() - last > PROGRESS_EVERY:
                    last = time.monotonic()
                    logger.info("scanning: %d files read, %d instances indexed", seen, len(index))
    logger.info(
        "indexed %d instances from %d files in %s%s",
        len(index),
        seen,
        ", ".join(str(r) for r in roots),
        f" ({duplicates} duplicate SOP Instance UIDs skipped)" if duplicates else "",
    )
    return index


class FolderStore:
    name = "folder"

    def __init__(self, index: dict[str, IndexEntry]) -> None:
        self.index = index

    @classmethod
    async def open(cls, roots: list[Path]) -> FolderStore:
        return cls(await asyncio.to_thread(scan, roots))

    async def locate(
        self, object_uid: str, study_uid: str | None, series_uid: str | None
    ) -> Instance:
        entry = self.index.get(object_uid)
        if entry is None:
            raise NotFound(f"no instance with objectUID {object_uid}")
        if study_uid and study_uid != entry.study_uid:
            raise NotFound(f"instance {object_uid} is not in study {study_uid}")
        if series_uid and series_uid != entry.series_uid:
            raise NotFound(f"instance {object_uid} is not in series {series_uid}")
        return Instance(object_uid, entry.path)

    async def read(self, instance: Instance) -> bytes:
        try:
            return await asyncio.to_thread(Path(instance.key).read_bytes)
        except OSError as exc:
            raise NotFound(f"instance {instance.object_uid} is no longer readable") from exc

    async def render_source(self, instance: Instance) -> str:
        return instance.key

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None
