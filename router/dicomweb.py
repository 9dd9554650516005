"""DICOMweb Retrieve Rendered and Thumbnail (PS3.18 10.4; Sup 203): study, series, instance
and frame targets, through the same RenderService and render cache as /wado.

A study or series target shows its representative instance: the middle one by Instance Number
of the series (of the study's first series by Series Number). /thumbnail is /rendered with a
default box of --thumbnail-size and never animated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from aiohttp import web

from renderer.params import RenderParams
from router import multipart, rendered_query
from router.cache import BoundedDict
from router.errors import NotFound
from router.keys import ACCESS, CONFIG, SENDING, SERVICE
from router.sending import answer
from router.service import RenderService
from router.stores import Instance, Store, middle
from router.uid import check_uid
from router.views import etag_matches, image_response, render_image
from router.wado_uri import OUTPUTS, alternatives

ROOT = "/dicom-web/studies/{study}"
TARGETS = (
    ROOT,
    ROOT + "/series/{series}",
    ROOT + "/series/{series}/instances/{instance}",
    ROOT + "/series/{series}/instances/{instance}/frames/{frame}",
)


REPRESENTATIVE_TTL = 5.0  # seconds a choice is reused: a gallery page asks for many series
REPRESENTATIVE_ENTRIES = 100_000


class Representatives:
    """Which instance a study or series target shows, remembered briefly: without it, every
    series thumbnail -- cached image or not -- costs a listing from the store. An instance
    added to the series changes the choice at most REPRESENTATIVE_TTL seconds later."""

    def __init__(self, ttl: float = REPRESENTATIVE_TTL) -> None:
        self.ttl = ttl
        self._chosen: BoundedDict[tuple[str, str | None], tuple[str, str, float]] = BoundedDict(
            REPRESENTATIVE_ENTRIES
        )

    async def choose(self, store: Store, study: str, series: str | None) -> Instance:
        remembered = self._chosen.get((study, series))
        if remembered is not None and remembered[2] > time.monotonic():
            object_uid, series_uid, _ = remembered
        else:
            series_uid = series or await self._first_series(store, study)
            object_uid = middle(await store.instances(study, series_uid)).object_uid
            self._chosen.put((study, series), (object_uid, series_uid, time.monotonic() + self.ttl))
        return await store.locate(object_uid, study, series_uid)

    @staticmethod
    async def _first_series(store: Store, study: str) -> str:
        members = [s for s in await store.series(study) if s.instances > 0]
        if not members:
            raise NotFound(f"study {study} has no instances")
        return members[0].series_uid


REPRESENTATIVES = web.AppKey("representatives", Representatives)


async def representative(request: web.Request, study: str, series: str | None) -> Instance:
    """The instance a study or series target shows."""
    return await request.app[REPRESENTATIVES].choose(request.app[SERVICE].store, study, series)


def render_params(
    service: RenderService,
    query: rendered_query.RenderedQuery,
    frame: int | None,
    thumbnail: bool,
) -> RenderParams:
    """The render a request asks for. The prewarmer calls this too, with a default query, so
    that what it caches is exactly what a viewer's thumbnail request looks up."""
    viewport = query.viewport
    if viewport is None and thumbnail:
        side = service.config.thumbnail_size
        viewport = rendered_query.Viewport(side, side)
    return dataclasses.replace(
        service.rendered_defaults,
        frame=(frame or 1) - 1,
        output=OUTPUTS[query.media_type],
        rows=viewport.rows if viewport else None,
        columns=viewport.columns if viewport else None,
        source=viewport.source if viewport else None,
        window=query.window,
        quality=query.quality,
        animate=not thumbnail and frame is None,
        overlays=service.rendered_defaults.overlays if query.overlays is None else query.overlays,
        charset=query.charset,
        annotation=query.annotation,
        alternatives=alternatives((query.media_type, *query.alternatives)),
    )


async def retrieve(request: web.Request, thumbnail: bool) -> web.StreamResponse:
    match = request.match_info
    offered = rendered_query.PICTURES if thumbnail else rendered_query.OFFERED
    query = rendered_query.parse(request.query, request.headers.get("Accept"), offered)
    study = check_uid("study", match["study"])
    series = check_uid("series", match["series"]) if "series" in match else None
    instance_uid = check_uid("instance", match["instance"]) if "instance" in match else None
    frames = rendered_query.parse_frames(match["frame"]) if "frame" in match else None
    if frames is not None and len(frames) > 1:  # a part per frame: pictures only
        offered = rendered_query.PICTURES
        query = rendered_query.parse(request.query, request.headers.get("Accept"), offered)
    service = request.app[SERVICE]
    if instance_uid is None:
        instance = await representative(request, study, series)
    else:
        instance = await service.store.locate(instance_uid, study, series)
    await request.app[ACCESS].authorize(service.store, instance)  # before any cache
    if frames is not None and len(frames) > 1:
        return await frame_list(request, instance, query, frames, thumbnail)
    frame = frames[0] if frames else None
    params = render_params(service, query, frame, thumbnail)
    image, source = await render_image(request, instance, params)
    return image_response(request, image, source, vary=True)


async def frame_list(
    request: web.Request,
    instance: Instance,
    query: rendered_query.RenderedQuery,
    frames: tuple[int, ...],
    thumbnail: bool,
) -> web.StreamResponse:
    """frames/1,3,5/rendered: multipart/related, one part per frame in the order asked; the
    renders run side by side in the pool (at most MAX_FRAMES), each through the render cache."""
    service = request.app[SERVICE]
    rendered = await asyncio.gather(
        *(
            render_image(request, instance, render_params(service, query, frame, thumbnail))
            for frame in frames
        )
    )
    body, content_type, etag = multipart.related([image for image, _ in rendered])
    headers = {
        "ETag": etag,
        "Cache-Control": request.app[CONFIG].cache_control,
        "X-Wadofarm-Cache": ",".join(source for _, source in rendered),
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


def add_routes(app: web.Application) -> None:
    app[REPRESENTATIVES] = Representatives()
    for target in TARGETS:
        app.router.add_get(target + "/rendered", rendered)
        app.router.add_get(target + "/thumbnail", thumbnail)
