"""A text card drawn with Pillow: a coloured band with a short badge (the modality), a title
(the SOP class, a document's title) and lines below it. Placeholders and report thumbnails are
cards. Drawn at the size asked, with font sizes in proportion to it, so that a 128-pixel
thumbnail is as legible as a full render (text shrunk after drawing is not)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Debian's fonts-dejavu when installed (wide Unicode coverage for names and reports), else the
# font Pillow carries.
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"

BACKGROUND = (28, 32, 40)
TITLE_COLOUR = (236, 239, 244)
TRACE_COLOUR = (120, 224, 150)
TRACE_SHARE = 0.4  # of the card's height, at the bottom, when there are traces
LINE_COLOUR = (176, 186, 198)
BADGE_COLOUR = (255, 255, 255)
MIN_FONT = 8  # pixels: below this no font is legible
MAX_CHARS = 400  # of one text: more than a card can show at any size


@dataclass(frozen=True, slots=True)
class Card:
    badge: str  # a few characters, drawn large: the modality
    title: str
    lines: tuple[str, ...] = ()
    accent: tuple[int, int, int] = (84, 98, 118)
    # Waveform channels drawn as traces in the lower part of the card, one strip each.
    traces: tuple[np.ndarray, ...] = ()


Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> Font:
    path = DEJAVU / (BOLD if bold else REGULAR)
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def wrap(text: str, face: Font, width: float, max_lines: int) -> list[str]:
    """Words to lines no wider than `width`; a word too long for a line is cut; the last line
    ends in an ellipsis when text is left over. Only the first MAX_CHARS characters count: a
    mangled value can be kilobytes long, and each measure costs."""
    lines: list[str] = []
    current = ""
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + "…"
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if face.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while face.getlength(current) > width and len(current) > 1:
            cut = _longest_fit(current, face, width)
            lines.append(current[:cut])
            current = current[cut:]
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and face.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def _longest_fit(word: str, face: Font, width: float) -> int:
    """How many leading characters of `word` fit in `width` (at least one): a binary search."""
    low, high = 1, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if face.getlength(word[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def draw(card: Card, width: int, height: int) -> np.ndarray:
    """The card as RGB pixels, width x height."""
    picture = Image.new("RGB", (width, height), BACKGROUND)
    pen = ImageDraw.Draw(picture)
    unit = min(width, height) / 100
    margin = max(2.0, 6 * unit)
    usable = width - 2 * margin
    band = round(30 * unit)
    pen.rectangle((0, 0, width, band), fill=card.accent)
    badge_size = max(MIN_FONT, round(18 * unit))
    badge = font(badge_size, bold=True)
    while badge_size > MIN_FONT and badge.getlength(card.badge) > usable:
        badge_size -= 1
        badge = font(badge_size, bold=True)
    pen.text((width / 2, band / 2), card.badge, font=badge, fill=BADGE_COLOUR, anchor="mm")
    y = band + margin * 0.8
    title = font(max(MIN_FONT, round(7.5 * unit)), bold=True)
    y = _paragraph(pen, card.title, title, margin, y, usable, 3, TITLE_COLOUR)
    y += margin * 0.5
    body = font(max(MIN_FONT, round(6.5 * unit)))
    line_height = _line_height(body)
    bottom = height * (1 - TRACE_SHARE) if card.traces else height - margin * 0.5
    for line in card.lines:
        room = int((bottom - y) // line_height)
        if room < 1:
            break
        y = _paragraph(pen, line, body, margin, y, usable, min(room, 3), LINE_COLOUR)
    if card.traces:
        _traces(pen, card.traces, margin, bottom, width - margin, height - margin * 0.5)
    return np.asarray(picture)


def _traces(
    pen: ImageDraw.ImageDraw,
    traces: tuple[np.ndarray, ...],
    left: float,
    top: float,
    right: float,
    bottom: float,
) -> None:
    """Each channel as a polyline in its own strip, scaled to its own range."""
    strip = (bottom - top) / len(traces)
    points = max(2, round(right - left))
    for index, samples in enumerate(traces):
        if samples.size < 2:
            continue
        at = np.linspace(0, samples.size - 1, points)
        values = np.interp(at, np.arange(samples.size), samples.astype(np.float64))
        low, high = float(values.min()), float(values.max())
        span = high - low or 1.0
        ys = top + strip * (index + 0.9) - (values - low) / span * strip * 0.8
        xs = np.linspace(left, right, points)
        pen.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=TRACE_COLOUR, width=1)


def _line_height(face: Font) -> float:
    top, bottom = face.getbbox("Ág")[1::2]
    return (bottom - top) * 1.25


def _paragraph(
    pen: ImageDraw.ImageDraw,
    text: str,
    face: Font,
    x: float,
    y: float,
    width: float,
    max_lines: int,
    colour: tuple[int, int, int],
) -> float:
    """Draw `text` wrapped from (x, y); the y below it."""
    step = _line_height(face)
    for line in wrap(text, face, width, max_lines):
        pen.text((x, y), line, font=face, fill=colour)
        y += step
    return y


__all__ = ["Card", "draw", "font", "wrap"]
