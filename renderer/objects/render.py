"""Renders of objects that are not images (renderer.objects.kinds says which): each kind through the
module made for it. The display pipeline (renderer.pipeline) handles images."""

from __future__ import annotations

from pydicom.dataset import Dataset

from renderer.formats import Kind
from renderer.objects.pdf import render_pdf
from renderer.objects.placeholder import render_placeholder
from renderer.objects.sr import render_report
from renderer.objects.video import render_video
from renderer.params import RenderParams, RenderResult


def render_object(kind: Kind, ds: Dataset, params: RenderParams) -> RenderResult:
    """The picture of a non-image object of kind `kind`."""
    if kind is Kind.VIDEO:
        return render_video(ds, params)
    if kind is Kind.PDF:
        return render_pdf(ds, params)
    if kind is Kind.REPORT:
        return render_report(ds, params)
    return render_placeholder(ds, params)


__all__ = ["render_object"]
