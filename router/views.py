"""HTTP handlers: turn requests into service calls and results into responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from renderer.formats import FORMATS, OutputFormat
from renderer.params import RenderParams
from router import sending, wado_uri
from router.auth import AuthMode, client_of
from router.cache import CachedRender
from router.errors import Forbidden, NotFound, UpstreamError
from router.keys import ACCESS, CONFIG, SENDING, SERVICE
from router.render_request import render_params
from router.stores import Download, Instance

STORED_FILE = FORMATS[OutputFormat.DICOM].media_type


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def render_response(
    request: web.Request, render: CachedRender, cache_status: str
) -> web.StreamResponse:
    headers = {
        "ETag": render.etag,
        "Cache-Control": request.app[CONFIG].cache_control,
        # L1: this node's cache; L2: the cache shared through Redis; render: rendered now
        "X-Wadofarm-Cache": cache_status,
    }
    if etag_matches(request.headers.get("If-None-Match"), render.etag):
        return web.Response(status=304, headers=headers)
    # As a header: aiohttp's content_type argument refuses a charset parameter (text/html).
    headers["Content-Type"] = render.media_type
    return sending.answer(render.body, request.app[SENDING], headers=headers)


async def send_file(request: web.Request, download: Download) -> web.StreamResponse:
    """The stored file as it comes from the store, a chunk at a time: a 1 GB object costs the
    router a chunk of memory per client, not a gigabyte."""
    try:
        response = web.StreamResponse(headers={"Content-Type": STORED_FILE})
        if download.size is not None:
            response.content_length = download.size
        await response.prepare(request)
        if request.method != "HEAD":
            async for chunk in download.chunks:
                await request.app[SENDING].write(request, response, chunk)
        await response.write_eof()
        return response
    except sending.ClientStalled:  # cut off: nothing more to say to it
        return response
    finally:
        await download.close()


async def wado(request: web.Request) -> web.StreamResponse:
    """GET /wado: WADO-URI retrieve, rendered or as the stored DICOM file."""
    query = wado_uri.parse_remembered(request.rel_url.raw_query_string, lambda: request.query)
    service = request.app[SERVICE]
    client = client_of(request)
    instance = await service.store.locate(
        query.object_uid, query.study_uid, query.series_uid, client=client
    )
    await request.app[ACCESS].authorize(service.store, instance, client)  # before any cache
    if query.render.anonymize and not request.app[CONFIG].allow_anonymize:
        # PS3.18 8.2.10: a server may refuse to de-identify, and says so.
        raise Forbidden("anonymize=yes is not allowed on this server (--allow-anonymize)")
    if query.stored_file:
        return await send_file(request, await service.store.download(instance, client=client))
    params = render_params(query.render, query.frame, service.defaults, service.deidentify)
    state = await presentation_state(request, query) if query.presentation_uid else None
    render, cache_status = await render_instance(request, instance, params, state)
    return render_response(request, render, cache_status)


async def render_instance(
    request: web.Request,
    instance: Instance,
    params: RenderParams,
    state: Instance | None = None,
) -> tuple[CachedRender, str]:
    """The render of an instance, through presentation state `state` if one is asked for, for
    this request's client (RenderService.render: authorised for `instance` by the route),
    and its cache status."""
    service = request.app[SERVICE]
    return await service.render(
        instance, params, client=client_of(request), state=state, access=request.app[ACCESS]
    )


async def presentation_state(request: web.Request, query: wado_uri.WadoRequest) -> Instance:
    """Presentation state `presentationUID`, found in the store like any instance (404 when it
    is not there); the worker reads it and checks that it is one and that it references the
    image (400 otherwise)."""
    assert query.presentation_uid is not None
    try:
        return await request.app[SERVICE].store.locate(
            query.presentation_uid, None, query.presentation_series_uid, client=client_of(request)
        )
    except NotFound:
        raise NotFound(
            f"presentation state {query.presentation_uid} not found"
            + (
                f" in series {query.presentation_series_uid}"
                if query.presentation_series_uid
                else ""
            )
        ) from None


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
