"""A DICOM image built to hold every attribute of PS3.15 Table E.1-1
(renderer.files.deid_table), each with an identifying value of its own, plus a private
element, a curve, an overlay with a comment, and, in a sequence, a name, a UID and a private
element: what de-identification is tested against. Strings are unique and say PHI, UIDs are
under a root of their own, so a value that survives is found in the answer's bytes."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from renderer.files.deid_table import BASIC

UID_ROOT = "1.2.826.0.1.3680043.10.54321."
PRIVATE_PHI = "PRIVATE-PHI Doe MRN-778899"
SKIPPED_GROUPS = (0x0000, 0x0002)  # a command set's and the file meta's: not in a data set
SIZE = 16  # rows and columns of the image


@dataclass
class Built:
    data: bytes  # the Part 10 file
    values: dict[int, object] = field(default_factory=dict)  # tag -> the value put there
    strings: list[str] = field(default_factory=list)  # every identifying text, to search for
    uids: list[str] = field(default_factory=list)  # every original UID


def _vr(tag: int) -> str:
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return "LO"  # newer than pydicom's dictionary: written with a VR of our choosing
    return vr.split(" or ")[0]


def _value(vr: str, index: int, built: Built, variant: int) -> object:
    text = f"PHI{index:03d}X"
    if vr == "PN":
        built.strings.append(f"Doe{index:03d}")
        return f"Doe{index:03d}^{text}"
    if vr in ("AE", "CS", "SH", "LO", "ST", "LT", "UT", "UC"):
        built.strings.append(text)
        return text
    if vr == "UR":
        built.strings.append(f"phi{index:03d}.example")
        return f"http://phi{index:03d}.example/"
    if vr == "UI":
        uid = f"{UID_ROOT}{variant}.{index}"
        built.uids.append(uid)
        return uid
    day = datetime.date(1950, 1, 1) + datetime.timedelta(days=37 * index)
    if vr == "DA":
        return day.strftime("%Y%m%d")
    if vr == "TM":
        return f"{index % 24:02d}{index * 7 % 60:02d}{index * 13 % 60:02d}"
    if vr == "DT":
        return day.strftime("%Y%m%d") + f"{index % 24:02d}1500"
    if vr == "AS":
        return f"{index % 90 + 10:03d}Y"
    if vr == "DS":
        return f"{index}.5"
    if vr == "IS":
        return str(1000 + index)
    if vr in ("US", "SS", "UL", "SL", "UV", "SV"):
        return 1000 + index
    if vr in ("FL", "FD"):
        return 1000.5 + index
    if vr == "AT":
        return 0x00100010
    built.strings.append(text)  # OB, OW, UN and the other bytes
    return text.encode() + b"\x00"


def _item(index: int, built: Built, variant: int) -> Dataset:
    """A sequence item with a name, a UID reference and a private element in it."""
    item = Dataset()
    item.PatientName = f"SeqDoe{index:03d}^PHI"
    built.strings.append(f"SeqDoe{index:03d}")
    uid = f"{UID_ROOT}{variant}.9{index}"
    built.uids.append(uid)
    item.ReferencedSOPInstanceUID = uid
    item.ReferencedSOPClassUID = CTImageStorage
    block = item.private_block(0x0011, "WADOFARM SEQ", create=True)
    block.add_new(0x01, "LO", f"SEQ-PRIVATE-PHI {index}")
    built.strings.append(f"SEQ-PRIVATE-PHI {index}")
    return item


def every_profile_attribute(
    modality: str = "CT", burned_in: str | None = "NO", frames: int = 1
) -> Built:
    """The test image (see the module docstring), of `frames` frames."""
    built = Built(b"")
    # Each kind of test image with UIDs of its own, so that several sit in one folder.
    variant = 1 + sum(map(ord, f"{modality}/{burned_in}/{frames}")) % 10000
    ds = Dataset()
    for index, tag in enumerate(sorted(BASIC)):
        if tag >> 16 in SKIPPED_GROUPS:
            continue
        vr = _vr(tag)
        value: object = (
            Sequence([_item(index, built, variant)])
            if vr == "SQ"
            else _value(vr, index, built, variant)
        )
        ds.add_new(tag, vr, value)
        built.values[tag] = value
    # The image itself (none of it in the table), with a real SOP Instance UID of its own.
    ds.SOPClassUID = CTImageStorage
    ds.Modality = modality
    if burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    ds.Rows = ds.Columns = SIZE
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ramp = np.arange(SIZE * SIZE, dtype=np.uint16).reshape(SIZE, SIZE) * 16
    ds.PixelData = b"".join((ramp + 64 * frame).tobytes() for frame in range(frames))
    if frames > 1:
        ds.NumberOfFrames = frames
    # An overlay over the whole image (its data and comment: X), and a curve (50xx: X).
    ds.add_new(0x60000010, "US", SIZE)
    ds.add_new(0x60000011, "US", SIZE)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60003000, "OW", np.packbits(np.ones(SIZE * SIZE, np.uint8)).tobytes())
    ds.add_new(0x60004000, "LT", "OVERLAY-PHI comment")
    ds.add_new(0x50003000, "OB", b"CURVE-PHI\x00")
    built.strings += ["OVERLAY-PHI", "CURVE-PHI"]
    block = ds.private_block(0x0009, "WADOFARM TEST", create=True)
    block.add_new(0x01, "LO", PRIVATE_PHI)
    built.strings.append(PRIVATE_PHI)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.SourceApplicationEntityTitle = "PHISTATION"
    built.strings.append("PHISTATION")
    out = io.BytesIO()
    pydicom.dcmwrite(out, ds, enforce_file_format=True)
    built.data = out.getvalue()
    return built


__all__ = ["PRIVATE_PHI", "UID_ROOT", "Built", "every_profile_attribute"]
