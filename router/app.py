"""The aiohttp application: routes, middleware, and the lifetime of the store and the pool."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pydicom
from aiohttp import web
from aiohttp.typedefs import Middleware

from renderer.process.pool import RenderPool
from router import dicomweb, exposure, gallery, paths, views
from router.auth import Access, AuthMode, auth_middleware
from router.config import Config
from router.cors import Cors
from router.errors import error_middleware
from router.keys import ACCESS, CONFIG, METRICS, PLACE, PROXY, SENDING, SERVICE
from router.metrics import PROXY_ROUTE, Metrics
from router.place import Place
from router.prewarm import Prewarmer
from router.proxy import Proxy
from router.sending import Sending
from router.service import RenderService
from router.stores import Store
from router.stores.folder import FolderStore
from router.stores.orthanc import OrthancStore
from router.uploads import Pace

if TYPE_CHECKING:
    from router.l2cache import L2Cache

logger = logging.getLogger(__name__)


# J2K_pixelrep_mismatch.dcm: a head CT with its own window, so /wado shows it as a radiologist
# would (CT_small.dcm has none: Orthanc's /wado fallback, which /wado copies, is near black).
SAMPLE_UID = "1.2.392.200036.9123.100.11.15002200303521616157144551003340153"


def samples_dir() -> Path:
    """The sample DICOM files that ship inside the pydicom wheel: images with no set-up."""
    return Path(pydicom.__file__).parent / "data" / "test_files"


async def open_store(config: Config, metrics: Metrics | None = None) -> Store:
    if config.orthanc_url:
        orthanc = OrthancStore(
            config.orthanc_url,
            user=config.orthanc_user,
            password=config.orthanc_password,
            timeout=config.upstream_timeout,
            observe=metrics.observe_upstream if metrics else None,
        )
        logger.info("serving from Orthanc at %s", orthanc.shown)
        return orthanc
    roots = list(config.dicom_dirs) or [samples_dir()]
    folder = await FolderStore.open(roots)
    if not config.dicom_dirs and SAMPLE_UID in folder.index:
        logger.info(
            "serving pydicom's sample files; try "
            "http://%s:%d/wado?requestType=WADO&objectUID=%s&rows=256",
            config.host,
            config.port,
            SAMPLE_UID,
        )
    return folder


def open_l2(config: Config) -> L2Cache | None:
    """The shared Redis cache, when --redis-url asks for one (imported only then: optional)."""
    if not config.redis_url:
        return None
    from router.l2cache import L2Cache

    l2 = L2Cache(
        config.redis_url,
        ttl=config.redis_ttl,
        timeout=config.redis_timeout,
        # Settings that change the pixels but are not in the render key.
        namespace=config.default_window.value + ("-exact" if config.exact_thumbnails else ""),
    )
    logger.info("node %s shares renders through Redis at %s", config.node, l2.shown)
    return l2


async def service_ctx(app: web.Application) -> AsyncIterator[None]:
    config, place = app[CONFIG], app[PLACE]
    store = await open_store(config, app[METRICS])
    pool = RenderPool(
        config.workers,
        max_queue=config.max_queue,
        render_timeout=config.render_timeout,
        frame_cache_bytes=int(config.frame_cache_mb * 2**20),
        numbering=(place.first_worker, place.total_workers),
    )
    l2 = open_l2(config)
    try:
        await pool.start()
        app[SERVICE] = RenderService(store, pool, config, l2)
        app[METRICS].watch(app[SERVICE].stats_snapshot)
        yield
    finally:
        await pool.close()
        if l2 is not None:
            await l2.close()
        await store.close()


async def prewarm_ctx(app: web.Application) -> AsyncIterator[None]:
    """Follow Orthanc's change feed in the background while the server runs."""
    service = app[SERVICE]
    if not isinstance(service.store, OrthancStore):
        logger.warning("--prewarm needs --orthanc: there is no change feed to follow")
        yield
        return
    prewarmer = Prewarmer(service.store, service)
    app[METRICS].watch(prewarmer.snapshot)
    tasks = [
        asyncio.create_task(prewarmer.follow(), name="prewarm-follow"),
        asyncio.create_task(prewarmer.work(), name="prewarm-work"),
    ]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def proxy_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[PROXY].close()


def _settle_later(config: Config, guard: exposure.Guard) -> Callable[[], Awaitable[AuthMode]]:
    """--auth auto decided by the first request after Orthanc answers, the pass-through's
    guard with it."""
    pending = exposure.Pending(config)

    async def settle() -> AuthMode:
        settled = await pending()
        guard.guarded = exposure.Guard.for_config(settled).guarded
        return settled.auth

    return settle


def create_app(config: Config, place: Place | None = None) -> web.Application:
    """`place`: which of several routers on one port this is (router.supervisor); alone if None.
    `config` is then this router's share (Place.config)."""
    if config.auth is AuthMode.AUTO and place is None:  # a Config from code: not yet asked
        config = exposure.settle(config)
    place = place or Place(1, 1, 1, config.workers)
    metrics = Metrics(place.metrics_dir)
    cors = Cors(config.cors_origins) if config.cors_origins else None
    access = Access(config.auth, config.auth_tokens, config.auth_cache_seconds)
    middlewares: list[Middleware] = [metrics.middleware()]  # outermost first
    if cors is not None:
        middlewares.append(cors.preflight)
    middlewares.append(error_middleware)
    middlewares.append(paths.read_path)  # one reading of the target for every decision below
    if access.mode is not AuthMode.NONE:
        middlewares.append(auth_middleware(access, lambda app: app[SERVICE].store))
    # Request bodies as they came: a gzip- or deflate-encoded upload reaches Orthanc with its
    # Content-Encoding and Content-Length intact (aiohttp would inflate it; issue 12). No
    # handler of wadofarm's own reads a body.
    app = web.Application(middlewares=middlewares, handler_args={"auto_decompress": False})
    app[CONFIG] = config
    app[PLACE] = place
    app[METRICS] = metrics
    app[ACCESS] = access
    sending = app[SENDING] = Sending(config.send_timeout, int(config.send_buffer_mb * 2**20))
    metrics.watch(
        lambda: {
            "wadofarm_send_held_bytes": sending.held_bytes,
            "wadofarm_send_stalled": sending.stalled,
            "wadofarm_send_refused": sending.refused,
        }
    )
    if cors is not None:
        app.on_response_prepare.append(cors.on_prepare)
    app.cleanup_ctx.append(service_ctx)
    app.cleanup_ctx.append(metrics.mirror_ctx)
    router = str(place.index) if place.shared else None
    app.on_response_prepare.append(views.node_header(config.node, router))
    if config.prewarm and place.index == 1:  # one prewarmer per server, not one per router
        app.cleanup_ctx.append(prewarm_ctx)

    app.router.add_get("/wado", views.wado)
    app.router.add_route("*", "/wado", views.method_not_allowed)
    dicomweb.add_routes(app)
    app.router.add_get("/healthz", views.healthz)
    app.router.add_get("/readyz", views.readyz)
    app.router.add_get("/metrics", metrics.view)
    gallery.add_routes(app)
    paths.add_routes(app)  # `//wado`, `/wado/`: routed as Orthanc reads them
    guard = exposure.Guard.for_config(config)
    if access.mode is AuthMode.AUTO:  # Orthanc did not answer at start: decided later
        access.settle = _settle_later(config, guard)
    if config.orthanc_url and config.proxy:
        app[PROXY] = Proxy(
            config.orthanc_url,
            config.upstream_timeout,
            metrics,
            config.public_url,
            guard,
            sending,
            Pace(config.upload_timeout, config.upload_min_rate * 1024),
        )
        app.cleanup_ctx.append(proxy_ctx)
        # Last, and matched last: only what no route above serves goes through.
        app.router.add_route("*", "/{tail:.*}", app[PROXY].forward, name=PROXY_ROUTE)
    return app
