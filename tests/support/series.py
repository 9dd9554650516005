"""A multi-instance series made of real corpus images: one study, one series, instances whose
Instance Numbers are out of file order, so "the middle one by Instance Number" is a real choice."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom

from tests.support import corpus

# (corpus file, Instance Number): sorted by number the middle one is CT_small.dcm (number 3).
MEMBERS = (
    ("MR_small_implicit.dcm", 5),
    ("0051.dcm", 1),
    ("CT_small.dcm", 3),
    ("JPEGBaseline_1s_1f_u_08_08.dcm", 4),
    ("MR_small_RLE.dcm", 2),
)


@dataclass(frozen=True)
class SeriesMember:
    name: str
    number: int
    object_uid: str
    path: Path


@dataclass(frozen=True)
class Series:
    study_uid: str
    series_uid: str
    patient_id: str
    members: tuple[SeriesMember, ...]

    @property
    def by_number(self) -> list[SeriesMember]:
        return sorted(self.members, key=lambda m: m.number)

    @property
    def middle(self) -> SeriesMember:
        ordered = self.by_number
        return ordered[len(ordered) // 2]


def write_series(target: Path, tag: str) -> Series:
    """Copies of MEMBERS with UIDs of their own (derived from `tag`) in one series."""
    target.mkdir(parents=True, exist_ok=True)
    study_uid = corpus.derived_uid(tag, "study")
    series_uid = corpus.derived_uid(tag, "series")
    patient_id = f"WADOFARM-{tag}"[:64]
    members = []
    for name, number in MEMBERS:
        object_uid = corpus.derived_uid(f"{tag}/{name}", "instance")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(corpus.sample(name).path, force=True)
            ds.SOPInstanceUID = object_uid
            ds.file_meta.MediaStorageSOPInstanceUID = object_uid
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = series_uid
            ds.InstanceNumber = number
            ds.SeriesNumber = 7
            ds.Modality = "OT"
            ds.SeriesDescription = f"wadofarm test series {tag}"
            ds.PatientID = patient_id
            ds.PatientName = "Series^Test"
            path = target / f"{number:02d}-{name}"
            ds.save_as(path, enforce_file_format=True)
        members.append(SeriesMember(name, number, object_uid, path))
    return Series(study_uid, series_uid, patient_id, tuple(members))
