"""Query parameter values, checked the same way on every route: whole numbers, decimals,
switches, character sets, annotation lists, each known parameter given at most once. A malformed
value is a 400 with a one-line reason that quotes it."""

from __future__ import annotations

import codecs
import math
import re

from multidict import MultiMapping

from router.errors import InvalidRequest, NotAcceptable
from router.render_request import DEFAULT_CHARSET

MAX_SIDE = 16384  # rows, columns, a viewport's sides
MAX_FRAME = 1_000_000
MAX_VALUE_LENGTH = 1024
ANNOTATIONS = ("patient", "technique")  # PS3.18 annotation values, in the order they are kept

_KNOWN_SETS: dict[tuple[str, ...], frozenset[str]] = {}  # single_values' names, as sets
_CHARSET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,39}")  # an IANA charset name (RFC 2978)
_INT = re.compile(r"[0-9]{1,9}")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?")


def parse_int(name: str, value: str, low: int, high: int) -> int:
    if not _INT.fullmatch(value):
        raise InvalidRequest(f"{name} must be a whole number, got {show(value)}")
    number = int(value)
    if not low <= number <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}, got {number}")
    return number


def parse_decimal(name: str, value: str) -> float:
    if not _DECIMAL.fullmatch(value.strip()):
        raise InvalidRequest(f"{name} must be a decimal number, got {show(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidRequest(f"{name} is out of range, got {show(value)}")
    return number


def parse_bool(name: str, value: str) -> bool:
    """A switch: true or false (any case)."""
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise InvalidRequest(f"{name} must be true or false, got {show(value)}")
    return lowered == "true"


def parse_charset(value: str | None) -> str:
    """`charset` (PS3.18 8.3.3.2): a comma list of character sets in preference order, with
    optional `;q=` weights (ignored but allowed); the first one this server can encode wins."""
    if value is None or not value.strip():
        return DEFAULT_CHARSET
    for candidate in value.split(","):
        name = candidate.split(";")[0].strip()
        if name == "*":
            return DEFAULT_CHARSET
        if not _CHARSET.fullmatch(name):
            continue
        try:
            codecs.lookup(name)
        except LookupError:
            continue
        return name
    raise NotAcceptable(f"none of the requested character sets is known ({show(value)})")


def parse_annotation(value: str) -> tuple[str, ...]:
    """A comma list of `patient` and `technique`, each at most once; kept in a fixed order so
    that `technique,patient` and `patient,technique` are one render."""
    asked = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [part for part in asked if part not in ANNOTATIONS]
    if unknown or not asked:
        raise InvalidRequest(
            f"annotation must be a comma list of {' and '.join(ANNOTATIONS)}, got {show(value)}"
        )
    return tuple(kind for kind in ANNOTATIONS if kind in asked)


def single_values(query: MultiMapping[str], names: tuple[str, ...]) -> dict[str, str]:
    """The known parameters, each at most once; a repeated one is ambiguous, hence a 400. One
    pass over what was sent (a few items), not a look-up per parameter known."""
    known = _KNOWN_SETS.get(names)
    if known is None:
        known = _KNOWN_SETS[names] = frozenset(names)
    values: dict[str, str] = {}
    for name, value in query.items():
        if name not in known:
            continue
        if name in values:
            raise InvalidRequest(f"{name} is given {len(query.getall(name))} times")
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidRequest(f"{name} is longer than {MAX_VALUE_LENGTH} characters")
        values[name] = value
    return values


def show(value: str, limit: int = 40) -> str:
    """A value quoted for an error message: printable and short."""
    text = value if len(value) <= limit else value[:limit] + "…"
    return repr(text)
