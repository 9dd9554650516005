"""Structured Reports and Key Object Selections (PS3.3 C.17): a readable HTML rendering of the
document -- its header, then the content tree (PS3.3 C.17.3) as headings and items, as dcmtk's
dsr2html lays it out -- and a "document" picture for image requests: the title, the date and the
report's first lines on a card.

Text comes from pydicom, decoded by the Specific Character Set; the HTML is encoded in the
charset asked for, characters it cannot hold written as character references.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence

from pydicom.dataset import Dataset
from pydicom.uid import UID

from renderer.formats import OutputFormat
from renderer.objects.card import Card, draw
from renderer.objects.placeholder import ACCENTS, SIZE, sop_class_name
from renderer.output.picture import check_frame, finish
from renderer.params import RenderParams, RenderResult

MAX_DEPTH = 64  # content trees nest a few levels; a deeper one is cut, not recursed into
MAX_ITEMS = 20_000  # items rendered; the rest is summarised
CARD_LINES = 8  # report lines a thumbnail shows
LINE_TYPES = ("TEXT", "CODE", "NUM", "PNAME", "DATE", "DATETIME", "IMAGE")  # what a line says

# Relationship types as dsr2html names them; CONTAINS goes without saying (PS3.3 C.17.3.2.4).
RELATIONSHIPS = {
    "CONTAINS": "",
    "HAS OBS CONTEXT": "Observation Context",
    "HAS ACQ CONTEXT": "Acquisition Context",
    "HAS CONCEPT MOD": "Concept Modifier",
    "HAS PROPERTIES": "Properties",
    "INFERRED FROM": "Inferred from",
    "SELECTED FROM": "Selected from",
}

SEXES = {"M": "male", "F": "female", "O": "other"}  # (0010,0040) Patient's Sex

STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 1em auto; padding: 0 1em; }
table.header td { padding: 0.1em 0.6em 0.1em 0; vertical-align: top; }
.relationship { color: #667; font-size: 0.85em; }
.concept { font-weight: bold; }
ul { list-style: none; padding-left: 1.2em; border-left: 1px solid #dde; }
"""


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def person(value: object) -> str:
    """A PN as a reader writes it: given names, then family name (as dsr2html does)."""
    parts = str(value or "").split("=")[0].split("^")
    family, given = parts[0], parts[1] if len(parts) > 1 else ""
    return " ".join(p for p in (given, family) if p).strip()


def when(date: object = None, time: object = None, datetime: object = None) -> str:
    """DA/TM/DT values as YYYY-MM-DD HH:MM:SS (what is given of it)."""
    if time and not date and not datetime:
        stamp, digits = str(time), "".join(str(time).split(".")[0].split(":"))
        return f"{digits[:2]}:{digits[2:4]}" + (f":{digits[4:6]}" if len(digits) >= 6 else "")
    stamp = str(datetime or "") or str(date or "") + str(time or "")
    digits = stamp.split(".")[0].split("+")[0].split("-")[0]
    out = ""
    if len(digits) >= 8:
        out = f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    clock = digits[8:] if len(digits) >= 8 else ""
    if len(clock) >= 4:
        out += f" {clock[:2]}:{clock[2:4]}" + (f":{clock[4:6]}" if len(clock) >= 6 else "")
    return out or _text(stamp)


def code(sequence: object, designated: bool = False) -> str:
    """The meaning of the first item of a code sequence; `designated` adds its value and
    coding scheme, as dsr2html shows a coded value."""
    try:
        item = sequence[0]  # type: ignore[index]
        meaning = _text(item.CodeMeaning)
    except Exception:
        return ""
    if not designated:
        return meaning
    value = _text(item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue"))
    scheme = _text(item.get("CodingSchemeDesignator"))
    designation = ", ".join(v for v in (value, scheme) if v)
    return f"{meaning} ({designation})" if designation else meaning


def title(ds: Dataset) -> str:
    return code(ds.get("ConceptNameCodeSequence")) or sop_class_name(ds)


def header(ds: Dataset) -> list[tuple[str, str]]:
    """The document header rows, dsr2html's order."""
    rows: list[tuple[str, str]] = []
    patient = person(ds.get("PatientName"))
    sex = SEXES.get(_text(ds.get("PatientSex")).upper(), "")
    extra = ", ".join(v for v in (sex, when(ds.get("PatientBirthDate"))) if v)
    if patient or extra:
        rows.append(("Patient", patient + (f" ({extra})" if extra else "")))
    if ds.get("PatientID"):
        rows.append(("Patient ID", _text(ds.PatientID)))
    if ds.get("ReferringPhysicianName"):
        rows.append(("Referring Physician", person(ds.ReferringPhysicianName)))
    study = _text(ds.get("StudyDescription"))
    if study or ds.get("StudyDate"):
        rows.append(("Study", ", ".join(v for v in (study, when(ds.get("StudyDate"))) if v)))
    series = _text(ds.get("SeriesDescription"))
    if series:
        number = _text(ds.get("SeriesNumber"))
        rows.append(("Series", series + (f" (#{number})" if number else "")))
    for keyword, label in (
        ("Manufacturer", "Manufacturer"),
        ("CompletionFlag", "Completion Flag"),
        ("CompletionFlagDescription", ""),
        ("VerificationFlag", "Verification Flag"),
    ):
        if ds.get(keyword):
            rows.append((label, _text(ds.get(keyword))))
    for index, observer in enumerate(ds.get("VerifyingObserverSequence") or []):
        line = " - ".join(
            v
            for v in (
                when(datetime=observer.get("VerificationDateTime")),
                ", ".join(
                    v
                    for v in (
                        person(observer.get("VerifyingObserverName")),
                        _text(observer.get("VerifyingOrganization")),
                    )
                    if v
                ),
            )
            if v
        )
        rows.append(("Verifying Observers" if index == 0 else "", line))
    content = when(ds.get("ContentDate"), ds.get("ContentTime"))
    if content:
        rows.append(("Content Date/Time", content))
    return rows


def values(value: object) -> list[object]:
    """A single or multi-valued element's values."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def reference(item: Dataset) -> str:
    """An IMAGE, COMPOSITE or WAVEFORM item's referenced object: its SOP class and UID."""
    try:
        ref = item.ReferencedSOPSequence[0]
        name = UID(str(ref.ReferencedSOPClassUID)).name
        frames = ref.get("ReferencedFrameNumber")
        suffix = f", frames {', '.join(str(f) for f in values(frames))}" if frames else ""
        state = " with presentation state" if ref.get("ReferencedSOPSequence") else ""
        return f"{name} {ref.ReferencedSOPInstanceUID}{suffix}{state}"
    except Exception:
        return "(no reference)"


def value(item: Dataset) -> str:
    """A content item's value as text (PS3.3 C.17.3.2.1: one attribute per value type)."""
    kind = _text(item.get("ValueType")).upper()
    if kind == "TEXT":
        return str(item.get("TextValue", ""))
    if kind == "CODE":
        return code(item.get("ConceptCodeSequence"), designated=True)
    if kind == "NUM":
        try:
            measured = item.MeasuredValueSequence[0]
            units = measured.get("MeasurementUnitsCodeSequence")
            unit = _text(units[0].CodeValue) if units else ""
            return f"{_text(measured.NumericValue)} {unit}".strip()
        except Exception:
            return ""
    if kind in ("DATE", "TIME", "DATETIME"):
        return when(item.get("Date"), item.get("Time"), item.get("DateTime"))
    if kind == "PNAME":
        return person(item.get("PersonName"))
    if kind == "UIDREF":
        return _text(item.get("UID"))
    if kind in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        return reference(item)
    if kind in ("SCOORD", "SCOORD3D"):
        return _text(item.get("GraphicType")).lower()
    if kind == "TCOORD":
        return _text(item.get("TemporalRangeType")).lower()
    if "ReferencedContentItemIdentifier" in item:
        ids = values(item.ReferencedContentItemIdentifier)
        return "content item " + ".".join(str(i) for i in ids) + " (by reference)"
    return ""


def items(ds: Dataset, depth: int = 0) -> Iterator[tuple[int, Dataset]]:
    """Every content item under `ds`, depth first, with its depth."""
    if depth >= MAX_DEPTH:
        return
    for item in ds.get("ContentSequence") or []:
        yield depth, item
        yield from items(item, depth + 1)


def _item_html(item: Dataset) -> str:
    relationship = _text(item.get("RelationshipType")).upper()
    relationship = RELATIONSHIPS.get(relationship, relationship.lower())
    concept = code(item.get("ConceptNameCodeSequence"))
    kind = _text(item.get("ValueType")).upper()
    text = html.escape(value(item)).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\n", "<br>")
    if kind == "CONTAINER":
        return f"<h2>{html.escape(concept)}</h2>" if concept else ""
    parts = (
        [f'<span class="relationship">{html.escape(relationship)}</span>'] if relationship else []
    )
    if concept:
        parts.append(f'<span class="concept">{html.escape(concept)}:</span>')
    if text:
        parts.append(f'<span class="value">{text}</span>')
    return " ".join(parts)


def to_html(ds: Dataset) -> str:
    """The whole document as an HTML page."""
    name = html.escape(title(ds))
    out = [
        "<!DOCTYPE html>",
        "<html><head>",
        '<meta charset="{charset}">',
        f"<title>{name}</title>",
        f"<style>{STYLE}</style>",
        "</head><body>",
        f'<p class="sop-class">{html.escape(sop_class_name(ds))}</p>',
        '<table class="header">',
    ]
    for label, text in header(ds):
        out.append(
            f"<tr><td><b>{html.escape(label)}{':' if label else ''}</b></td>"
            f"<td>{html.escape(text)}</td></tr>"
        )
    out += ["</table>", "<hr>", f"<h1>{name}</h1>"]
    depth = 0
    for count, (level, item) in enumerate(items(ds)):
        if count >= MAX_ITEMS:
            out.append("<p>(the rest of the document is not shown)</p>")
            break
        while depth < level + 1:
            out.append("<ul>")
            depth += 1
        while depth > level + 1:
            out.append("</ul>")
            depth -= 1
        out.append(f"<li>{_item_html(item)}</li>")
    out += ["</ul>" * depth, "</body></html>"]
    return "\n".join(out)


def first_lines(ds: Dataset, count: int) -> list[str]:
    """The report's first text, code and measurement lines, "Concept: value"."""
    lines: list[str] = []
    for _, item in items(ds):
        if _text(item.get("ValueType")).upper() not in LINE_TYPES:
            continue
        if _text(item.get("RelationshipType")).upper() != "CONTAINS":
            continue  # context, modifiers and properties qualify a line; they are not lines
        text = _text(value(item))
        if not text:
            continue
        concept = code(item.get("ConceptNameCodeSequence"))
        lines.append(f"{concept}: {text}" if concept else text)
        if len(lines) == count:
            break
    return lines


def card_for(ds: Dataset) -> Card:
    """The "document" picture: the title, the date, and the report's first lines."""
    date = when(ds.get("ContentDate"), ds.get("ContentTime")) or when(ds.get("StudyDate"))
    status = ", ".join(
        _text(ds.get(k)).lower() for k in ("CompletionFlag", "VerificationFlag") if ds.get(k)
    )
    lines = [line for line in (date, status) if line] + first_lines(ds, CARD_LINES)
    badge = _text(ds.get("Modality")).upper() or "SR"
    return Card(badge, title(ds), tuple(lines), ACCENTS["document"])


def render_report(ds: Dataset, params: RenderParams) -> RenderResult:
    if params.output is OutputFormat.HTML:
        page = to_html(ds).replace("{charset}", params.charset, 1)
        data = page.encode(params.charset, errors="xmlcharrefreplace")
        return RenderResult(data, params.output, 0, 0, 0, 0, 1)
    check_frame(params, 1, "page")
    card = card_for(ds)
    return finish(SIZE, SIZE, params, lambda width, height: draw(card, width, height))


__all__ = ["card_for", "first_lines", "render_report", "to_html"]
