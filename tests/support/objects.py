"""A synthetic study holding one object of each kind next to an image: what a real study holds
besides images (reports, waveforms, RT objects, a key object selection, an instance without
pixels). Each object is its own series, so that its series thumbnail shows that object. Written
with pydicom from pydicom's own sample files (new UIDs) or built here."""

from __future__ import annotations

import copy
import functools
import io
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageDraw
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from tests.support import corpus, videos

STUDY_NAME = "objects-study"
KOS_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"
PDF_CLASS = "1.2.840.10008.5.1.4.1.1.104.1"
VIDEOS = ("mpeg2", "h264", "hevc")  # tests.support.videos kinds in the study
PDF_PAGE_SIZE = (300, 420)  # points (Pillow writes 72 dpi): a small portrait page


@dataclass(frozen=True)
class StudyObject:
    name: str
    modality: str  # the badge its placeholder shows
    sop_class_name: str
    path: Path
    kind: str  # "image", "placeholder", "report", ...

    @property
    def object_uid(self) -> str:
        return corpus.derived_uid(f"{STUDY_NAME}/{self.name}", "instance")

    @property
    def series_uid(self) -> str:
        return corpus.derived_uid(f"{STUDY_NAME}/{self.name}", "series")


STUDY_UID = corpus.derived_uid(STUDY_NAME, "study")


def _read(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, force=True)


def _pydicom_file(name: str) -> Callable[[], Dataset]:
    return lambda: _read(corpus.pydicom_dir() / name)


def header_only() -> Dataset:
    """A CT instance without Pixel Data, as DICOMDIR test sets and some exports hold them."""
    return _read(
        corpus.pydicom_dir() / "dicomdirtests/TINY_ALPHA/PT000000/ST000000/SE000000/IM000000"
    )


def key_objects() -> Dataset:
    """A Key Object Selection Document (PS3.3 A.35.4) flagging the study's CT image."""
    ds = Dataset()
    ds.SOPClassUID = KOS_CLASS
    ds.Modality = "KO"
    ds.ContentDate, ds.ContentTime = "20240105", "101500"
    ds.ValueType = "CONTAINER"
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator = "113000", "DCM"
    concept.CodeMeaning = "Of Interest"
    ds.ConceptNameCodeSequence = Sequence([concept])
    ds.ContinuityOfContent = "SEPARATE"
    reference = Dataset()
    reference.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    reference.ReferencedSOPInstanceUID = CT.object_uid
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "IMAGE"
    item.ReferencedSOPSequence = Sequence([reference])
    ds.ContentSequence = Sequence([item])
    return ds


def pdf_pages() -> list[np.ndarray]:
    """The pictures on the PDF's two pages: a red block and a blue disc, each with stripes."""
    pages = []
    for colour, shape in (((200, 30, 30), "rectangle"), ((30, 60, 200), "ellipse")):
        page = Image.new("RGB", PDF_PAGE_SIZE, (250, 250, 245))
        pen = ImageDraw.Draw(page)
        getattr(pen, shape)((40, 60, 260, 300), fill=colour)
        for y in range(330, 400, 14):
            pen.rectangle((30, y, 270, y + 6), fill=(40, 40, 40))
        pages.append(np.asarray(page))
    return pages


def make_pdf() -> bytes:
    """A two-page PDF written by Pillow, one image per page at 72 dpi."""
    first, *rest = (Image.fromarray(page) for page in pdf_pages())
    out = io.BytesIO()
    when = time.gmtime(1704449700)  # 2024-01-05 10:15 UTC: the same bytes each time
    first.save(
        out,
        format="PDF",
        save_all=True,
        append_images=rest,
        resolution=72.0,
        creationDate=when,
        modDate=when,
    )
    return out.getvalue()


def encapsulated_pdf() -> Dataset:
    """An Encapsulated PDF (PS3.3 A.45.1) holding make_pdf()."""
    data = make_pdf()
    ds = Dataset()
    ds.SOPClassUID = PDF_CLASS
    ds.Modality = "DOC"
    ds.DocumentTitle = "Scanned request form"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.BurnedInAnnotation = "YES"
    ds.ContentDate = "20240105"
    ds.EncapsulatedDocumentLength = len(data)
    ds.EncapsulatedDocument = data + b"\0" * (len(data) % 2)
    return ds


def _ct() -> Dataset:
    return _read(corpus.pydicom_dir() / "CT_small.dcm")


CT = StudyObject("ct", "CT", "CT Image Storage", Path("ct.dcm"), "image")
OBJECTS: list[tuple[StudyObject, Callable[[], Dataset]]] = [
    (CT, _ct),
    (
        StudyObject("sr", "SR", "Comprehensive SR Storage", Path("sr.dcm"), "report"),
        _pydicom_file("test-SR.dcm"),
    ),
    (
        StudyObject("ecg", "ECG", "12-lead ECG Waveform Storage", Path("ecg.dcm"), "placeholder"),
        _pydicom_file("waveform_ecg.dcm"),
    ),
    (
        StudyObject("rtplan", "RTPLAN", "RT Plan Storage", Path("rtplan.dcm"), "placeholder"),
        _pydicom_file("rtplan.dcm"),
    ),
    (
        StudyObject(
            "rtstruct", "RTSTRUCT", "RT Structure Set Storage", Path("rtstruct.dcm"), "placeholder"
        ),
        _pydicom_file("rtstruct.dcm"),
    ),
    (
        StudyObject(
            "kos", "KO", "Key Object Selection Document Storage", Path("kos.dcm"), "report"
        ),
        key_objects,
    ),
    (
        StudyObject("pdf", "DOC", "Encapsulated PDF Storage", Path("pdf.dcm"), "pdf"),
        encapsulated_pdf,
    ),
    *(
        (
            StudyObject(name, "ES", "Video Endoscopic Image Storage", Path(f"{name}.dcm"), "video"),
            functools.partial(videos.dataset, name),
        )
        for name in VIDEOS
    ),
    (
        StudyObject("no-pixels", "CT", "CT Image Storage", Path("no-pixels.dcm"), "placeholder"),
        header_only,
    ),
]


def write_study(folder: Path) -> list[StudyObject]:
    """Every object of the study as a file in `folder`; returns them with their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for number, (obj, build) in enumerate(OBJECTS, start=1):
        ds = copy.deepcopy(build())
        ds.SOPInstanceUID = obj.object_uid
        ds.StudyInstanceUID = STUDY_UID
        ds.SeriesInstanceUID = obj.series_uid
        ds.SeriesNumber, ds.InstanceNumber = number, 1
        ds.PatientID, ds.PatientName = "WADOFARM-OBJECTS", "Objects^Study"
        ds.StudyDate = "20240105"
        meta = getattr(ds, "file_meta", None) or FileMetaDataset()
        ds.file_meta = meta
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = obj.object_uid
        if "TransferSyntaxUID" not in meta:
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / obj.path
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(path, enforce_file_format=True)
        written.append(StudyObject(obj.name, obj.modality, obj.sop_class_name, path, obj.kind))
    return written


__all__ = ["OBJECTS", "STUDY_UID", "StudyObject", "write_study"]
