"""The output formats a client can ask for, in one table: each one's media type, which kinds of
object offer it, and how a render in it is treated. The protocol adapters (router/wado_uri.py,
router/rendered_query.py, through router/negotiation.py), the render service's cache and the
renderer all read this table; a new output format is a member and a row here, and its encoder
(renderer/output/encode.py for a picture)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from renderer.errors import NotOffered


class OutputFormat(enum.Enum):
    """What a render makes. The order is the table's (see FORMATS)."""

    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    DICOM = "dicom"  # the stored file, in another transfer syntax or de-identified
    PDF = "pdf"  # an Encapsulated PDF's document
    HTML = "html"  # a structured report, readable
    MPEG = "mpeg"  # a video's stream, as stored
    MP4 = "mp4"  # a video's stream in an MP4 container

    @property
    def format(self) -> Format:
        return FORMATS[self]

    @property
    def is_picture(self) -> bool:
        return FORMATS[self].picture


class Kind(enum.Enum):
    """What kind of object a stored file is (renderer.objects.kinds tells)."""

    IMAGE = "image"
    PDF = "pdf"
    REPORT = "report"  # a Structured Report or Key Object Selection document
    VIDEO = "video"
    NO_PIXELS = "no pixels"  # waveforms, RT objects, header-only instances: a placeholder


EVERY_KIND = frozenset(Kind)


@dataclass(frozen=True, slots=True)
class Format:
    media_type: str
    offered_by: frozenset[Kind]  # the kinds of object that can be had in it
    called: str  # what it is, for a 406 naming what an object does not offer
    picture: bool = False  # drawn at any size (the display pipeline, or a card): every kind
    lossy: bool = False  # the request's quality applies
    animated: bool = False  # a multi-frame object asked without a frame: every frame
    text: bool = False  # its media type states the charset asked
    cached: bool = True  # False: too big to keep, or asked for once
    stored_file: bool = False  # the stored object itself: WADO-URI only, never a fallback


# The order breaks ties in content negotiation: the first is the default, and what */* means;
# application/* means the stored file before a PDF.
FORMATS: dict[OutputFormat, Format] = {
    OutputFormat.JPEG: Format("image/jpeg", EVERY_KIND, "a JPEG", picture=True, lossy=True),
    OutputFormat.PNG: Format("image/png", EVERY_KIND, "a PNG", picture=True),
    OutputFormat.GIF: Format("image/gif", EVERY_KIND, "a GIF", picture=True, animated=True),
    OutputFormat.DICOM: Format(
        "application/dicom", EVERY_KIND, "the DICOM file", cached=False, stored_file=True
    ),
    OutputFormat.PDF: Format(
        "application/pdf", frozenset((Kind.PDF,)), "a PDF document (Encapsulated PDF only)"
    ),
    OutputFormat.HTML: Format(
        "text/html",
        frozenset((Kind.REPORT,)),
        "an HTML rendering (structured reports only)",
        text=True,
    ),
    OutputFormat.MPEG: Format(
        "video/mpeg", frozenset((Kind.VIDEO,)), "a video stream (video objects only)", cached=False
    ),
    OutputFormat.MP4: Format(
        "video/mp4", frozenset((Kind.VIDEO,)), "an MP4 video (video objects only)", cached=False
    ),
}
if list(FORMATS) != list(OutputFormat):  # a member without its row, or out of order
    raise AssertionError("FORMATS must have one row per OutputFormat, in the enum's order")


def offers(kind: Kind, output: OutputFormat) -> bool:
    """Every object has a picture; the other forms only the objects that hold them."""
    return kind in FORMATS[output].offered_by


def choose_output(
    kind: Kind, output: OutputFormat, alternatives: tuple[OutputFormat, ...] = ()
) -> OutputFormat:
    """The first of `output` and its alternatives that the object offers."""
    for candidate in (output, *alternatives):
        if offers(kind, candidate):
            return candidate
    pictures = ", ".join(each.name for each, row in FORMATS.items() if row.picture)
    raise NotOffered(
        f"{FORMATS[output].called} is not available for this object ({kind.value}); "
        f"it is offered as a picture ({pictures})"
    )


__all__ = ["EVERY_KIND", "FORMATS", "Format", "Kind", "OutputFormat", "choose_output", "offers"]
