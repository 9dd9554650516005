"""`wadofarm serve`: flags, each with a WADOFARM_* environment fallback, onto one Config."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop
from aiohttp import web

from renderer.params import DefaultWindow
from router.access_log import FORMATS, access_logger
from router.app import create_app
from router.auth import AuthMode
from router.config import Config


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"WADOFARM_{name}", default)


def _split(value: str | None, separator: str) -> list[str]:
    return [part.strip() for part in (value or "").split(separator) if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    defaults = Config()
    parser = argparse.ArgumentParser(prog="wadofarm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve WADO-URI renders",
        description="Serve /wado from Orthanc (--orthanc), a folder (--dicom-dir), or, with "
        "neither, from the sample files bundled with pydicom. Every flag falls back to the "
        "environment variable named in its help.",
    )
    add = serve.add_argument
    add("--host", default=_env("HOST", defaults.host), help="WADOFARM_HOST (127.0.0.1)")
    add(
        "--port",
        type=int,
        default=int(_env("PORT", str(defaults.port)) or 0),
        help="WADOFARM_PORT (8080)",
    )
    source = serve.add_mutually_exclusive_group()
    source.add_argument(
        "--orthanc",
        default=_env("ORTHANC"),
        metavar="URL",
        help="Orthanc's REST root, e.g. http://127.0.0.1:8042 (WADOFARM_ORTHANC)",
    )
    source.add_argument(
        "--dicom-dir",
        type=Path,
        action="append",
        metavar="PATH",
        help="a folder of DICOM files, scanned at start; repeatable "
        "(WADOFARM_DICOM_DIR, several joined by ':')",
    )
    add("--orthanc-user", default=_env("ORTHANC_USER"), help="WADOFARM_ORTHANC_USER")
    add(
        "--orthanc-password",
        default=_env("ORTHANC_PASSWORD"),
        help="WADOFARM_ORTHANC_PASSWORD (prefer the variable: flags show in `ps`)",
    )
    add(
        "--workers",
        type=int,
        default=int(_env("WORKERS", str(defaults.workers)) or 1),
        help="render worker processes (WADOFARM_WORKERS; default: the number of CPUs)",
    )
    add(
        "--cache-mb",
        type=float,
        default=float(_env("CACHE_MB", str(defaults.cache_mb)) or 0),
        help="render cache size in MiB (WADOFARM_CACHE_MB; 256)",
    )
    add(
        "--upstream-timeout",
        type=float,
        default=float(_env("UPSTREAM_TIMEOUT", str(defaults.upstream_timeout)) or 0),
        help="seconds to wait for Orthanc (WADOFARM_UPSTREAM_TIMEOUT; 10)",
    )
    add(
        "--render-timeout",
        type=float,
        default=float(_env("RENDER_TIMEOUT", str(defaults.render_timeout)) or 0),
        help="seconds one render may take before its worker is recycled "
        "(WADOFARM_RENDER_TIMEOUT; 30)",
    )
    add(
        "--max-queue",
        type=int,
        default=int(_env("MAX_QUEUE", str(defaults.max_queue)) or 0),
        help="renders that may wait for a worker; past that, 503 (WADOFARM_MAX_QUEUE; 1000)",
    )
    add(
        "--max-pixels",
        type=int,
        default=int(_env("MAX_PIXELS", str(defaults.max_pixels)) or 0),
        help="largest frame (rows x columns x samples) a worker will decode "
        "(WADOFARM_MAX_PIXELS; 100000000)",
    )
    add(
        "--frame-cache-mb",
        type=float,
        default=float(_env("FRAME_CACHE_MB", str(defaults.frame_cache_mb)) or 0),
        help="decoded frames each render worker keeps for re-renders such as a window drag, "
        "in MiB; 0 turns it off (WADOFARM_FRAME_CACHE_MB; 64)",
    )
    add(
        "--default-window",
        choices=[m.value for m in DefaultWindow],
        default=_env("DEFAULT_WINDOW", defaults.default_window.value),
        help="window when neither request nor file has one: orthanc = width 2^BitsStored "
        "(Orthanc's /wado), minmax = the frame's range (WADOFARM_DEFAULT_WINDOW; orthanc)",
    )
    add(
        "--exact-thumbnails",
        action="store_true",
        default=_env("EXACT_THUMBNAILS", "0") in ("1", "true", "yes"),
        help="decode JPEG 2000 and JPEG frames in full for thumbnails too, so that a thumbnail "
        "is the area mean of the full render (slower; WADOFARM_EXACT_THUMBNAILS=1)",
    )
    add(
        "--cache-control",
        default=_env("CACHE_CONTROL", defaults.cache_control),
        help="Cache-Control header of rendered images (WADOFARM_CACHE_CONTROL)",
    )
    add(
        "--no-access-log",
        action="store_true",
        default=_env("ACCESS_LOG", "1") in ("0", "false", "no"),
        help="do not log each request (WADOFARM_ACCESS_LOG=0)",
    )
    add(
        "--node-name",
        default=_env("NODE_NAME", defaults.node_name),
        help="this node's name in the X-Wadofarm-Node header (WADOFARM_NODE_NAME; hostname:port)",
    )
    add(
        "--redis-url",
        default=_env("REDIS_URL"),
        metavar="URL",
        help="a Redis shared by the nodes as a second-level render cache, e.g. "
        "redis://127.0.0.1:6379/0; needs the `redis` extra (WADOFARM_REDIS_URL)",
    )
    add(
        "--redis-ttl",
        type=float,
        default=float(_env("REDIS_TTL", str(defaults.redis_ttl)) or 0),
        help="seconds a render stays in Redis (WADOFARM_REDIS_TTL; 86400)",
    )
    add(
        "--redis-timeout",
        type=float,
        default=float(_env("REDIS_TIMEOUT", str(defaults.redis_timeout)) or 0),
        help="seconds one Redis call may take before the request goes on without it "
        "(WADOFARM_REDIS_TIMEOUT; 0.25)",
    )
    add(
        "--log-format",
        choices=["combined", "json"],
        default=_env("LOG_FORMAT", defaults.log_format),
        help="access log lines: combined (as Apache and nginx) or one JSON object "
        "(WADOFARM_LOG_FORMAT; combined)",
    )
    add(
        "--thumbnail-size",
        type=int,
        default=int(_env("THUMBNAIL_SIZE", str(defaults.thumbnail_size)) or 0),
        help="the box, in pixels, a DICOMweb /thumbnail fits (WADOFARM_THUMBNAIL_SIZE; 128)",
    )
    add(
        "--no-proxy",
        action="store_true",
        default=_env("PROXY", "1") in ("0", "false", "no"),
        help="do not pass requests wadofarm does not serve through to Orthanc (WADOFARM_PROXY=0)",
    )
    add(
        "--prewarm",
        action="store_true",
        default=_env("PREWARM", "0") in ("1", "true", "yes"),
        help="follow Orthanc's change feed and render each new stable series' thumbnails "
        "into the cache, in the background (WADOFARM_PREWARM=1)",
    )
    add(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="let browser pages from ORIGIN (e.g. https://viewer.example) read responses; "
        "repeatable; * for any (WADOFARM_CORS_ORIGIN, several joined by ',')",
    )
    add(
        "--log-level",
        default=_env("LOG_LEVEL", defaults.log_level),
        choices=["debug", "info", "warning", "error"],
        help="WADOFARM_LOG_LEVEL (info)",
    )
    add(
        "--auth",
        choices=[m.value for m in AuthMode],
        default=_env("AUTH", defaults.auth.value),
        help="access control: none; bearer = a token from --auth-tokens; forward = the "
        "client's Authorization header goes to Orthanc, whose users decide (WADOFARM_AUTH; none)",
    )
    add(
        "--auth-tokens",
        type=Path,
        default=_env("AUTH_TOKENS"),
        metavar="PATH",
        help="bearer tokens, one a line, re-read when the file changes (WADOFARM_AUTH_TOKENS)",
    )
    add(
        "--auth-cache-seconds",
        type=float,
        default=float(_env("AUTH_CACHE_SECONDS", str(defaults.auth_cache_seconds)) or 0),
        help="how long Orthanc's yes to a credential for an instance is remembered "
        "(--auth forward; WADOFARM_AUTH_CACHE_SECONDS; 10)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    dirs = args.dicom_dir
    if not dirs and not args.orthanc and _env("DICOM_DIR"):
        dirs = [Path(p) for p in (_env("DICOM_DIR") or "").split(":") if p]
    return Config(
        host=args.host,
        port=args.port,
        orthanc_url=args.orthanc,
        orthanc_user=args.orthanc_user,
        orthanc_password=args.orthanc_password,
        dicom_dirs=tuple(dirs or ()),
        workers=args.workers,
        cache_mb=args.cache_mb,
        upstream_timeout=args.upstream_timeout,
        render_timeout=args.render_timeout,
        max_queue=args.max_queue,
        max_pixels=args.max_pixels,
        frame_cache_mb=args.frame_cache_mb,
        default_window=DefaultWindow(args.default_window),
        exact_thumbnails=args.exact_thumbnails,
        cache_control=args.cache_control,
        access_log=not args.no_access_log,
        log_level=args.log_level,
        node_name=args.node_name,
        redis_url=args.redis_url or None,
        redis_ttl=args.redis_ttl,
        redis_timeout=args.redis_timeout,
        log_format=args.log_format,
        thumbnail_size=args.thumbnail_size,
        proxy=not args.no_proxy,
        prewarm=args.prewarm,
        cors_origins=tuple(args.cors_origin or _split(_env("CORS_ORIGIN"), ",")),
        auth=AuthMode(args.auth),
        auth_tokens=Path(args.auth_tokens) if args.auth_tokens else None,
        auth_cache_seconds=args.auth_cache_seconds,
    )


def serve(config: Config) -> None:
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if config.prewarm and not config.orthanc_url:
        sys.exit("wadofarm: --prewarm follows Orthanc's change feed: it needs --orthanc")
    if not 1 <= config.thumbnail_size <= 4096:
        sys.exit("wadofarm: --thumbnail-size must be between 1 and 4096")
    for folder in config.dicom_dirs:
        if not folder.is_dir():
            sys.exit(f"wadofarm: --dicom-dir {folder} is not a folder")
    if config.redis_url and importlib.util.find_spec("redis") is None:
        sys.exit("wadofarm: --redis-url needs the redis package: pip install 'wadofarm[redis]'")
    if config.auth is AuthMode.BEARER and not config.auth_tokens:
        sys.exit("wadofarm: --auth bearer needs --auth-tokens PATH")
    if config.auth_tokens and not os.access(config.auth_tokens, os.R_OK):
        sys.exit(f"wadofarm: --auth-tokens {config.auth_tokens} is not a readable file")
    if config.auth is AuthMode.FORWARD and not config.orthanc_url:
        sys.exit("wadofarm: --auth forward needs --orthanc (Orthanc's users decide)")
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        loop=uvloop.new_event_loop(),
        access_log=access_logger() if config.access_log else None,
        access_log_class=FORMATS[config.log_format],
        print=lambda *a: logging.getLogger("wadofarm").info(
            "serving on http://%s:%d/ (gallery), /wado and /dicom-web", config.host, config.port
        ),
        shutdown_timeout=15.0,
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        serve(config_from_args(args))


if __name__ == "__main__":
    main()
