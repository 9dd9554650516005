"""Graphic annotations of a presentation state (PS3.3 C.10.5) burned into the output image,
drawn after scaling so lines stay one output pixel wide (thicker in large outputs) and text
stays legible.

Points in PIXEL units are stored-image coordinates with sub-pixel precision, (0,0) the top-left
corner of the first pixel (C.10.5.1.2); they follow the displayed area, the rotation, the flip,
the crop and the scaling of the render. DISPLAY units are fractions of the displayed area as
shown, (0,0) its top-left corner, (1,1) its bottom-right. POINT is a small cross, POLYLINE
joins its points (closed when the last point is the first), INTERPOLATED is drawn through its
points as a polyline (no spline), CIRCLE is a centre and a point on the circumference, ELLIPSE
the two ends of the major axis then of the minor axis; filled shapes are filled. Text is drawn
in a font from Debian (renderer.annotation.fonts: DejaVu Sans, a CJK fallback), inside its
bounding box when it has one (at a size that fits the box), else beside its anchor point; a
visible anchor is joined to the box by a line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from renderer.annotation.fonts import font_for
from renderer.display.gsps import Graphic, Text

POINT_ARM = 3  # half the size of a POINT's cross, in output pixels at 512
ELLIPSE_STEPS = 96

Ink = int | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Mapping:
    """Stored-image and displayed-area coordinates to output pixels."""

    left: float  # the displayed area's top-left corner, stored-image coordinates, 0-based
    top: float
    width: float  # the displayed area, stored pixels, before the rotation
    height: float
    rotation: int  # clockwise degrees
    flip: bool
    crop: tuple[float, float, float, float]  # x0, y0, x1, y1 of the shown part, after rotation
    out_width: int
    out_height: int

    @property
    def shown_size(self) -> tuple[float, float]:
        """The displayed area's width and height after the rotation."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height

    def from_pixel(self, x: float, y: float) -> tuple[float, float]:
        x, y = x - self.left, y - self.top
        w, h = self.width, self.height
        if self.rotation == 90:
            x, y = h - y, x
        elif self.rotation == 180:
            x, y = w - x, h - y
        elif self.rotation == 270:
            x, y = y, w - x
        if self.flip:
            x = self.shown_size[0] - x
        return self._to_output(x, y)

    def from_display(self, u: float, v: float) -> tuple[float, float]:
        w, h = self.shown_size
        return self._to_output(u * w, v * h)

    def _to_output(self, x: float, y: float) -> tuple[float, float]:
        x0, y0, x1, y1 = self.crop
        return (
            (x - x0) * self.out_width / (x1 - x0),
            (y - y0) * self.out_height / (y1 - y0),
        )

    @property
    def scale(self) -> float:
        """Output pixels per stored pixel (the larger way)."""
        x0, y0, x1, y1 = self.crop
        return max(self.out_width / (x1 - x0), self.out_height / (y1 - y0))


def line_width(mapping: Mapping) -> int:
    return max(1, round(max(mapping.out_width, mapping.out_height) / 512))


def draw(
    image: np.ndarray, graphics: tuple[Graphic, ...], texts: tuple[Text, ...], mapping: Mapping
) -> np.ndarray:
    """The output image with the annotations drawn in (a new array)."""
    if not graphics and not texts:
        return image
    picture = Image.fromarray(np.ascontiguousarray(image))
    pen = ImageDraw.Draw(picture)
    width = line_width(mapping)
    rgb = picture.mode == "RGB"

    def colour(level: int) -> Ink:
        return (level,) * 3 if rgb else level

    for graphic in graphics:
        to = mapping.from_display if graphic.display else mapping.from_pixel
        points = [to(x, y) for x, y in graphic.points]
        _shape(pen, graphic, points, colour(graphic.level), width)
    for text in texts:
        _text(pen, text, mapping, colour(text.level), width)
    return np.asarray(picture)


def _shape(
    pen: ImageDraw.ImageDraw,
    graphic: Graphic,
    points: list[tuple[float, float]],
    fill: Ink,
    width: int,
) -> None:
    kind = graphic.kind
    if kind == "POINT":
        arm = POINT_ARM * width
        for x, y in points:
            pen.line([(x - arm, y), (x + arm, y)], fill=fill, width=width)
            pen.line([(x, y - arm), (x, y + arm)], fill=fill, width=width)
        return
    if kind == "CIRCLE" and len(points) >= 2:
        (cx, cy), (px, py) = points[0], points[1]
        r = math.hypot(px - cx, py - cy)
        points = [
            (cx + r * math.cos(t), cy + r * math.sin(t))
            for t in np.linspace(0, 2 * math.pi, ELLIPSE_STEPS + 1)
        ]
    elif kind == "ELLIPSE" and len(points) >= 4:
        (ax, ay), (bx, by), (mx, my), (nx, ny) = points[:4]
        cx, cy = (ax + bx) / 2, (ay + by) / 2
        ux, uy = (bx - ax) / 2, (by - ay) / 2  # half the major axis
        vx, vy = (nx - mx) / 2, (ny - my) / 2  # half the minor axis
        points = [
            (cx + ux * math.cos(t) + vx * math.sin(t), cy + uy * math.cos(t) + vy * math.sin(t))
            for t in np.linspace(0, 2 * math.pi, ELLIPSE_STEPS + 1)
        ]
    if len(points) == 1:
        pen.point(points, fill=fill)
        return
    closed = points[0] == points[-1] or kind in ("CIRCLE", "ELLIPSE")
    if graphic.filled and closed and len(points) >= 3:
        pen.polygon(points, fill=fill, outline=fill)
    pen.line(points, fill=fill, width=width, joint="curve")


def _text(pen: ImageDraw.ImageDraw, text: Text, mapping: Mapping, fill: Ink, width: int) -> None:
    anchor = None
    if text.anchor is not None:
        to = mapping.from_display if text.anchor_display else mapping.from_pixel
        anchor = to(*text.anchor)
    if text.box is not None:
        to = mapping.from_display if text.box_display else mapping.from_pixel
        (ax, ay), (bx, by) = to(text.box[0], text.box[1]), to(text.box[2], text.box[3])
        x0, x1, y0, y1 = min(ax, bx), max(ax, bx), min(ay, by), max(ay, by)
        lines = text.text.splitlines() or [""]
        size = max(6, int((y1 - y0) / max(len(lines), 1) * 0.8))
        face = font_for(text.text, size)
        while size > 6 and pen.textlength(max(lines, key=len), font=face) > (x1 - x0):
            size -= 1
            face = font_for(text.text, size)
        pen.multiline_text((x0, y0), text.text, fill=fill, font=face)
        if anchor is not None and text.anchor_visible:
            edge = (min(max(anchor[0], x0), x1), min(max(anchor[1], y0), y1))
            pen.line([edge, anchor], fill=fill, width=width)
    elif anchor is not None:
        size = max(10, round(max(mapping.out_width, mapping.out_height) / 32))
        pen.multiline_text(
            (anchor[0] + width * 2, anchor[1]),
            text.text,
            fill=fill,
            font=font_for(text.text, size),
        )


__all__ = ["Mapping", "draw"]
