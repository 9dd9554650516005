"""The render cache: byte bound, recency, and coalescing of identical misses."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from renderer.params import DefaultWindow, RenderParams, Window
from router.cache import ENTRY_OVERHEAD, BoundedDict, CachedRender, ImageFacts, RenderCache
from router.service import render_key


def cached(size: int, tag: str = "") -> CachedRender:
    return CachedRender(b"x" * size, "image/jpeg", f'"{tag}"', 1, 1)


def test_evicts_least_recently_used_to_stay_under_the_bound() -> None:
    cache: RenderCache[str] = RenderCache(max_bytes=3 * (1000 + ENTRY_OVERHEAD))
    for key in "abc":
        cache.put(key, cached(1000))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("d", cached(1000))
    assert cache.get("b") is None and cache.get("a") and cache.get("c") and cache.get("d")
    assert cache.bytes <= cache.max_bytes and cache.stats.evictions == 1


def test_an_entry_larger_than_the_cache_is_not_stored() -> None:
    cache: RenderCache[str] = RenderCache(max_bytes=500)
    cache.put("small", cached(10))
    cache.put("huge", cached(10_000))
    assert cache.get("huge") is None and cache.get("small") is not None


def test_replacing_a_key_keeps_the_byte_count_right() -> None:
    cache: RenderCache[str] = RenderCache(max_bytes=10**6)
    cache.put("a", cached(100))
    cache.put("a", cached(300))
    assert cache.bytes == 300 + ENTRY_OVERHEAD and len(cache) == 1


async def test_concurrent_identical_misses_run_once() -> None:
    cache: RenderCache[str] = RenderCache(max_bytes=10**6)
    calls = 0

    async def produce() -> CachedRender:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return cached(10, "one")

    results = await asyncio.gather(*(cache.coalesce("k", produce) for _ in range(20)))
    assert calls == 1 and {r.etag for r in results} == {'"one"'}
    assert cache.stats.coalesced == 19


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    cache: RenderCache[str] = RenderCache(max_bytes=10**6)

    async def fail() -> CachedRender:
        await asyncio.sleep(0.01)
        raise ValueError("bad file")

    results = await asyncio.gather(
        *(cache.coalesce("k", fail) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ValueError) for r in results)
    assert await cache.coalesce("k", lambda: asyncio.sleep(0, cached(1))) is not None


async def test_a_waiter_leaving_does_not_cancel_the_render() -> None:
    cache: RenderCache[str] = RenderCache(max_bytes=10**6)
    done = asyncio.Event()

    async def produce() -> CachedRender:
        await asyncio.sleep(0.05)
        done.set()
        return cached(1)

    impatient = asyncio.ensure_future(cache.coalesce("k", produce))
    await asyncio.sleep(0.01)
    impatient.cancel()
    patient = await cache.coalesce("k", produce)
    assert done.is_set() and patient.size == 1 + ENTRY_OVERHEAD


@pytest.mark.parametrize("bound", [1, 3])
def test_bounded_dict(bound: int) -> None:
    d: BoundedDict[int, int] = BoundedDict(bound)
    for i in range(5):
        d.put(i, i)
    assert len(d) == bound and d.get(4) == 4 and d.get(0) is None


def test_keys_normalise_by_the_displayed_size_of_non_square_pixels() -> None:
    """100x100 pixels twice as tall as wide show as 100x200: rows=50 gives 25x50 and columns=50
    gives 50x100, two images that must not share an entry; square pixels make them one."""
    tall, square = ImageFacts(100, 100, 2.0), ImageFacts(100, 100, 1.0)
    by_rows, by_columns = RenderParams(rows=50), RenderParams(columns=50)
    assert render_key("1.2", by_rows, tall) != render_key("1.2", by_columns, tall)
    assert render_key("1.2", by_rows, square) == render_key("1.2", by_columns, square)


def test_the_default_window_is_in_the_key_only_where_it_counts() -> None:
    """/wado and DICOMweb default differently (DefaultWindowSetting.ROUTE): an image with a
    window of its own renders the same for both, one storing none does not, and before the first
    render nobody knows which it is."""
    wado = RenderParams(default_window=DefaultWindow.ORTHANC)
    rendered = RenderParams(default_window=DefaultWindow.MINMAX)
    own_window = ImageFacts(100, 100, 1.0, default_window=False)
    no_window = ImageFacts(100, 100, 1.0, default_window=True)
    assert render_key("1.2", wado, own_window) == render_key("1.2", rendered, own_window)
    assert render_key("1.2", wado, no_window) != render_key("1.2", rendered, no_window)
    assert render_key("1.2", wado, None) != render_key("1.2", rendered, None)
    asked = Window(40.0, 400.0)
    assert render_key("1.2", replace(wado, window=asked), no_window) == render_key(
        "1.2", replace(rendered, window=asked), no_window
    )
