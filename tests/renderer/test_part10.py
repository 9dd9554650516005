"""The lean Part 10 reader against pydicom: on every corpus file it accepts, the header it gives
equals the one pydicom's Dataset gives, and so do the native cells and the encapsulated Pixel
Data; what it does not model (other encodings, LUT sequences, functional groups, palettes,
several frames, damage) it leaves to pydicom; cut or corrupted files never make it raise."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID, ImplicitVRLittleEndian

from renderer.decoding import part10
from renderer.decoding.decode import decode_frame, image_info, native_frame, read_dataset
from renderer.display.header import Header, describe
from renderer.errors import RenderError
from renderer.files.stored_file import StoredFile
from tests.support import corpus, synthetic

NAMES = [s.name for s in corpus.samples()]


def _pydicom_header(data: bytes) -> tuple[Header | str, Dataset | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = read_dataset(data)
            return describe(ds, image_info(ds, 10**9), 0), ds
        except RenderError as exc:
            return f"{type(exc).__name__}: {exc}", None


def _lean_header(plain: part10.Plain) -> Header | str:
    try:
        info = image_info(plain.attributes, 10**9, plain.transfer_syntax)
        return describe(plain.attributes, info, 0)
    except RenderError as exc:
        return f"{type(exc).__name__}: {exc}"


def _check_against_pydicom(data: bytes) -> bool:
    """False when the reader declines; else asserts it agrees with pydicom."""
    plain = part10.read(data)
    if plain is None:
        return False
    header, ds = _pydicom_header(data)
    assert _lean_header(plain) == header
    if ds is None or not isinstance(header, Header):
        return True
    if plain.transfer_syntax.is_encapsulated:
        assert bytes(plain.pixel_data) == ds.PixelData
        return True
    cells = native_frame(plain.attributes, plain.pixel_data, header.info, 0)
    if cells is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference, _ = decode_frame(ds, header.info, 0)
        assert cells.dtype == reference.dtype
        assert np.array_equal(cells, reference)
        assert not cells.flags.writeable  # a view of the file's bytes
    return True


def _not_plain(data: bytes) -> str | None:
    """What makes a file not plain by renderer.decoding.part10's definition, judged from pydicom's
    parse (not the lean reader's): None for a plain file."""
    if data[part10.PREAMBLE : part10.PREAMBLE + 4] != part10.MAGIC:
        return "no preamble"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        return "no Transfer Syntax UID"
    if syntax not in part10.READABLE:
        return f"transfer syntax {UID(syntax).name}"
    # Before anything converts them (iterating the Dataset would), the raw elements say how the
    # data set was encoded.
    tags = list(ds.keys())
    explicit = syntax != ImplicitVRLittleEndian
    if any(getattr(ds.get_item(tag), "is_implicit_VR", not explicit) == explicit for tag in tags):
        return "a VR encoding other than its transfer syntax's"
    pixels = ds.get_item("PixelData")
    if pixels is None:
        return "no Pixel Data"
    length = pixels.length if isinstance(pixels, RawDataElement) else part10.UNDEFINED
    if length != part10.UNDEFINED and len(pixels.value or b"") < length:
        return "Pixel Data cut short"
    for keyword in part10.DECLINED.values():
        if keyword in ds:
            return keyword
    if any(0x6000 <= tag.group <= 0x601E and tag.group % 2 == 0 for tag in tags):
        return "an overlay plane"
    for tag, (keyword, vr) in part10.ATTRIBUTES.items():
        item = ds.get_item(tag)
        if item is None:
            continue
        if explicit and vr != item.VR:
            return f"{keyword} with VR {item.VR}"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                ds[tag].value  # noqa: B018 (converting is the check)
            except (UserWarning, ValueError):
                return f"{keyword} does not parse"
    if int(ds.get("NumberOfFrames") or 1) != 1:
        return "several frames"
    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        return "a palette"
    return None


@pytest.mark.parametrize("name", NAMES)
def test_a_plain_file_reads_as_pydicom_reads_it_and_any_other_goes_to_pydicom(name: str) -> None:
    """The lean reader takes a corpus file exactly when it is plain, and then agrees with
    pydicom; a file it declines is not plain for a reason pydicom's parse shows, and a stored
    file of it takes its header from pydicom, error and all."""
    data = corpus.sample(name).path.read_bytes()
    why = _not_plain(data)
    if part10.read(data) is not None:
        assert why is None, f"accepted, though not plain: {why}"
        assert _check_against_pydicom(data)
        return
    assert why is not None, "declined, though plain"
    stored = StoredFile(data)
    assert stored.plain is None
    expected, _ = _pydicom_header(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got: Header | str = stored.header(0, 10**9)
        except RenderError as exc:
            got = f"{type(exc).__name__}: {exc}"
    assert got == expected


def test_plain_files_are_accepted_and_the_rest_left_to_pydicom() -> None:
    accepted = {n for n in NAMES if part10.read(corpus.sample(n).path.read_bytes()) is not None}
    assert {
        "693_UNCI.dcm",  # (7FE0,0000) group length before the Pixel Data
        "CT_small.dcm",
        "MR_small_implicit.dcm",
        "US1_UNCR.dcm",  # RGB
        "JPEGBaseline_1s_1f_u_08_08.dcm",
        "RG1_J2KR.dcm",
        "pydicom-JPEG2000-embedded-sequence-delimiter.dcm",
    } <= accepted
    declined = {
        "MR_small_bigendian.dcm",  # another byte order
        "MR_small_RLE.dcm",  # a codec pydicom drives
        "JLSL_RGB_ILV1.dcm",  # no preamble
        "MR_truncated.dcm",  # Pixel Data shorter than its length
        "mlut_18.dcm",  # Modality LUT Sequence
        "vlut_04.dcm",  # VOI LUT Sequence
        "eCT_Supplemental.dcm",  # functional groups
        "examples_palette.dcm",
        "GREYSCALE_CINE.dcm",  # several frames
    }
    assert not declined & accepted
    assert len(accepted) >= 40


def _with_sequences(path: Path, *, implicit: bool) -> bytes:
    """A CT slice with undefined-length sequences (items of both kinds, one nested) before the
    image attributes, so the reader has to walk past them."""
    cells = synthetic.ramp(-1000, 2000)
    synthetic.write(
        path,
        synthetic.one(cells),
        bits_allocated=16,
        bits_stored=12,
        signed=True,
        RescaleIntercept="-1024",
        RescaleSlope="1",
        WindowCenter=["40", "400"],
        WindowWidth=["400", "1500"],
        PixelSpacing=["0.5", "0.25"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = read_dataset(str(path))
    inner, outer, plain_item = Dataset(), Dataset(), Dataset()
    inner.CodeValue, inner.CodingSchemeDesignator = "T-D3000", "SRT"
    outer.ReferencedSOPInstanceUID = "1.2.3.4"
    outer.AnatomicRegionSequence = [inner]
    plain_item.CodeMeaning = "chest"
    ds.ReferencedImageSequence = [outer, plain_item]
    ds["ReferencedImageSequence"].is_undefined_length = True
    outer.is_undefined_length_sequence_item = True
    outer["AnatomicRegionSequence"].is_undefined_length = True
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True, implicit_vr=implicit, little_endian=True)
    return path.read_bytes()


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_undefined_length_sequences_are_walked_past(tmp_path: Path, implicit: bool) -> None:
    data = _with_sequences(tmp_path / "seq.dcm", implicit=implicit)
    assert _check_against_pydicom(data)
    header = _lean_header(part10.read(data))  # type: ignore[arg-type]
    assert isinstance(header, Header)
    assert header.info.pixel_aspect == 2.0 and header.modality.intercept == -1024  # type: ignore[union-attr]


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_damaged_files_never_raise_and_never_disagree(tmp_path: Path, implicit: bool) -> None:
    """Cut at many points, or with bytes of the header overwritten: the reader declines, or
    agrees with pydicom on what is left. (WADOFARM_FUZZ=n tries n damaged copies.)"""
    data = _with_sequences(tmp_path / "seq.dcm", implicit=implicit)
    pixel_start = part10.read(data).pixel_start  # type: ignore[union-attr]
    for cut in range(0, len(data), 61):
        _check_against_pydicom(data[:cut])
    rng = np.random.default_rng(5)
    accepted = 0
    for _ in range(int(os.environ.get("WADOFARM_FUZZ", "300"))):
        damaged = bytearray(data)
        for at in rng.integers(132, pixel_start, size=int(rng.integers(1, 4))):
            damaged[at] = int(rng.integers(0, 256))
        accepted += _check_against_pydicom(bytes(damaged))
    assert accepted > 0  # some damage leaves what the reader reads intact


def test_keywords_the_reader_does_not_read_are_refused() -> None:
    plain = part10.read(corpus.sample("CT_small.dcm").path.read_bytes())
    assert plain is not None
    assert plain.attributes.get("Rows") == 128
    with pytest.raises(KeyError):
        plain.attributes.get("PatientName")
