"""A stored file, read once for a render: the lean reader's view when the file is plain
(renderer.decoding.part10), pydicom's Dataset otherwise, and one frame's cells the cheapest
way: a view of native pixel data, a reduced-resolution decode, or pydicom's decoders."""

from __future__ import annotations

import logging

import numpy as np
from pydicom.dataset import Dataset

from renderer.decoding import part10
from renderer.decoding.decode import decode_frame, image_info, native_frame, read_dataset
from renderer.decoding.reduced import reduced_frame
from renderer.display.header import Header, describe
from renderer.errors import NotDicom
from renderer.files.anonymize import anonymize
from renderer.files.local_file import read_nofollow
from renderer.output.layout import Plan
from renderer.params import LocalSource

logger = logging.getLogger(__name__)

WHOLE = (slice(None), slice(None))


class StoredFile:
    def __init__(self, source: LocalSource, anonymize: bool = False) -> None:
        self._source = source
        self._anonymize = anonymize  # de-identify the dataset as soon as it is parsed
        self._dataset: Dataset | None = None
        self.plain: part10.Plain | None = None
        if isinstance(source, str):  # a folder store's file: never through a symlink
            source = self._source = read_nofollow(source)
        self.plain = part10.read(source)

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
            if self._anonymize:
                anonymize(self._dataset)
        return self._dataset

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


__all__ = ["StoredFile"]
