"""A least-recently-used map bounded by the bytes its values hold.

The router's render cache (encoded images) and each worker's frame cache (decoded frames) are
both one; a value says its own size, so an entry counts what keeping it keeps alive.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Sized(Protocol):
    @property
    def size(self) -> int: ...


K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Sized)


@dataclass(slots=True)
class LruStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class SizedLru(Generic[K, V]):
    def __init__(self, max_bytes: int = 0, stats: LruStats | None = None) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.stats = stats if stats is not None else LruStats()
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return entry

    def put(self, key: K, entry: V) -> None:
        if entry.size > self.max_bytes:
            return  # never evict everything for one huge value
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        self._entries[key] = entry
        self.bytes += entry.size
        while self.bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.size
            self.stats.evictions += 1
