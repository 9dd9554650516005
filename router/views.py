"""HTTP handlers: turn requests into service calls and results into responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from aiohttp import web

from renderer.params import PresentationRef, RenderParams
from router import wado_uri
from router.auth import AuthMode
from router.cache import CachedImage
from router.errors import Forbidden, NotFound, UpstreamError
from router.keys import ACCESS, CONFIG, SERVICE
from router.stores import Download, Instance


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def image_response(request: web.Request, image: CachedImage, source: str) -> web.Response:
    headers = {
        "ETag": image.etag,
        "Cache-Control": request.app[CONFIG].cache_control,
        # L1: this node's cache; L2: the cache shared through Redis; render: rendered now
        "X-Wadofarm-Cache": source,
    }
    if etag_matches(request.headers.get("If-None-Match"), image.etag):
        return web.Response(status=304, headers=headers)
    # As a header: aiohttp's content_type argument refuses a charset parameter (text/html).
    headers["Content-Type"] = image.media_type
    return web.Response(body=image.body, headers=headers)


async def send_file(request: web.Request, download: Download) -> web.StreamResponse:
    """The stored file as it comes from the store, a chunk at a time: a 1 GB object costs the
    router a chunk of memory per client, not a gigabyte."""
    try:
        response = web.StreamResponse(headers={"Content-Type": wado_uri.DICOM})
        if download.size is not None:
            response.content_length = download.size
        await response.prepare(request)
        if request.method != "HEAD":
            async for chunk in download.chunks:
                await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        await download.close()


async def wado(request: web.Request) -> web.StreamResponse:
    """GET /wado: WADO-URI retrieve, rendered or as the stored DICOM file."""
    query = wado_uri.parse_remembered(request.rel_url.raw_query_string, lambda: request.query)
    service = request.app[SERVICE]
    instance = await service.store.locate(query.object_uid, query.study_uid, query.series_uid)
    await request.app[ACCESS].authorize(service.store, instance)  # before any cache
    if query.anonymize and not request.app[CONFIG].allow_anonymize:
        # PS3.18 8.2.10: a server may refuse to de-identify, and says so.
        raise Forbidden("anonymize=yes is not allowed on this server (--allow-anonymize)")
    if query.media_type == wado_uri.DICOM and not (query.transfer_syntax or query.anonymize):
        return await send_file(request, await service.store.download(instance))
    params = wado_uri.render_params(query, service.defaults)  # transcoded by a worker
    if query.presentation_uid is not None:
        params = await presentation(request, query, instance, params)
    image, source = await render_image(request, instance, params)
    return image_response(request, image, source)


async def render_image(
    request: web.Request, instance: Instance, params: RenderParams
) -> tuple[CachedImage, str]:
    """The render of an instance, a presentation state's being its image's (RenderService.shown),
    each instance checked against the client's access."""
    service = request.app[SERVICE]
    access = request.app[ACCESS]
    return await service.shown(
        instance, params, lambda image: access.authorize(service.store, image)
    )


async def presentation(
    request: web.Request, query: wado_uri.WadoRequest, image: Instance, params: RenderParams
) -> RenderParams:
    """The render through presentation state `presentationUID`: the state is found in the
    store like any instance (404 when it is not there) and read by the worker, which checks
    that it is one and that it references the image (400 otherwise)."""
    assert query.presentation_uid is not None
    store = request.app[SERVICE].store
    try:
        state = await store.locate(query.presentation_uid, None, query.presentation_series_uid)
    except NotFound:
        raise NotFound(
            f"presentation state {query.presentation_uid} not found"
            + (
                f" in series {query.presentation_series_uid}"
                if query.presentation_series_uid
                else ""
            )
        ) from None
    await request.app[ACCESS].authorize(store, state)
    ref = PresentationRef(state.object_uid, image.object_uid, await store.render_source(state))
    return replace(params, presentation=ref, animate=False)


async def healthz(request: web.Request) -> web.Response:
    """Alive: answers from the event loop alone, even when every worker is busy."""
    return web.Response(text="ok\n")


def node_header(
    node: str, router: str | None = None
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """Every response, errors included, names the node that answered (behind nginx: which
    upstream the consistent hash picked) and, with several routers, which router of the node;
    the names are made once, at start."""

    async def name_node(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Wadofarm-Node"] = node

    async def name_router(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Wadofarm-Node"] = node
        response.headers["X-Wadofarm-Router"] = router or ""

    return name_node if router is None else name_router


async def readyz(request: web.Request) -> web.Response:
    """Ready: a render worker is alive and the store answers; else 503 saying which is not."""
    service = request.app[SERVICE]
    problems = []
    if service.pool.alive == 0:
        problems.append("no render worker is alive")
    if trouble := await service.store.unready():
        problems.append(trouble)
    access = request.app[ACCESS]
    if access.mode is AuthMode.AUTO and access.settle is not None:
        try:  # decided here too: a load balancer sends no request until this says ready
            access.mode = await access.settle()
        except UpstreamError:
            problems.append("--auth auto waits for Orthanc's first answer to decide who may read")
    if problems:
        return web.Response(status=503, text="not ready: " + "; ".join(problems) + "\n")
    return web.Response(text="ready\n")


async def method_not_allowed(request: web.Request) -> web.Response:
    """Routes wadofarm serves itself answer other methods with 405, never the pass-through."""
    raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
