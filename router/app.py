"""The aiohttp application: routes, middleware, and the lifetime of the store and the pool."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pydicom
from aiohttp import web

from renderer.pool import RenderPool
from router import views
from router.config import Config
from router.errors import error_middleware
from router.keys import CONFIG, SERVICE
from router.service import RenderService
from router.stores import Store
from router.stores.folder import FolderStore
from router.stores.orthanc import OrthancStore

if TYPE_CHECKING:
    from router.l2cache import L2Cache

logger = logging.getLogger(__name__)


SAMPLE_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"  # CT_small.dcm


def samples_dir() -> Path:
    """The sample DICOM files that ship inside the pydicom wheel: images with no set-up."""
    return Path(pydicom.__file__).parent / "data" / "test_files"


async def open_store(config: Config) -> Store:
    if config.orthanc_url:
        orthanc = OrthancStore(
            config.orthanc_url,
            user=config.orthanc_user,
            password=config.orthanc_password,
            timeout=config.upstream_timeout,
        )
        logger.info("serving from Orthanc at %s", orthanc.shown)
        return orthanc
    roots = list(config.dicom_dirs) or [samples_dir()]
    folder = await FolderStore.open(roots)
    if not config.dicom_dirs and SAMPLE_UID in folder.index:
        logger.info(
            "serving pydicom's sample files; try http://%s:%d/wado?requestType=WADO&objectUID=%s",
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
        namespace=config.default_window.value,
    )
    logger.info("node %s shares renders through Redis at %s", config.node, l2.shown)
    return l2


async def service_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    store = await open_store(config)
    pool = RenderPool(
        config.workers, max_queue=config.max_queue, render_timeout=config.render_timeout
    )
    l2 = open_l2(config)
    try:
        await pool.start()
        app[SERVICE] = RenderService(store, pool, config, l2)
        yield
    finally:
        await pool.close()
        if l2 is not None:
            await l2.close()
        await store.close()


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[CONFIG] = config
    app.cleanup_ctx.append(service_ctx)
    app.on_response_prepare.append(views.node_header)
    app.router.add_get("/wado", views.wado)
    app.router.add_get("/healthz", views.healthz)
    return app
