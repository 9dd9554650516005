"""What the pass-through lets a client it does not know ask of an Orthanc that answers anyone:
the reads a viewer and Orthanc Explorer make, listed here once (`READS`), and nothing else
(router.exposure decides when the list applies). The security page's table (docs/security.md)
is made from it (`table()`; tests/router/test_passthrough.py checks it is current).

Patterns are over the path as Orthanc reads it (router.paths), one segment each: `{level}` is
patients, studies, series or instances; `{id}` an Orthanc identifier (five groups of eight hex
digits); `{uid}` a DICOM UID; `{n}` a number; `{frames}` a comma-separated list of numbers;
`{name}` any one segment; `**` any further segments. Left out on purpose: `/tools/` (but the
find Explorer's lookup page sends), `/jobs`, `/changes`, `/peers` and `/modalities` (a GET of
`/peers/{p}/system` makes Orthanc call the peer with its stored credentials), `/dicom-web/servers`,
`/plugins` (but Explorer's extension script) and every other method.

And in every mode, writes announced as reads never pass: Orthanc takes `?_method=DELETE` (or
PUT) on a GET and the `X-HTTP-Method-Override` header on any method as the method, so the
header is dropped (with its cousins `X-HTTP-Method` and `X-Method-Override`) and `_method` is a
400, in whatever case or encoding Orthanc would read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from router.errors import InvalidRequest

READ = ("GET", "HEAD")
# Method overrides Orthanc (the first) or other servers honour: never sent on.
OVERRIDE_HEADERS = frozenset({"x-http-method-override", "x-http-method", "x-method-override"})
OVERRIDE_PARAMETER = "_method"

_PARTS = {
    "{level}": r"(?:patients|studies|series|instances)",
    "{id}": r"[0-9a-f]{8}(?:-[0-9a-f]{8}){4}",
    "{uid}": r"[0-9]+(?:\.[0-9]+)*",
    "{n}": r"[0-9]+",
    "{frames}": r"[0-9]+(?:,[0-9]+)*",
    "{name}": r"[^/]+",
    "**": r".+",
}
_TOKEN = re.compile("|".join(re.escape(token) for token in _PARTS))


@dataclass(frozen=True, slots=True)
class Read:
    """Paths of one kind a viewer or Explorer reads: a pattern with alternatives in
    `(a|b)`, the methods it may come with, and why it is allowed."""

    pattern: str
    why: str
    methods: tuple[str, ...] = READ


# Orthanc 1.10's REST API and its DICOMweb plugin, as Explorer (app/explorer.js) and DICOMweb
# viewers read them.
READS: tuple[Read, ...] = (
    Read("/system", "Orthanc's name and version: every Explorer page shows them"),
    Read("/app/**", "Orthanc Explorer's own files (`/app/explorer.html` and what it loads)"),
    Read("/plugins/explorer.js", "the plugins' additions to Explorer, which it loads"),
    Read("/tools/find", "Explorer's study lookup: a search, which changes nothing", ("POST",)),
    Read("/{level}", "lists of patients, studies, series, instances"),
    Read("/{level}/{id}", "one resource and its main tags"),
    Read(
        "/{level}/{id}/(patient|study|series|studies|instances)",
        "a resource's parent and children",
    ),
    Read(
        "/{level}/{id}/(shared-tags|module|patient-module|instances-tags|statistics|protected"
        "|labels)",
        "a resource's tags, size and protection, as Explorer shows them",
    ),
    Read("/{level}/{id}/(archive|media)", "a resource's files, zipped (Explorer's downloads)"),
    Read("/{level}/{id}/metadata", "a resource's metadata"),
    Read("/{level}/{id}/metadata/{name}", "one metadata item"),
    Read("/{level}/{id}/attachments", "a resource's attachments"),
    Read("/{level}/{id}/attachments/{name}", "one attachment's operations"),
    Read(
        "/{level}/{id}/attachments/{name}/(data|compressed-data|md5|compressed-md5|size"
        "|compressed-size|info|is-compressed)",
        "one attachment's content and facts",
    ),
    Read(
        "/instances/{id}/(file|tags|simplified-tags|header|frames|preview|rendered|image-uint8"
        "|image-uint16|image-int16|matlab|numpy|pdf)",
        "an instance's file, tags, frames and pictures",
    ),
    Read("/instances/{id}/content/**", "one element of an instance"),
    Read("/instances/{id}/frames/{n}", "one frame's operations"),
    Read(
        "/instances/{id}/frames/{n}/(preview|rendered|image-uint8|image-uint16|image-int16"
        "|matlab|numpy|raw|raw.gz)",
        "one frame's pixels",
    ),
    Read("/series/{id}/(ordered-slices|numpy)", "a series' slices in order"),
    Read("/dicom-web/(studies|series|instances)", "QIDO-RS searches"),
    Read("/dicom-web/studies/{uid}", "WADO-RS: a study"),
    Read(
        "/dicom-web/studies/{uid}/(metadata|series|instances|rendered|thumbnail)",
        "WADO-RS and QIDO-RS in a study",
    ),
    Read("/dicom-web/studies/{uid}/series/{uid}", "WADO-RS: a series"),
    Read(
        "/dicom-web/studies/{uid}/series/{uid}/(metadata|instances|rendered|thumbnail)",
        "WADO-RS and QIDO-RS in a series",
    ),
    Read("/dicom-web/studies/{uid}/series/{uid}/instances/{uid}", "WADO-RS: an instance"),
    Read(
        "/dicom-web/studies/{uid}/series/{uid}/instances/{uid}/(metadata|rendered|thumbnail)",
        "WADO-RS: an instance's metadata and pictures",
    ),
    Read("/dicom-web/studies/{uid}/series/{uid}/instances/{uid}/frames/{frames}", "frames"),
    Read(
        "/dicom-web/studies/{uid}/series/{uid}/instances/{uid}/frames/{frames}/(rendered"
        "|thumbnail)",
        "rendered frames",
    ),
    Read(
        "/dicom-web/studies/{uid}/series/{uid}/instances/{uid}/bulk/**",
        "bulk data (the metadata's BulkDataURIs)",
    ),
)


def _compile(pattern: str) -> re.Pattern[str]:
    """A pattern as a regular expression: its tokens as `_PARTS`, `(a|b)` as alternatives, every
    other character literally."""
    pieces: list[str] = []
    at = 0
    for token in _TOKEN.finditer(pattern):
        pieces.append(_literal(pattern[at : token.start()]))
        pieces.append(_PARTS[token[0]])
        at = token.end()
    pieces.append(_literal(pattern[at:]))
    return re.compile("".join(pieces))


def _literal(text: str) -> str:
    """Literal text, but for `(a|b)` alternatives."""
    out = re.escape(text)
    return out.replace(r"\(", "(?:").replace(r"\)", ")").replace(r"\|", "|")


_COMPILED = tuple((_compile(read.pattern), frozenset(read.methods)) for read in READS)


def allowed(method: str, path: str) -> bool:
    """Whether a client wadofarm does not know may send `method` to Orthanc's `path` (read as
    Orthanc reads it)."""
    return any(method in methods and rx.fullmatch(path) for rx, methods in _COMPILED)


def check_overrides(query: str) -> None:
    """InvalidRequest if the query (as sent, with its `?`) names `_method`: as Orthanc decodes
    a name (its own percent-decoding, `+` a space) or as anyone else does, in any case."""
    if OVERRIDE_PARAMETER not in query.lower() and "%" not in query:
        return
    for item in query.removeprefix("?").split("&"):
        name = item.partition("=")[0]
        readings = {name, unquote_to_bytes(name).decode("latin-1"), orthanc_unquote(name)}
        if any(r.strip().lower() == OVERRIDE_PARAMETER for r in readings):
            raise InvalidRequest(
                "a _method query parameter is refused: it would make Orthanc take this "
                "request for another method"
            )


def _hex(char: str) -> int:
    """Orthanc's Hex2Dec: for any letter or digit, right or not."""
    code = ord(char)
    if "0" <= char <= "9":
        return code - ord("0")
    if "a" <= char <= "f":
        return code - ord("a") + 10
    return code - ord("A") + 10


def orthanc_unquote(text: str) -> str:
    """Orthanc's Toolbox::UrlDecode: `%` and two letters or digits, hex or not, `+` a space."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "%" and i + 2 < len(text) and text[i + 1].isalnum() and text[i + 2].isalnum():
            out.append(chr(((_hex(text[i + 1]) << 4) | _hex(text[i + 2])) & 0xFF))
            i += 3
        else:
            out.append(" " if text[i] == "+" else text[i])
            i += 1
    return "".join(out)


def table() -> str:
    """The security page's table of what passes (docs/security.md)."""
    rows = ["| method | path | why |", "|---|---|---|"]
    for read in READS:
        pattern = read.pattern.replace("|", "\\|")  # a cell's own bar, escaped (GFM)
        rows.append(f"| {', '.join(read.methods)} | `{pattern}` | {read.why} |")
    return "\n".join(rows)
