"""The real DICOM files the tests run over: the test corpus (tests/corpus/MANIFEST.tsv, fetched
at the start of a session) and the files bundled in the installed pydicom wheel.

Several of those files share a SOP Instance UID (the same image in several transfer syntaxes),
and a few lack the study/series UIDs Orthanc needs. `materialise` writes a copy of each file
with UIDs of its own (derived from its name) and the pixel data untouched, so every file can be
stored side by side in Orthanc and in a folder.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest

from tests import corpus as store
from tests.support.tools import IN_CI, missing

PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

_found: dict[str, Path] | None = None  # name -> checked file, once prepared
_why: str | None = None  # why there is no corpus, once prepared


def prepare(say: Callable[[str], None]) -> None:
    """Fetch what the corpus lacks and check all of it (the session's first step).

    A wrong checksum ends the session. A corpus that cannot be fetched ends it in CI; elsewhere
    the tests that need it skip, saying how to get it."""
    global _found, _why
    try:
        _found = store.fetch(say)
    except store.Unfetchable as exc:
        _why = f"the test corpus is missing: {exc}\nTo get it, {store.how_to_get_it()}"
        if IN_CI:
            pytest.exit(_why + " (required in CI)", returncode=1)
        say(_why)
    except store.CorpusError as exc:
        pytest.exit(f"the test corpus: {exc}", returncode=1)


def files() -> dict[str, Path]:
    """name -> path of every corpus file (skips, or fails in CI, when there is no corpus)."""
    if _found is None and _why is None:
        prepare(print)  # outside a test session
    if _found is None:
        missing(_why or "the test corpus is missing")
    assert _found is not None
    return _found


def pydicom_dir() -> Path:
    return Path(pydicom.__file__).parent / "data" / "test_files"


@dataclass(frozen=True)
class Sample:
    name: str  # unique, readable test id: the file name, prefixed for the pydicom wheel's
    path: Path
    origin: str  # "corpus" or "pydicom"
    manifest: dict[str, str] | None  # the corpus MANIFEST.tsv row

    @property
    def object_uid(self) -> str:
        return derived_uid(self.name, "instance")

    @property
    def study_uid(self) -> str:
        return derived_uid(self.name, "study")

    @property
    def series_uid(self) -> str:
        return derived_uid(self.name, "series")


def derived_uid(name: str, level: str) -> str:
    """A stable UID under the 2.25 root (PS3.5 B.2) from a file name."""
    digest = hashlib.sha256(f"wadofarm-test/{level}/{name}".encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def _read_header(path: Path) -> pydicom.Dataset | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(path, force=True, stop_before_pixels=False)
    except Exception:
        return None


@functools.cache
def manifest() -> dict[str, dict[str, str]]:
    """The corpus MANIFEST.tsv rows by file name (known without fetching anything)."""
    return {entry.file: entry.row for entry in store.entries()}


@functools.cache
def samples() -> tuple[Sample, ...]:
    """Every corpus file, then every pydicom wheel image file that is not a corpus copy."""
    paths = files()
    found = [Sample(name, paths[name], "corpus", row) for name, row in sorted(manifest().items())]
    known_hashes = {row["sha256"] for row in manifest().values()}
    for path in sorted(pydicom_dir().glob("*.dcm")):
        if hashlib.sha256(path.read_bytes()).hexdigest() in known_hashes:
            continue
        ds = _read_header(path)
        if ds is None or not any(tag in ds for tag in PIXEL_TAGS):
            continue
        found.append(Sample("pydicom-" + path.name, path, "pydicom", None))
    return tuple(found)


@functools.cache
def _by_name() -> dict[str, Sample]:
    return {s.name: s for s in samples()}


def sample(name: str) -> Sample:
    found = _by_name()
    if name not in found:
        raise KeyError(f"{name} is neither in tests/corpus/MANIFEST.tsv nor in pydicom's files")
    return found[name]


@functools.cache
def reference_frame(name: str) -> object:
    """pydicom's own decode of frame 0: the reference for "should this render at all"."""
    s = sample(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(s.path, force=True)
        if "TransferSyntaxUID" not in ds.file_meta:
            return ValueError("no transfer syntax")
        try:
            return pydicom.pixels.pixel_array(ds, index=0)
        except Exception as exc:
            return exc


def decodable(name: str) -> bool:
    s = sample(name)
    if s.manifest is not None:
        return s.manifest["decode"] == "ok"
    return not isinstance(reference_frame(name), Exception)


def materialise(target: Path) -> dict[str, Path]:
    """Write a copy of every sample with its own UIDs into `target`; returns name -> path."""
    target.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for s in samples():
        if s.name in UNWRITABLE:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(s.path, force=True)
            ds.SOPInstanceUID = s.object_uid
            ds.StudyInstanceUID = s.study_uid
            ds.SeriesInstanceUID = s.series_uid
            if "PatientID" not in ds:
                ds.PatientID = "WADOFARM-TEST"
            ds.file_meta.MediaStorageSOPInstanceUID = s.object_uid
            out = target / s.name
            ds.save_as(out, enforce_file_format=True)
        written[s.name] = out
    return written


# Files pydicom cannot write back with new UIDs; the tests that need a stored copy leave them out.
UNWRITABLE = {
    "pydicom-SC_rgb_jpeg.dcm": "(0008,0008) has a VR pydicom cannot re-encode",
    "pydicom-meta_missing_tsyntax.dcm": "no Transfer Syntax UID in its meta header",
    "pydicom-nested_priv_SQ.dcm": "no file meta information and no Bits Allocated",
}
