"""The shared second-level render cache in Redis: what one node renders, every node can serve.

Optional (`--redis-url`, the `redis` extra). It must never fail or stall a request: every call
has a short timeout, an error opens a breaker that skips Redis for a growing back-off, and the
first call after the back-off probes it again, so a Redis that returns is used again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import struct
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from renderer.params import PixelRegion, Region, Window
from router.cache import CachedRender, ImageFacts

logger = logging.getLogger(__name__)

KEY_PREFIX = b"wadofarm:r1:"  # bump the version when the key or value layout changes
BACKOFF_FIRST = 0.5  # seconds Redis is skipped after the first error
BACKOFF_MAX = 5.0  # ...doubling per failed probe up to this
MAX_VALUE_BYTES = 16 * 2**20  # larger renders stay in L1 only: not worth the network
MAX_PENDING_WRITES = 256  # writes in flight; past that, new ones are dropped (and counted)
MAX_CONNECTIONS = 64
_HEADER_LENGTH = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class L2Entry:
    """A render as Redis holds it, and what normalises later keys."""

    render: CachedRender
    facts: ImageFacts


@dataclass(slots=True)
class L2Stats:
    """Counters for /metrics. `errors` are failed or timed-out calls; `skipped` calls were not
    made because the breaker was open; `dropped` writes found too many already in flight."""

    hits: int = 0
    misses: int = 0
    writes: int = 0
    errors: int = 0
    skipped: int = 0
    dropped: int = 0


def _canonical(value: object) -> object:
    """The render key as plain JSON values, the same in every process and Python version
    (Python's hash() is salted per process; repr() of enums and dataclasses may change)."""
    if isinstance(value, tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, Window):
        return ["w", value.center, value.width, value.function.value]
    if isinstance(value, Region):
        return ["r", value.xmin, value.ymin, value.xmax, value.ymax]
    if isinstance(value, PixelRegion):
        return ["s", value.x, value.y, value.width, value.height]
    if isinstance(value, str | int | float | None):
        return value
    enum_value = getattr(value, "value", None)
    if isinstance(enum_value, str):
        return enum_value
    raise TypeError(f"no stable encoding for {type(value).__name__} in a render key")


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=f"{parts.hostname}:{parts.port or 6379}").geturl()


def stable_key(key: Hashable, namespace: str) -> bytes:
    """The Redis key of a normalised render key. `namespace` holds the settings that change
    the pixels without being in the key (the default window), so nodes that disagree on them
    never share entries."""
    encoded = orjson.dumps([namespace, _canonical(key)])
    return KEY_PREFIX + hashlib.blake2b(encoded, digest_size=20).hexdigest().encode()


def encode_entry(entry: L2Entry) -> bytes:
    render, f = entry.render, entry.facts
    header = orjson.dumps(
        {
            "t": render.media_type,
            "e": render.etag,
            "w": render.width,
            "h": render.height,
            "s": [f.rows, f.columns, f.pixel_aspect, f.default_window],
        }
    )
    return _HEADER_LENGTH.pack(len(header)) + header + render.body


def decode_entry(value: bytes) -> L2Entry:
    (length,) = _HEADER_LENGTH.unpack_from(value)
    start = _HEADER_LENGTH.size
    header = orjson.loads(value[start : start + length])
    render = CachedRender(
        body=value[start + length :],
        media_type=header["t"],
        etag=header["e"],
        width=header["w"],
        height=header["h"],
    )
    # Entries from older nodes lack the aspect, or whether the default window counts (then it
    # is taken to count: such an entry is never shared across routes).
    rows, columns, aspect, default_window, *_ = [*header["s"], 1.0, True][:4]
    return L2Entry(render, ImageFacts(rows, columns, aspect, default_window))


class L2Cache:
    def __init__(self, url: str, *, ttl: float, timeout: float, namespace: str) -> None:
        self.shown = _without_password(url)
        self.ttl = max(1, round(ttl))
        self.timeout = timeout
        self.namespace = namespace
        self.stats = L2Stats()
        # No retries inside the client: the breaker below is the retry policy, and a retry
        # with back-off inside one request is exactly the stall this cache must never cause.
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            max_connections=MAX_CONNECTIONS,
        )
        self._backoff = 0.0
        self._retry_at = 0.0
        self._writes: set[asyncio.Task[None]] = set()

    @property
    def up(self) -> bool:
        """False while the breaker is open after an error."""
        return self._backoff == 0.0

    def key(self, render_key: Hashable) -> bytes:
        return stable_key(render_key, self.namespace)

    async def get(self, render_key: Hashable) -> L2Entry | None:
        """The entry, or None on a miss, an error, a timeout or an open breaker."""
        if not self._may_call():
            return None
        try:
            async with asyncio.timeout(self.timeout):
                value = await self._redis.get(self.key(render_key))
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return None
        self._succeeded()
        if not isinstance(value, bytes):  # None: a miss (the client does not decode to str)
            self.stats.misses += 1
            return None
        try:
            entry = decode_entry(value)
        except (ValueError, KeyError, TypeError, struct.error):
            logger.warning("ignoring an undecodable L2 entry for %r", render_key)
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return entry

    def put(
        self,
        render_keys: Iterable[Hashable],
        render: CachedRender,
        facts: ImageFacts,
    ) -> None:
        """Store in the background under every key given (the request's own key and the
        normalised one can differ on a node that had not seen the instance before): the
        response does not wait for Redis."""
        if len(render.body) > MAX_VALUE_BYTES or not self._may_call():
            return
        if len(self._writes) >= MAX_PENDING_WRITES:
            self.stats.dropped += 1
            return
        keys = {self.key(k) for k in render_keys}
        task = asyncio.ensure_future(self._write(keys, encode_entry(L2Entry(render, facts))))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, keys: set[bytes], value: bytes) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.set(key, value, ex=self.ttl)
                    await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return
        self._succeeded()
        self.stats.writes += len(keys)

    async def close(self) -> None:
        """Let the writes in flight finish (each is bounded by the timeout), then disconnect."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        await self._redis.aclose()

    def _may_call(self) -> bool:
        if self._backoff and time.monotonic() < self._retry_at:
            self.stats.skipped += 1
            return False
        return True

    def _failed(self, exc: BaseException) -> None:
        self.stats.errors += 1
        if self._backoff == 0.0:
            logger.warning(
                "Redis L2 cache at %s failed (%s); serving without it, retrying in %.1fs",
                self.shown,
                exc or type(exc).__name__,
                BACKOFF_FIRST,
            )
        self._backoff = min(max(self._backoff * 2, BACKOFF_FIRST), BACKOFF_MAX)
        self._retry_at = time.monotonic() + self._backoff

    def _succeeded(self) -> None:
        if self._backoff:
            logger.info("Redis L2 cache at %s is back", self.shown)
            self._backoff = 0.0
