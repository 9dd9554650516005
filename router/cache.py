"""The render cache: a byte-bounded LRU of encoded renders, with coalescing of identical misses."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from renderer.lru import LruStats, SizedLru
from renderer.params import Encoded

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

ENTRY_OVERHEAD = 256  # bytes of bookkeeping per entry, so tiny images still count


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What a render showed about an instance, so that later render keys can be normalised
    (router.service.render_key) without asking the store or a worker again."""

    rows: int
    columns: int
    pixel_aspect: float = 1.0  # a pixel's height over its width
    default_window: bool = True  # with no window in the request, it takes --default-window's


@dataclass(frozen=True, slots=True)
class CachedRender:
    body: Encoded
    media_type: str
    etag: str  # quoted, strong
    width: int
    height: int

    @property
    def size(self) -> int:
        return len(self.body) + ENTRY_OVERHEAD


@dataclass(slots=True)
class CacheStats(LruStats):
    coalesced: int = 0


class BoundedDict(Generic[K, V]):
    """A least-recently-used mapping bounded by entry count (UID maps, image metadata)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def __len__(self) -> int:
        return len(self._data)


class RenderCache(SizedLru[K, CachedRender]):
    def __init__(self, max_bytes: int) -> None:
        self.stats: CacheStats = CacheStats()
        super().__init__(max_bytes, self.stats)
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}

    async def coalesce(self, key: Hashable, produce: Callable[[], Awaitable[V]]) -> V:
        """Run `produce` once for any number of concurrent callers with the same key.

        The producer runs in its own task, so one caller going away does not cancel the work
        the others wait for; a failure reaches every waiter and is not cached.
        """
        future = self._inflight.get(key)
        if future is not None:
            self.stats.coalesced += 1
            return await asyncio.shield(future)
        task = asyncio.ensure_future(produce())
        self._inflight[key] = task

        def finished(done: asyncio.Future[V]) -> None:
            self._inflight.pop(key, None)
            if not done.cancelled():
                done.exception()  # retrieved: no "never retrieved" warning if all waiters left

        task.add_done_callback(finished)
        return await asyncio.shield(task)
