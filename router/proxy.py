"""The pass-through: every request wadofarm does not serve itself (QIDO-RS, WADO-RS metadata and
bulk data, STOW-RS, Orthanc's REST API and Explorer) goes to the configured Orthanc unchanged --
method, path (as read: router.paths), query, headers, body -- and the answer comes back
unchanged, both bodies streamed chunk by chunk, never held whole: the request's past its first
MiB, which is read before Orthanc is asked anything (router.uploads), the answer as fast as the
client takes it (router.sending).

Only the hop-by-hop headers (RFC 9110 7.6.1) are dropped, and wadofarm says who asked, so that
Orthanc's DICOMweb plugin (with its `Host` option unset) writes URLs -- QIDO's RetrieveURL, the
metadata's BulkDataURIs -- that point back at wadofarm. The client's own credentials pass
through; wadofarm's Orthanc credentials are never added to a client's request.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from router import passthrough
from router.errors import RequestTimeout, UpstreamError, UpstreamTimeout, connection_words
from router.exposure import Guard
from router.metrics import Metrics
from router.paths import reading
from router.sending import ClientStalled, Sending
from router.stores.orthanc import KEEPALIVE
from router.uploads import Pace, TooSlow, Upload

logger = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
CHUNK = 64 * 1024  # bytes copied at a time, each way
# What a client says about earlier hops that wadofarm replaces with what it saw itself: Orthanc's
# plugin builds its URLs from the first Forwarded element (DICOMweb 1.7), or from the
# X-Forwarded-Host and -Proto pair (later versions), so a client's own would win if kept.
REPLACED = frozenset({"forwarded", "x-forwarded-host", "x-forwarded-proto"})
# A Host header that can go unquoted into Forwarded: a name, an IPv4 address or a bracketed IPv6
# one, and a port. Anything else (a comma, a quote, a semicolon) is left out.
HOST = re.compile(r"(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def _end_to_end(
    headers: CIMultiDict[str] | object, also: frozenset[str] = frozenset()
) -> CIMultiDict[str]:
    """The headers without the hop-by-hop ones, including any the Connection header names,
    and without `also`."""
    source: CIMultiDict[str] = CIMultiDict(headers)  # type: ignore[arg-type]
    named = {h.strip().lower() for v in source.getall("Connection", []) for h in v.split(",")}
    dropped = HOP_BY_HOP | named | also
    return CIMultiDict((k, v) for k, v in source.items() if k.lower() not in dropped)


class Proxy:
    def __init__(
        self,
        upstream: str,
        timeout: float,
        metrics: Metrics | None = None,
        public_url: str | None = None,
        guard: Guard | None = None,
        sending: Sending | None = None,
        pace: Pace | None = None,
    ) -> None:
        # --public-url: the scheme and host:port clients reach wadofarm at, whatever a request
        # says (behind a TLS proxy; clients that send Host without the port, as
        # dicomweb-client does). None: each request's own.
        self._public: tuple[str, str] | None = None
        if public_url:
            public = URL(public_url)
            host = f"[{public.raw_host}]" if ":" in (public.raw_host or "") else public.raw_host
            port = f":{public.explicit_port}" if public.explicit_port else ""
            self._public = (public.scheme, f"{host}{port}")
        base = URL(upstream)
        self.guard = guard or Guard(guarded=False)
        self.sending = sending or Sending(timeout, 1 << 30)
        self.pace = pace or Pace(timeout, 16 * 1024)
        self.base = base.with_user(None).with_password(None)
        # Orthanc's root, with its path prefix if it has one: each request's path goes after it.
        self._root = str(self.base.with_path("")) + self.base.raw_path.rstrip("/")
        self.timeout = timeout
        self.metrics = metrics
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # No total limit: a big bulk download may take long, as long as bytes flow.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.timeout, sock_read=self.timeout
                ),
                auto_decompress=False,  # bytes through unchanged, Content-Encoding and all
                cookie_jar=aiohttp.DummyCookieJar(),  # never keep one client's cookies
                connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=KEEPALIVE),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def target(self, request: web.Request) -> URL:
        """Orthanc's root and the request's path as read (router.paths: what the pass-through's
        rule decided on, which Orthanc reads as itself) and its query as sent. An absolute-form
        target (`GET http://host/x`), which would be glued onto the root, has no reading: 400."""
        return URL(self._root + reading(request).target, encoded=True)

    def request_headers(self, request: web.Request) -> CIMultiDict[str]:
        """The client's end-to-end headers, with wadofarm's own word on who asked and where.

        The client's Forwarded, X-Forwarded-Host and X-Forwarded-Proto are replaced, and its
        X-Forwarded-For is appended to (its last entry is the address wadofarm saw). The host in
        Forwarded goes unquoted, though RFC 7239 would quote `host:port`: Orthanc's DICOMweb
        plugin keeps the quotes and writes `http://"host:port"/...` (issue 12).
        """
        headers = _end_to_end(request.headers, passthrough.OVERRIDE_HEADERS)
        for name in REPLACED:
            headers.popall(name, None)
        remote = request.remote or "unknown"
        scheme, host = self._public or (request.scheme, self._public_host(request))
        node = f'"[{remote}]"' if ":" in remote else remote  # RFC 7239 6: IPv6 in quotes
        forwarded = f"for={node};proto={scheme}"
        if host:
            forwarded += f";host={host}"
            headers["X-Forwarded-Host"] = host
        headers["Forwarded"] = forwarded
        headers["X-Forwarded-Proto"] = scheme
        earlier = headers.popall("X-Forwarded-For", [])
        headers["X-Forwarded-For"] = ", ".join([*earlier, remote])
        return headers

    @staticmethod
    def _public_host(request: web.Request) -> str:
        """The host:port the client asked for, or else the address it reached (HTTP/1.0)."""
        host = request.headers.get("Host", "")
        if HOST.fullmatch(host):
            return host
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if isinstance(sockname, tuple) and len(sockname) >= 2:
            address, port = sockname[0], sockname[1]
            return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        return ""

    async def forward(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        target = self.target(request)
        passthrough.check_overrides(reading(request).query)
        await self.guard.check(self.session, self._root, request.method, reading(request).path)
        headers = self.request_headers(request)
        body: bytes | AsyncIterator[bytes] | None = None
        upload: Upload | None = None
        if request.body_exists:  # its start read before Orthanc is asked (router.uploads)
            upload = Upload(request, self.pace)
            await upload.start()
            body = upload.first if upload.whole else upload.rest()
        try:
            upstream = await self.session.request(
                request.method,
                target,
                headers=headers,
                data=body,
                allow_redirects=False,
                skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
            )
        except (TooSlow, TimeoutError, aiohttp.ClientError) as exc:
            if upload is not None and upload.fell_behind:  # cut short: Orthanc's thread freed
                raise RequestTimeout(upload.fell_behind, close=True) from None
            if isinstance(exc, TimeoutError):
                self._observe(started, "timeout")
                raise UpstreamTimeout(
                    f"Orthanc did not answer the pass-through within {self.timeout:g}s"
                ) from None
            self._observe(started, "error")
            self.guard.lost()  # ask Orthanc again once it is back
            raise UpstreamError(
                f"Orthanc is unreachable for the pass-through: {connection_words(exc)}"
            ) from None
        self._observe(started, None)
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        response.headers.extend(_end_to_end(upstream.headers))
        if "Content-Length" not in upstream.headers and request.method != "HEAD":
            response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            if request.method != "HEAD":
                async for chunk in upstream.content.iter_chunked(CHUNK):
                    await self.sending.write(request, response, chunk)
            await response.write_eof()
        except ClientStalled:  # the client took nothing for --send-timeout: cut off
            pass
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The headers are out: the only honest signal left is a cut connection, never a
            # body that looks complete.
            logger.warning("pass-through of %s broke mid-body: %r", request.path, exc)
            if self.metrics is not None:
                self.metrics.upstream_errors.labels("proxy", "broken").inc()
            if request.transport is not None:
                request.transport.close()
        finally:
            upstream.release()
        return response

    def _observe(self, started: float, error: str | None) -> None:
        if self.metrics is not None:
            self.metrics.observe_upstream("proxy", time.monotonic() - started, error)
