"""Every setting, defined once: its field in `Config` carries the type, the default, the help, the
allowed range and (from its flag) the WADOFARM_* variable. router.cli makes the flags, the
variables and the help from these fields, and docs/configuration.md's settings table is checked
against them (tests/test_docs.py). `Config` checks itself, so one built in code is too."""

from __future__ import annotations

import enum
import functools
import math
import os
import socket
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from renderer.params import DefaultWindow
from router.auth import AuthMode

_hostname = functools.cache(socket.gethostname)  # asked once, not on every response

ENV_PREFIX = "WADOFARM_"
TRUE = frozenset({"1", "true", "yes", "on"})  # any case
FALSE = frozenset({"0", "false", "no", "off"})


class SettingError(ValueError):
    """A setting's value is not allowed: says which setting, what it got and what it takes."""

    def __init__(self, name: str, value: object, allowed: str) -> None:
        super().__init__(f"{name}='{value!s}' is not allowed" + (f": {allowed}" if allowed else ""))
        self.name, self.value, self.allowed = name, value, allowed


@dataclass(frozen=True, slots=True)
class Setting:
    """What a `Config` field needs beyond its type and default to become a flag and a variable."""

    help: str
    flag: str = ""  # without the dashes; empty: the field's name with dashes
    metavar: str | None = None
    minimum: float | None = None  # inclusive
    above: float | None = None  # exclusive lower bound
    maximum: float | None = None  # inclusive
    choices: tuple[str, ...] = ()  # for str settings; an Enum's come from its values
    separator: str = ""  # for tuples: how the variable joins several values
    default_text: str = ""  # the default as the docs show it, when the value is per machine
    schemes: tuple[str, ...] = ()  # for URLs: the allowed schemes
    words: tuple[tuple[str, Callable[[], object]], ...] = ()  # e.g. ("auto", a function)
    secret: bool = False  # shown as *** wherever settings are printed or logged


def setting(default: Any = None, help: str = "", **options: Any) -> Any:
    """A `Config` field with its `Setting`; `default` may be a zero-argument callable."""
    meta = {"setting": Setting(help=help, **options)}
    shown = not options.get("secret", False)  # a secret stays out of the Config's repr too
    if callable(default) and not isinstance(default, type):
        return field(default_factory=default, metadata=meta, repr=shown)
    return field(default=default, metadata=meta, repr=shown)


class DefaultWindowSetting(enum.Enum):
    """--default-window: what a route windows with when neither the request nor the file says.
    `route` does as each route's Orthanc counterpart does; the others force one everywhere."""

    ROUTE = "route"  # /wado as Orthanc's /wado, DICOMweb rendered/thumbnail as its /rendered
    ORTHANC = "orthanc"
    MINMAX = "minmax"

    @property
    def wado(self) -> DefaultWindow:
        """For /wado: Orthanc's /wado takes width 2^BitsStored."""
        return (
            DefaultWindow.MINMAX if self is DefaultWindowSetting.MINMAX else DefaultWindow.ORTHANC
        )

    @property
    def rendered(self) -> DefaultWindow:
        """For DICOMweb rendered and thumbnail (and so the gallery): Orthanc's DICOMweb plugin
        stretches the frame's range ("whole dynamics", WadoRsRetrieveRendered.cpp)."""
        return (
            DefaultWindow.ORTHANC if self is DefaultWindowSetting.ORTHANC else DefaultWindow.MINMAX
        )


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# One router keeps up with the render workers (and the Orthanc) of about 4 cores: a cold
# thumbnail costs a router about a quarter of its CPU in all (BENCHMARKS.md, issue 11).
CORES_PER_ROUTER = 4
AUTO = 0  # --routers auto


def _auto() -> int:
    return AUTO


@dataclass(frozen=True, slots=True)
class Config:
    host: str = setting("127.0.0.1", "address to listen on", metavar="ADDRESS")
    port: int = setting(
        8080, "port to listen on (0: any free one)", metavar="N", minimum=0, maximum=65535
    )
    orthanc_url: str | None = setting(
        None,
        "serve from this Orthanc's REST root, e.g. http://127.0.0.1:8042",
        flag="orthanc",
        metavar="URL",
        schemes=("http", "https"),
    )
    orthanc_user: str | None = setting(None, "HTTP basic user for Orthanc", metavar="USER")
    orthanc_password: str | None = setting(
        None,
        "HTTP basic password for Orthanc (prefer the variable: flags show in `ps`)",
        metavar="PASSWORD",
        secret=True,
    )
    dicom_dirs: tuple[Path, ...] = setting(
        (),
        "a folder of DICOM files, scanned at start; repeatable",
        flag="dicom-dir",
        metavar="PATH",
        separator=":",
    )
    workers: int = setting(
        _cpus, "render worker processes", metavar="N", minimum=1, maximum=256, default_text="CPUs"
    )
    routers: int = setting(
        AUTO,
        "router processes serving the port (SO_REUSEPORT), each with its share of the render "
        "workers and of the render cache; auto (or 0) = one per 4 CPUs, at least 1, at most "
        "--workers (see Sizing a machine)",
        metavar="N",
        minimum=0,
        maximum=256,
        default_text="auto",
        words=(("auto", _auto),),
    )
    router_timeout: float = setting(
        5.0,
        "a router whose event loop has not answered the supervisor's ping for this long (hung, "
        "or stopped) is killed and replaced",
        metavar="S",
        minimum=1,
        maximum=600,
    )
    env_file: Path | None = setting(
        None,
        "a file of WADOFARM_* variables (NAME=value a line, # comments), read at start and "
        "again by a reload (SIGHUP); they count over the environment's, flags over both",
        metavar="PATH",
    )
    cache_mb: float = setting(
        256.0,
        "render cache size in MiB (with several routers, each holds its share)",
        metavar="M",
        minimum=0,
    )
    upstream_timeout: float = setting(
        10.0, "seconds to wait for Orthanc", metavar="S", above=0, maximum=3600
    )
    render_timeout: float = setting(
        30.0,
        "seconds one render may take before its worker is killed and replaced (504)",
        metavar="S",
        above=0,
        maximum=3600,
    )
    idle_timeout: float = setting(
        75.0,
        "seconds a connection may stay open without a whole request head: idle between "
        "requests, or sending its head slowly (slow loris); then it is closed. Keep it above "
        "a proxy's keep-alive time in front (nginx: 60)",
        metavar="S",
        above=0,
        maximum=3600,
    )
    send_timeout: float = setting(
        30.0,
        "seconds a client may take nothing while an answer waits to be sent to it; then its "
        "connection is closed and what the answer held is freed",
        metavar="S",
        above=0,
        maximum=3600,
    )
    send_buffer_mb: float = setting(
        256.0,
        "MiB of large answers (each counted once, however many clients it goes to) the router "
        "may hold while slow clients take them; past it a new large answer is a 503",
        metavar="M",
        above=0,
    )
    upload_timeout: float = setting(
        10.0,
        "seconds a pass-through request body may pause, and its head start before "
        "--upload-min-rate applies; a slower client gets 408 (its first MiB is read before "
        "Orthanc is asked anything)",
        metavar="S",
        above=0,
        maximum=3600,
    )
    upload_min_rate: float = setting(
        16.0,
        "slowest a pass-through request body may arrive, in KiB/s averaged from its start",
        metavar="KIB",
        above=0,
    )
    quarantine_seconds: float = setting(
        60.0,
        "after renders of an instance killed or timed out two workers (a render and its retry), "
        "requests for it get the same answer at once for this long, without a render; 0 turns "
        "it off",
        metavar="S",
        minimum=0,
        maximum=86400,
    )
    max_queue: int = setting(
        1000, "renders that may wait for a worker; past that, 503", metavar="N", minimum=1
    )
    max_pixels: int = setting(
        100_000_000,
        "largest frame (rows x columns x samples) a worker will decode",
        metavar="N",
        minimum=1,
    )
    frame_cache_mb: float = setting(
        64.0,
        "decoded frames each render worker keeps, in MiB, so a re-render (window drag, zoom) "
        "costs no fetch and no decode (like the render cache, it may keep showing an instance "
        "deleted from Orthanc until evicted); 0 turns it off",
        metavar="M",
        minimum=0,
    )
    default_window: DefaultWindowSetting = setting(
        DefaultWindowSetting.ROUTE,
        "window when none is given or stored: route = as each route's Orthanc counterpart "
        "(orthanc for /wado, minmax for DICOMweb rendered and thumbnail and so the gallery); "
        "orthanc = width 2^BitsStored (or 2^bits of a Modality LUT's entries; as Orthanc's "
        "/wado) everywhere; minmax = the frame's range after the Modality LUT (as Orthanc's "
        "DICOMweb /rendered) everywhere",
    )
    allow_anonymize: bool = setting(
        False,
        "honour WADO-URI anonymize=yes: de-identify the file or what a render shows (PS3.15 "
        "Basic Profile, attribute by attribute); off, such a request is a 403",
    )
    anonymize_max_mb: float = setting(
        32.0,
        "largest object, in MiB, anonymize=yes de-identifies (it is parsed whole); larger "
        "ones are a 413",
        metavar="M",
        above=0,
    )
    anonymize_keeps_burned_in: bool = setting(
        False,
        "serve anonymize=yes images whose pixels may hold burned-in text (Burned In Annotation "
        "YES, or absent for US, SC, XA, ES, OT), which de-identification does not remove; off, "
        "they are a 403",
    )
    exact_thumbnails: bool = setting(
        False,
        "decode JPEG 2000 and JPEG frames in full for thumbnails too, so that a thumbnail is "
        "the area mean of the full render (slower)",
    )
    overlays: bool = setting(
        True,
        "burn overlay planes (60xx) into renders, as dcmtk and dcm4chee do; a request's "
        "overlays=true or false overrides it",
    )
    cache_control: str = setting(
        "private, max-age=3600", "Cache-Control header of rendered images", metavar="VALUE"
    )
    access_log: bool = setting(True, "log each request")
    log_level: str = setting("info", "log level", choices=("debug", "info", "warning", "error"))
    node_name: str = setting(
        "",
        "this node's name in the X-Wadofarm-Node header",
        metavar="NAME",
        default_text="hostname:port",
    )
    redis_url: str | None = setting(
        None,
        "share renders between nodes through this Redis, a second-level render cache, e.g. "
        "redis://127.0.0.1:6379/0 (needs `pip install 'wadofarm[redis]'`)",
        metavar="URL",
        schemes=("redis", "rediss", "unix"),
    )
    redis_ttl: float = setting(86400.0, "seconds a render stays in Redis", metavar="S", above=0)
    redis_timeout: float = setting(
        0.25,
        "seconds one Redis call may take before the request goes on without it",
        metavar="S",
        above=0,
        maximum=60,
    )
    log_format: str = setting(
        "combined",
        "access log lines: combined (as Apache and nginx) or one JSON object",
        choices=("combined", "json"),
    )
    thumbnail_size: int = setting(
        128,
        "the box, in pixels, a DICOMweb /thumbnail fits",
        metavar="N",
        minimum=1,
        maximum=4096,
    )
    proxy: bool = setting(True, "pass requests wadofarm does not serve through to Orthanc")
    public_url: str | None = setting(
        None,
        "the scheme and host[:port] clients reach wadofarm at, e.g. https://images.example: "
        "Orthanc writes the URLs in its answers with it (default: each request's Host and scheme)",
        metavar="URL",
        schemes=("http", "https"),
    )
    prewarm: bool = setting(
        False,
        "follow Orthanc's change feed and render each new stable series' thumbnails into the "
        "cache, in the background (needs --orthanc)",
    )
    cors_origins: tuple[str, ...] = setting(
        (),
        "let browser pages from ORIGIN (e.g. https://viewer.example) read responses; "
        "repeatable; * for any",
        flag="cors-origin",
        metavar="ORIGIN",
        separator=",",
    )
    auth: AuthMode = setting(
        AuthMode.AUTO,
        "access control: none; bearer = a token from --auth-tokens; forward = the client's "
        "Authorization header goes to Orthanc, whose users decide; auto = forward if Orthanc "
        "refuses anonymous requests (asked at start, or when it first answers), else none (see the "
        "security model)",
    )
    proxy_writes: bool = setting(
        False,
        "pass every request through, even from clients wadofarm does not know (--auth none or "
        "forward) to an Orthanc that answers anonymous requests; without it only what a viewer "
        "or Orthanc Explorer reads passes (see the security model)",
    )
    auth_tokens: Path | None = setting(
        None,
        "bearer tokens, one a line, re-read when the file changes",
        metavar="PATH",
    )
    auth_cache_seconds: float = setting(
        10.0,
        "how long Orthanc's yes to a credential for an instance is remembered (--auth forward)",
        metavar="S",
        minimum=0,
    )

    def __post_init__(self) -> None:
        for spec in SPECS:
            spec.check(getattr(self, spec.name))
        if self.orthanc_url and self.dicom_dirs:
            raise SettingError("dicom_dirs", show(self.dicom_dirs), "not with --orthanc")
        needs_orthanc = {"prewarm": self.prewarm, "auth": self.auth is AuthMode.FORWARD}
        for name, needs in needs_orthanc.items():
            if needs and not self.orthanc_url:
                value = show(getattr(self, name))
                raise SettingError(name, value, "needs --orthanc (it follows Orthanc)")
        if self.auth is AuthMode.BEARER and not self.auth_tokens:
            raise SettingError("auth", "bearer", "needs --auth-tokens PATH")
        if self.routers > self.workers:
            allowed = (
                f"at most as many routers as render workers (--workers {self.workers}), since "
                "each router drives its own share of the workers: give fewer routers or more "
                "workers"
            )
            raise SettingError("routers", self.routers, allowed)
        if self.public_url and self.public_url.partition("://")[2].strip("/").count("/"):
            # Orthanc's plugin takes a host from the request, never a path (its PublicRoot).
            allowed = "a scheme and host[:port] only, no path"
            raise SettingError("public_url", BY_NAME["public_url"].masked(self.public_url), allowed)

    @property
    def router_count(self) -> int:
        """How many routers serve the port: --routers, or for auto one per 4 CPUs."""
        if self.routers != AUTO:
            return self.routers
        return max(1, min(self.workers, _cpus() // CORES_PER_ROUTER))

    @property
    def node(self) -> str:
        """This node's name in X-Wadofarm-Node: which of the nodes behind nginx answered."""
        return self.node_name or f"{_hostname()}:{self.port}"


def show(value: object) -> str:
    """A value as a user would type it."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(show(v) for v in value)
    return "" if value is None else str(value)


def mask_url(url: str) -> str:
    """A URL with the secret part of its user-info masked: `http://user:***@host`, or
    `redis://***@host` for a user-info without a password (it may be a token)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:***" if colon and user else "***"
    return f"{scheme}://{shown}@{host}{slash}{path}"


@dataclass(frozen=True, slots=True)
class Spec:
    """One setting with everything known about it: its field, its type and its `Setting`."""

    name: str  # the Config field
    kind: type  # int, float, str, bool, Path or an Enum; a tuple's item type
    optional: bool  # None allowed
    many: bool  # a tuple
    default: Callable[[], object]
    setting: Setting

    @property
    def flag(self) -> str:
        return "--" + (self.setting.flag or self.name.replace("_", "-"))

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.flag[2:].replace("-", "_").upper()

    @property
    def choices(self) -> tuple[str, ...]:
        if issubclass(self.kind, enum.Enum):
            return tuple(str(m.value) for m in self.kind)
        return self.setting.choices

    def shown_default(self, *, readme: bool = False) -> str:
        if readme and self.setting.default_text:
            return self.setting.default_text
        return self.show(self.default()) or self.setting.default_text

    def show(self, value: object) -> str:
        """A value as a user would type it, by its word where it has one (routers 0: auto),
        with its secrets masked: fit to print or log."""
        for word, means in self.setting.words:
            if means() == value:
                return word
        return self.masked(show(value))

    def masked(self, text: str) -> str:
        """`text` as it may be printed or logged: a secret setting as ***, and the password
        (or a user-info without one, which may be a token) of a URL masked."""
        if self.setting.secret:
            return "***" if text else ""
        if not self.setting.schemes:
            return text
        return ",".join(mask_url(part) for part in text.split(",")) if self.many else mask_url(text)

    def allowed(self) -> str:
        """What this setting takes, in words."""
        s = self.setting
        if self.kind is bool:
            return "one of 1/0, true/false, yes/no, on/off"
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if s.schemes:
            return "a URL starting with " + " or ".join(f"{scheme}://" for scheme in s.schemes)
        if self.kind in (int, float):
            noun = "an integer" if self.kind is int else "a number"
            words = "".join(f" or {word}" for word, _ in s.words)
            if s.minimum is not None and s.maximum is not None:
                return f"{noun} from {s.minimum:g} to {s.maximum:g}{words}"
            low = f"> {s.above:g}" if s.above is not None else None
            low = low or (f">= {s.minimum:g}" if s.minimum is not None else None)
            high = f"<= {s.maximum:g}" if s.maximum is not None else None
            return " ".join([noun, " and ".join(b for b in (low, high) if b)]).strip()
        return ""

    def parse(self, text: str) -> object:
        """One value from a flag or a variable; SettingError if it is not of the right kind."""
        if self.kind not in (str, Path):
            text = text.strip()
        for word, value in self.setting.words:
            if text.lower() == word:
                return value()
        try:
            if self.kind is bool:
                if text.lower() in TRUE | FALSE:
                    return text.lower() in TRUE
                raise ValueError(text)
            if self.kind is int:
                return int(text)
            if self.kind is float:
                number = float(text)
                if not math.isfinite(number):
                    raise ValueError(text)
                return number
            if issubclass(self.kind, enum.Enum):
                return self.kind(text.lower())
            return typing.cast(Callable[[str], object], self.kind)(text)
        except ValueError:
            raise SettingError(self.name, text, self.allowed()) from None

    def check(self, value: object) -> None:
        """Raise SettingError unless `value` is allowed for this setting."""
        if value is None and self.optional:
            return
        for one in value if self.many and isinstance(value, tuple) else (value,):
            self._check_one(one)

    def _check_one(self, value: object) -> None:
        s = self.setting
        wrong = not isinstance(value, self.kind) or (self.kind is int and isinstance(value, bool))
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            wrong = False
        if not wrong and self.kind in (int, float):
            number = float(value)  # type: ignore[arg-type]
            wrong = (
                not math.isfinite(number)
                or (s.minimum is not None and number < s.minimum)
                or (s.above is not None and number <= s.above)
                or (s.maximum is not None and number > s.maximum)
            )
        if not wrong and self.choices and self.kind is str:
            wrong = value not in self.choices
        if not wrong and s.schemes:
            scheme, sep, rest = str(value).partition("://")
            wrong = not sep or not rest or scheme.lower() not in s.schemes
        if wrong:
            raise SettingError(self.name, self.masked(show(value)), self.allowed())


def _same(value: object) -> object:
    return value


def _specs() -> tuple[Spec, ...]:
    hints = typing.get_type_hints(Config)
    specs = []
    for f in fields(Config):
        hint = hints[f.name]
        args = typing.get_args(hint)
        optional = type(None) in args
        many = typing.get_origin(hint) is tuple
        kind = args[0] if (optional or many) else hint
        if f.default_factory is not MISSING:
            default: Callable[[], object] = f.default_factory
        else:
            default = functools.partial(_same, f.default)
        specs.append(Spec(f.name, kind, optional, many, default, f.metadata["setting"]))
    return tuple(specs)


SPECS = _specs()
BY_NAME = {spec.name: spec for spec in SPECS}
