"""What wadofarm exposes of Orthanc, so that it never widens what Orthanc itself allows.

Debian's Orthanc listens on localhost only and asks no credentials: it trusts whoever can reach
it, because only local processes can. wadofarm in front of it, on a network address, would hand
that trust to the network. So:

- At start, and again after Orthanc was unreachable, Orthanc is asked anonymously (`GET
  /system`, no credentials) whether it answers strangers.
- `--auth auto` (the default) becomes `forward` when Orthanc refuses anonymous requests, so
  wadofarm's own routes do not serve with wadofarm's credentials what Orthanc would not serve
  the client; else `none`. An explicit `--auth none` in front of such an Orthanc is logged.
  An Orthanc that does not answer at start is logged as a warning and decides nothing: each
  router asks again when a request comes (`Pending`), and serves only once Orthanc has answered.
- The pass-through, when Orthanc answers strangers and wadofarm does not know the client
  (`--auth none`, or `forward`, whose credentials such an Orthanc ignores), forwards only what
  a viewer or Orthanc Explorer reads (router.passthrough lists it). Everything else is refused
  with 403 naming `--proxy-writes`, which lifts the rule.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import ipaddress
import logging
import time
from urllib.parse import urlsplit

import aiohttp

from router import passthrough
from router.auth import AuthMode
from router.config import Config, mask_url
from router.errors import Forbidden, UpstreamError, connection_words

logger = logging.getLogger(__name__)

PROBE = "/system"  # answers anyone Orthanc lets in, and changes nothing


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """Orthanc's answer to the anonymous probe: its HTTP status, or why there was none."""

    status: int | None  # None: no answer (refused, unresolvable, timed out, not HTTP)
    reason: str = ""  # why there was no answer, in words

    @property
    def anonymous(self) -> bool | None:
        """True: Orthanc answers strangers (200); False: it asks for credentials (401, 403);
        None: no answer, or one that says neither."""
        return None if self.status is None else _verdict(self.status)


def probe(url: str, timeout: float) -> bool | None:
    """Does Orthanc at `url` answer a request without credentials? True (200), False (401 or
    403), None (unreachable or some other answer: unknown). Blocking: for the start."""
    return ask(url, timeout).anonymous


def ask(url: str, timeout: float) -> Answer:
    """The anonymous probe (`GET /system`, no credentials). Blocking."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path.rstrip("/") + PROBE)
        return Answer(conn.getresponse().status)
    except http.client.HTTPException:
        return Answer(None, "its answer is not HTTP")
    except TimeoutError:
        return Answer(None, f"no answer within {timeout:g}s (--upstream-timeout)")
    except OSError as exc:
        return Answer(None, connection_words(exc))
    finally:
        conn.close()


async def probe_async(session: aiohttp.ClientSession, root: str) -> bool | None:
    """`probe` on the event loop, through the pass-through's own session (no credentials)."""
    try:
        async with session.get(root + PROBE, allow_redirects=False) as response:
            return _verdict(response.status)
    except (aiohttp.ClientError, TimeoutError):
        return None


def _verdict(status: int) -> bool | None:
    if status == 200:
        return True
    if status in (401, 403):
        return False
    return None


def settle(config: Config) -> Config:
    """The configuration to serve with: `--auth auto` decided by asking Orthanc, and the
    warnings about what anyone who can reach the port may do. An Orthanc that does not answer
    is a warning, and leaves `--auth auto` undecided (`Pending` decides it later)."""
    answer = ask(config.orthanc_url, config.upstream_timeout) if config.orthanc_url else None
    if config.orthanc_url and answer is not None and answer.status is None:
        logger.warning(
            "Orthanc at %s does not answer (%s). wadofarm starts anyway: requests that need "
            "Orthanc fail, and /readyz says not ready, until it answers%s",
            mask_url(config.orthanc_url),
            answer.reason,
            "; --auth auto is decided then" if config.auth is AuthMode.AUTO else "",
        )
        if config.auth is AuthMode.AUTO:
            return config
    return decide(config, answer)


def decide(config: Config, answer: Answer | None) -> Config:
    """The configuration once Orthanc has answered the anonymous probe (or there is no Orthanc,
    or `--auth` was given): `--auth auto` decided, and what anyone may do said in the log."""
    anonymous = answer.anonymous if answer is not None else None
    auth = config.auth
    if auth is AuthMode.AUTO:
        # An answer that says neither (a 404: a path prefix, a proxy): forward, which is right
        # for both kinds of Orthanc.
        auth = AuthMode.NONE if not config.orthanc_url or anonymous else AuthMode.FORWARD
        if config.orthanc_url:
            said = {
                True: "Orthanc answers anonymous requests",
                False: "Orthanc asks for credentials",
                None: f"Orthanc answered the anonymous probe with HTTP "
                f"{answer.status if answer else '?'}, which says neither",
            }[anonymous]
            logger.info("--auth auto: %s, so --auth %s", said, auth.value)
    elif auth is AuthMode.NONE and anonymous is False:
        logger.warning(
            "--auth none in front of an Orthanc that asks for credentials: any client reads "
            "images, whole DICOM files and the patient list with wadofarm's own Orthanc "
            "credentials%s",
            f" ({config.orthanc_user})" if config.orthanc_user else "",
        )
    settled = dataclasses.replace(config, auth=auth)
    if auth is AuthMode.NONE and not _loopback(config.host):
        words = _pass_through_words(settled, anonymous)
        logger.warning(
            "listening on %s with --auth none: anyone who can reach port %d can read every "
            "image and whole DICOM file%s",
            config.host,
            config.port,
            f"; {words}" if words else "",
        )
    if settled.orthanc_url and settled.proxy:
        logger.info("pass-through to Orthanc: %s", _pass_through_words(settled, anonymous))
    return settled


class Pending:
    """`--auth auto` in front of an Orthanc that had not answered: decided by the first request
    after Orthanc answers the anonymous probe. Until then every request but the public probes
    is refused with 502 saying why. One probe at a time: requests that arrive while one is
    under way take its answer."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.reason = "it has not been asked yet"
        self._lock = asyncio.Lock()
        self._asked = 0.0  # when the last probe started
        self._settled: Config | None = None

    async def __call__(self) -> Config:
        """The settled configuration, or UpstreamError (502) while Orthanc does not answer."""
        url = self.config.orthanc_url
        assert url is not None
        arrived = time.monotonic()
        async with self._lock:
            if self._settled is None and self._asked <= arrived:
                self._asked = time.monotonic()
                answer = await asyncio.to_thread(ask, url, self.config.upstream_timeout)
                self.reason = answer.reason
                if answer.status is not None:
                    self._settled = decide(self.config, answer)
            if self._settled is not None:
                return self._settled
        raise UpstreamError(
            f"Orthanc at {mask_url(url)} is unreachable: {self.reason} (wadofarm decides who "
            "may read, --auth auto, once it answers)"
        )


def _pass_through_words(config: Config, anonymous: bool | None) -> str:
    if not config.orthanc_url or not config.proxy:
        return ""
    if config.proxy_writes:
        return "the pass-through forwards every request to Orthanc, writes too (--proxy-writes)"
    if config.auth is AuthMode.BEARER:
        return "the pass-through forwards every request of a client --auth bearer let in"
    if anonymous is False:
        return "the pass-through forwards the client's own credentials, Orthanc decides"
    return (
        "the pass-through forwards reads only (what a viewer or Orthanc Explorer reads: "
        "the list in the security model), as Orthanc answers anonymous requests; "
        "--proxy-writes forwards everything"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclasses.dataclass(slots=True)
class Guard:
    """The pass-through's rule, decided from `--auth`, `--proxy-writes` and what Orthanc said
    to the last anonymous probe (asked again after Orthanc was unreachable)."""

    # Without --proxy-writes, and wadofarm does not know the client (--auth none, or forward:
    # an Orthanc that answers anyone ignores the credentials): Orthanc's answer decides.
    guarded: bool
    anonymous: bool | None = None  # Orthanc's answer to the last probe; None: ask again

    @classmethod
    def for_config(cls, config: Config) -> Guard:
        # AUTO: not decided yet (Orthanc has not answered); closed until it is.
        unknown = config.auth in (AuthMode.NONE, AuthMode.FORWARD, AuthMode.AUTO)
        return cls(guarded=unknown and not config.proxy_writes)

    async def check(
        self, session: aiohttp.ClientSession, root: str, method: str, path: str
    ) -> None:
        """Raise Forbidden if this request may not pass through."""
        if not self.guarded:
            return
        if self.anonymous is None:
            self.anonymous = await probe_async(session, root)
        if self.anonymous is False:
            return  # Orthanc asks the client for credentials itself
        if not passthrough.allowed(method, path):
            raise Forbidden(
                f"{method} {path[:200]} is not passed through to Orthanc, which answers "
                "anonymous requests: only what a viewer or Orthanc Explorer reads is (the "
                "security model lists it; wadofarm --proxy-writes passes everything)"
            )

    def lost(self) -> None:
        """Orthanc was unreachable: ask again before the next request passes."""
        self.anonymous = None
