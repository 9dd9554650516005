"""Encapsulated PDF (PS3.3 A.45.1): the document itself, or one page rendered by PDFium (through
pypdfium2, the renderer Chromium uses) -- `frameNumber` picks the page.

A page's natural size is its size at 144 dpi (an A4 page is 1190x1684), at most MAX_SIDE on its
longer side; a whole page is rendered straight at the output size, so a thumbnail is PDFium's
own small render, not a shrunk large one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pypdfium2
from pydicom.dataset import Dataset

from renderer.errors import UnsupportedImage
from renderer.formats import OutputFormat
from renderer.output.geometry import resize
from renderer.output.picture import check_frame, finish
from renderer.params import RenderParams, RenderResult

DPI = 144
POINTS_PER_INCH = 72
MAX_SIDE = 4096  # the natural size is capped: a poster-sized page is not a 100-megapixel image


def document(ds: Dataset) -> bytes:
    """The PDF's bytes: Encapsulated Document (0042,0011), without the padding byte an odd
    length gets when Encapsulated Document Length (0042,0015) says how long it is."""
    data = bytes(ds.EncapsulatedDocument)
    length = ds.get("EncapsulatedDocumentLength")
    if isinstance(length, int) and 0 < length <= len(data):
        data = data[:length]
    return data


@contextmanager
def opened(data: bytes) -> Iterator[pypdfium2.PdfDocument]:
    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise UnsupportedImage(f"cannot read the encapsulated PDF: {exc}") from None
    try:
        yield pdf
    finally:
        pdf.close()


def natural_size(page: pypdfium2.PdfPage) -> tuple[int, int, float]:
    """Rows, columns and the scale from points to pixels that makes them."""
    width, height = page.get_size()
    if width <= 0 or height <= 0:
        raise UnsupportedImage(f"the PDF page has no area ({width:g}x{height:g} points)")
    scale = min(DPI / POINTS_PER_INCH, MAX_SIDE / max(width, height))
    return max(1, round(height * scale)), max(1, round(width * scale)), scale


def page_pixels(page: pypdfium2.PdfPage, width: int, height: int) -> np.ndarray:
    """The page as RGB, width x height: rendered at the scale that gives the width (PDFium
    rounds its own size), fitted by a resize of at most a pixel."""
    points = page.get_size()[0]
    try:
        bitmap = page.render(scale=width / points, may_draw_forms=True)
        pixels = np.asarray(bitmap.to_pil().convert("RGB"))
    except pypdfium2.PdfiumError as exc:
        raise UnsupportedImage(f"cannot render the PDF page: {exc}") from None
    return resize(pixels, width, height)


def render_pdf(ds: Dataset, params: RenderParams) -> RenderResult:
    data = document(ds)
    if params.output is OutputFormat.PDF:
        return RenderResult(data, params.output, 0, 0, 0, 0, 1)
    with opened(data) as pdf:
        pages = len(pdf)
        check_frame(params, pages, "page(s)")
        page = pdf[params.frame]
        try:
            rows, columns, _ = natural_size(page)
            return finish(
                rows,
                columns,
                params,
                lambda width, height: page_pixels(page, width, height),
                frames=pages,
            )
        finally:
            page.close()


__all__ = ["document", "natural_size", "page_pixels", "render_pdf"]
