"""WADO-URI `annotation=patient,technique` (PS3.18 8.3.5.1.5 / 9.4.2): text burned into the
corners of the rendered image.

patient (top left): Patient's Name (the alphabetic group, and the ideographic one on a second
line when there is one), Patient ID, Birth Date and Sex. technique (top right, right-aligned;
bottom right when the two columns do not fit side by side): Modality, Series and Instance
Number (and the frame of a multi-frame object), the window the render used (centre and width
in modality units), Slice Thickness, kVp and mAs where the file has them. Empty attributes (an
anonymised patient) are left out, never shown as blanks. Text is decoded by pydicom through
(0008,0005) Specific Character Set and drawn white with a black outline, so it reads on any
background, in a font scaled to the output (renderer.annotation.fonts picks one with the glyphs
of each line: DejaVu Sans, or a CJK font for Japanese, Chinese and Korean names).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from pydicom.dataset import Dataset
from pydicom.valuerep import PersonName

from renderer.annotation.fonts import font_for
from renderer.decoding.decode import GRAYSCALE
from renderer.display.header import Header
from renderer.display.lut import Lut
from renderer.display.modality import output_bits
from renderer.display.voi import fallback_window
from renderer.files.stored_file import StoredFile
from renderer.params import DefaultWindow, RenderParams

PATIENT = "patient"
TECHNIQUE = "technique"
KINDS = (PATIENT, TECHNIQUE)
MIN_SIZE = 8  # pixels: smaller text is not legible
LINES_PER_HEIGHT = 14  # a line is this fraction of the output height, before fitting


def _text(value: object) -> str:
    return " ".join(str(value or "").split())


def _name(value: object) -> list[str]:
    """A PN value as lines: the alphabetic group, then the ideographic, with ^ as spaces."""
    if not value:
        return []
    name = value if isinstance(value, PersonName) else PersonName(str(value))
    groups = [name.alphabetic, name.ideographic]
    return [_text(g.replace("^", " ")) for g in groups if g and _text(g.replace("^", ""))]


def _date(value: object) -> str:
    text = _text(value)
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def _number(value: object) -> str:
    try:
        number = float(str(value))
    except ValueError:
        return _text(value)
    return f"{number:g}"


def patient_lines(ds: Dataset) -> list[str]:
    lines = _name(ds.get("PatientName"))
    if _text(ds.get("PatientID")):
        lines.append(f"ID {_text(ds.get('PatientID'))}")
    born, sex = _date(ds.get("PatientBirthDate")), _text(ds.get("PatientSex"))
    if born or sex:
        lines.append(" ".join(part for part in (born, sex) if part))
    return lines


def technique_lines(ds: Dataset, frame: int, frames: int, window: str) -> list[str]:
    lines = []
    if _text(ds.get("Modality")):
        lines.append(_text(ds.get("Modality")))
    numbers = []
    if _text(ds.get("SeriesNumber")):
        numbers.append(f"Se {_text(ds.get('SeriesNumber'))}")
    if _text(ds.get("InstanceNumber")):
        numbers.append(f"Im {_text(ds.get('InstanceNumber'))}")
    if frames > 1:
        numbers.append(f"Fr {frame + 1}/{frames}")
    if numbers:
        lines.append(" ".join(numbers))
    if window:
        lines.append(window)
    if _text(ds.get("SliceThickness")):
        lines.append(f"{_number(ds.get('SliceThickness'))} mm")
    exposure = [
        f"{_number(ds.get('KVP'))} kV" if _text(ds.get("KVP")) else "",
        f"{_number(ds.get('Exposure'))} mAs" if _text(ds.get("Exposure")) else "",
    ]
    if any(exposure):
        lines.append(" ".join(part for part in exposure if part))
    return lines


def draw_labels(image: np.ndarray, left: list[str], right: list[str]) -> np.ndarray:
    """The image with `left` lines in its top-left corner and `right` ones right-aligned in its
    top-right corner (a new array). Each line gets a font with its glyphs."""
    if not left and not right:
        return image
    picture = Image.fromarray(np.ascontiguousarray(image))
    pen = ImageDraw.Draw(picture)
    width, height = picture.size
    size = max(MIN_SIZE, height // LINES_PER_HEIGHT)

    def widest(lines: list[str], size: int) -> float:
        return max((pen.textlength(line, font=font_for(line, size)) for line in lines), default=0)

    # Shrink until both columns fit side by side (down to the legible minimum).
    while size > MIN_SIZE and widest(left, size) + widest(right, size) + size > width:
        size -= 1
    white: int | tuple[int, ...] = (255, 255, 255) if picture.mode == "RGB" else 255
    black: int | tuple[int, ...] = (0, 0, 0) if picture.mode == "RGB" else 0
    # Still too wide (a small thumbnail): the technique goes to the bottom-right corner.
    below = widest(left, size) + widest(right, size) + size > width
    outline = max(1, size // 12)
    margin = max(2, size // 4)
    step = size + max(1, size // 5)
    for column, lines in ((0, left), (1, right)):
        for row, line in enumerate(lines):
            x = width - margin if column else margin
            y = margin + row * step
            if column and below:
                y = height - margin - (len(lines) - row) * step
            pen.text(
                (x, y),
                line,
                font=font_for(line, size),
                fill=white,
                anchor="ra" if column else "la",
                stroke_width=outline,
                stroke_fill=black,
            )
    return np.asarray(picture)


def window_text(header: Header, params: RenderParams) -> str:
    """The window a grayscale render used, as the technique annotation shows it."""
    if header.info.photometric not in GRAYSCALE or header.palette is not None:
        return ""
    voi = params.window or header.voi
    if isinstance(voi, Lut):
        return "VOI LUT"
    if voi is None:
        if params.default_window is DefaultWindow.MINMAX:
            return "W min-max"
        bits = output_bits(header.modality, header.info.stored.bits_stored)
        voi = fallback_window(DefaultWindow.ORTHANC, bits, None)
    return f"C {voi.center:g} W {voi.width:g}"


def labelled(
    image: np.ndarray, file: StoredFile | None, header: Header, params: RenderParams
) -> np.ndarray:
    """The output image with the corner annotations the request asks for; `header` is the one
    the render used (a presentation state's VOI in it, for the window shown)."""
    if not params.annotation or file is None:
        return image
    ds = file.dataset()
    left = patient_lines(ds) if PATIENT in params.annotation else []
    right = []
    if TECHNIQUE in params.annotation:
        window = window_text(header, params)
        right = technique_lines(ds, params.frame, header.info.frames, window)
    return draw_labels(image, left, right)


__all__ = [
    "KINDS",
    "draw_labels",
    "labelled",
    "patient_lines",
    "technique_lines",
    "window_text",
]
