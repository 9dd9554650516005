"""DICOMweb Retrieve Rendered and Thumbnail (PS3.18 10.4; Sup 203): study, series, instance
and frame targets, through the same RenderService and render cache as /wado.

A study or series target shows its representative instance: the middle one by Instance Number
of the series (of the study's first series by Series Number). /thumbnail is /rendered with a
default box of --thumbnail-size and never animated.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from multidict import MultiDict, MultiMapping

from renderer.params import RenderParams
from router import multipart, rendered_query
from router.auth import client_of
from router.cache import BoundedDict
from router.keys import ACCESS, CONFIG, REPRESENTATIVES, SENDING, SERVICE
from router.render_request import REMEMBERED, RenderRequest, render_params
from router.representatives import Representatives
from router.sending import answer
from router.service import RenderService
from router.stores import Instance
from router.uid import check_uid
from router.views import etag_matches, render_instance, render_response

ROOT = "/dicom-web/studies/{study}"
TARGETS = (
    ROOT,
    ROOT + "/series/{series}",
    ROOT + "/series/{series}/instances/{instance}",
    ROOT + "/series/{series}/instances/{instance}/frames/{frame}",
)


async def representative(request: web.Request, study: str, series: str | None) -> Instance:
    """The instance a study or series target shows."""
    store = request.app[SERVICE].store
    return await request.app[REPRESENTATIVES].choose(store, study, series, client_of(request))


def thumbnail_params(service: RenderService) -> RenderParams:
    """What a …/thumbnail without parameters asks for. The prewarmer renders this, so that what
    it caches is exactly what a viewer's thumbnail request looks up."""
    side = service.config.thumbnail_size
    asked = rendered_query.parse(MultiDict(), None, pictures=True, thumbnail=side)
    return render_params(asked, None, service.rendered_defaults)


@dataclass(frozen=True, slots=True)
class Retrieval:
    """A rendered or thumbnail request, checked: its target (the study, and the series,
    instance and frames where it names them) and what it asks of the render."""

    study: str
    series: str | None
    instance: str | None
    frames: tuple[int, ...] | None  # 1-based, in the order asked
    asked: RenderRequest


_parsed: BoundedDict[tuple[str, str | None, int | None], Retrieval] = BoundedDict(REMEMBERED)


def retrieval(request: web.Request, thumbnail: int | None) -> Retrieval:
    """The request parsed and checked (parse_retrieval), remembered by its raw path and query
    and its Accept header, as /wado's query is (router.wado_uri.parse_remembered): viewers ask
    for the same URLs again and again. A malformed one is parsed (and refused) every time."""
    key = (request.raw_path, request.headers.get("Accept"), thumbnail)
    found = _parsed.get(key)
    if found is None:
        found = parse_retrieval(request.match_info, request.query, key[1], thumbnail)
        _parsed.put(key, found)
    return found


def parse_retrieval(
    match: Mapping[str, str],
    query: MultiMapping[str],
    accept_header: str | None,
    thumbnail: int | None,
) -> Retrieval:
    """`thumbnail`: a /thumbnail's default box (--thumbnail-size), None for /rendered. A list of
    frames is answered a part per frame, pictures only."""
    frames = rendered_query.parse_frames(match["frame"]) if "frame" in match else None
    several = frames is not None and len(frames) > 1
    pictures = thumbnail is not None or several
    asked = rendered_query.parse(query, accept_header, pictures, thumbnail)
    return Retrieval(
        study=check_uid("study", match["study"]),
        series=check_uid("series", match["series"]) if "series" in match else None,
        instance=check_uid("instance", match["instance"]) if "instance" in match else None,
        frames=frames,
        asked=asked,
    )


async def retrieve(request: web.Request, thumbnail: bool) -> web.StreamResponse:
    service = request.app[SERVICE]
    target = retrieval(request, service.config.thumbnail_size if thumbnail else None)
    if target.instance is None:
        instance = await representative(request, target.study, target.series)
    else:
        instance = await service.store.locate(
            target.instance, target.study, target.series, client=client_of(request)
        )
    await request.app[ACCESS].authorize(service.store, instance, client_of(request))
    frames = target.frames
    if frames is not None and len(frames) > 1:
        return await frame_list(request, instance, target.asked, frames)
    params = render_params(target.asked, frames[0] if frames else None, service.rendered_defaults)
    render, cache_status = await render_instance(request, instance, params)
    response = render_response(request, render, cache_status)
    response.headers["Vary"] = "Accept"
    return response


async def frame_list(
    request: web.Request, instance: Instance, asked: RenderRequest, frames: tuple[int, ...]
) -> web.StreamResponse:
    """frames/1,3,5/rendered: multipart/related, one part per frame in the order asked; the
    renders run side by side in the pool (at most MAX_FRAMES), each through the render cache."""
    settings = request.app[SERVICE].rendered_defaults
    rendered = await asyncio.gather(
        *(
            render_instance(request, instance, render_params(asked, frame, settings))
            for frame in frames
        )
    )
    body, content_type, etag = multipart.related([render for render, _ in rendered])
    headers = {
        "ETag": etag,
        "Cache-Control": request.app[CONFIG].cache_control,
        "X-Wadofarm-Cache": ",".join(cache_status for _, cache_status in rendered),
        "Vary": "Accept",
    }
    if etag_matches(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = content_type
    return answer(body, request.app[SENDING], headers=headers)


async def rendered(request: web.Request) -> web.StreamResponse:
    """GET …/rendered."""
    return await retrieve(request, thumbnail=False)


async def thumbnail(request: web.Request) -> web.StreamResponse:
    """GET …/thumbnail."""
    return await retrieve(request, thumbnail=True)


class Target(web.DynamicResource):
    """A rendered or thumbnail resource matched by splitting the path at its slashes, not by
    its regular expression: every target sits under one entry of aiohttp's route index
    (/dicom-web/studies), tried in turn, and the regular expressions took 14 us to find an
    instance's (1.8 us for /wado), a fifth of DICOMweb's router CPU per render-cache hit over
    /wado's. Everything else (the route label in /metrics, url_for) is DynamicResource's."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        parts = path.split("/")
        fixed = [i for i, part in enumerate(parts) if "{" not in part]
        named = [i for i, part in enumerate(parts) if "{" in part]
        self._slashes = len(parts) - 1
        self._fixed = operator.itemgetter(*fixed)
        self._words = self._fixed(parts)
        self._values = operator.itemgetter(*named)
        self._names = tuple(parts[i].strip("{}") for i in named)

    def _match(self, path: str) -> dict[str, str] | None:
        if path.count("/") != self._slashes or "{" in path or "}" in path:
            return None
        parts = path.split("/")
        if self._fixed(parts) != self._words:
            return None
        values = self._values(parts)
        if len(self._names) == 1:
            values = (values,)
        if not all(values):
            return None
        if "%" in path:  # still encoded in a safe path: a slash and the percent sign
            values = tuple(v.replace("%2F", "/").replace("%25", "%") for v in values)
        return dict(zip(self._names, values, strict=True))


def add_routes(app: web.Application) -> None:
    app[REPRESENTATIVES] = Representatives()
    # A viewer asks for instances and frames far more than for series and studies.
    for target in (TARGETS[2], TARGETS[3], TARGETS[1], TARGETS[0]):
        for kind, handler in (("/rendered", rendered), ("/thumbnail", thumbnail)):
            resource = Target(target + kind)
            app.router.register_resource(resource)
            resource.add_route("HEAD", handler)
            resource.add_route("GET", handler)
