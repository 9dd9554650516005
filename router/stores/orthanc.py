"""An Orthanc server over its REST API: one pooled client session, one round trip per lookup.

UIDs reach Orthanc only after router.uid has checked them, and only inside a JSON body built by
orjson, never spliced into a URL. Orthanc IDs are deterministic hashes of the UIDs, so the
UID-to-ID mapping can be cached for as long as the instance exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
from yarl import URL

from renderer.params import HttpSource
from router.cache import BoundedDict
from router.errors import (
    Forbidden,
    NotFound,
    Unauthorized,
    UpstreamError,
    UpstreamTimeout,
    connection_words,
)
from router.stores import (
    CHUNK,
    Client,
    Download,
    Instance,
    InstanceSummary,
    SeriesSummary,
    StudySummary,
    by_number,
    to_int,
)

logger = logging.getLogger(__name__)

# Orthanc answers "Keep-Alive: timeout=1"; reusing a connection it is about to drop races its
# close, so idle connections are dropped here first.
KEEPALIVE = 0.5


# Told of every round trip: (operation, seconds, error kind or None). /metrics listens here.
Observer = Callable[[str, float, str | None], None]


ORTHANC_ID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{8}){4}")  # a SHA-1 in five groups


def public_url(url: URL) -> str:
    """The URL without credentials, for logs and error bodies."""
    return str(url.with_user(None).with_password(None))


class OrthancStore:
    name = "orthanc"

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        connections: int = 64,
        map_entries: int = 200_000,
        observe: Observer | None = None,
    ) -> None:
        base = URL(url)
        if base.user and not user:
            user, password = base.user, base.password or ""
        self.base = base.with_user(None).with_password(None)
        self.shown = public_url(self.base)
        self.timeout = timeout
        # Sent per request, not set on the session: with --auth forward the client's own
        # header goes in its place (each call's `client`, router.stores.Client).
        self._authorization = aiohttp.BasicAuth(user, password or "").encode() if user else None
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        # SOP Instance UID -> (study, series as asked, None if not) -> Orthanc ID: indexed by the
        # UID first, so forgetting an instance is one pop, not a scan of the map.
        self._ids: BoundedDict[str, dict[tuple[str | None, str | None], str]] = BoundedDict(
            map_entries
        )
        self._listed: BoundedDict[tuple[str, str], bool] = BoundedDict(10_000)  # series mapped
        self._listing: dict[tuple[str, str], asyncio.Future[list[InstanceSummary]]] = {}
        # Series (Orthanc IDs) mapped after an instance was asked for by objectUID alone.
        self._mapped: BoundedDict[str, bool] = BoundedDict(10_000)
        self._mapping: asyncio.Task[None] | None = None
        self._observe = observe

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(
                    limit=self._connections, keepalive_timeout=KEEPALIVE
                ),
                json_serialize=lambda obj: orjson.dumps(obj).decode(),
                # Orthanc gzips answers by default (HttpCompressionEnabled): ~30 ms of its CPU
                # for a 512 KB file, to save bytes on loopback. Ask for the bytes as stored.
                headers={"Accept-Encoding": "identity"},
            )
        return self._session

    async def close(self) -> None:
        if self._mapping is not None:
            self._mapping.cancel()
            await asyncio.gather(self._mapping, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        operation: str = "other",
        client: Client | None = None,
    ) -> bytes:
        """One round trip, made for `client` (router.stores.Client) or for the server."""
        started = time.monotonic()
        error: str | None = None
        try:
            return await self._round_trip(method, path, body, client)
        except UpstreamTimeout:
            error = "timeout"
            raise
        except UpstreamError:
            error = "error"
            raise
        finally:
            if self._observe is not None:
                self._observe(operation, time.monotonic() - started, error)

    def _credentials(self, client: Client | None) -> str | None:
        """The Authorization header for Orthanc: the client's own under --auth forward,
        otherwise wadofarm's."""
        return client.authorization if client is not None else self._authorization

    async def _round_trip(self, method: str, path: str, body: Any, client: Client | None) -> bytes:
        path, _, query = path.partition("?")
        url = self.base.with_path(self.base.path.rstrip("/") + path)
        if query:
            url = url.with_query(query)
        data = orjson.dumps(body) if body is not None else None
        response = await self._send(method, url, path, client, data=data)
        try:
            return await response.read()
        except TimeoutError:
            raise self._timed_out() from None
        except aiohttp.ClientConnectionError as exc:
            raise self._unreachable(exc) from None
        finally:
            response.release()

    def _check(self, response: aiohttp.ClientResponse, path: str, forwarding: bool) -> None:
        """Orthanc's error status as wadofarm's error."""
        status = response.status
        if forwarding and status in (401, 403):
            _refuse_client(status, response.headers)
        if status == 401 or status == 403:
            logger.error(
                "Orthanc at %s refused wadofarm's credentials (HTTP %d)", self.shown, status
            )
            raise UpstreamError(f"Orthanc refused the credentials (HTTP {status})")
        if status == 404:
            raise NotFound(f"Orthanc has no such resource ({path})")
        if status >= 400:
            raise UpstreamError(f"Orthanc answered HTTP {status} for {path}")

    async def _open(self, path: str, client: Client | None) -> aiohttp.ClientResponse:
        """A GET whose body is read by the caller as it comes (and released by it): no total
        time limit, but each connect and each read waits at most --upstream-timeout."""
        url = self.base.with_path(self.base.path.rstrip("/") + path)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeout, sock_read=self.timeout
        )
        return await self._send("GET", url, path, client, timeout=timeout)

    async def _send(
        self, method: str, url: URL, path: str, client: Client | None, **options: Any
    ) -> aiohttp.ClientResponse:
        """The response to one request, its head read and its status checked (_check); the
        caller reads the body and releases it. A pooled connection Orthanc had closed is tried
        again once on a fresh one; every other transport failure is an UpstreamError or
        UpstreamTimeout naming Orthanc."""
        authorization = self._credentials(client)
        headers = {"Authorization": authorization} if authorization else {}
        for attempt in (1, 2):
            try:
                response = await self.session.request(method, url, headers=headers, **options)
            except aiohttp.ServerDisconnectedError:
                if attempt == 2:
                    raise UpstreamError(f"Orthanc at {self.shown} closed the connection") from None
                continue
            except TimeoutError:
                raise self._timed_out() from None
            except aiohttp.ClientConnectionError as exc:
                raise self._unreachable(exc) from None
            try:
                self._check(response, path, client is not None)
            except BaseException:
                response.release()
                raise
            return response
        raise AssertionError("unreachable")

    def _timed_out(self) -> UpstreamTimeout:
        return UpstreamTimeout(f"Orthanc at {self.shown} did not answer within {self.timeout:g}s")

    def _unreachable(self, exc: Exception) -> UpstreamError:
        return UpstreamError(f"Orthanc at {self.shown} is unreachable: {connection_words(exc)}")

    async def locate(
        self,
        object_uid: str,
        study_uid: str | None,
        series_uid: str | None,
        *,
        client: Client | None,
    ) -> Instance:
        key = (study_uid, series_uid)
        orthanc_id = (self._ids.get(object_uid) or {}).get(key)
        if orthanc_id is None and study_uid and series_uid:
            await self._prefetch(study_uid, series_uid, client)
            orthanc_id = (self._ids.get(object_uid) or {}).get(key)
        if orthanc_id is None:
            query = {"SOPInstanceUID": object_uid}
            if study_uid:
                query["StudyInstanceUID"] = study_uid
            if series_uid:
                query["SeriesInstanceUID"] = series_uid
            found = orjson.loads(
                await self._request(
                    "POST",
                    "/tools/find",
                    {"Level": "Instance", "Query": query, "Expand": False},
                    operation="find",
                    client=client,
                )
            )
            if not isinstance(found, list) or len(found) != 1 or not isinstance(found[0], str):
                what = "no instance" if not found else f"{len(found)} instances"
                raise NotFound(
                    f"{what} with objectUID {object_uid}"
                    + (" in the given study/series" if study_uid or series_uid else "")
                )
            orthanc_id = found[0]
            if not ORTHANC_ID.fullmatch(orthanc_id):  # it goes into URL paths next
                raise UpstreamError(f"Orthanc answered a malformed ID {orthanc_id[:60]!r}")
            self._remember(object_uid, key, orthanc_id)
            if not study_uid and not series_uid:
                await self._map_series_of(orthanc_id, client)
        return Instance(object_uid, orthanc_id)

    async def _map_series_of(self, orthanc_id: str, client: Client | None) -> None:
        """An instance asked for by objectUID alone (as Orthanc's /wado allows): map the rest
        of its series, in one GET of the series' instances, so a viewer's next requests for its
        siblings need no find each (a find costs Orthanc ~0.6 ms of CPU, the listing ~0.04 ms
        per instance; 600-slice series, issue 11). One mapping at a time: the first requests of
        a series arrive together, and the others go on without waiting for it."""
        if self._mapping is None or self._mapping.done():
            self._mapping = asyncio.ensure_future(self._map_series(orthanc_id, client))
            await asyncio.shield(self._mapping)  # a client that leaves does not stop it

    async def _map_series(self, orthanc_id: str, client: Client | None) -> None:
        try:
            instance = orjson.loads(
                await self._request(
                    "GET", f"/instances/{orthanc_id}", operation="list", client=client
                )
            )
            series = instance.get("ParentSeries") if isinstance(instance, dict) else None
            if not isinstance(series, str) or not ORTHANC_ID.fullmatch(series):
                return
            if self._mapped.get(series):
                return
            items = orjson.loads(
                await self._request(
                    "GET", f"/series/{series}/instances", operation="list", client=client
                )
            )
            for item in items if isinstance(items, list) else []:
                object_uid = item.get("MainDicomTags", {}).get("SOPInstanceUID")
                if isinstance(object_uid, str) and ORTHANC_ID.fullmatch(str(item.get("ID"))):
                    self._remember(object_uid, (None, None), str(item["ID"]))
            self._mapped.put(series, True)
        except Exception as exc:  # only a saving missed: each sibling takes its own find
            logger.debug("could not map the series of instance %s: %r", orthanc_id, exc)

    async def _prefetch(self, study_uid: str, series_uid: str, client: Client | None) -> None:
        """Map a whole series in one find when its first instance is asked for: a viewer asks
        for the rest next, and each lookup would cost Orthanc ~1-2 ms (a find per instance).
        Concurrent first requests share one find; a series is listed once (instances added
        later take the per-instance find)."""
        series = (study_uid, series_uid)
        if self._listed.get(series):
            return
        task = self._listing.get(series)
        if task is None:
            task = asyncio.ensure_future(self.instances(study_uid, series_uid, client=client))
            self._listing[series] = task
            task.add_done_callback(lambda done: self._listing.pop(series, None))
        # The per-instance find names what is missing, and judges each client's credentials
        # itself (--auth forward: the listing ran with whoever came first).
        with contextlib.suppress(NotFound, Unauthorized, Forbidden):
            await asyncio.shield(task)
        self._listed.put(series, True)

    async def download(self, instance: Instance, *, client: Client | None) -> Download:
        """The file streamed from Orthanc as it arrives, as the pass-through does."""
        started, error = time.monotonic(), None
        try:
            response = await self._open(f"/instances/{instance.key}/file", client)
        except NotFound:
            self._forget(instance)
            raise NotFound(f"instance {instance.object_uid} was deleted from Orthanc") from None
        except UpstreamError as exc:
            error = "timeout" if isinstance(exc, UpstreamTimeout) else "error"
            raise
        finally:
            if self._observe is not None:
                self._observe("file", time.monotonic() - started, error)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.content.iter_chunked(CHUNK):
                    yield chunk
            except TimeoutError:
                raise UpstreamTimeout(
                    f"Orthanc at {self.shown} stopped sending for {self.timeout:g}s"
                ) from None
            except aiohttp.ClientError as exc:
                raise UpstreamError(
                    f"Orthanc at {self.shown} failed mid-file: {connection_words(exc)}"
                ) from None

        async def close() -> None:
            response.release()

        return Download(response.content_length, chunks(), close)

    async def render_source(self, instance: Instance, *, client: Client | None) -> HttpSource:
        """The worker fetches the file itself, on its own keep-alive connection, with the
        credentials of `client` (one checked for this instance) or the server's."""
        return HttpSource(
            base=str(self.base),
            path=f"/instances/{instance.key}/file",
            key=instance.key,
            timeout=self.timeout,
            authorization=self._credentials(client),
        )

    async def check_access(self, instance: Instance, *, client: Client) -> None:
        """Asked with the client's credentials (--auth forward): may it read this instance?"""
        try:
            await self._request(
                "GET", f"/instances/{instance.key}", operation="access", client=client
            )
        except NotFound:
            self._forget(instance)
            raise NotFound(f"instance {instance.object_uid} was deleted from Orthanc") from None

    async def check_client(self, *, client: Client) -> None:
        """Asked with the client's credentials (--auth forward): does Orthanc know them?"""
        await self._request("GET", "/system", operation="access", client=client)

    def _remember(
        self, object_uid: str, parents: tuple[str | None, str | None], orthanc_id: str
    ) -> None:
        known = self._ids.get(object_uid)
        if known is None or orthanc_id not in known.values():
            known = {}  # a new ID for the UID (deleted and stored again): the old ones are stale
        self._ids.put(object_uid, known | {parents: orthanc_id})

    def _forget(self, instance: Instance) -> None:
        self._ids.pop(instance.object_uid)

    def fallback(self, instance: Instance) -> Instance | None:
        return None  # Orthanc keeps one file per SOP Instance UID

    def forget(self, instance: Instance) -> None:
        """Orthanc no longer has this instance under the ID we knew (a 404 for it): the next
        request looks the UID up again, so an instance stored again renders without a
        restart."""
        self._forget(instance)

    async def unready(self) -> str | None:
        try:
            await asyncio.wait_for(
                self._request("GET", "/system", operation="system"), self.timeout
            )
        except (UpstreamError, NotFound, Unauthorized, Forbidden) as exc:
            return exc.detail
        except TimeoutError:
            return self._timed_out().detail
        return None

    async def get_json(self, path: str, operation: str) -> Any:
        """GET a resource of Orthanc's REST API (an ID path built by the caller) as JSON."""
        return orjson.loads(await self._request("GET", path, operation=operation))

    async def _find(
        self, level: str, query: dict[str, str], client: Client | None, limit: int = 0
    ) -> list[Any]:
        body: dict[str, Any] = {"Level": level, "Query": query, "Expand": True}
        if limit:
            body["Limit"] = limit
        found = orjson.loads(
            await self._request("POST", "/tools/find", body, operation="list", client=client)
        )
        return found if isinstance(found, list) else []

    async def studies(self, limit: int, *, client: Client | None) -> list[StudySummary]:
        found = []
        for item in await self._find("Study", {}, client, limit):
            tags = item.get("MainDicomTags", {})
            patient = item.get("PatientMainDicomTags", {})
            found.append(
                StudySummary(
                    str(tags.get("StudyInstanceUID", "")),
                    patient_name=str(patient.get("PatientName", "")),
                    patient_id=str(patient.get("PatientID", "")),
                    date=str(tags.get("StudyDate", "")),
                    description=str(tags.get("StudyDescription", "")),
                )
            )
        return sorted(found, key=lambda s: (s.date, s.study_uid), reverse=True)

    async def series(self, study_uid: str, *, client: Client | None) -> list[SeriesSummary]:
        items = await self._find("Series", {"StudyInstanceUID": study_uid}, client)
        if not items:
            raise NotFound(f"no study {study_uid}")
        found = []
        for item in items:
            tags = item.get("MainDicomTags", {})
            found.append(
                SeriesSummary(
                    study_uid,
                    str(tags.get("SeriesInstanceUID", "")),
                    number=to_int(tags.get("SeriesNumber")),
                    modality=str(tags.get("Modality", "")),
                    description=str(tags.get("SeriesDescription", "")),
                    instances=len(item.get("Instances", [])),
                )
            )
        return sorted(found, key=lambda s: by_number(s.number, s.series_uid))

    async def instances(
        self, study_uid: str, series_uid: str, *, client: Client | None
    ) -> list[InstanceSummary]:
        items = await self._find(
            "Instance", {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid}, client
        )
        if not items:
            raise NotFound(f"no series {series_uid} in study {study_uid}")
        found = []
        for item in items:
            tags = item.get("MainDicomTags", {})
            object_uid = str(tags.get("SOPInstanceUID", ""))
            if not ORTHANC_ID.fullmatch(str(item.get("ID", ""))):
                continue
            # The listing names each instance's Orthanc ID: the next locate is free.
            self._remember(object_uid, (None, None), str(item["ID"]))
            self._remember(object_uid, (study_uid, series_uid), str(item["ID"]))
            found.append(
                InstanceSummary(
                    object_uid,
                    number=to_int(tags.get("InstanceNumber")),
                    frames=to_int(tags.get("NumberOfFrames")) or 1,
                )
            )
        return sorted(found, key=lambda i: by_number(i.number, i.object_uid))


def _refuse_client(status: int, headers: Any) -> None:
    """Orthanc refused the client's own credentials (--auth forward): the client's 401/403."""
    if status == 401:
        challenge = headers.get("WWW-Authenticate") or 'Basic realm="Orthanc"'
        raise Unauthorized(
            "Orthanc refused the client's credentials (HTTP 401)", {"WWW-Authenticate": challenge}
        )
    raise Forbidden("Orthanc does not let these credentials read this (HTTP 403)")
