"""Orthanc Explorer, a real client of the pass-through, in headless Chromium through wadofarm in
front of an Orthanc that answers anyone (the read-only list applies): it browses from the patient
list down to an instance, its tags and its preview, the lookup page searches, and no request it
makes is refused (wadofarm's access log has every one)."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.security.conftest import Front
from tests.support.browser import chromium

WAIT = 30.0
LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[0-9.]+" (?P<status>[0-9]{3}) ')


def follow(driver: Any, selector: str) -> None:
    """Click the first link of a list once it is there."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        shown = [
            link for link in driver.find_elements("css selector", selector) if link.is_displayed()
        ]
        if shown:
            shown[0].click()
            return
        time.sleep(0.1)
    raise AssertionError(f"no {selector} in {driver.current_url}")


def wait_for(driver: Any, script: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if driver.execute_script(script):
            return
        time.sleep(0.1)
    raise AssertionError(f"{script!r} never held at {driver.current_url}")


def test_explorer_browses_through_the_read_only_pass_through(open_front: Front) -> None:
    server = open_front.server
    start = server.log.stat().st_size
    with chromium() as driver:
        driver.get(server.url + "/app/explorer.html#find-patients")
        follow(driver, "#all-patients li a")
        follow(driver, "#list-studies li a")
        follow(driver, "#list-series li a")
        follow(driver, "#list-instances li a")
        wait_for(driver, "return document.querySelectorAll('#dicom-tree li').length > 0")
        follow(driver, "#instance-preview")
        wait_for(driver, "return (document.getElementById('lbImage') || {}).offsetWidth > 0")
        driver.get("about:blank")  # the preview's overlay would cover the next page
        driver.get(server.url + "/app/explorer.html#lookup")
        wait_for(driver, "return !!document.getElementById('lookup-submit')")
        driver.execute_script("$('#lookup-patient-id').val('*');")
        follow(driver, "#lookup-submit")
        wait_for(driver, "return document.querySelectorAll('#lookup-result li').length > 0")
    lines = server.log.read_bytes()[start:].decode(errors="replace")
    asked = [m.groupdict() for m in LINE.finditer(lines)]
    refused = [a for a in asked if a["status"] in ("400", "403")]
    assert not refused, refused
    seen = {(a["method"], a["target"].split("?")[0]) for a in asked}
    kinds = {
        (method, re.sub("[0-9a-f]{8}(-[0-9a-f]{8}){4}", "{id}", path)) for method, path in seen
    }
    for expected in (
        ("GET", "/app/explorer.html"),
        ("GET", "/plugins/explorer.js"),
        ("GET", "/system"),
        ("GET", "/patients"),
        ("GET", "/patients/{id}/studies"),
        ("GET", "/studies/{id}/series"),
        ("GET", "/series/{id}/instances"),
        ("GET", "/instances/{id}/tags"),
        ("GET", "/instances/{id}/preview"),
        ("POST", "/tools/find"),
    ):
        assert expected in kinds, (expected, sorted(kinds))
