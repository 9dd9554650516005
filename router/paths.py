"""Request targets as Orthanc reads them, read once for everything: routing, access control and
the pass-through's rule all decide on the same reading (issue 25), so that no spelling of a path
means one thing to wadofarm and another to Orthanc.

Orthanc's web server (CivetWeb, as Debian's Orthanc 1.10.1 links it) reads a target so: the
query is split off at the first `?`; the path is percent-decoded (`%` and two hex digits; `+`
stays), and a decoded NUL ends it; every `\\` is a `/`; dot segments are resolved (RFC 3986
5.2.4); then runs of dots at the end of a segment are dropped and runs of slashes made one, and
Orthanc drops a trailing slash. So `/tools\\now`, `/%5ctools/now`, `//tools//now`,
`/x/../tools/now`, `/tools/./now.` and `/%74ools/now` are all `/tools/now` to Orthanc
(tests/security/test_paths.py asks a real one).

wadofarm reads every target the same way (`read`), and refuses with 400 a target whose reading
hangs on details that readers disagree on: an encoded NUL, slash or backslash (`%00`, `%2F`,
`%5C`), a control character, a fragment (`#`), a segment ending in a dot (CivetWeb drops the
dots, most other servers keep them). A target read as written (nearly every one) costs a
regular expression and two substring tests.

`OrthancPaths` routes a target that is not written as read (`//wado`, `/wado/`) as its reading,
and `read_path`, the middleware in front of access control, makes sure that whatever route
aiohttp matched is the route of the reading; `reading(request)` is the path every later decision
uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import quote

from aiohttp import web
from aiohttp.web_urldispatcher import (
    AbstractResource,
    AbstractRoute,
    MatchInfoError,
    UrlDispatcher,
)
from yarl import URL

from router.errors import Handler, InvalidRequest

if TYPE_CHECKING:
    from aiohttp.abc import AbstractMatchInfo
    from aiohttp.web_urldispatcher import _InfoDict, _Resolve

# A path every reader takes as written: unreserved characters, sub-delimiters, `:`, `@`, `/`.
_PLAIN = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_ENCODED_SEPARATOR = re.compile(r"%(2[Ff]|5[Cc])")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
# What `quote` keeps as it is when the reading is written back as a path.
_SAFE = "/!$&'()*+,;=:@~"
KEY = "wadofarm_reading"  # where a request keeps its reading


@dataclass(frozen=True, slots=True)
class Reading:
    """A request target as Orthanc reads it."""

    path: str  # decoded: "/tools/now"; Orthanc's components joined by "/"
    encoded: str  # the same, percent-encoded: what is routed and sent on to Orthanc
    query: str  # as sent, with its "?" ("" when there is none)

    @property
    def target(self) -> str:
        return self.encoded + self.query


def read(target: str) -> Reading:
    """The reading of a request target (origin-form: a path and a query); InvalidRequest, with
    the reason, when it is not one or when its reading is ambiguous."""
    if not target.startswith("/"):
        raise InvalidRequest("the request target must be a path starting with /")
    if "#" in target:
        raise InvalidRequest("the request target holds a fragment (#), which no client sends")
    path, mark, query = target.partition("?")
    if _is_plain(path):
        return Reading(path, path, mark + query)
    return _read_odd(path, mark + query)


def _is_plain(path: str) -> bool:
    """Whether every reader takes `path` as written: nothing encoded, no backslash, no empty or
    dot segment, no segment ending in a dot, no trailing slash."""
    return (
        _PLAIN.fullmatch(path) is not None
        and "//" not in path
        and "./" not in path + "/"
        and (path == "/" or path[-1] != "/")
    )


def _read_odd(path: str, query: str) -> Reading:
    if _ENCODED_SEPARATOR.search(path):
        raise InvalidRequest(
            "the path holds an encoded slash or backslash (%2F, %5C): Orthanc splits the path "
            "there, other readers do not"
        )
    raw = _ESCAPE.sub(lambda m: bytes((int(m[1], 16),)), path.encode("latin-1", "replace"))
    if b"\x00" in raw:
        raise InvalidRequest("the path holds an encoded NUL (%00), where Orthanc cuts it short")
    if _CONTROL.search(raw):
        raise InvalidRequest("the path holds an encoded control character")
    text = remove_dot_segments(raw.decode("latin-1").replace("\\", "/"))
    segments = [segment for segment in text.split("/") if segment]
    for segment in segments:
        if segment.endswith("."):
            raise InvalidRequest(
                f"the path segment {_show(segment)} ends in a dot, which Orthanc drops: ask for "
                "the path without it"
            )
    normal = "/" + "/".join(segments)
    decoded = normal.encode("latin-1").decode("utf-8", "surrogateescape")
    return Reading(decoded, quote(normal.encode("latin-1"), safe=_SAFE), query)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 as CivetWeb does it, before it merges slashes: `/a//../b` is `/a/b` (the
    `..` takes the empty segment), not `/b`."""
    out: list[str] = []  # the output buffer, as segments each with its leading "/"
    rest = path
    while rest:
        if rest.startswith("../"):
            rest = rest[3:]
        elif rest.startswith("./") or rest.startswith("/./"):
            rest = rest[2:]
        elif rest == "/.":
            rest = "/"
        elif rest.startswith("/../") or rest == "/..":
            rest = "/" + rest[4:]
            if out:
                out.pop()
        elif rest in (".", ".."):
            rest = ""
        else:
            end = rest.find("/", 1)
            end = len(rest) if end < 0 else end
            out.append(rest[:end])
            rest = rest[end:]
    return "".join(out)


def _show(segment: str) -> str:
    return repr(segment[:40])


def reading(request: web.Request) -> Reading:
    """The request's reading, made once (InvalidRequest if it has none)."""
    found = request.get(KEY)
    if found is None:
        found = request[KEY] = read(request.raw_path)
    assert isinstance(found, Reading)
    return found


def _routed(request: web.Request, found: Reading) -> web.Request:
    """The request as if its target had been written as read."""
    return request.clone(rel_url=URL(found.target, encoded=True))


def _same_route(one: AbstractMatchInfo, other: AbstractMatchInfo) -> bool:
    if isinstance(one, MatchInfoError) or isinstance(other, MatchInfoError):
        return (
            isinstance(one, MatchInfoError)
            and isinstance(other, MatchInfoError)
            and one.http_exception.status == other.http_exception.status
        )
    return getattr(one, "route", None) is getattr(other, "route", one)


@web.middleware
async def read_path(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a target with no clear reading (400), and one that aiohttp routed otherwise than
    its reading (aiohttp decodes and matches before any middleware runs): a route's parameter
    holding a backslash, say. A target read as written costs nothing more."""
    found = reading(request)
    if found.encoded != request.raw_path.partition("?")[0]:
        expected = await request.app.router.resolve(_routed(request, found))
        if not _same_route(expected, request.match_info):
            raise InvalidRequest(
                f"the path reads as {found.path[:200]} to Orthanc, which is not the route "
                "wadofarm would take as written"
            )
    return await handler(request)


class OrthancPaths(AbstractResource):
    """Routes a target not written as read (`//wado`, `/wado/`, `/%77ado`) as its reading;
    matches none written as read. In the router's index at `/`, so it is tried only for a
    target no route of wadofarm's own matched on the way down: a plain one pays nothing."""

    def __init__(self, router: UrlDispatcher) -> None:
        super().__init__()
        self._router = router

    async def resolve(self, request: web.Request) -> _Resolve:
        try:
            found = reading(request)
        except InvalidRequest:  # refused by read_path, whichever route this falls to
            return None, set()
        if found.encoded == request.raw_path.partition("?")[0]:
            return None, set()
        # The handler still gets the request as sent; the pass-through sends Orthanc the
        # reading (router.proxy), which Orthanc reads as itself.
        return await self._router.resolve(_routed(request, found)), set()

    @property
    def canonical(self) -> str:
        return "/"

    def url_for(self, **kwargs: str) -> NoReturn:
        raise NotImplementedError("a path normaliser builds no URLs")

    def add_prefix(self, prefix: str) -> NoReturn:
        raise NotImplementedError("a path normaliser takes no prefix")

    def get_info(self) -> _InfoDict:
        return {"path": "/"}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(())


def add_routes(app: web.Application) -> None:
    """Before the pass-through's catch-all, which would match those paths first."""
    app.router.register_resource(OrthancPaths(app.router))
