"""Renders of objects that are not images (renderer.kinds says which): each kind through the
module made for it. The display pipeline (renderer.pipeline) handles images."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.uid import UID

from renderer.errors import UnsupportedImage
from renderer.kinds import Kind
from renderer.params import RenderParams, RenderResult
from renderer.pdf import render_pdf
from renderer.placeholder import render_placeholder
from renderer.sr import render_report


def render_object(kind: Kind, ds: Dataset, params: RenderParams) -> RenderResult:
    """The picture of a non-image object of kind `kind`."""
    if kind is Kind.VIDEO:
        ts = UID(ds.file_meta.TransferSyntaxUID)
        raise UnsupportedImage(f"unsupported transfer syntax {ts.name} ({ts}): video")
    if kind is Kind.PDF:
        return render_pdf(ds, params)
    if kind is Kind.REPORT:
        return render_report(ds, params)
    return render_placeholder(ds, params)


__all__ = ["render_object"]
