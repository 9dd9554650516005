"""--prewarm: follow Orthanc's change feed (GET /changes, resuming from the last sequence
number seen) and, when a series becomes stable, render the thumbnails a viewer will ask for --
the series thumbnail (its middle instance) first, then every instance -- into the render cache.

Low priority: a prewarm render is started only when no render is queued and at least one
worker would stay free for clients (with one worker: when it is idle), one at a time, so a
client's request never waits behind more than the one thumbnail already running.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from renderer.errors import RenderError
from router.dicomweb import thumbnail_params
from router.errors import WadoError
from router.service import RenderService
from router.stores import middle
from router.stores.orthanc import ORTHANC_ID, OrthancStore

logger = logging.getLogger(__name__)

POLL_INTERVAL = 1.0  # seconds between polls once the feed is read to its end
PAGE = 100  # changes per poll (Orthanc's default and maximum page is larger)
IDLE_CHECK = 0.05  # seconds between looks at the pool while it is busy with clients
MAX_BACKOFF = 30.0


@dataclass(slots=True)
class PrewarmStats:
    series: int = 0
    renders: int = 0
    errors: int = 0
    last_seq: int = 0


class Prewarmer:
    def __init__(self, store: OrthancStore, service: RenderService) -> None:
        self.store = store
        self.service = service
        self.stats = PrewarmStats()
        self.pending: deque[str] = deque()
        self._wake = asyncio.Event()

    def snapshot(self) -> dict[str, float]:
        return {
            "wadofarm_prewarm_series": self.stats.series,
            "wadofarm_prewarm_renders": self.stats.renders,
            "wadofarm_prewarm_errors": self.stats.errors,
            "wadofarm_prewarm_last_seq": self.stats.last_seq,
            "wadofarm_prewarm_pending": len(self.pending),
        }

    async def follow(self) -> None:
        """Poll the change feed forever, from where it stands when wadofarm starts."""
        backoff = POLL_INTERVAL
        last: int | None = None
        while True:
            try:
                if last is None:
                    last = int((await self._get("/changes?last"))["Last"])
                    self.stats.last_seq = last
                    logger.info("prewarm: following Orthanc's changes from seq %d", last)
                page = await self._get(f"/changes?since={last}&limit={PAGE}")
                for change in page.get("Changes", []):
                    if change.get("ChangeType") == "StableSeries":
                        self._enqueue(str(change.get("ID", "")))
                last = int(page.get("Last", last))
                self.stats.last_seq = last
                backoff = POLL_INTERVAL
                if page.get("Done", True):
                    await asyncio.sleep(POLL_INTERVAL)
            except (WadoError, KeyError, TypeError, ValueError) as exc:
                self.stats.errors += 1
                logger.warning("prewarm: cannot read Orthanc's changes (%s); retrying", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _enqueue(self, series_id: str) -> None:
        if ORTHANC_ID.fullmatch(series_id) and series_id not in self.pending:
            self.pending.append(series_id)
            self._wake.set()

    async def work(self) -> None:
        """Prewarm the stable series one after the other."""
        while True:
            while not self.pending:
                self._wake.clear()
                await self._wake.wait()
            series_id = self.pending[0]
            try:
                await self.prewarm_series(series_id)
            except (WadoError, RenderError, KeyError, TypeError) as exc:
                self.stats.errors += 1
                logger.warning("prewarm: series %s failed: %s", series_id, exc)
            finally:
                self.pending.popleft()

    async def prewarm_series(self, series_id: str) -> None:
        series = await self._get(f"/series/{series_id}")
        study = await self._get(f"/studies/{series['ParentStudy']}")
        study_uid = str(study["MainDicomTags"]["StudyInstanceUID"])
        series_uid = str(series["MainDicomTags"]["SeriesInstanceUID"])
        # The server's own credentials (client=None): no client asked for these.
        instances = await self.store.instances(study_uid, series_uid, client=None)
        first = middle(instances)  # the series thumbnail
        ordered = [first, *(i for i in instances if i is not first)]
        params = thumbnail_params(self.service)
        for summary in ordered:
            await self._until_idle()
            instance = await self.store.locate(
                summary.object_uid, study_uid, series_uid, client=None
            )
            try:
                _, cache_status = await self.service.render(instance, params, client=None)
            except RenderError as exc:  # an undecodable instance: a viewer will see why
                self.stats.errors += 1
                logger.info("prewarm: %s not rendered: %s", summary.object_uid, exc)
                continue
            if cache_status == "render":
                self.stats.renders += 1
        self.stats.series += 1
        logger.info("prewarm: %d thumbnails of series %s are cached", len(ordered), series_uid)

    async def _until_idle(self) -> None:
        pool = self.service.pool
        free_for_clients = max(1, pool.size - 1)
        while pool.queue_depth > 0 or pool.stats.busy >= free_for_clients:
            await asyncio.sleep(IDLE_CHECK)

    async def _get(self, path: str) -> Any:
        return await self.store.get_json(path, "changes")
