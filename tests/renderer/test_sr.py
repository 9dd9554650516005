"""Structured reports: the HTML says what dcmtk's dsr2html says of the same document, in the
charset asked for; an image request gets a document card with the title, date and first lines."""

from __future__ import annotations

import html
import re
import subprocess
import warnings

import pydicom
import pytest

from renderer.errors import NotOffered
from renderer.formats import OutputFormat
from renderer.objects.sr import card_for, first_lines
from renderer.params import RenderParams
from renderer.pipeline import render
from tests.support import corpus, objects
from tests.support.images import decode
from tests.support.tools import require_program

SR = corpus.pydicom_dir() / "test-SR.dcm"
# dsr2html's own words, not the document's.
BOILERPLATE = {"this", "page", "was", "generated", "from", "dicom", "structured", "reporting"}
BOILERPLATE |= {"document", "by", "offis", "dcmtk", "annex", "footnote", "observed", "predecessor"}
BOILERPLATE |= {
    "docs",
    "comprehensivesrstorage",
    "basictextsrstorage",
    "hemodynamicwaveformstorage",
}


def words(text: str) -> set[str]:
    text = re.sub(r"<style>.*?</style>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = html.unescape(text)
    return {w.lower() for w in re.findall(r"\w{2,}", text)}


def page(path: object = SR, charset: str = "utf-8") -> bytes:
    params = RenderParams(output=OutputFormat.HTML, charset=charset)
    return render(str(path), params).data


def dsr2html(path: object) -> str:
    program = require_program("dsr2html")
    # -Ev -Ee: read on past an invalid value (reportsi.dcm has one), as wadofarm does.
    out = subprocess.run([program, "-Ev", "-Ee", str(path)], capture_output=True, check=True).stdout
    declared = re.search(rb"charset=([\w-]+)", out)
    return out.decode(declared.group(1).decode() if declared else "ascii")


@pytest.mark.parametrize("name", ["test-SR.dcm", "reportsi.dcm"])
def test_the_html_says_what_dsr2html_says(name: str) -> None:
    path = corpus.pydicom_dir() / name
    ours = words(page(path).decode("utf-8"))
    theirs = words(dsr2html(path)) - BOILERPLATE
    missed = theirs - ours
    assert len(missed) <= 0.05 * len(theirs), sorted(missed)


def test_values_of_every_type_are_shown() -> None:
    text = page().decode("utf-8")
    for fragment in (
        "A mass of",
        "3 cm",
        "was detected.",
        "Sample Code 1",
        "Jörg Riesmeier, OFFIS e.V.",
        "2001-02-13 18:47:46",
        "<h1>Diagnosis</h1>",
        "CT Image Storage 1.2.3.4.5.0, frames 5, 2 with presentation state",
        "Sample Code 1 (2222, 99_OFFIS_DCMTK)",
        "Acquisition Context",
        "12:00:00",
        "Sample Text<br>A<br>B<br>C",
        "&amp;%$§&quot;!()&lt;&gt;{}/;",  # escaped, not markup
    ):
        assert fragment in text, fragment


@pytest.mark.parametrize(
    ("charset", "encoded"),
    [("utf-8", "Jörg".encode()), ("ISO-8859-1", b"J\xf6rg"), ("us-ascii", b"J&#246;rg")],
)
def test_the_charset_is_honoured_and_stated(charset: str, encoded: bytes) -> None:
    data = page(charset=charset)
    assert encoded + b" Riesmeier" in data
    assert f'<meta charset="{charset}">'.encode() in data


def test_a_report_picture_is_a_document_card() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(SR)
    card = card_for(ds)
    assert card.badge == "SR" and card.title == "Diagnosis"
    assert card.lines[:2] == ("2001-02-13 18:47:46", "complete, verified")
    assert first_lines(ds, 2) == ["Text Code: A mass of", "Diameter: 3 cm"]
    result = render(str(SR), RenderParams(output=OutputFormat.PNG, rows=128, columns=128))
    assert decode(result.data).shape == (128, 128, 3)


def test_a_key_object_selection_lists_its_images() -> None:
    ds = objects.key_objects()
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    buffer = pydicom.filebase.DicomBytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    page = render(data, RenderParams(output=OutputFormat.HTML)).data.decode()
    assert "<h1>Of Interest</h1>" in page and objects.CT.object_uid in page
    assert "CT Image Storage" in page


def test_html_of_an_image_is_not_offered() -> None:
    with pytest.raises(NotOffered, match="HTML"):
        render(str(corpus.pydicom_dir() / "CT_small.dcm"), RenderParams(output=OutputFormat.HTML))
