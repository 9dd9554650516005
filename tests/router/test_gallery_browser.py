"""The gallery at GET /, in a real headless Chromium: the thumbnails load (natural width > 0)
through wadofarm's own routes, and the series view pages through the instances."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support import corpus
from tests.support.browser import chromium
from tests.support.http import get
from tests.support.series import Series
from tests.support.server import Wadofarm

WAIT = 90.0  # seconds for every thumbnail of the page to settle (cold renders on 2 cores)

# For each series card: its UID, whether its thumbnail finished, and its natural width.
CARDS_JS = """
return Array.from(document.querySelectorAll('a.series')).map(card => {
  const img = card.querySelector('img');
  const settled = img.complete && !img.dataset.retrying;
  return [card.dataset.series, settled, img.naturalWidth, img.classList.contains('failed')];
});
"""


def settled_cards(driver: Any) -> list[list[Any]]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        cards = driver.execute_script(CARDS_JS)
        if cards and all(complete for _, complete, _, _ in cards):
            return list(cards)
        time.sleep(0.2)
    raise AssertionError(
        f"thumbnails still loading after {WAIT}s: {driver.execute_script(CARDS_JS)}"
    )


def wait_for(driver: Any, script: str, expected: object) -> object:
    deadline = time.monotonic() + WAIT
    value = None
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value == expected:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{script!r} is {value!r}, not {expected!r}")


def page_through(driver: Any, base: str, series: Series) -> None:
    driver.get(f"{base}/#/series/{series.study_uid}/{series.series_uid}")
    image = (
        "const i = document.getElementById('instance'); return [i.complete, i.naturalWidth > 0];"
    )
    position = "return document.getElementById('position').textContent;"
    shown = "return getComputedStyle(document.getElementById('studies')).display;"
    wait_for(driver, shown, "none")  # the series view replaces the list
    ordered = series.by_number
    for index, member in enumerate(ordered):
        wait_for(driver, position, f"{index + 1} / {len(ordered)}")
        wait_for(driver, image, [True, True])
        src = driver.execute_script("return document.getElementById('instance').src;")
        assert member.object_uid in src  # the instances in Instance Number order
        disabled = driver.execute_script("return document.getElementById('next').disabled;")
        assert disabled == (index == len(ordered) - 1)
        if not disabled:
            driver.find_element("id", "next").click()
    driver.find_element("id", "previous").click()
    wait_for(driver, position, f"{len(ordered) - 1} / {len(ordered)}")


def test_gallery_over_a_folder(wadofarm_series, series_on_disk) -> None:  # type: ignore[no-untyped-def]
    page = get(wadofarm_series.url + "/")
    assert page.status == 200 and page.content_type == "text/html"
    with chromium() as driver:
        driver.get(wadofarm_series.url + "/")
        cards = settled_cards(driver)
        assert [uid for uid, *_ in cards] == [series_on_disk.series_uid]
        assert cards[0][2] > 0
        page_through(driver, wadofarm_series.url, series_on_disk)


def test_gallery_over_orthanc(wadofarm_orthanc, orthanc, orthanc_series) -> None:  # type: ignore[no-untyped-def]
    # Every series of the catalogue; its thumbnail must show exactly when the route serves it.
    expected_ok, expected_failed = {orthanc_series.series_uid}, set()
    for name in orthanc.uploads:
        if orthanc.stored(name):
            s = corpus.sample(name)
            thumbnail = f"/dicom-web/studies/{s.study_uid}/series/{s.series_uid}/thumbnail"
            served = get(wadofarm_orthanc.url + thumbnail).status == 200
            (expected_ok if served else expected_failed).add(s.series_uid)
    assert len(expected_ok) > 40 and expected_failed  # the corpus has both kinds
    with chromium() as driver:
        driver.get(wadofarm_orthanc.url + "/")
        cards = settled_cards(driver)
        loaded = {uid for uid, _, width, _ in cards if width > 0}
        failed = {uid for uid, _, width, failed in cards if width == 0 and failed}
        assert expected_ok <= loaded
        assert expected_failed <= failed
        explorer = driver.execute_script("return document.getElementById('explorer').hidden;")
        assert explorer is False
        page_through(driver, wadofarm_orthanc.url, orthanc_series)


@pytest.mark.parametrize("path", ["/gallery/static/gallery.js", "/gallery/static/gallery.css"])
def test_static_assets(wadofarm_folder, path) -> None:  # type: ignore[no-untyped-def]
    reply = get(wadofarm_folder.url + path)
    assert reply.status == 200 and len(reply.body) > 100


# Every <img> shown on the page: its source, whether it finished, its natural width.
IMAGES_JS = """
return Array.from(document.images).filter(i => i.offsetParent !== null)
  .map(i => [i.src, i.complete && !i.dataset.retrying, i.naturalWidth]);
"""


def settled_images(driver: Any) -> list[list[Any]]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        images = driver.execute_script(IMAGES_JS)
        if images and all(done for _, done, _ in images):
            return list(images)
        time.sleep(0.2)
    raise AssertionError(f"images still loading after {WAIT}s: {driver.execute_script(IMAGES_JS)}")


def shown_series(server: Any) -> list[tuple[str, str, int]]:
    """The series a series view pages through: those of a few instances, all holding pixels,
    with the most instances first, and the one whose representative file cannot be decoded
    (JPEG-lossy.dcm, whose UID JPGExtended.dcm holds too)."""
    studies = orjson.loads(get(server.url + "/gallery/api/studies").body)["studies"]
    found = []
    for study in studies:
        for series in study["series"]:
            listing = get(
                f"{server.url}/gallery/api/studies/{study['study_uid']}/series/"
                f"{series['series_uid']}"
            )
            instances = orjson.loads(listing.body)["instances"]
            if all(i["pixels"] for i in instances) and len(instances) <= 12:
                found.append((study["study_uid"], series["series_uid"], len(instances)))
    found.sort(key=lambda s: -s[2])
    nm = [s for s in found if s[1] == NM_SERIES]
    return found[:1] + nm


NM_SERIES = "1.3.6.1.4.1.5962.1.3.8.1.20040826185059.5457"  # pydicom's NM JPEG samples


def test_gallery_of_a_bare_serve(tmp_path: Path) -> None:
    """What a newcomer sees first (`wadofarm serve`, no flags: pydicom's own files): no broken
    image on the front page or in a series view, an icon, and nothing from pydicom on stderr."""
    log = tmp_path / "wadofarm.log"
    server = Wadofarm(["--workers", "1"], log).start()
    try:
        icon = get(server.url + "/favicon.ico")
        assert icon.status == 200 and icon.content_type == "image/x-icon"
        assert icon.body[:4] == b"\x00\x00\x01\x00"  # an ICO file
        with chromium() as driver:
            driver.get(server.url + "/")
            cards = settled_cards(driver)
            assert len(cards) > 30
            broken = [uid for uid, _, width, _ in cards if width == 0]
            assert not broken, f"broken thumbnails: {broken}"
            images = settled_images(driver)
            assert len(images) == len(cards)
            assert not [src for src, _, width in images if width == 0]
            driver.save_screenshot(str(tmp_path / "front.png"))
            for study, series, count in shown_series(server):
                driver.get(f"{server.url}/#/series/{study}/{series}")
                for index in range(count):
                    position = "return document.getElementById('position').textContent;"
                    wait_for(driver, position, f"{index + 1} / {count}")
                    image = (
                        "const i = document.getElementById('instance');"
                        "return [i.complete, i.naturalWidth > 0];"
                    )
                    wait_for(driver, image, [True, True])
                    if index < count - 1:
                        driver.find_element("id", "next").click()
            driver.save_screenshot(str(tmp_path / "series.png"))
        stderr = log.read_text(errors="replace")
        assert "Warning" not in stderr and "Traceback" not in stderr, stderr[-3000:]
        assert '"GET /favicon.ico HTTP/1.1" 200' in stderr
    finally:
        server.stop()
