"""Which instance a DICOMweb study or series target shows: the middle one by Instance Number of
the series (of the study's first series by Series Number), remembered briefly."""

from __future__ import annotations

import time

from router.cache import BoundedDict
from router.errors import NotFound
from router.stores import Client, Instance, Store, middle

REPRESENTATIVE_TTL = 5.0  # seconds a choice is reused: a gallery page asks for many series
REPRESENTATIVE_ENTRIES = 100_000


class Representatives:
    """Which instance a study or series target shows, remembered briefly: without it, every
    series thumbnail -- cached render or not -- costs a listing from the store. An instance
    added to the series changes the choice at most REPRESENTATIVE_TTL seconds later."""

    def __init__(self, ttl: float = REPRESENTATIVE_TTL) -> None:
        self.ttl = ttl
        self._chosen: BoundedDict[tuple[str, str | None], tuple[str, str, float]] = BoundedDict(
            REPRESENTATIVE_ENTRIES
        )

    async def choose(
        self, store: Store, study: str, series: str | None, client: Client | None
    ) -> Instance:
        """Listed and located for `client`; the route then checks it may read the instance."""
        remembered = self._chosen.get((study, series))
        if remembered is not None and remembered[2] > time.monotonic():
            object_uid, series_uid, _ = remembered
        else:
            series_uid = series or await self._first_series(store, study, client)
            object_uid = middle(await store.instances(study, series_uid, client=client)).object_uid
            self._chosen.put((study, series), (object_uid, series_uid, time.monotonic() + self.ttl))
        return await store.locate(object_uid, study, series_uid, client=client)

    @staticmethod
    async def _first_series(store: Store, study: str, client: Client | None) -> str:
        members = [s for s in await store.series(study, client=client) if s.instances > 0]
        if not members:
            raise NotFound(f"study {study} has no instances")
        return members[0].series_uid
