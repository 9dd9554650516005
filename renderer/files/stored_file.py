"""A stored file, read once for a render: the lean reader's view when the file is plain
(renderer.decoding.part10), pydicom's Dataset otherwise, and one frame's cells the cheapest
way: a view of native pixel data, a reduced-resolution decode, or pydicom's decoders."""

from __future__ import annotations

import functools
import logging

import numpy as np
from pydicom.dataset import Dataset

from renderer.decoding import part10
from renderer.decoding.decode import decode_frame, image_info, native_frame, read_dataset
from renderer.decoding.reduced import reduced_frame
from renderer.display.header import Header, describe
from renderer.errors import NotDicom
from renderer.files.anonymize import anonymize, check_size
from renderer.files.http_client import fetch
from renderer.files.local_file import read_nofollow
from renderer.output.layout import Plan
from renderer.params import Deidentify, HttpSource, LocalSource, RenderSource

logger = logging.getLogger(__name__)

WHOLE = (slice(None), slice(None))


def fetched(source: RenderSource, anonymize: Deidentify | None = None) -> LocalSource:
    """What a worker was sent, with a URL fetched; de-identifying, an object over its size
    limit is refused before its bytes are read (renderer.anonymize.check_size)."""
    if not isinstance(source, HttpSource):
        return source
    return fetch(source, None if anonymize is None else _size_check(anonymize))


def _size_check(policy: Deidentify) -> functools.partial[None]:
    return functools.partial(check_size, policy=policy)


class StoredFile:
    def __init__(self, source: LocalSource, anonymize: Deidentify | None = None) -> None:
        self._source = source
        self._anonymize = anonymize  # de-identify the dataset as soon as it is parsed
        self._dataset: Dataset | None = None
        self.plain: part10.Plain | None = None
        limit = None if anonymize is None else _size_check(anonymize)
        if isinstance(source, str):  # a folder store's file: never through a symlink
            source = self._source = read_nofollow(source, limit)
        elif limit is not None:
            limit(len(source))
        # De-identifying, everything comes from the de-identified data set: the lean reader's
        # view is the file as stored (its overlays, its names).
        self.plain = None if anonymize is not None else part10.read(source)

    @property
    def anonymize(self) -> Deidentify | None:
        return self._anonymize

    @property
    def data(self) -> bytes:
        """The file's bytes (read by now: the dataset of an unreadable file raised first)."""
        if not isinstance(self._source, bytes):
            raise NotDicom("the stored file could not be read")
        return self._source

    @property
    def size(self) -> int | None:
        """The file's length in bytes, once read."""
        return len(self._source) if isinstance(self._source, bytes) else None

    def dataset(self) -> Dataset:
        """pydicom's parse of the whole file, made the first time something needs it."""
        if self._dataset is None:
            self._dataset = read_dataset(self._source)
            if self._anonymize is not None:
                anonymize(self._dataset)
        return self._dataset

    def stored_dataset(self) -> Dataset:
        """The data set as stored, even when de-identifying: for what the router is told and
        no client sees (the image a presentation state shows, to render it through the state)."""
        return self.dataset() if self._anonymize is None else read_dataset(self._source)

    def header(self, frame: int, max_pixels: int) -> Header:
        if self.plain is not None:
            attributes = self.plain.attributes
            info = image_info(attributes, max_pixels, self.plain.transfer_syntax)
            return describe(attributes, info, frame)
        ds = self.dataset()
        return describe(ds, image_info(ds, max_pixels), frame)

    def cells(
        self, header: Header, frame: int, geometry: Plan, reduce: bool = True
    ) -> tuple[np.ndarray, str, tuple[slice, slice]]:
        """The frame's cells, their photometric interpretation and the crop to take: a
        thumbnail of a whole compressed frame is decoded at reduced resolution where the codec
        allows (unless `reduce` is False), native pixel data of a plain file is a view of its
        bytes."""
        info = header.info
        plain = self.plain
        if plain is not None and not info.transfer_syntax.is_encapsulated:
            cells = native_frame(plain.attributes, plain.pixel_data, info, frame)
            if cells is not None:
                return cells, info.photometric, geometry.crop
        whole = (geometry.x0, geometry.y0, geometry.x1, geometry.y1) == (
            0,
            0,
            info.columns,
            info.rows,
        )
        if whole and info.transfer_syntax.is_encapsulated:
            pixel_data = bytes(plain.pixel_data) if plain else self.dataset().PixelData
            # Not reducing still takes libjpeg-turbo's full-size decode of JPEG baseline.
            rows, columns = (
                (geometry.height, geometry.width) if reduce else (info.rows, info.columns)
            )
            cells = reduced_frame(pixel_data, info, frame, rows, columns)
            if cells is not None:
                full = cells.shape[:2] == (info.rows, info.columns)
                return cells, info.photometric, geometry.crop if full else WHOLE
        decoded, photometric = decode_frame(self.dataset(), info, frame)
        return decoded, photometric, geometry.crop


__all__ = ["StoredFile", "fetched"]
