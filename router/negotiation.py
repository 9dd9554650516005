"""Media-type lists with q-values (RFC 9110 12.5.1), as in `contentType` and `Accept`, and the
output formats (renderer.formats) each kind of route offers in answer."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from renderer.formats import FORMATS, OutputFormat
from router.errors import InvalidRequest

ALIASES = {"image/jpg": "image/jpeg"}  # what Orthanc's plugin defaults to
# What each kind of route offers, in the table's order (the first is the default):
EVERY_FORMAT = tuple(FORMATS)  # WADO-URI: the stored file too
RENDERINGS = tuple(o for o, f in FORMATS.items() if not f.stored_file)  # DICOMweb rendered
PICTURES = tuple(o for o, f in FORMATS.items() if f.picture)  # thumbnails, a part per frame
_BY_MEDIA_TYPE = {f.media_type: o for o, f in FORMATS.items()}


@dataclass(frozen=True, slots=True)
class MediaRange:
    type: str  # lower case, e.g. "image/jpeg", "image/*", "*/*"
    q: float
    position: int


def parse_media_ranges(value: str) -> list[MediaRange]:
    ranges = []
    for position, part in enumerate(value.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        if media.count("/") != 1 or not all(media.split("/")):
            raise InvalidRequest(f"malformed media type {fields[0]!r}")
        q = 1.0
        for param in fields[1:]:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(raw.strip())
                except ValueError:
                    raise InvalidRequest(f"malformed q-value {raw.strip()!r}") from None
                if not 0.0 <= q <= 1.0:
                    raise InvalidRequest(f"q-value {raw.strip()} is not between 0 and 1")
        ranges.append(MediaRange(media, q, position))
    return ranges


def _matches(media_range: str, offered: str) -> bool:
    if media_range == "*/*":
        return True
    major, minor = media_range.split("/")
    return (minor == "*" and offered.split("/")[0] == major) or media_range == offered


def ranked(
    value: str, offered: Iterable[str], aliases: dict[str, str] | None = None
) -> tuple[str, ...]:
    """Every acceptable offered type, the most preferred first: highest q, then first listed,
    then the order of `offered` (so wildcards pick the server's default); empty if nothing is
    acceptable. What only the object can settle (a PDF, else a JPEG) is tried in this order.
    Remembered: clients send the same few Accept values again and again."""
    return _ranked(value, tuple(offered), tuple(sorted((aliases or {}).items())))


@functools.lru_cache(maxsize=1024)
def _ranked(
    value: str, offered: tuple[str, ...], alias_pairs: tuple[tuple[str, str], ...]
) -> tuple[str, ...]:
    aliases = dict(alias_pairs)
    ranges = [
        MediaRange(aliases.get(r.type, r.type), r.q, r.position) for r in parse_media_ranges(value)
    ]
    scored: list[tuple[tuple[float, int, int], str]] = []
    for rank, media in enumerate(offered):
        # The most specific range that matches decides this type's q (RFC 9110 12.5.1).
        matching = [r for r in ranges if _matches(r.type, media)]
        if not matching:
            continue
        specific = max(matching, key=lambda r: (r.type.count("*") == 0, r.type != "*/*"))
        if specific.q <= 0:
            continue
        scored.append(((-specific.q, specific.position, rank), media))
    return tuple(media for _, media in sorted(scored))


def acceptable(value: str | None, offered: tuple[OutputFormat, ...]) -> tuple[OutputFormat, ...]:
    """The offered formats a contentType or Accept list accepts, the preferred first (see
    ranked); absent or blank means the first offered; empty if none is acceptable."""
    if value is None or not value.strip():
        return offered[:1]
    return _acceptable(value, offered)


@functools.lru_cache(maxsize=1024)
def _acceptable(value: str, offered: tuple[OutputFormat, ...]) -> tuple[OutputFormat, ...]:
    types = ranked(value, (FORMATS[output].media_type for output in offered), ALIASES)
    return tuple(_BY_MEDIA_TYPE[media] for media in types)


def media_types(offered: tuple[OutputFormat, ...]) -> str:
    """The offered formats' media types, for a 406 that says what there is."""
    return ", ".join(FORMATS[output].media_type for output in offered)
