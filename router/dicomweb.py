"""DICOMweb Retrieve Rendered and Thumbnail (PS3.18 10.4; Sup 203): study, series, instance
and frame targets, through the same RenderService and render cache as /wado.

A study or series target shows its representative instance: the middle one by Instance Number
of the series (of the study's first series by Series Number). /thumbnail is /rendered with a
default box of --thumbnail-size and never animated.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from multidict import MultiDict

from renderer.params import RenderParams
from router import multipart, rendered_query
from router.cache import BoundedDict
from router.errors import NotFound
from router.keys import ACCESS, CONFIG, REPRESENTATIVES, SERVICE
from router.render_request import RenderRequest, render_params
from router.service import RenderService
from router.stores import Instance, Store, middle
from router.uid import check_uid
from router.views import etag_matches, render_instance, render_response

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
    series thumbnail -- cached render or not -- costs a listing from the store. An instance
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


async def representative(request: web.Request, study: str, series: str | None) -> Instance:
    """The instance a study or series target shows."""
    return await request.app[REPRESENTATIVES].choose(request.app[SERVICE].store, study, series)


def thumbnail_params(service: RenderService) -> RenderParams:
    """What a …/thumbnail without parameters asks for. The prewarmer renders this, so that what
    it caches is exactly what a viewer's thumbnail request looks up."""
    side = service.config.thumbnail_size
    asked = rendered_query.parse(MultiDict(), None, pictures=True, thumbnail=side)
    return render_params(asked, None, service.rendered_defaults)


async def retrieve(request: web.Request, thumbnail: bool) -> web.Response:
    match = request.match_info
    frames = rendered_query.parse_frames(match["frame"]) if "frame" in match else None
    several = frames is not None and len(frames) > 1  # a part per frame: pictures only
    service = request.app[SERVICE]
    asked = rendered_query.parse_remembered(
        request.rel_url.raw_query_string,
        request.headers.get("Accept"),
        thumbnail or several,
        service.config.thumbnail_size if thumbnail else None,
        lambda: request.query,
    )
    study = check_uid("study", match["study"])
    series = check_uid("series", match["series"]) if "series" in match else None
    instance_uid = check_uid("instance", match["instance"]) if "instance" in match else None
    if instance_uid is None:
        instance = await representative(request, study, series)
    else:
        instance = await service.store.locate(instance_uid, study, series)
    await request.app[ACCESS].authorize(service.store, instance)  # before any cache
    if frames is not None and several:
        return await frame_list(request, instance, asked, frames)
    params = render_params(asked, frames[0] if frames else None, service.rendered_defaults)
    render, cache_status = await render_instance(request, instance, params)
    response = render_response(request, render, cache_status)
    response.headers["Vary"] = "Accept"
    return response


async def frame_list(
    request: web.Request, instance: Instance, asked: RenderRequest, frames: tuple[int, ...]
) -> web.Response:
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
    return web.Response(body=body, headers=headers)


async def rendered(request: web.Request) -> web.Response:
    """GET …/rendered."""
    return await retrieve(request, thumbnail=False)


async def thumbnail(request: web.Request) -> web.Response:
    """GET …/thumbnail."""
    return await retrieve(request, thumbnail=True)


def add_routes(app: web.Application) -> None:
    app[REPRESENTATIVES] = Representatives()
    for target in TARGETS:
        app.router.add_get(target + "/rendered", rendered)
        app.router.add_get(target + "/thumbnail", thumbnail)
