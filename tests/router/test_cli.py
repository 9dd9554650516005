"""`wadofarm serve` as a new user runs it: no flags serves pydicom's samples; env fallbacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from renderer.params import DefaultWindow
from router.app import SAMPLE_UID
from router.cli import build_parser, config_from_args
from tests.renderer.test_reduced import j2k
from tests.support.http import get
from tests.support.images import decode
from tests.support.server import Wadofarm


def test_no_flags_serves_the_bundled_samples(tmp_path: Path) -> None:
    server = Wadofarm(["--workers", "1"], tmp_path / "w.log").start()
    try:
        reply = get(server.url + "/wado", params={"requestType": "WADO", "objectUID": SAMPLE_UID})
        assert reply.status == 200 and decode(reply.body).shape == (128, 128)
        assert SAMPLE_UID in server.log_tail()  # the log shows a link to try
    finally:
        server.stop()


def test_flags_fall_back_to_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WADOFARM_PORT", "9999")
    monkeypatch.setenv("WADOFARM_WORKERS", "3")
    monkeypatch.setenv("WADOFARM_DEFAULT_WINDOW", "minmax")
    monkeypatch.setenv("WADOFARM_DICOM_DIR", "/a:/b")
    config = config_from_args(build_parser().parse_args(["serve", "--cache-mb", "12"]))
    assert (config.port, config.workers, config.cache_mb) == (9999, 3, 12)
    assert config.default_window is DefaultWindow.MINMAX
    assert config.dicom_dirs == (Path("/a"), Path("/b"))
    config = config_from_args(build_parser().parse_args(["serve", "--port", "1234"]))
    assert config.port == 1234


def test_farm_flags_fall_back_to_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WADOFARM_REDIS_URL", "redis://127.0.0.1:6380/1")
    monkeypatch.setenv("WADOFARM_REDIS_TTL", "600")
    monkeypatch.setenv("WADOFARM_NODE_NAME", "wadofarm-2")
    config = config_from_args(build_parser().parse_args(["serve", "--redis-timeout", "0.1"]))
    assert (config.redis_url, config.redis_ttl, config.redis_timeout) == (
        "redis://127.0.0.1:6380/1",
        600,
        0.1,
    )
    assert config.node == "wadofarm-2"
    monkeypatch.delenv("WADOFARM_NODE_NAME")
    monkeypatch.delenv("WADOFARM_REDIS_URL")
    config = config_from_args(build_parser().parse_args(["serve", "--port", "8081"]))
    assert config.redis_url is None and config.node.endswith(":8081")


def test_operations_flags_fall_back_to_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    defaults = config_from_args(build_parser().parse_args(["serve"]))
    assert (defaults.log_format, defaults.thumbnail_size, defaults.proxy) == ("combined", 128, True)
    assert defaults.prewarm is False and defaults.cors_origins == ()
    monkeypatch.setenv("WADOFARM_LOG_FORMAT", "json")
    monkeypatch.setenv("WADOFARM_THUMBNAIL_SIZE", "96")
    monkeypatch.setenv("WADOFARM_PROXY", "0")
    monkeypatch.setenv("WADOFARM_PREWARM", "1")
    monkeypatch.setenv("WADOFARM_CORS_ORIGIN", "http://a.example, http://b.example")
    config = config_from_args(build_parser().parse_args(["serve"]))
    assert (config.log_format, config.thumbnail_size) == ("json", 96)
    assert config.proxy is False and config.prewarm is True
    assert config.cors_origins == ("http://a.example", "http://b.example")
    flags = ["serve", "--cors-origin", "*", "--thumbnail-size", "64", "--log-format", "combined"]
    config = config_from_args(build_parser().parse_args(flags))
    assert (config.cors_origins, config.thumbnail_size, config.log_format) == (
        ("*",),
        64,
        "combined",
    )


def test_prewarm_needs_orthanc(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "router", "serve", "--prewarm", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode != 0 and "--prewarm" in done.stderr and "--orthanc" in done.stderr


def test_exact_thumbnails_reach_the_renderer(tmp_path: Path) -> None:
    """A JPEG 2000 thumbnail through HTTP under a narrow window: with --exact-thumbnails it is
    the full render shrunk (within a level); by default the reduced decode differs visibly."""
    data, values = j2k(12, True)
    (tmp_path / "dicom").mkdir()
    (tmp_path / "dicom" / "ramp.dcm").write_bytes(data)
    uid = str(pydicom.dcmread(tmp_path / "dicom" / "ramp.dcm").SOPInstanceUID)
    span = float(values.max()) - float(values.min())
    query = {
        "requestType": "WADO",
        "objectUID": uid,
        "contentType": "image/png",
        "windowCenter": f"{float(np.median(values)):g}",
        "windowWidth": f"{span / 8:g}",
    }
    worst = {}
    for exact in (True, False):
        flags = ["--workers", "1", "--dicom-dir", str(tmp_path / "dicom")]
        server = Wadofarm(flags + (["--exact-thumbnails"] if exact else []), tmp_path / "w.log")
        server.start()
        try:
            # The thumbnail first: once the full frame is decoded, the worker's frame cache
            # would make any later thumbnail from it.
            thumb = get(server.url + "/wado", params={**query, "rows": "32", "columns": "32"})
            assert thumb.status == 200
            full = decode(get(server.url + "/wado", params=query).body).astype(float)
            shrunk = full.reshape(32, 4, 32, 4).mean(axis=(1, 3))
            worst[exact] = float(np.abs(decode(thumb.body).astype(float) - shrunk).max())
        finally:
            server.stop()
    assert worst[True] <= 1 < worst[False]
