"""Every kind of broken file, through both stores: a specific status and a one-line reason, no
worker lost, and the next request served."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.support import badfiles, procs
from tests.support.http import get
from tests.support.images import decode
from tests.support.server import Wadofarm

CATALOGUE = badfiles.catalogue()
_sizes = itertools.count(40)  # a new size each time, so the good image is rendered, not cached


def wado(uid: str, **params: object) -> dict[str, object]:
    return {"requestType": "WADO", "objectUID": uid, **params}


@pytest.mark.parametrize("bad", CATALOGUE, ids=[b.name for b in CATALOGUE])
def test_bad_file_gets_a_reason_and_the_next_request_is_served(
    bad_server: Wadofarm, bad: badfiles.BadFile
) -> None:
    workers = procs.wait_workers(bad_server.pid, 1)
    reply = get(bad_server.url + "/wado", params=wado(bad.object_uid))
    assert reply.status == bad.status, reply.text
    assert reply.content_type == "text/plain"
    assert bad.reason in reply.text.lower(), reply.text
    assert reply.text.endswith("\n") and reply.text.count("\n") == 1
    good = get(bad_server.url + "/wado", params=wado(badfiles.GOOD_UID, rows=next(_sizes)))
    assert good.status == 200 and good.headers["x-wadofarm-cache"] == "render"
    assert procs.workers(bad_server.pid) == workers, "a bad file cost a render worker"


def test_a_huge_header_is_refused_before_any_allocation(bad_server: Wadofarm) -> None:
    """65535 x 65535 x 1000 frames of 16 bits would be 8 TiB; the header alone decides."""
    (worker,) = procs.wait_workers(bad_server.pid, 1)
    before = procs.rss_bytes(worker)
    huge = next(b for b in CATALOGUE if b.name == "huge_header")
    started = time.monotonic()
    reply = get(bad_server.url + "/wado", params=wado(huge.object_uid, rows=7))
    elapsed = time.monotonic() - started
    assert reply.status == 415 and "65535x65535" in reply.text
    assert elapsed < 1.0
    assert procs.rss_bytes(worker) - before < 32 * 2**20


def test_padding_after_the_pixels_is_ignored(bad_server: Wadofarm) -> None:
    """Less than a frame of excess is padding: the image is exactly the clean file's."""
    padded = get(
        bad_server.url + "/wado", params=wado(badfiles.PADDED_UID, contentType="image/png")
    )
    clean = get(bad_server.url + "/wado", params=wado(badfiles.GOOD_UID, contentType="image/png"))
    assert padded.status == clean.status == 200
    assert (decode(padded.body) == decode(clean.body)).all()
