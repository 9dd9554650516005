"""Who may ask (--auth): one middleware for every route, and one per-instance hook.

- `none`: open, as Orthanc's own /wado is without authentication.
- `bearer`: every request but /healthz carries `Authorization: Bearer <token>` with a token listed
  in --auth-tokens (one a line, `#` comments; the file is re-read when it changes, so a token is
  revoked by deleting its line). A valid token may see every instance.
- `forward`: the client's `Authorization` header goes to Orthanc with every request made on its
  behalf (a `Client`, kept with the request under CLIENT and passed to each store call that
  needs it: `client_of`), so Orthanc's own users decide. Before an instance is served, from
  the render cache or not, `authorize` asks Orthanc whether this credential may read it; a yes
  is remembered per credential for --auth-cache-seconds, the longest a revoked user can still
  read what it read before. A render shared by several requests (coalesced) is fetched with
  the credentials of the one that started it, which was authorised for the instance first.

A route other than /wado (DICOMweb, a proxy to Orthanc) gets the same checks by being behind the
middleware and by calling `authorize` for each instance it serves.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from router.cache import BoundedDict
from router.errors import Handler, Unauthorized
from router.keys import CLIENT
from router.paths import reading
from router.stores import Client, Instance, Store

logger = logging.getLogger(__name__)

PUBLIC = frozenset({"/healthz", "/readyz"})  # load balancers probe without credentials
RELOAD_EVERY = 1.0  # seconds between checks of the token file for changes
DECISIONS = 100_000  # credential x instance decisions remembered at most


class AuthMode(enum.StrEnum):
    AUTO = "auto"  # forward if Orthanc refuses anonymous requests, else none (router.exposure)
    NONE = "none"
    BEARER = "bearer"
    FORWARD = "forward"


def client_of(request: web.Request) -> Client | None:
    """Whom the store calls made for this request are made for: under --auth forward the
    client, with its own Authorization header; otherwise nobody (the server's credentials)."""
    return request.get(CLIENT)


def digest(secret: str) -> bytes:
    """Secrets are kept and compared only as hashes: a lookup leaks nothing about a token."""
    return hashlib.sha256(secret.encode()).digest()


class TokenFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._digests: frozenset[bytes] = frozenset()
        self._mtime: float | None = None
        self._checked = 0.0
        self._load()

    def _load(self) -> None:
        stat = os.stat(self.path)  # a missing file is an error at start and keeps the old set
        lines = self.path.read_text().splitlines()
        tokens = [t.strip() for t in lines if t.strip() and not t.lstrip().startswith("#")]
        self._digests = frozenset(digest(t) for t in tokens)
        self._mtime = stat.st_mtime_ns
        if not tokens:
            logger.warning("--auth-tokens %s lists no token: every request is refused", self.path)
        logger.info("loaded %d bearer tokens from %s", len(tokens), self.path)

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < RELOAD_EVERY:
            return
        self._checked = now
        try:
            if os.stat(self.path).st_mtime_ns != self._mtime:
                self._load()
        except OSError as exc:
            logger.error(
                "cannot re-read --auth-tokens %s: %s; keeping the old tokens", self.path, exc
            )

    def valid(self, token: str) -> bool:
        self._refresh()
        return digest(token) in self._digests


class Access:
    def __init__(self, mode: AuthMode, tokens: Path | None = None, ttl: float = 10.0) -> None:
        self.mode = mode
        # --auth auto before Orthanc has answered: decides the mode, or refuses (502) meanwhile
        self.settle: Callable[[], Awaitable[AuthMode]] | None = None
        self.tokens = TokenFile(tokens) if mode is AuthMode.BEARER and tokens else None
        self.ttl = ttl
        self._allowed: BoundedDict[tuple[bytes, str], float] = BoundedDict(DECISIONS)
        self._known: BoundedDict[bytes, float] = BoundedDict(DECISIONS)  # credentials vouched

    def authenticate(self, request: web.Request) -> None:
        """Refuse a request without valid credentials (bearer); note whose they are (forward)."""
        header = request.headers.get("Authorization")
        if self.mode is AuthMode.FORWARD:
            request[CLIENT] = Client(header)
        elif self.mode is AuthMode.BEARER:
            scheme, _, token = (header or "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized(
                    "a bearer token is required",
                    {"WWW-Authenticate": 'Bearer realm="wadofarm"'},
                )
            assert self.tokens is not None
            if not self.tokens.valid(token.strip()):
                raise Unauthorized(
                    "the bearer token is not valid",
                    {"WWW-Authenticate": 'Bearer realm="wadofarm", error="invalid_token"'},
                )

    async def authorize(self, store: Store, instance: Instance, client: Client | None) -> None:
        """Before serving `instance` to `client` (client_of the request): in forward mode,
        Orthanc says whether that credential may read it (remembered for `ttl` seconds)."""
        if self.mode is not AuthMode.FORWARD or client is None:
            return
        key = (digest(client.authorization or ""), instance.key)
        until = self._allowed.get(key)
        if until is not None and until > time.monotonic():
            return
        await store.check_access(instance, client=client)  # Unauthorized/Forbidden/NotFound
        self._allowed.put(key, time.monotonic() + self.ttl)

    async def vouch(self, store: Store, client: Client | None) -> None:
        """In forward mode, before a route that shows nothing of Orthanc's (/metrics, the
        gallery's page): Orthanc says whether it knows `client`'s credential at all
        (remembered for `ttl` seconds)."""
        if self.mode is not AuthMode.FORWARD or client is None:
            return
        key = digest(client.authorization or "")
        until = self._known.get(key)
        if until is not None and until > time.monotonic():
            return
        await store.check_client(client=client)  # raises Unauthorized/Forbidden
        self._known.put(key, time.monotonic() + self.ttl)


def shows_nothing_of_orthanc(path: str) -> bool:
    """Routes that ask Orthanc nothing with the client's credentials, so that --auth forward
    must ask it whether it knows them: every other route asks per instance or per listing,
    and the pass-through lets Orthanc judge what it forwards. `path` is the request's reading
    (router.paths), the one it is routed by: `//metrics` and `/./metrics` are `/metrics`."""
    return path in ("/", "/metrics") or path.startswith("/gallery/static/")


def is_public(request: web.Request) -> bool:
    """Load balancers' probes: GET or HEAD of /healthz and /readyz (as read), nothing else."""
    return reading(request).path in PUBLIC and request.method in ("GET", "HEAD")


def auth_middleware(access: Access, store_of: Callable[[web.Application], Store]) -> Middleware:
    """Authenticate every request but the public probes, before any handler runs."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_public(request):
            if access.mode is AuthMode.AUTO and access.settle is not None:
                access.mode = await access.settle()  # once Orthanc answers (router.exposure)
            access.authenticate(request)
            path = reading(request).path
            if access.mode is AuthMode.FORWARD and shows_nothing_of_orthanc(path):
                await access.vouch(store_of(request.app), client_of(request))
            if access.mode is AuthMode.BEARER and "Authorization" in request.headers:
                # The token is wadofarm's: it goes no further (not to Orthanc by the proxy).
                headers = request.headers.copy()
                del headers["Authorization"]
                request = request.clone(headers=headers)
        return await handler(request)

    return authenticate
