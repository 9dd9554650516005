"""GET /metrics in the Prometheus text format: what the server is doing, for an operator.

Request counts and latencies are recorded by a middleware; the cache, the pool and the prewarmer
keep their own counters, read only when Prometheus scrapes (a collector), so the hot path pays
nothing for them.

With several routers on one port (router.supervisor), prometheus_client's multiprocess mode adds
them up: every router copies all its figures to its own files in one folder every
MIRROR_INTERVAL (and just before it answers /metrics itself), in the format of prometheus_client's
multiprocess values, and whichever router is scraped reads every file (MultiProcessCollector).
The other routers' figures are then up to MIRROR_INTERVAL old; in exchange a request costs no
more than with one router (a multiprocess value writes its file on every increment: ~10 us a
request here).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.registry import Collector

from router.errors import Handler

# Seconds. Cache hits take well under a millisecond; cold renders of big frames, seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
PROXY_ROUTE = "proxy"  # every pass-through request, whatever its path: bounded label values
UNMATCHED_ROUTE = "unmatched"
MIRROR_INTERVAL = 1.0  # seconds between copies of a router's snapshot to the shared files


class Metrics:
    """`shared_dir`: the folder of every router's figures, when several routers share a port."""

    def __init__(self, shared_dir: str | None = None) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created: noise
        self.shared_dir = shared_dir
        self.registry = CollectorRegistry()
        self._mirror = _Mirror(self.registry, shared_dir) if shared_dir else None
        self.requests = Counter(
            "wadofarm_http_requests",
            "HTTP requests answered, by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "wadofarm_http_request_duration_seconds",
            "Time from request to the end of the response, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "wadofarm_upstream_request_duration_seconds",
            "Round trips to Orthanc, by operation (find, file, list, system, changes, proxy)",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._counted: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[str, Histogram] = {}
        self.upstream_errors = Counter(
            "wadofarm_upstream_errors",
            "Round trips to Orthanc that failed, by operation and kind (error, timeout)",
            ["operation", "kind"],
            registry=self.registry,
        )

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count a request and time it. The labelled children are looked up once per label
        set, not per request (labels() validates and locks each time)."""
        key = (route, method, status)
        counter = self._counted.get(key)
        if counter is None:
            counter = self._counted[key] = self.requests.labels(route, method, str(status))
        counter.inc()
        timer = self._timed.get(route)
        if timer is None:
            timer = self._timed[route] = self.latency.labels(route)
        timer.observe(seconds)

    def middleware(self) -> Middleware:
        """Count and time every request, errors included (the outermost middleware)."""

        @web.middleware
        async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = time.monotonic()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                seconds = time.monotonic() - started
                self.answered(route_label(request), request.method, status, seconds)

        return measure

    async def view(self, request: web.Request) -> web.Response:
        """GET /metrics."""
        body = self.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def observe_upstream(self, operation: str, seconds: float, error: str | None) -> None:
        self.upstream_latency.labels(operation).observe(seconds)
        if error is not None:
            self.upstream_errors.labels(operation, error).inc()

    def watch(self, read: Callable[[], dict[str, float]]) -> None:
        """Expose the counters and gauges `read` returns at each scrape."""
        self.registry.register(_SnapshotCollector(read))

    def exposition(self) -> bytes:
        if self.shared_dir is None or self._mirror is None:
            return generate_latest(self.registry)
        self._mirror.copy()
        every_router = CollectorRegistry()
        multiprocess.MultiProcessCollector(every_router, path=self.shared_dir)  # type: ignore[no-untyped-call]
        return generate_latest(every_router)

    async def mirror_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """With several routers: copy this router's figures to the shared files now and then, and
        once more on the way out (a replaced router's counts stay in the sums)."""
        mirror = self._mirror
        if mirror is None:
            yield
            return

        async def loop() -> None:
            while True:
                await asyncio.sleep(MIRROR_INTERVAL)
                mirror.copy()

        task = asyncio.create_task(loop(), name="metrics-mirror")
        yield
        task.cancel()
        mirror.copy()


# name -> (help, kind). Counters get the _total suffix from prometheus_client.
SNAPSHOT_METRICS: dict[str, tuple[str, str]] = {
    "wadofarm_cache_hits": ("Render cache hits", "counter"),
    "wadofarm_cache_misses": ("Render cache misses", "counter"),
    "wadofarm_cache_evictions": ("Entries evicted from the render cache", "counter"),
    "wadofarm_cache_coalesced": ("Requests that waited for an identical render", "counter"),
    "wadofarm_cache_bytes": ("Bytes held by the render cache", "gauge"),
    "wadofarm_cache_max_bytes": ("Size limit of the render cache (--cache-mb)", "gauge"),
    "wadofarm_cache_entries": ("Images held by the render cache", "gauge"),
    "wadofarm_render_queue_depth": ("Renders waiting for a worker", "gauge"),
    "wadofarm_render_workers": ("Render worker processes configured", "gauge"),
    "wadofarm_render_workers_alive": ("Render worker processes alive", "gauge"),
    "wadofarm_render_workers_busy": ("Render workers running a render", "gauge"),
    "wadofarm_renders": ("Renders finished by the workers (ok or refused)", "counter"),
    "wadofarm_render_worker_restarts": ("Render workers replaced", "counter"),
    "wadofarm_render_crashes": ("Renders whose worker died", "counter"),
    "wadofarm_render_timeouts": ("Renders past --render-timeout", "counter"),
    "wadofarm_quarantined": (
        "Instances quarantined after renders of them killed or hung two workers "
        "(--quarantine-seconds)",
        "counter",
    ),
    "wadofarm_quarantine_refused": (
        "Requests answered from the quarantine, without a render",
        "counter",
    ),
    "wadofarm_render_retries": (
        "Renders tried again on another worker after their worker died or hung",
        "counter",
    ),
    "wadofarm_router_start_time_seconds": (
        "When the oldest router serving started, in seconds since the epoch (a reload "
        "replaces them all)",
        "gauge",
    ),
    "wadofarm_render_worker_start_time_seconds": (
        "When the oldest render worker alive started, in seconds since the epoch",
        "gauge",
    ),
    "wadofarm_send_held_bytes": (
        "Bytes of large answers being sent to clients (each body once, --send-buffer-mb)",
        "gauge",
    ),
    "wadofarm_send_stalled": (
        "Connections closed as their client took nothing for --send-timeout",
        "counter",
    ),
    "wadofarm_send_refused": ("Large answers refused for want of --send-buffer-mb", "counter"),
    "wadofarm_l2_hits": ("Renders found in the shared Redis cache", "counter"),
    "wadofarm_l2_misses": ("Lookups the shared Redis cache could not answer", "counter"),
    "wadofarm_l2_writes": ("Renders written to the shared Redis cache", "counter"),
    "wadofarm_l2_errors": ("Redis calls that failed or timed out", "counter"),
    "wadofarm_l2_skipped": ("Redis calls not made while its breaker was open", "counter"),
    "wadofarm_l2_dropped": ("Redis writes dropped with too many in flight", "counter"),
    "wadofarm_l2_up": ("1 while the shared Redis cache is in use", "gauge"),
    "wadofarm_prewarm_series": ("Stable series the prewarmer rendered", "counter"),
    "wadofarm_prewarm_renders": ("Thumbnails the prewarmer put in the cache", "counter"),
    "wadofarm_prewarm_errors": ("Prewarm renders or change-feed polls that failed", "counter"),
    "wadofarm_prewarm_last_seq": ("Last Orthanc change sequence number seen", "gauge"),
    "wadofarm_prewarm_pending": ("Stable series waiting to be prewarmed", "gauge"),
}


# How the routers' gauges add up: a figure of the whole server is the sum over the live routers;
# Redis is up only if every router reaches it; the prewarmer runs in router 1 only; a start time
# is the oldest live process's.
GAUGE_MODES = {
    "wadofarm_l2_up": "livemin",
    "wadofarm_prewarm_last_seq": "livemax",
    "wadofarm_router_start_time_seconds": "livemin",
    "wadofarm_render_worker_start_time_seconds": "livemin",
}


class _Mirror:
    """This router's figures, as its files among every router's: each sample written as
    prometheus_client's multiprocess values are (one file per type and process, histogram
    buckets not cumulative, no _count), so that MultiProcessCollector adds them up."""

    def __init__(self, registry: CollectorRegistry, folder: str) -> None:
        self.registry = registry
        self.folder = folder
        self._files: dict[str, MmapedDict] = {}

    def _file(self, prefix: str) -> MmapedDict:
        if prefix not in self._files:
            path = os.path.join(self.folder, f"{prefix}_{os.getpid()}.db")
            self._files[prefix] = MmapedDict(path)  # type: ignore[no-untyped-call]
        return self._files[prefix]

    def copy(self) -> None:
        for family in self.registry.collect():
            if family.type == "gauge":
                prefix = "gauge_" + GAUGE_MODES.get(family.name, "livesum")
            elif family.type in ("counter", "histogram"):
                prefix = family.type
            else:
                continue
            out = self._file(prefix)
            below: dict[tuple[tuple[str, str], ...], float] = {}  # a histogram's last bucket
            for sample in family.samples:
                labels = sample.labels
                if family.type == "histogram":
                    if sample.name.endswith("_count"):
                        continue  # the collector counts the buckets
                    if sample.name.endswith("_bucket"):  # cumulative here, not in the files
                        others = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                        value = sample.value - below.get(others, 0.0)
                        below[others] = sample.value
                        self._write(out, family, sample.name, labels, value)
                        continue
                self._write(out, family, sample.name, labels, sample.value)

    @staticmethod
    def _write(
        out: MmapedDict, family: Metric, name: str, labels: dict[str, str], value: float
    ) -> None:
        key = mmap_key(family.name, name, list(labels), list(labels.values()), family.documentation)
        out.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]


class _SnapshotCollector(Collector):
    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        for name, value in self.read().items():
            help_text, kind = SNAPSHOT_METRICS[name]
            if kind == "counter":
                yield CounterMetricFamily(name, help_text, value=value)
            else:
                yield GaugeMetricFamily(name, help_text, value=value)

    def describe(self) -> Iterator[Metric]:
        return iter(())


def route_label(request: web.Request) -> str:
    """The route's pattern, never the raw path: label values stay few."""
    info = request.match_info
    if info.http_exception is not None or info.route.resource is None:
        return UNMATCHED_ROUTE
    route_name = info.route.name
    if route_name == PROXY_ROUTE:
        return PROXY_ROUTE
    return info.route.resource.canonical
