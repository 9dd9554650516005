"""The gallery a new user sees at GET /: the store's studies and series, each with its
thumbnail through wadofarm's own DICOMweb routes, and a series view that pages through the
instances. The page is static (router/static/); it reads two small JSON listings from here."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from router.auth import client_of
from router.keys import CONFIG, SERVICE
from router.stores import SeriesSummary
from router.uid import check_uid
from router.values import parse_int

STATIC = Path(__file__).parent / "static"
MAX_STUDIES = 1000
DEFAULT_STUDIES = 100
CONCURRENT_LISTINGS = 8  # series listings asked of the store at once


def _json(value: Any) -> web.Response:
    return web.Response(
        body=orjson.dumps(value),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def series_entry(series: SeriesSummary) -> dict[str, Any]:
    base = f"/dicom-web/studies/{series.study_uid}/series/{series.series_uid}"
    return {**asdict(series), "thumbnail": base + "/thumbnail"}


async def studies(request: web.Request) -> web.Response:
    """GET /gallery/api/studies[?limit=N]: newest studies first, each with its series."""
    limit = DEFAULT_STUDIES
    if "limit" in request.query:
        limit = parse_int("limit", request.query["limit"], 1, MAX_STUDIES)
    store, client = request.app[SERVICE].store, client_of(request)
    found = await store.studies(limit, client=client)
    gate = asyncio.Semaphore(CONCURRENT_LISTINGS)

    async def with_series(study_uid: str) -> list[dict[str, Any]]:
        async with gate:
            return [series_entry(s) for s in await store.series(study_uid, client=client)]

    listings = await asyncio.gather(*(with_series(s.study_uid) for s in found))
    config = request.app[CONFIG]
    return _json(
        {
            "store": store.name,
            "explorer": "/app/explorer.html" if config.orthanc_url and config.proxy else None,
            "studies": [
                {**asdict(study), "series": series}
                for study, series in zip(found, listings, strict=True)
            ],
        }
    )


async def instances(request: web.Request) -> web.Response:
    """GET /gallery/api/studies/{study}/series/{series}: the instances in order."""
    study = check_uid("study", request.match_info["study"])
    series = check_uid("series", request.match_info["series"])
    found = await request.app[SERVICE].store.instances(study, series, client=client_of(request))
    return _json(
        {"study_uid": study, "series_uid": series, "instances": [asdict(i) for i in found]}
    )


async def page(request: web.Request) -> web.FileResponse:
    """GET /: the gallery page."""
    return web.FileResponse(STATIC / "gallery.html", headers={"Cache-Control": "no-cache"})


async def favicon(request: web.Request) -> web.FileResponse:
    """GET /favicon.ico, which every browser asks for: the gallery's icon, not a 404."""
    return web.FileResponse(
        STATIC / "favicon.ico",
        headers={"Content-Type": "image/x-icon", "Cache-Control": "public, max-age=86400"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", page)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/gallery/api/studies", studies)
    app.router.add_get("/gallery/api/studies/{study}/series/{series}", instances)
    app.router.add_static("/gallery/static", STATIC)
