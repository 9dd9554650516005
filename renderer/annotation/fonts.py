"""Fonts for text burned into renders (presentation state text, corner annotations): DejaVu
Sans from Debian's fonts-dejavu-core for Latin, Greek and Cyrillic; Droid Sans Fallback
(fonts-droid-fallback) for text DejaVu has no glyphs for (Japanese, Chinese, Korean); Pillow's
own default font where neither is installed."""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

LATIN = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/freefont/FreeSans.ttf"),
)
WIDE = (
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts-droid-fallback/truetype/DroidSansFallback.ttf"),
)
DEJAVU_END = 0x2E7F  # DejaVu Sans covers scripts up to here (the CJK blocks start after)


@functools.cache
def _load(files: tuple[Path, ...], size: int) -> Font:
    for path in files:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def font_for(text: str, size: int) -> Font:
    """A font of `size` pixels that has glyphs for `text`."""
    wide = any(ord(ch) > DEJAVU_END for ch in text)
    return _load(WIDE + LATIN if wide else LATIN + WIDE, max(size, 1))


__all__ = ["Font", "font_for"]
