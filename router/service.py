"""From a located instance and the render parameters to the encoded render: the render caches
in front of the store and the render pool. Shared by every route that renders."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Hashable
from typing import TYPE_CHECKING

from renderer.errors import (
    NotDicom,
    PoolClosed,
    PoolOverloaded,
    RenderError,
    SourceMissing,
    SourceTimeout,
    SourceUnavailable,
    UnsupportedImage,
)
from renderer.formats import FORMATS, OutputFormat
from renderer.output.layout import flips, layout
from renderer.params import (
    Answer,
    Deidentify,
    PixelRegion,
    PresentationRef,
    Region,
    RenderParams,
    ShowsImage,
)
from renderer.process.pool import RenderPool
from router.cache import BoundedDict, CachedRender, ImageFacts, RenderCache
from router.config import Config
from router.quarantine import CAUGHT, Accused, Quarantine
from router.stores import Client, Instance, Store

if TYPE_CHECKING:
    from router.auth import Access

    # The redis extra is optional; only a service built with --redis-url has one.
    from router.l2cache import L2Cache

logger = logging.getLogger(__name__)

# Failures before a worker read the file: they say nothing about whether it kills workers.
UNREAD = (PoolOverloaded, PoolClosed, SourceMissing, SourceUnavailable, SourceTimeout)


def media_type(output: OutputFormat, params: RenderParams) -> str:
    """The Content-Type of what the render made (the request's first choice, or the first
    alternative the object offers): text states its charset."""
    row = FORMATS[output]
    return f"{row.media_type}; charset={params.charset}" if row.text else row.media_type


@functools.lru_cache(maxsize=4096)
def _geometry(
    size: tuple[int, int, float],
    rows: int | None,
    columns: int | None,
    region: Region | None,
    pixel_region: PixelRegion | None,
) -> Hashable:
    """The crop, output size and flips of a render_key; remembered, as a viewer asks for the
    same few sizes of images of the same few sizes."""
    params = RenderParams(rows=rows, columns=columns, region=region, pixel_region=pixel_region)
    try:
        p = layout(size[0], size[1], params, size[2])
    except RenderError:  # a viewport outside the image: the render will say so
        return ("raw", rows, columns, region, pixel_region)
    return (p.x0, p.y0, p.x1, p.y1, p.width, p.height, flips(params))


def render_key(object_uid: str, params: RenderParams, facts: ImageFacts | None) -> Hashable:
    """The normalised request. Once a render has shown what the instance is (its ImageFacts),
    the crop and the output size replace rows/columns/region/viewport, so every URL for the
    same pixels shares one entry (a WADO-URI region and a DICOMweb viewport included), and the
    default window counts only for an image that takes it (a grayscale one storing no window:
    /wado and DICOMweb differ there, see DefaultWindowSetting)."""
    output = FORMATS[params.output]
    quality = params.quality if output.lossy else 0
    state = params.presentation.uid if params.presentation is not None else None
    window: Hashable = params.window
    if window is None and (facts is None or facts.default_window):
        window = params.default_window
    if facts is None or state is not None:  # a state's own geometry: the request as given
        geometry: Hashable = (
            "raw",
            params.rows,
            params.columns,
            params.region,
            params.pixel_region,
        )
    else:
        size = (facts.rows, facts.columns, facts.pixel_aspect)
        geometry = _geometry(size, params.rows, params.columns, params.region, params.pixel_region)
    animate = params.animate and output.animated
    frame = None if animate else params.frame
    charset = params.charset if output.text else None
    syntax = params.transfer_syntax if output.stored_file else None
    # A document asked first may come back as the next choice: what else was accepted counts.
    fallbacks = () if output.picture else params.alternatives
    return (
        object_uid,
        frame,
        params.output,
        quality,
        window,
        geometry,
        params.overlays,
        state,
        charset,
        params.annotation,
        syntax,
        fallbacks,
        params.anonymize,
    )


class RenderService:
    def __init__(
        self, store: Store, pool: RenderPool, config: Config, l2: L2Cache | None = None
    ) -> None:
        self.store = store
        self.pool = pool
        self.config = config
        self.l2 = l2
        self.cache: RenderCache[Hashable] = RenderCache(int(config.cache_mb * 2**20))
        self._facts: BoundedDict[str, ImageFacts] = BoundedDict(200_000)
        # A presentation state's UID -> the image it shows (a worker's answer, see render).
        self.followed: BoundedDict[str, str] = BoundedDict(100_000)
        self.quarantine = Quarantine(
            config.quarantine_seconds, room=lambda: pool.max_queue - pool.queue_depth
        )
        # The server's own render settings, made once: each request replaces its own fields.
        # /wado's and DICOMweb's differ only in the window of an image that has none.
        self.defaults = RenderParams(
            default_window=config.default_window.wado,
            reduced_decode=not config.exact_thumbnails,
            overlays=config.overlays,
            max_pixels=config.max_pixels,
        )
        self.rendered_defaults = dataclasses.replace(
            self.defaults, default_window=config.default_window.rendered
        )
        self.deidentify = Deidentify(  # anonymize=yes, as this server takes it
            max_bytes=int(config.anonymize_max_mb * 2**20),
            keep_burned_in=config.anonymize_keeps_burned_in,
        )

    async def render(
        self,
        instance: Instance,
        params: RenderParams,
        *,
        client: Client | None,
        state: Instance | None = None,
        access: Access | None = None,
    ) -> tuple[CachedRender, str]:
        """The render of `instance`, through presentation state `state` when one is asked for
        (WADO-URI presentationUID). A Grayscale Softcopy Presentation State asked for as an
        image shows the (first) image it references, rendered through it: the worker that
        reads the state answers which image that is (ShowsImage), remembered so that the
        state's own URL costs no second worker trip. `client` is whom the store is asked for
        (router.stores.Client; None: the server, as for the prewarmer), and must have been
        authorised for `instance` already: a render it starts is fetched with its credentials
        and shared with every request for the same render (each authorised for the instance by
        its own route first). `access` checks that the client may read the other instance too,
        the state or its image (router.auth)."""
        if state is not None:
            unchecked = state  # the route checked the image
        else:
            image_uid = self.followed.get(instance.object_uid)
            if image_uid is None:
                answer = await self._cached_or_rendered(instance, params, client)
                if not isinstance(answer, ShowsImage):
                    return answer
                image_uid = answer.image_uid
                self.followed.put(instance.object_uid, image_uid)
            state, instance = (
                instance,
                await self.store.locate(image_uid, None, None, client=client),
            )
            unchecked = instance  # the route checked the state
        if access is not None:
            await access.authorize(self.store, unchecked, client)
        source = await self.store.render_source(state, client=client)
        ref = PresentationRef(state.object_uid, instance.object_uid, source)
        answer = await self._cached_or_rendered(
            instance, dataclasses.replace(params, presentation=ref, animate=False), client
        )
        assert not isinstance(answer, ShowsImage)  # rendered through a state: an image
        return answer

    async def _cached_or_rendered(
        self, instance: Instance, params: RenderParams, client: Client | None
    ) -> tuple[CachedRender, str] | ShowsImage:
        """The render and its cache status: "L1" (this process's cache), "L2" (the shared Redis
        cache) or "render" (a worker's, now); or, for a presentation state asked for as an
        image, which image it shows (see render)."""
        key = render_key(instance.object_uid, params, self._facts.get(instance.object_uid))
        hit = self.cache.get(key)
        if hit is not None:
            return hit, "L1"
        if self.l2 is not None:
            shared = await self.l2.get(key)
            if shared is not None:
                self._facts.put(instance.object_uid, shared.facts)
                normalised = render_key(instance.object_uid, params, shared.facts)
                self.cache.put(normalised, shared.render)
                return shared.render, "L2"
        # The first request for a render starts it, fetched with its client's credentials
        # (authorised for this instance); the others, authorised each, wait for it.
        rendered = await self.cache.coalesce(
            key, lambda: self._from_worker(instance, params, key, client)
        )
        return rendered if isinstance(rendered, ShowsImage) else (rendered, "render")

    async def _from_worker(
        self, instance: Instance, params: RenderParams, asked: Hashable, client: Client | None
    ) -> CachedRender | ShowsImage:
        """A worker's render, tried once more on another worker when its worker died or hung
        (router.quarantine: strikes, one trial at a time, quarantine on the evidence of two)."""
        accused: Accused = instance.object_uid
        if params.presentation is not None:  # two instances involved: the pair is accused
            accused = (params.presentation.uid, instance.object_uid)
        earlier: RenderError | None = None
        while True:
            async with self.quarantine.turn(accused) as trial:
                try:
                    answer = await self._rendered(instance, params, client)
                except CAUGHT as error:
                    failure = self.quarantine.struck(accused, error, trial, earlier)
                    if failure is not None:
                        raise failure from None
                    earlier = error
                    continue
                except UNREAD:
                    raise
                except RenderError:  # the worker read the file and answered: no killer
                    self.quarantine.acquit(accused)
                    raise
                self.quarantine.acquit(accused)
                break
        if isinstance(answer, ShowsImage):
            return answer
        result = answer
        facts = ImageFacts(
            result.stored_rows,
            result.stored_columns,
            result.pixel_aspect,
            result.default_window,
        )
        # A document has no size to normalise keys with; a de-identified render is kept apart
        # from what other requests see.
        if result.output.is_picture and params.anonymize is None:
            self._facts.put(instance.object_uid, facts)
        entry = CachedRender(
            body=result.data,
            media_type=media_type(result.output, params),
            etag=result.etag,  # hashed by the worker: the router never reads the bytes
            width=result.width,
            height=result.height,
        )
        if not FORMATS[result.output].cached:  # too big to keep, or asked for once
            return entry
        key = render_key(instance.object_uid, params, facts)
        self.cache.put(key, entry)
        if self.l2 is not None:
            self.l2.put({asked, key}, entry, facts)
        return entry

    async def _rendered(
        self, instance: Instance, params: RenderParams, client: Client | None
    ) -> Answer:
        """The worker's answer for the instance, or for another stored copy of it when this
        one is not a DICOM file that renders (a folder may hold several)."""
        while True:
            source = await self.store.render_source(instance, client=client)
            try:
                return await self.pool.render(source, params)
            except SourceMissing:
                self.store.forget(instance)
                raise
            except (NotDicom, UnsupportedImage):
                other = self.store.fallback(instance)  # another copy, which may render
                if other is None:
                    raise
                instance = other

    def stats_snapshot(self) -> dict[str, float]:
        """The caches' and the pool's counters, for /metrics."""
        cache, pool = self.cache, self.pool
        l2: dict[str, float] = {}
        if self.l2 is not None:
            stats = self.l2.stats
            l2 = {
                "wadofarm_l2_hits": stats.hits,
                "wadofarm_l2_misses": stats.misses,
                "wadofarm_l2_writes": stats.writes,
                "wadofarm_l2_errors": stats.errors,
                "wadofarm_l2_skipped": stats.skipped,
                "wadofarm_l2_dropped": stats.dropped,
                "wadofarm_l2_up": 1.0 if self.l2.up else 0.0,
            }
        return l2 | {
            "wadofarm_cache_hits": cache.stats.hits,
            "wadofarm_cache_misses": cache.stats.misses,
            "wadofarm_cache_evictions": cache.stats.evictions,
            "wadofarm_cache_coalesced": cache.stats.coalesced,
            "wadofarm_cache_bytes": cache.bytes,
            "wadofarm_cache_max_bytes": cache.max_bytes,
            "wadofarm_cache_entries": len(cache),
            "wadofarm_render_queue_depth": pool.queue_depth,
            "wadofarm_render_workers": pool.size,
            "wadofarm_render_workers_alive": pool.alive,
            "wadofarm_render_workers_busy": pool.stats.busy,
            "wadofarm_render_worker_start_time_seconds": pool.oldest_started,
            "wadofarm_renders": pool.stats.renders,
            "wadofarm_render_worker_restarts": pool.stats.restarts,
            "wadofarm_render_crashes": pool.stats.failures,
            "wadofarm_render_timeouts": pool.stats.timeouts,
            "wadofarm_quarantined": self.quarantine.added,
            "wadofarm_quarantine_refused": self.quarantine.refused,
            "wadofarm_render_retries": self.quarantine.retried,
        }
