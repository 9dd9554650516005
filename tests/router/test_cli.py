"""`wadofarm serve` as a new user runs it: no flags serves pydicom's samples; env fallbacks;
every bad value refused at start with exit status 2 and one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from router.app import SAMPLE_UID
from router.cli import build_parser, config_from_args
from router.config import Config, DefaultWindowSetting, SettingError
from tests.renderer.test_reduced import j2k
from tests.support import overlays, synthetic
from tests.support.http import get
from tests.support.images import decode
from tests.support.server import REPO, Wadofarm


def readme_example() -> str:
    """The README's first example link, as path and query."""
    found = re.search(r"<http://127\.0\.0\.1:8080(/wado\?[^>]+)>", (REPO / "README.md").read_text())
    assert found is not None, "the README has no /wado example link"
    return found.group(1)


def test_no_flags_serves_the_bundled_samples(tmp_path: Path) -> None:
    """A bare `wadofarm serve`: the README's example link (the one the log prints) shows an
    image that looks like one: levels spread over most of the range, not a near-black CT."""
    link = readme_example()
    assert SAMPLE_UID in link
    server = Wadofarm(["--workers", "1"], tmp_path / "w.log").start()
    try:
        reply = get(server.url + link)
        assert reply.status == 200, reply.text
        image = decode(reply.body)
        assert image.shape == (256, 256)
        low, high = np.percentile(image, [5, 95])
        assert image.max() >= 250 and high - low >= 128, (image.max(), low, high)
        assert 30 <= image.mean() <= 200
        assert link in server.log_tail()  # the log shows the same link
    finally:
        server.stop()


def _config(argv: list[str], environ: dict[str, str] | None = None) -> Config:
    return config_from_args(build_parser().parse_args(["serve", *argv]), environ or {})


def test_flags_fall_back_to_the_environment() -> None:
    env = {
        "WADOFARM_PORT": "9999",
        "WADOFARM_WORKERS": "3",
        "WADOFARM_DEFAULT_WINDOW": "minmax",
        "WADOFARM_DICOM_DIR": "/a:/b",
    }
    config = _config(["--cache-mb", "12"], env)
    assert (config.port, config.workers, config.cache_mb) == (9999, 3, 12)
    assert config.default_window is DefaultWindowSetting.MINMAX
    assert config.dicom_dirs == (Path("/a"), Path("/b"))
    assert _config(["--port", "1234"], env).port == 1234


def test_farm_flags_fall_back_to_the_environment() -> None:
    env = {
        "WADOFARM_REDIS_URL": "redis://127.0.0.1:6380/1",
        "WADOFARM_REDIS_TTL": "600",
        "WADOFARM_NODE_NAME": "wadofarm-2",
    }
    config = _config(["--redis-timeout", "0.1"], env)
    assert (config.redis_url, config.redis_ttl, config.redis_timeout) == (
        "redis://127.0.0.1:6380/1",
        600,
        0.1,
    )
    assert config.node == "wadofarm-2"
    config = _config(["--port", "8081"])
    assert config.redis_url is None and config.node.endswith(":8081")


def test_operations_flags_fall_back_to_the_environment() -> None:
    defaults = _config([])
    assert (defaults.log_format, defaults.thumbnail_size, defaults.proxy) == ("combined", 128, True)
    assert defaults.prewarm is False and defaults.cors_origins == ()
    env = {
        "WADOFARM_LOG_FORMAT": "json",
        "WADOFARM_THUMBNAIL_SIZE": "96",
        "WADOFARM_PROXY": "0",
        "WADOFARM_PREWARM": "1",
        "WADOFARM_ORTHANC": "http://127.0.0.1:8042",
        "WADOFARM_CORS_ORIGIN": "http://a.example, http://b.example",
    }
    config = _config([], env)
    assert (config.log_format, config.thumbnail_size) == ("json", 96)
    assert config.proxy is False and config.prewarm is True
    assert config.cors_origins == ("http://a.example", "http://b.example")
    flags = ["--cors-origin", "*", "--thumbnail-size", "64", "--log-format", "combined"]
    config = _config(flags, env)
    assert (config.cors_origins, config.thumbnail_size, config.log_format) == (
        ("*",),
        64,
        "combined",
    )


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`wadofarm serve ARGV` as a real process, with only `env` of the WADOFARM_* variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WADOFARM_")}
    return subprocess.run(
        [sys.executable, "-m", "router", "serve", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
        env={**environ, "COLUMNS": "1000", **(env or {})},
    )


def _checked(argv: list[str], env: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """What `serve --check-config` says: setting -> (value, where it came from)."""
    done = _run(["--check-config", *argv], env)
    assert done.returncode == 0, done.stderr
    settings = {}
    for line in done.stdout.splitlines():
        name, _, rest = line.partition("=")
        value, _, source = rest.rpartition(" (")
        settings[name] = (value, source.rstrip(")"))
    return settings


def test_a_bad_variable_does_not_break_help() -> None:
    done = _run(["--help"], {"WADOFARM_PORT": "abc", "WADOFARM_WORKERS": "-1"})
    assert done.returncode == 0 and done.stderr == ""
    assert "WADOFARM_PORT; default: 8080" in done.stdout
    assert "WADOFARM_RENDER_TIMEOUT; default: 30" in done.stdout  # shown from the value


@pytest.mark.parametrize(
    ("argv", "env", "line"),
    [
        ([], {"WADOFARM_PORT": "abc"}, "WADOFARM_PORT='abc' is not allowed: an integer from 0"),
        (["--workers", "0"], {}, "--workers='0' is not allowed: an integer from 1 to 256"),
        (["--cache-mb", "-5"], {}, "--cache-mb='-5' is not allowed: a number >= 0"),
        ([], {"WADOFARM_RENDER_TIMEOUT": "0"}, "WADOFARM_RENDER_TIMEOUT='0' is not allowed: a n"),
        ([], {"WADOFARM_UPSTREAM_TIMEOUT": "nan"}, "WADOFARM_UPSTREAM_TIMEOUT='nan' is not allo"),
        ([], {"WADOFARM_PROXY": "maybe"}, "WADOFARM_PROXY='maybe' is not allowed: one of 1/0, t"),
        (["--default-window", "auto"], {}, "--default-window='auto' is not allowed: one of route"),
        (["--thumbnail-size", "5000"], {}, "--thumbnail-size='5000' is not allowed: an integer"),
        ([], {"WADOFARM_ORTHANC": "127.0.0.1:8042"}, "WADOFARM_ORTHANC='127.0.0.1:8042' is not"),
        ([], {"WADOFARM_PREWARM": "yes"}, "WADOFARM_PREWARM='on' is not allowed: needs --orthanc"),
        (["--auth", "bearer"], {}, "--auth='bearer' is not allowed: needs --auth-tokens PATH"),
        (["--dicom-dir", "/no/such/folder"], {}, "--dicom-dir='/no/such/folder' is not allowed"),
    ],
    ids=lambda v: (
        ""
        if isinstance(v, str)
        else " ".join([*v, *[f"{k}={x}" for k, x in v.items()]])
        if isinstance(v, dict)
        else " ".join(v)
    ),
)
def test_a_bad_value_exits_2_with_one_line(argv: list[str], env: dict[str, str], line: str) -> None:
    done = _run([*argv, "--check-config"], env)
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith("wadofarm: " + line), done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""


def test_every_boolean_spelling() -> None:
    spellings = {True: ["1", "true", "TRUE", "yes", "Yes", "on", "ON"]}
    spellings[False] = ["0", "false", "False", "no", "NO", "off", "Off"]
    names = ("EXACT_THUMBNAILS", "ACCESS_LOG", "PROXY")
    for truth, words in spellings.items():
        for start in range(0, len(words), len(names)):
            chosen = dict(zip(names, words[start:] + words[:start], strict=False))
            settings = _checked([], {f"WADOFARM_{n}": word for n, word in chosen.items()})
            for name, word in chosen.items():
                expected = ("on" if truth else "off", f"WADOFARM_{name}")
                assert settings[name.lower()] == expected, word
    # the flags, both ways, beat the variables
    settings = _checked(["--no-proxy", "--exact-thumbnails"], {"WADOFARM_PROXY": "1"})
    assert settings["proxy"] == ("off", "--proxy") and settings["exact_thumbnails"][0] == "on"


def test_an_empty_variable_is_unset() -> None:
    env = {"WADOFARM_RENDER_TIMEOUT": "", "WADOFARM_PORT": " ", "WADOFARM_PROXY": ""}
    settings = _checked([], env)
    assert settings["render_timeout"] == ("30", "default")
    assert settings["port"] == ("8080", "default") and settings["proxy"] == ("on", "default")


def test_a_config_built_in_code_is_checked() -> None:
    with pytest.raises(SettingError, match="workers='0' is not allowed"):
        Config(workers=0)
    with pytest.raises(SettingError, match="render_timeout='0' is not allowed"):
        Config(render_timeout=0)
    with pytest.raises(SettingError, match="needs --orthanc"):
        Config(prewarm=True)
    assert Config(cache_mb=0).cache_mb == 0


def test_prewarm_needs_orthanc() -> None:
    done = _run(["--prewarm", "--port", "1"])
    assert done.returncode == 2 and "--prewarm" in done.stderr and "--orthanc" in done.stderr


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


def test_no_overlays_reaches_the_renderer(tmp_path: Path) -> None:
    """--no-overlays renders the bare image of a file with an overlay plane; a request's
    overlays=true still draws it (white where the plane's bits are set)."""
    bits = overlays.shapes(synthetic.ROWS, synthetic.COLUMNS)
    (tmp_path / "dicom").mkdir()
    path = synthetic.write(
        tmp_path / "dicom" / "overlay.dcm",
        synthetic.one(synthetic.ramp(0, 200)),
        bits_allocated=8,
        bits_stored=8,
        elements=overlays.plane(0x6000, bits),
    )
    query = {
        "requestType": "WADO",
        "objectUID": str(pydicom.dcmread(path).SOPInstanceUID),
        "contentType": "image/png",
    }
    flags = ["--workers", "1", "--dicom-dir", str(tmp_path / "dicom"), "--no-overlays"]
    server = Wadofarm(flags, tmp_path / "w.log").start()
    try:
        bare = decode(get(server.url + "/wado", params=query).body)
        drawn = decode(get(server.url + "/wado", params={**query, "overlays": "true"}).body)
    finally:
        server.stop()
    assert not (bare[bits] == 255).all()
    assert (drawn[bits] == 255).all()
