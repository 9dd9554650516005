"""The picture of an object without pixels (a waveform, an RT plan or structure set, a Key Object
Selection, a header-only instance): a card naming what it is -- modality, SOP class, its own
label or description, date -- so that a thumbnail in a study overview is never a broken image."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from renderer.objects.card import Card, draw
from renderer.output.picture import check_frame, finish
from renderer.params import RenderParams, RenderResult

SIZE = 512  # the natural size of a card: a square, like most thumbnails
TRACE_CHANNELS = 3  # waveform channels drawn (an ECG's leads I, II, III)
TRACE_SECONDS = 4.0

# Band colours by family, so a study overview tells them apart at a glance.
ACCENTS = {
    "document": (52, 101, 164),  # reports, PDFs
    "waveform": (46, 125, 80),
    "rt": (191, 105, 36),
    "other": (84, 98, 118),
}
RT_MODALITIES = ("RTPLAN", "RTSTRUCT", "RTDOSE", "RTIMAGE", "RTRECORD", "RTTREAT", "PLAN", "RWV")
DOCUMENT_MODALITIES = ("SR", "KO", "DOC", "PR")
# The object's own name for itself, in order of preference (PS3.3 module attributes).
LABELS = (
    "RTPlanLabel",
    "RTPlanName",
    "StructureSetLabel",
    "StructureSetName",
    "DocumentTitle",
    "ContentLabel",
    "ContentDescription",
    "SeriesDescription",
    "StudyDescription",
)
DATES = ("ContentDate", "AcquisitionDateTime", "SeriesDate", "StudyDate", "RTPlanDate")


def text(ds: Dataset, keyword: str) -> str:
    """An attribute as one line of text; empty when absent or unreadable."""
    try:
        value = ds.get(keyword)
    except Exception:  # a mangled value pydicom cannot convert is as good as absent
        return ""
    if value is None:
        return ""
    return " ".join(str(value).split())


def sop_class_name(ds: Dataset) -> str:
    uid = text(ds, "SOPClassUID")
    if not uid:
        return "unknown SOP class"
    name = UID(uid).name
    return name if name != uid else f"SOP class {uid}"


def concept_name(ds: Dataset) -> str:
    """The Concept Name of the root content item: an SR's or a KOS's document title."""
    try:
        code = ds.get("ConceptNameCodeSequence")
        return str(code[0].CodeMeaning).strip() if code else ""
    except Exception:
        return ""


def date(ds: Dataset) -> str:
    for keyword in DATES:
        value = text(ds, keyword)[:8]
        if len(value) == 8 and value.isdigit():
            return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return ""


def label(ds: Dataset) -> str:
    for keyword in LABELS:
        value = text(ds, keyword)
        if value:
            return value
    return ""


def accent(ds: Dataset, modality: str) -> tuple[int, int, int]:
    if "WaveformSequence" in ds:
        return ACCENTS["waveform"]
    if modality in RT_MODALITIES:
        return ACCENTS["rt"]
    if modality in DOCUMENT_MODALITIES:
        return ACCENTS["document"]
    return ACCENTS["other"]


def card_for(ds: Dataset) -> Card:
    """What the placeholder says about `ds`."""
    modality = text(ds, "Modality").upper() or "OT"
    lines = [value for value in (concept_name(ds) or label(ds), date(ds)) if value]
    if "WaveformSequence" in ds:
        lines.append(_waveform_summary(ds))
    lines.append("no image in this object")
    return Card(modality, sop_class_name(ds), tuple(lines), accent(ds, modality), traces(ds))


def traces(ds: Dataset) -> tuple[np.ndarray, ...]:
    """The first channels of the first waveform group, the first seconds of each (as an ECG
    rhythm strip shows them); none when pydicom cannot read the waveform."""
    if "WaveformSequence" not in ds:
        return ()
    try:
        group = ds.WaveformSequence[0]
        samples = ds.waveform_array(0)
        keep = max(2, int(float(group.SamplingFrequency) * TRACE_SECONDS))
    except Exception:
        return ()
    if samples.ndim != 2:
        return ()
    return tuple(
        samples[:keep, channel] for channel in range(min(TRACE_CHANNELS, samples.shape[1]))
    )


def _waveform_summary(ds: Dataset) -> str:
    """Channels and sampling of the first waveform group (PS3.3 C.10.9)."""
    try:
        group = ds.WaveformSequence[0]
        return (
            f"{int(group.NumberOfWaveformChannels)} channels, "
            f"{float(group.SamplingFrequency):g} Hz, {int(group.NumberOfWaveformSamples)} samples"
        )
    except Exception:
        return "waveform"


def render_placeholder(ds: Dataset, params: RenderParams) -> RenderResult:
    check_frame(params, 1, "picture (it has no pixels: a placeholder)")
    card = card_for(ds)
    return finish(SIZE, SIZE, params, lambda width, height: draw(card, width, height))


__all__ = ["SIZE", "card_for", "render_placeholder", "sop_class_name"]
