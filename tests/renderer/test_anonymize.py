"""anonymize=yes (renderer/files/anonymize.py): PS3.15 Table E.1-1's Basic Profile, attribute by
attribute, over an image built to hold every attribute of the table (tests/support/deid.py) and
over the corpus: nothing the table removes or replaces keeps its value, no private element, no
identifying string anywhere in the answer's bytes; what a render shows is the de-identified
object; pixels that may hold burned-in text, documents the profile empties and objects over the
size limit are refused."""

from __future__ import annotations

import dataclasses
import functools
import io
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest

from renderer.annotation import labels
from renderer.errors import NotOffered, SourceTooLarge, WouldIdentify
from renderer.files import frames
from renderer.files.anonymize import BURNED_IN_LIKELY, DUMMY_TEXT, action
from renderer.files.deid_table import BASIC
from renderer.formats import OutputFormat
from renderer.params import Deidentify, PresentationRef, RenderParams, ShowsImage
from renderer.pipeline import render
from tests.support import corpus, deid, gsps, objects
from tests.support.images import decode

DEIDENTIFY = Deidentify()
GENEROUS = Deidentify(max_bytes=2**31, keep_burned_in=True)
EMPTY = (None, "", b"")


def read(data: bytes | str | memoryview) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(data, str):
            return pydicom.dcmread(data, force=True)
        return pydicom.dcmread(io.BytesIO(bytes(data)), force=True)


def anonymized(source: bytes | str, policy: Deidentify = DEIDENTIFY) -> bytes:
    return bytes(render(source, RenderParams(output=OutputFormat.DICOM, anonymize=policy)).data)


@pytest.fixture(scope="module")
def built() -> deid.Built:
    return deid.every_profile_attribute()


@pytest.fixture(scope="module")
def answer(built: deid.Built) -> bytes:
    return anonymized(built.data)


def test_every_attribute_of_the_table_is_treated_as_it_says(
    built: deid.Built, answer: bytes
) -> None:
    out = read(answer)
    assert len(built.values) > 600  # the table, but for the command and file meta groups
    for tag, original in built.values.items():
        act, kept = action(tag), out.get(tag)
        where = f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {BASIC[tag]} as {act}"
        if act == "X":
            assert kept is None, where
        elif act == "Z":
            assert kept is not None and kept.value in (None, "", [], b""), where
        elif act in ("D", "U"):
            assert kept is not None and kept.value not in (None, "", []), where
            assert kept.value != original, where
        else:  # U*: a sequence kept, its items de-identified
            assert act == "U*" and kept is not None and kept.VR == "SQ", where
            item = kept.value[0]
            assert not str(item.get("PatientName", "") or "")
            assert not str(item.ReferencedSOPInstanceUID).startswith(deid.UID_ROOT), where


def test_nothing_identifying_is_left_in_the_answers_bytes(built: deid.Built, answer: bytes) -> None:
    assert [s for s in built.strings if s.encode() in answer] == []
    assert [u for u in built.uids if u.encode() in answer] == []
    out = read(answer)
    assert [e.tag for e in out.iterall() if e.tag.is_private] == []
    assert "SourceApplicationEntityTitle" not in out.file_meta
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID


def test_the_answer_says_exactly_what_was_applied(answer: bytes) -> None:
    out = read(answer)
    assert out.PatientIdentityRemoved == "YES"
    assert "Basic Profile" in out.DeidentificationMethod
    (code,) = out.DeidentificationMethodCodeSequence
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("113100", "DCM")
    assert out.LongitudinalTemporalInformationModified == "REMOVED"


def test_two_answers_do_not_link_and_uids_hold_within_one(built: deid.Built) -> None:
    first, second = read(anonymized(built.data)), read(anonymized(built.data))
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
    ds = objects.key_objects()  # a KOS naming one image in its evidence and its content
    image = objects.CT.object_uid
    evidence = pydicom.Dataset()
    evidence.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    evidence.ReferencedSOPInstanceUID = image
    series = pydicom.Dataset()
    series.ReferencedSOPSequence = [evidence]
    ds.CurrentRequestedProcedureEvidenceSequence = [pydicom.Dataset()]
    ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence = [series]
    ds.SOPInstanceUID = ds.StudyInstanceUID = ds.SeriesInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    after = read(anonymized(out.getvalue()))
    refs = {e.value for e in after.iterall() if e.keyword == "ReferencedSOPInstanceUID"}
    assert len(refs) == 1 and image not in refs


def _kept_texts(ds: pydicom.Dataset) -> set[str]:
    """The text the profile keeps: values of attributes the table does not list."""
    return {
        str(e.value)
        for e in ds.iterall()
        if action(int(e.tag)) is None and e.VR != "SQ" and isinstance(e.value, str | bytes)
    }


SAMPLES = [s.name for s in corpus.samples()] if corpus.manifest() else []


@pytest.mark.parametrize("name", SAMPLES)
def test_the_corpus_de_identified(name: str) -> None:
    """Every corpus file: as the test image, but a text the profile keeps elsewhere in the same
    file (a procedure's code meaning that repeats its description, a manufacturer that repeats
    the institution) may stay; refused as it should be, when it is."""
    sample = corpus.sample(name)
    source = read(str(sample.path))
    modality = str(source.get("Modality", "") or "").upper()
    burned = str(source.get("BurnedInAnnotation", "") or "").upper()
    risky = burned == "YES" or (not burned and modality in BURNED_IN_LIKELY)
    has_pixels = any(tag in source for tag in corpus.PIXEL_TAGS)
    if risky and has_pixels:
        with pytest.raises(WouldIdentify):
            anonymized(str(sample.path))
    try:
        answer = anonymized(str(sample.path), GENEROUS)
    except NotOffered as refused:  # a file that cannot be written back at all
        assert "cannot write the object" in refused.reason
        return
    out = read(answer)
    assert [e.tag for e in out.iterall() if e.tag.is_private] == []
    assert out.PatientIdentityRemoved == "YES"
    left = {(e.tag, str(e.value)) for e in out.iterall() if e.VR != "SQ"}
    kept = _kept_texts(source)
    for element in source.iterall():
        act = action(int(element.tag))
        if act in (None, "U*") or element.VR == "SQ" or element.value in EMPTY:
            continue
        assert (element.tag, str(element.value)) not in left, (element.tag, act)
        text = str(element.value)
        if (
            isinstance(element.value, str)
            and len(text) >= 4
            and any(c.isalpha() for c in text)
            and text not in DUMMY_TEXT
            and not any(text in other for other in kept)
        ):
            assert text.encode("latin-1", "replace") not in answer, (element.tag, text)


def _png(source: bytes, **fields: object) -> np.ndarray:
    params = RenderParams(output=OutputFormat.PNG, frame=0, **fields)  # type: ignore[arg-type]
    return decode(bytes(render(source, params).data))


def test_a_render_shows_the_de_identified_object_only(built: deid.Built, answer: bytes) -> None:
    """Corner annotations from the de-identified data set, no overlay (the profile removes its
    data): the render of the answer itself, not a pixel of the stored name or overlay."""
    corners = (labels.PATIENT, labels.TECHNIQUE)
    shown = _png(built.data, annotation=corners, anonymize=DEIDENTIFY)
    assert (shown == _png(answer, annotation=corners, overlays=False)).all()
    assert not (shown == _png(built.data, annotation=corners)).all()  # the stored name shows
    assert labels.patient_lines(read(answer)) == ["ID ANONYMIZED"]  # Patient ID: Z/D


def test_an_animation_too() -> None:
    built = deid.every_profile_attribute(frames=3)
    gif = RenderParams(output=OutputFormat.GIF, animate=True, annotation=(labels.PATIENT,))
    shown = render(built.data, dataclasses.replace(gif, anonymize=DEIDENTIFY)).data
    expected = render(anonymized(built.data), dataclasses.replace(gif, overlays=False)).data
    assert bytes(shown) == bytes(expected)


def test_a_de_identified_render_leaves_the_frame_cache_alone(built: deid.Built) -> None:
    """The frame cache is shared by every render of a worker: a de-identified render neither
    reads it (the stored header, overlays and all) nor fills it (a header without them)."""
    saved = frames.CACHE
    frames.configure(64 * 2**20)
    try:
        plain = _png(built.data, reduced_decode=False)
        hidden = _png(built.data, anonymize=DEIDENTIFY)
        assert not (plain == hidden).all()  # the overlay is burned into the plain render only
        assert (_png(built.data, reduced_decode=False, window=None) == plain).all()
    finally:
        frames.CACHE = saved


@functools.cache
def _image(modality: str, burned_in: str | None) -> bytes:
    return deid.every_profile_attribute(modality, burned_in).data


@pytest.mark.parametrize(
    ("modality", "burned_in", "refused"),
    [
        ("CT", "YES", True),
        ("CT", None, False),
        ("US", None, True),
        ("SC", None, True),
        ("XA", "", True),
        ("ES", None, True),
        ("OT", None, True),
        ("US", "NO", False),
    ],
)
@pytest.mark.parametrize("output", [OutputFormat.DICOM, OutputFormat.PNG, OutputFormat.GIF])
def test_pixels_that_may_hold_burned_in_text_are_refused(
    modality: str, burned_in: str | None, refused: bool, output: OutputFormat
) -> None:
    data = _image(modality, burned_in)
    params = RenderParams(output=output, animate=output is OutputFormat.GIF, anonymize=DEIDENTIFY)
    if refused:
        with pytest.raises(WouldIdentify, match="burned-in"):
            render(data, params)
    else:
        render(data, params)
    kept = dataclasses.replace(params, anonymize=Deidentify(keep_burned_in=True))
    assert render(data, kept).data  # the server's word that burned-in text may stay


def test_an_object_over_the_size_limit_is_refused(built: deid.Built, tmp_path: Path) -> None:
    small = Deidentify(max_bytes=len(built.data) - 1)
    with pytest.raises(SourceTooLarge, match="--anonymize-max-mb"):
        anonymized(built.data, small)
    path = tmp_path / "big.dcm"
    path.write_bytes(built.data)
    with pytest.raises(SourceTooLarge):
        anonymized(str(path), small)
    assert anonymized(built.data, Deidentify(max_bytes=len(built.data)))


def test_a_document_the_profile_empties_is_not_shown(tmp_path: Path) -> None:
    pdf = str(next(o.path for o in objects.write_study(tmp_path) if o.kind == "pdf"))
    for output in (OutputFormat.PDF, OutputFormat.PNG):
        with pytest.raises(WouldIdentify, match="Encapsulated Document"):
            render(pdf, RenderParams(output=output, anonymize=DEIDENTIFY))
    assert read(anonymized(pdf)).EncapsulatedDocument != read(pdf).EncapsulatedDocument


def test_a_reports_html_shows_no_identity() -> None:
    path = str(corpus.pydicom_dir() / "test-SR.dcm")
    plain = render(path, RenderParams(output=OutputFormat.HTML)).data.decode()
    hidden = render(path, RenderParams(output=OutputFormat.HTML, anonymize=DEIDENTIFY))
    text = bytes(hidden.data).decode()
    for identity in ("S R Test", "Jörg Riesmeier", "- Verifying Observer,"):
        assert identity in plain and identity not in text


def test_a_presentation_state_shows_no_name_and_names_the_stored_image(tmp_path: Path) -> None:
    """Through a state, de-identified: the corner name is the de-identified one and the state's
    text annotation is not drawn (Graphic Annotation Sequence: D), exactly as the de-identified
    image through a state without annotations shows; the state's own render names its image
    as stored, which the router then finds (a remapped UID was a 404, issue 25)."""
    built = deid.every_profile_attribute()
    image = tmp_path / "image.dcm"
    image.write_bytes(built.data)
    image_uid = str(read(str(image)).SOPInstanceUID)
    note = gsps.annotation("NOTES", texts=[gsps.text("PHI-STATE-TEXT", box=(1, 1, 15, 8))])
    noted = gsps.write_state(
        tmp_path / "noted.dcm", image, layers=[gsps.layer("NOTES")], annotations=[note]
    )
    bare = gsps.write_state(tmp_path / "bare.dcm", image)
    corners = (labels.PATIENT,)

    def through(state: Path, source: Path, **fields: object) -> np.ndarray:
        ref = PresentationRef(str(read(str(state)).SOPInstanceUID), image_uid, str(state))
        params = RenderParams(output=OutputFormat.PNG, presentation=ref, annotation=corners)
        return decode(bytes(render(str(source), dataclasses.replace(params, **fields)).data))

    hidden = through(noted, image, anonymize=DEIDENTIFY)
    # The de-identified image, under the stored UID the states reference.
    de_identified = read(anonymized(built.data))
    de_identified.SOPInstanceUID = image_uid
    shown = tmp_path / "de-identified.dcm"
    de_identified.save_as(shown, enforce_file_format=True)
    assert (hidden == through(bare, shown, overlays=False)).all()
    assert not (hidden == through(noted, image)).all()  # the stored name and the text show
    named = render(str(noted), RenderParams(output=OutputFormat.PNG, anonymize=DEIDENTIFY))
    assert named == ShowsImage(image_uid)
