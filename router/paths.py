"""Paths as Orthanc reads them. Orthanc drops empty segments, `.` and `..` and a trailing slash
before it routes (`//wado`, `/wado/` and `/dicom-web//studies/...` are `/wado` and
`/dicom-web/studies/...` to it), and clients send such paths: a base URL ending in `/` joined with
a path starting with `/`. wadofarm routes them as Orthanc does (issue 12), instead of letting the
catch-all pass them to Orthanc's own, slow renderer.

`OrthancPaths` is one resource in the router's index at `/`: the router tries it only for a path
no route of its own matched on the way down, so a normal path pays nothing, and the
pass-through a few string tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource, AbstractRoute, UrlDispatcher
from yarl import URL

if TYPE_CHECKING:
    from aiohttp.web_urldispatcher import _InfoDict, _Resolve


def is_normal(path: str) -> bool:
    """Whether Orthanc reads this path as written: no empty, `.` or `..` segment, no trailing
    slash. (An encoded slash, `%2F`, stays part of its segment here: Orthanc would split there
    too, but no client relies on that, and it would let `/wado%2F..` reach `/`.)"""
    return not ("//" in path or "/." in path or (path[-1:] == "/" and path != "/"))


def orthanc_path(path: str) -> str:
    """The path (percent-encoded, `%2F` kept) as Orthanc's router sees it."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    return "/" + "/".join(segments)


class OrthancPaths(AbstractResource):
    """Routes a path that is not normal as its normal form; matches no normal path."""

    def __init__(self, router: UrlDispatcher) -> None:
        super().__init__()
        self._router = router

    async def resolve(self, request: web.Request) -> _Resolve:
        path = request.rel_url.path_safe
        if is_normal(path):
            return None, set()
        normal = orthanc_path(path)
        if normal == path:  # e.g. "/.well-known": only looked odd
            return None, set()
        # The handler still gets the request as sent: the pass-through sends Orthanc the path
        # as the client wrote it, and Orthanc reads it the same way.
        routed = request.clone(rel_url=URL.build(path=normal, encoded=True))
        return await self._router.resolve(routed), set()

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
