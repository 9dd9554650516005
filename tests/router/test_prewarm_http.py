"""--prewarm: a series stored in Orthanc becomes stable, and its thumbnails are in the cache
before anyone asks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.router.test_operations_http import scrape
from tests.support.http import get, request
from tests.support.series import write_series
from tests.support.server import Wadofarm

STABLE_WAIT = 90.0  # seconds: StableAge is 2 s, but a fresh Orthanc's own series go first


@pytest.fixture(scope="module")
def prewarm_server(tmp_path_factory: pytest.TempPathFactory, orthanc) -> Iterator[Wadofarm]:  # type: ignore[no-untyped-def]
    log = tmp_path_factory.mktemp("wadofarm-prewarm") / "wadofarm.log"
    server = Wadofarm(["--orthanc", orthanc.url, "--workers", "1", "--prewarm"], log).start()
    yield server
    server.stop()


def _stable_seq(orthanc_url: str, series_uid: str) -> int:
    """The sequence number of the StableSeries change of this series, once Orthanc makes it."""
    lookup = request("POST", orthanc_url + "/tools/lookup", body=series_uid.encode())
    (found,) = [item for item in json.loads(lookup.body) if item["Type"] == "Series"]
    deadline = time.monotonic() + STABLE_WAIT
    since = 0
    while time.monotonic() < deadline:
        page = json.loads(
            get(orthanc_url + "/changes", params={"since": since, "limit": 1000}).body
        )
        for change in page["Changes"]:
            if change["ChangeType"] == "StableSeries" and change["ID"] == found["ID"]:
                return int(change["Seq"])
        since = page["Last"]
        if page["Done"]:
            time.sleep(0.2)
    raise AssertionError(f"Orthanc never marked series {series_uid} stable")


def _value(server: Wadofarm, name: str) -> float:
    return scrape(server).get((name, ()), 0.0)


def test_stable_series_thumbnails_are_cached_before_the_first_view(  # type: ignore[no-untyped-def]
    prewarm_server, orthanc, tmp_path
) -> None:
    deadline = time.monotonic() + 10
    while _value(prewarm_server, "wadofarm_prewarm_last_seq") == 0 and time.monotonic() < deadline:
        time.sleep(0.1)  # following the feed from where it stood at start
    assert _value(prewarm_server, "wadofarm_prewarm_last_seq") > 0
    series = write_series(tmp_path, f"prewarm-{time.time_ns()}")
    for member in series.members:
        assert orthanc.server.upload(member.path)["HttpStatus"] == 200
    seq = _stable_seq(orthanc.url, series.series_uid)
    # Followed past our series' StableSeries change, and nothing left to do.
    deadline = time.monotonic() + STABLE_WAIT
    while (
        _value(prewarm_server, "wadofarm_prewarm_last_seq") < seq
        or _value(prewarm_server, "wadofarm_prewarm_pending") > 0
    ):
        assert time.monotonic() < deadline, prewarm_server.log_tail()
        time.sleep(0.2)
    assert _value(prewarm_server, "wadofarm_prewarm_renders_total") >= 5

    base = f"{prewarm_server.url}/dicom-web/studies/{series.study_uid}"
    targets = [base, f"{base}/series/{series.series_uid}"] + [
        f"{base}/series/{series.series_uid}/instances/{m.object_uid}" for m in series.members
    ]
    for target in targets:
        # What a browser's <img> sends: the prewarmed entry must be the one it looks up.
        reply = get(
            target + "/thumbnail", headers={"Accept": "image/avif,image/webp,image/*,*/*;q=0.8"}
        )
        assert reply.status == 200, reply.text
        assert reply.headers["x-wadofarm-cache"] == "L1", target
