"""Operations: /metrics counters move by the right amounts after known requests, /healthz and
/readyz, the access log in both formats, CORS, and --no-proxy."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import corpus, procs
from tests.support.http import get, request
from tests.support.server import Wadofarm

CT = "CT_small.dcm"
ORIGIN = "http://viewer.example"


def scrape(server: Wadofarm) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = get(server.url + "/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=")
    values = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def delta(before: dict, after: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory: pytest.TempPathFactory, orthanc) -> Iterator[Wadofarm]:  # type: ignore[no-untyped-def]
    """One worker (so a killed worker is the one that serves), JSON access log, no proxy."""
    log = tmp_path_factory.mktemp("wadofarm-ops") / "wadofarm.log"
    args = ["--orthanc", orthanc.url, "--workers", "1", "--log-format", "json", "--no-proxy"]
    server = Wadofarm(args, log).start()
    yield server
    server.stop()


def _wado(name: str, **params: object) -> dict[str, object]:
    return {"requestType": "WADO", "objectUID": corpus.sample(name).object_uid, **params}


def test_counters_move_by_the_right_amounts(ops_server) -> None:  # type: ignore[no-untyped-def]
    before = scrape(ops_server)
    for rows in (41, 42, 43):
        assert get(ops_server.url + "/wado", params=_wado(CT, rows=rows)).status == 200
    middle = scrape(ops_server)
    for rows in (41, 42, 43):
        assert get(ops_server.url + "/wado", params=_wado(CT, rows=rows)).status == 200
    assert get(ops_server.url + "/wado", params=_wado(CT, rows=41, frameNumber=2)).status == 400
    assert (
        get(ops_server.url + "/wado", params={"requestType": "WADO", "objectUID": "1.2.3"}).status
        == 404
    )
    after = scrape(ops_server)

    wado = {"route": "/wado", "method": "GET"}
    assert delta(before, middle, "wadofarm_http_requests_total", **wado, status="200") == 3
    assert delta(before, after, "wadofarm_http_requests_total", **wado, status="200") == 6
    assert delta(before, after, "wadofarm_http_requests_total", **wado, status="400") == 1
    assert delta(before, after, "wadofarm_http_requests_total", **wado, status="404") == 1
    assert delta(before, after, "wadofarm_http_request_duration_seconds_count", route="/wado") == 8
    # Three new renders, then three hits; the 400 is a miss whose render fails in the worker.
    assert delta(before, middle, "wadofarm_cache_misses_total") == 3
    assert delta(before, middle, "wadofarm_renders_total") == 3
    assert delta(middle, after, "wadofarm_cache_hits_total") == 3
    assert delta(middle, after, "wadofarm_cache_misses_total") == 1
    assert delta(middle, after, "wadofarm_renders_total") == 1
    entries = after[("wadofarm_cache_entries", ())]
    assert entries >= 3 and after[("wadofarm_cache_bytes", ())] > 0
    # Upstream: one lookup of CT (cached after), one for the unknown UID. The workers fetch the
    # files from Orthanc themselves: those round trips are not the router's to count.
    assert (
        delta(before, after, "wadofarm_upstream_request_duration_seconds_count", operation="find")
        == 2
    )
    assert after[("wadofarm_render_queue_depth", ())] == 0
    assert after[("wadofarm_render_workers_alive", ())] == 1


def _worker_pids(server: Wadofarm) -> list[int]:
    assert server.process is not None
    return procs.workers(server.process.pid)


def test_worker_restart_is_counted(ops_server) -> None:  # type: ignore[no-untyped-def]
    before = scrape(ops_server)
    (worker,) = _worker_pids(ops_server)
    os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    reply = get(ops_server.url + "/wado", params=_wado(CT, rows=29))
    assert reply.status == 200, reply.text
    after = scrape(ops_server)
    assert delta(before, after, "wadofarm_render_worker_restarts_total") == 1
    assert _worker_pids(ops_server) != [worker]


def test_health_and_readiness(ops_server) -> None:  # type: ignore[no-untyped-def]
    assert get(ops_server.url + "/healthz").text == "ok\n"
    ready = get(ops_server.url + "/readyz")
    assert ready.status == 200 and ready.text == "ready\n"


def test_no_proxy_leaves_orthanc_alone(ops_server) -> None:  # type: ignore[no-untyped-def]
    assert get(ops_server.url + "/system").status == 404
    before = scrape(ops_server)
    get(ops_server.url + "/system")
    after = scrape(ops_server)
    labels = {"route": "unmatched", "method": "GET", "status": "404"}
    assert delta(before, after, "wadofarm_http_requests_total", **labels) == 1


def _log_lines(server: Wadofarm) -> list[str]:
    return server.log.read_text(errors="replace").splitlines()


def test_json_access_log(ops_server) -> None:  # type: ignore[no-untyped-def]
    agent = f"wadofarm-test-{uuid.uuid4().hex}"
    get(
        ops_server.url + "/wado",
        params=_wado(CT, rows=41),
        headers={"User-Agent": agent, "Referer": "http://r.example/"},
    )
    deadline = time.monotonic() + 5
    record = None
    while record is None and time.monotonic() < deadline:
        for line in _log_lines(ops_server):
            if agent in line:
                record = json.loads(line)
        time.sleep(0.05)
    assert record is not None
    assert record["method"] == "GET" and record["path"] == "/wado" and record["status"] == 200
    assert "objectUID=" in record["query"] and record["referer"] == "http://r.example/"
    assert record["cache"] == "L1" and record["bytes"] > 0 and record["duration_ms"] >= 0
    assert record["remote"] == "127.0.0.1"


COMBINED = re.compile(
    r"^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "
    r'"GET /healthz\?probe=(\w+) HTTP/1\.1" 200 3 "-" "(.+)"$'
)


def test_combined_access_log(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    probe = uuid.uuid4().hex
    agent = 'agent "quoted"'
    get(wadofarm_folder.url + "/healthz", params={"probe": probe}, headers={"User-Agent": agent})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        matches = [COMBINED.match(line) for line in _log_lines(wadofarm_folder) if probe in line]
        if matches:
            break
        time.sleep(0.05)
    assert len(matches) == 1 and matches[0] is not None, matches
    assert matches[0].group(1) == probe
    assert matches[0].group(2) == 'agent \\"quoted\\"'


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory: pytest.TempPathFactory, orthanc) -> Iterator[Wadofarm]:  # type: ignore[no-untyped-def]
    log = tmp_path_factory.mktemp("wadofarm-cors") / "wadofarm.log"
    args = ["--orthanc", orthanc.url, "--workers", "1", "--cors-origin", ORIGIN]
    server = Wadofarm(args, log).start()
    yield server
    server.stop()


def _thumbnail(name: str) -> str:
    s = corpus.sample(name)
    return (
        f"/dicom-web/studies/{s.study_uid}/series/{s.series_uid}/instances/{s.object_uid}/thumbnail"
    )


def test_cors_preflight(cors_server) -> None:  # type: ignore[no-untyped-def]
    asked = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, if-none-match",
    }
    reply = request("OPTIONS", cors_server.url + _thumbnail(CT), headers=asked)
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    assert "GET" in reply.headers["access-control-allow-methods"]
    assert reply.headers["access-control-allow-headers"] == "authorization, if-none-match"
    other = request(
        "OPTIONS",
        cors_server.url + _thumbnail(CT),
        headers={**asked, "Origin": "http://evil.example"},
    )
    assert other.status == 403 and "access-control-allow-origin" not in other.headers


def test_cors_marks_images_errors_and_proxied_answers(cors_server) -> None:  # type: ignore[no-untyped-def]
    for path, status in (
        (_thumbnail(CT), 200),
        ("/dicom-web/studies/1.2.3/thumbnail", 404),
        ("/system", 200),
    ):
        reply = get(cors_server.url + path, headers={"Origin": ORIGIN})
        assert reply.status == status, path
        assert reply.headers["access-control-allow-origin"] == ORIGIN, path
        assert "ETag" in reply.headers["access-control-expose-headers"]
        assert "Origin" in reply.headers["vary"]
    plain = get(cors_server.url + _thumbnail(CT))
    assert "access-control-allow-origin" not in plain.headers
    foreign = get(cors_server.url + _thumbnail(CT), headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers


def test_no_cors_by_default(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    reply = get(wadofarm_folder.url + _thumbnail(CT), headers={"Origin": ORIGIN})
    assert reply.status == 200 and "access-control-allow-origin" not in reply.headers


def _upstream_calls(values: dict) -> float:  # type: ignore[type-arg]
    return sum(
        v
        for (name, _), v in values.items()
        if name == "wadofarm_upstream_request_duration_seconds_count"
    )


def test_a_repeated_series_thumbnail_asks_orthanc_nothing(ops_server) -> None:  # type: ignore[no-untyped-def]
    s = corpus.sample("MR_small_RLE.dcm")
    url = f"{ops_server.url}/dicom-web/studies/{s.study_uid}/series/{s.series_uid}/thumbnail"
    before = scrape(ops_server)
    assert get(url).status == 200
    middle = scrape(ops_server)
    again = get(url)
    after = scrape(ops_server)
    assert again.status == 200 and again.headers["x-wadofarm-cache"] == "L1"
    assert _upstream_calls(middle) > _upstream_calls(before)  # the listing, the lookup
    assert _upstream_calls(after) == _upstream_calls(middle)  # the choice is remembered
