"""Encapsulated PDF: the document comes back as it went in; a page renders as PDFium renders it,
showing what the test drew on it; frameNumber picks the page."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pypdfium2
import pytest

from renderer.errors import FrameOutOfRange, NotOffered, UnsupportedImage
from renderer.formats import OutputFormat
from renderer.params import RenderParams
from renderer.pipeline import render
from tests.support import objects
from tests.support.images import decode, psnr

SCALE = 2.0  # 144 dpi: the natural size


@pytest.fixture(scope="module")
def pdf_file() -> bytes:
    ds = objects.encapsulated_pdf()
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def pdfium(page: int, scale: float) -> np.ndarray:
    """PDFium's own render of the test's PDF, straight from the PDF bytes."""
    pdf = pypdfium2.PdfDocument(objects.make_pdf())
    try:
        return np.asarray(pdf[page].render(scale=scale).to_pil().convert("RGB"))
    finally:
        pdf.close()


def png(data: bytes, **params: object) -> np.ndarray:
    result = render(data, RenderParams(output=OutputFormat.PNG, **params))  # type: ignore[arg-type]
    return decode(result.data)


def test_the_document_comes_back_byte_for_byte(pdf_file: bytes) -> None:
    result = render(pdf_file, RenderParams(output=OutputFormat.PDF))
    assert result.data == objects.make_pdf()  # the padding byte dropped
    assert result.data.startswith(b"%PDF")


@pytest.mark.parametrize("page", [0, 1])
def test_a_page_is_pdfiums_render_of_it(pdf_file: bytes, page: int) -> None:
    image = png(pdf_file, frame=page)
    expected = pdfium(page, SCALE)
    assert image.shape == expected.shape == (840, 600, 3)
    assert (image == expected).all()
    # And it shows what was drawn on the page (PDFium resamples the embedded picture).
    drawn = np.repeat(np.repeat(objects.pdf_pages()[page], 2, axis=0), 2, axis=1)
    assert psnr(image, drawn) > 25


def test_a_thumbnail_is_pdfiums_small_render(pdf_file: bytes) -> None:
    image = png(pdf_file, rows=128, columns=128)
    assert image.shape == (128, 91, 3)
    expected = pdfium(0, 91 / 300)
    assert expected.shape[:2] == (128, 91)
    assert psnr(image, expected) > 40


def test_pages_differ_and_the_count_is_the_frame_count(pdf_file: bytes) -> None:
    first, second = png(pdf_file, frame=0), png(pdf_file, frame=1)
    assert first[400, 300, 0] > 150 and second[400, 300, 2] > 150  # red block, blue disc
    assert render(pdf_file, RenderParams()).frames == 2
    with pytest.raises(FrameOutOfRange, match=r"frameNumber 3 .* 2 page"):
        render(pdf_file, RenderParams(frame=2))


def test_a_pdf_of_an_image_is_not_offered() -> None:
    ct = (objects.corpus.pydicom_dir() / "CT_small.dcm").read_bytes()
    with pytest.raises(NotOffered, match="PDF"):
        render(ct, RenderParams(output=OutputFormat.PDF))


def test_a_broken_pdf_is_a_reason(pdf_file: bytes) -> None:
    ds = pydicom.dcmread(io.BytesIO(pdf_file))
    ds.EncapsulatedDocument = b"%PDF-1.4 nothing useful here\n"
    del ds.EncapsulatedDocumentLength
    out = io.BytesIO()
    ds.save_as(out)
    with pytest.raises(UnsupportedImage, match="encapsulated PDF"):
        render(out.getvalue(), RenderParams())
