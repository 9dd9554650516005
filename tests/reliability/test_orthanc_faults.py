"""A real Orthanc killed, restarted, frozen, unreachable or refusing wadofarm's credentials:
wadofarm answers 502/504 with a reason, keeps its cache and /healthz, comes back by itself, and
never shows Orthanc's password."""

from __future__ import annotations

import base64
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import corpus, procs
from tests.support.http import Reply, get
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm
from tests.support.tools import free_port

BIG = ("RG1_UNCI.dcm", "RG1_J2KR.dcm", "cat.dcm", "RG2_JPLL.dcm")  # 2-16 MB: slow to fetch
CT = "CT_small.dcm"
UPSTREAM_TIMEOUT = 1.5


def wado(name: str, **params: object) -> dict[str, object]:
    return {"requestType": "WADO", "objectUID": corpus.sample(name).object_uid, **params}


@pytest.fixture(scope="module")
def upstream(
    tmp_path_factory: pytest.TempPathFactory, catalogue: dict[str, Path]
) -> Iterator[Orthanc]:
    server = Orthanc(tmp_path_factory.mktemp("orthanc")).start()
    for name in (CT, *BIG):
        server.upload(catalogue[name])
    yield server
    if server.process is not None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, upstream: Orthanc) -> Iterator[Wadofarm]:
    server = Wadofarm(
        # No frame cache: every fresh render must go back to Orthanc for the file.
        [
            "--orthanc",
            upstream.url,
            "--workers",
            "2",
            "--frame-cache-mb",
            "0",
            "--upstream-timeout",
            str(UPSTREAM_TIMEOUT),
        ],
        tmp_path_factory.mktemp("front") / "wadofarm.log",
    ).start()
    yield server
    server.stop()


_sizes = iter(range(20, 4000))


def fresh(name: str = CT) -> dict[str, object]:
    """A size never asked before: not in the render cache, so Orthanc must be read."""
    return wado(name, rows=next(_sizes))


def test_orthanc_killed_in_flight_then_back_within_a_second(
    front: Wadofarm, upstream: Orthanc
) -> None:
    assert get(front.url + "/wado", params=wado(CT, rows=64)).status == 200  # now cached
    assert upstream.process is not None
    with ThreadPoolExecutor(8) as pool:
        started = time.monotonic()
        flights = [
            pool.submit(get, front.url + "/wado", params=fresh(BIG[i % len(BIG)]), timeout=30)
            for i in range(8)
        ]
        time.sleep(0.05)
        os.kill(upstream.process.pid, signal.SIGKILL)
        upstream.process.wait()
        replies = [f.result() for f in flights]
        elapsed = time.monotonic() - started
    assert {r.status for r in replies} <= {200, 502}, [(r.status, r.text) for r in replies]
    assert any(r.status == 502 for r in replies), "nothing was in flight when Orthanc died"
    assert elapsed < UPSTREAM_TIMEOUT + 5
    upstream.process = None

    down = get(front.url + "/wado", params=fresh())
    assert down.status == 502 and "unreachable" in down.text
    cached = get(front.url + "/wado", params=wado(CT, rows=64))
    assert cached.status == 200 and cached.headers["x-wadofarm-cache"] == "L1"
    assert get(front.url + "/healthz").status == 200

    # Orthanc returns on the same port; wadofarm must serve within a second of it answering.
    back_at: list[float] = []
    served_at: list[float] = []
    stop = threading.Event()

    def watch_orthanc() -> None:
        while not stop.is_set():
            try:
                if get(upstream.url + "/system", timeout=1).status == 200:
                    back_at.append(time.monotonic())
                    return
            except OSError:
                pass
            time.sleep(0.01)

    def watch_wadofarm() -> None:
        while not stop.is_set():
            if get(front.url + "/wado", params=fresh(), timeout=5).status == 200:
                served_at.append(time.monotonic())
                return
            time.sleep(0.01)

    watchers = [threading.Thread(target=watch_orthanc), threading.Thread(target=watch_wadofarm)]
    for w in watchers:
        w.start()
    try:
        upstream.start()
        deadline = time.monotonic() + 10
        while not (back_at and served_at) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        for w in watchers:
            w.join()
    assert back_at and served_at, "wadofarm did not serve again after Orthanc came back"
    recovery = served_at[0] - back_at[0]
    print(f"recovery after Orthanc answered again: {recovery * 1000:.0f} ms")
    assert recovery < 1.0
    assert front.process is not None and front.process.poll() is None  # never restarted


def test_frozen_orthanc_is_504_after_the_upstream_timeout(
    front: Wadofarm, upstream: Orthanc
) -> None:
    assert get(front.url + "/wado", params=fresh()).status == 200
    assert upstream.process is not None
    with procs.frozen(upstream.process.pid):  # accepts connections, never answers
        started = time.monotonic()
        reply = get(front.url + "/wado", params=fresh())
        elapsed = time.monotonic() - started
        assert reply.status == 504 and "did not answer within 1.5s" in reply.text
        assert UPSTREAM_TIMEOUT - 0.1 <= elapsed < UPSTREAM_TIMEOUT + 1.5
        health_started = time.monotonic()
        assert get(front.url + "/healthz").status == 200
        assert time.monotonic() - health_started < 0.5
    assert get(front.url + "/wado", params=fresh()).status == 200


def test_unreachable_orthanc_is_502(tmp_path: Path) -> None:
    server = Wadofarm(
        ["--orthanc", f"http://127.0.0.1:{free_port()}", "--workers", "1"], tmp_path / "w.log"
    ).start()
    try:
        reply = get(server.url + "/wado", params=wado(CT))
        assert reply.status == 502 and "unreachable" in reply.text
    finally:
        server.stop()


PASSWORD = "Rz8-wadofarm-s3cret"  # the right one
WRONG = "Wq4-not-the-s3cret"


@pytest.fixture(scope="module")
def locked(
    tmp_path_factory: pytest.TempPathFactory, catalogue: dict[str, Path]
) -> Iterator[Orthanc]:
    server = Orthanc(tmp_path_factory.mktemp("locked"), users={"wadofarm": PASSWORD}).start()
    server.upload(catalogue[CT])
    yield server
    if server.process is not None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


def secrets(password: str) -> list[str]:
    basic = base64.b64encode(f"wadofarm:{password}".encode()).decode()
    return [password, basic, basic.rstrip("=")]


def test_refused_credentials_are_502_and_said_in_the_log(tmp_path: Path, locked: Orthanc) -> None:
    log = tmp_path / "wadofarm.log"
    server = Wadofarm(
        # --auth none, asked for: these clients use wadofarm's credentials (the default would
        # be --auth forward in front of an Orthanc with users).
        [
            *("--orthanc", locked.url, "--orthanc-user", "wadofarm"),
            *("--log-level", "debug", "--auth", "none"),
        ],
        log,
        env={"WADOFARM_ORTHANC_PASSWORD": WRONG},
    ).start()
    try:
        reply = get(server.url + "/wado", params=wado(CT))
    finally:
        server.stop()
    assert reply.status == 502 and "refused the credentials (HTTP 401)" in reply.text
    text = log.read_text()
    assert "refused wadofarm's credentials (HTTP 401)" in text
    for secret in secrets(WRONG):
        assert secret not in text and secret not in reply.text


def test_the_password_never_shows_in_logs_or_error_bodies(tmp_path: Path, locked: Orthanc) -> None:
    """Credentials in the URL, debug logging, and every upstream failure: frozen, gone."""
    log = tmp_path / "wadofarm.log"
    url = locked.url.replace("http://", f"http://wadofarm:{PASSWORD}@")
    server = Wadofarm(
        [
            "--orthanc",
            url,
            "--log-level",
            "debug",
            "--upstream-timeout",
            "1",
            "--frame-cache-mb",
            "0",
            "--auth",
            "none",
        ],
        log,
    ).start()
    replies: list[Reply] = []
    try:
        replies.append(get(server.url + "/wado", params=fresh()))
        assert replies[-1].status == 200
        assert locked.process is not None
        with procs.frozen(locked.process.pid):
            replies.append(get(server.url + "/wado", params=fresh()))
        locked.stop()
        replies.append(get(server.url + "/wado", params=fresh()))
        replies.append(get(server.url + "/wado", params=wado(CT, rows="x")))
    finally:
        server.stop()
    assert [r.status for r in replies] == [200, 504, 502, 400]
    text = log.read_text()
    assert "serving from Orthanc at http://127.0.0.1" in text
    for secret in secrets(PASSWORD):
        assert secret not in text
        assert all(secret.encode() not in r.body for r in replies[1:])
        assert all(secret not in v for r in replies for v in r.headers.values())
