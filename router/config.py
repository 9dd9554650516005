"""Every setting in one place. Built by router.cli from flags with environment fallbacks."""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from renderer.params import DefaultWindow
from router.auth import AuthMode

_hostname = functools.cache(socket.gethostname)  # asked once, not on every response


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    orthanc_url: str | None = None
    orthanc_user: str | None = None
    orthanc_password: str | None = field(default=None, repr=False)
    dicom_dirs: tuple[Path, ...] = ()
    workers: int = field(default_factory=_cpus)
    cache_mb: float = 256
    upstream_timeout: float = 10.0
    render_timeout: float = 30.0
    max_queue: int = 1000
    max_pixels: int = 100_000_000
    frame_cache_mb: float = 64
    default_window: DefaultWindow = DefaultWindow.ORTHANC
    exact_thumbnails: bool = False  # decode compressed frames in full for thumbnails too
    cache_control: str = "private, max-age=3600"
    access_log: bool = True
    log_level: str = "info"
    node_name: str = ""  # empty: hostname:port (see `node`)
    redis_url: str | None = None  # the shared L2 render cache; None: L1 only
    redis_ttl: float = 86400.0
    redis_timeout: float = 0.25
    log_format: str = "combined"  # access log: "combined" (Apache/nginx) or "json"
    thumbnail_size: int = 128  # the box of a DICOMweb /thumbnail without a viewport
    proxy: bool = True  # pass every request wadofarm does not serve through to Orthanc
    prewarm: bool = False  # follow Orthanc's change feed, render new series' thumbnails
    cors_origins: tuple[str, ...] = ()  # origins allowed by CORS; "*" for any
    auth: AuthMode = AuthMode.NONE
    auth_tokens: Path | None = None
    auth_cache_seconds: float = 10.0

    @property
    def node(self) -> str:
        """This node's name in X-Wadofarm-Node: which of the nodes behind nginx answered."""
        return self.node_name or f"{_hostname()}:{self.port}"
