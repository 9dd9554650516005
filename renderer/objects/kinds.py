"""What kind of object a stored file is, and so which renderer draws it: an image (the display
pipeline), an Encapsulated PDF, a Structured Report, a video, or an object with no pixels at all
(a waveform, an RT plan or structure set, a header-only instance), which gets a placeholder.

Only the SOP class, the transfer syntax and the presence of Pixel Data decide. A file that merely
lost its pixels -- cut short on the way to the store -- is not "an object without pixels": it is
refused, so that a broken image never hides behind a placeholder.
"""

from __future__ import annotations

import re

from pydicom.dataset import Dataset
from pydicom.uid import MPEGTransferSyntaxes

from renderer.decoding.decode import PIXEL_DATA_TAGS
from renderer.errors import NotDicom
from renderer.formats import Kind

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
UID_FORM = re.compile(r"[0-9]+(\.[0-9]+){1,63}")  # PS3.5 9.1, at most 64 characters
UNDEFINED_LENGTH = 0xFFFFFFFF
ELEMENT_HEADER = 8  # the shortest tag-and-length of an element (PS3.5 7.1.2)
SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."  # the SR family, Key Object Selection included


def kind_of(ds: Dataset, size: int | None = None) -> Kind:
    """The kind of a parsed file of `size` bytes (see the module docstring)."""
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class == ENCAPSULATED_PDF and "EncapsulatedDocument" in ds:
        return Kind.PDF
    if any(tag in ds for tag in PIXEL_DATA_TAGS):
        transfer_syntax = ds.file_meta.get("TransferSyntaxUID")
        return Kind.VIDEO if transfer_syntax in MPEGTransferSyntaxes else Kind.IMAGE
    check_complete(ds, size)
    if not UID_FORM.fullmatch(sop_class):
        # Without a SOP class there is no telling it has no image: a mangled file, not an
        # object without pixels (its Pixel Data may have been swallowed by a broken length).
        raise NotDicom(f"(0008,0016) SOP Class UID is not a UID: {sop_class[:40]!r}")
    if sop_class.startswith(SR_PREFIX) and "ContentSequence" in ds:
        return Kind.REPORT
    return Kind.NO_PIXELS


def check_complete(ds: Dataset, size: int | None = None) -> None:
    """Refuse a file that ends inside an element: pydicom keeps what it could read, and without
    this a CT cut short before its Pixel Data would pass for an object without pixels. The cut
    shows as a last value shorter than its length, or (cut inside the next element's tag and
    length) as bytes left over after the last element, when the file's `size` is known."""
    last = max(ds.keys(), default=None)
    if last is None:
        return
    raw = ds.get_item(last)
    length = getattr(raw, "length", None)
    value = getattr(raw, "value", None)
    if isinstance(length, int) and isinstance(value, bytes) and len(value) < length:
        raise NotDicom(
            f"the stored file is truncated: it ends inside element {last}, "
            f"{len(value)} of its {length} bytes present"
        )
    start = getattr(raw, "value_tell", None)
    if size is None or not isinstance(start, int) or not isinstance(length, int):
        return
    if length != UNDEFINED_LENGTH and 0 < size - (start + length) < ELEMENT_HEADER:
        raise NotDicom(
            f"the stored file is truncated: {size - (start + length)} bytes after element "
            f"{last} are the start of an element cut short"
        )


__all__ = ["ENCAPSULATED_PDF", "check_complete", "kind_of"]
