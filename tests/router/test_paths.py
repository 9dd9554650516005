"""Paths as Orthanc reads them (router/paths.py): `//wado`, `/wado/`, `/dicom-web//studies/...`
are wadofarm's to render, as `/wado` and `/dicom-web/studies/...` are, instead of slipping past
its routes to Orthanc (issue 12). Unit checks of the normal form, then real HTTP."""

from __future__ import annotations

import pytest

from router.errors import InvalidRequest
from router.paths import read
from tests.support import corpus
from tests.support.http import get
from tests.support.server import Wadofarm

# (path as sent; the path routed), both percent-encoded
PATHS = [
    ("/", "/"),
    ("/wado", "/wado"),
    ("//wado", "/wado"),
    ("/wado/", "/wado"),
    ("///wado//", "/wado"),
    ("/dicom-web//studies/1.2/rendered", "/dicom-web/studies/1.2/rendered"),
    (
        "//dicom-web/studies/1.2/series/3.4/thumbnail/",
        "/dicom-web/studies/1.2/series/3.4/thumbnail",
    ),
    ("/./system", "/system"),
    ("/x/../system", "/system"),
    ("/../system", "/system"),
    ("/tools\\now", "/tools/now"),  # CivetWeb reads a backslash as a slash
    ("/%74ools/now", "/tools/now"),
    ("/a//../b", "/a/b"),  # dot segments before slashes merge, as CivetWeb does
    ("/x/%2e%2e/system", "/system"),
    ("/a%20b", "/a%20b"),
    ("/100%25", "/100%25"),
    ("/.well-known/x", "/.well-known/x"),
]


@pytest.mark.parametrize(("sent", "routed"), PATHS, ids=[sent for sent, _ in PATHS])
def test_reading(sent: str, routed: str) -> None:
    reading = read(sent + "?a=1")
    assert reading.encoded == routed
    assert reading.query == "?a=1"


# Targets whose reading readers disagree on: 400 (tests/security asks Orthanc about each).
AMBIGUOUS = [
    "/a%2Fb",
    "/wado%2F..",
    "/tools%5cnow",
    "/tools%00/now",
    "/tools.",
    "/tools/now..",
    "/a/.../b",
    "/a%0ab",
    "/a#/../tools",
    "http://host/system",
    "system",
]


@pytest.mark.parametrize("sent", AMBIGUOUS)
def test_ambiguous_targets_are_refused(sent: str) -> None:
    with pytest.raises(InvalidRequest):
        read(sent)


SAMPLE = "CT_small.dcm"


def _targets() -> tuple[str, str]:
    sample = corpus.sample(SAMPLE)
    wado = f"wado?requestType=WADO&objectUID={sample.object_uid}&contentType=image/png"
    instance = (
        f"dicom-web/studies/{sample.study_uid}/series/{sample.series_uid}"
        f"/instances/{sample.object_uid}"
    )
    return wado, instance


def _odd_forms() -> list[tuple[str, str]]:
    """(odd path, the normal one it must equal) for both of wadofarm's render routes."""
    wado, instance = _targets()
    rendered = f"{instance}/rendered?accept=image/png"
    thumbnail = f"{instance}/thumbnail?accept=image/png"
    return [
        ("//" + wado, "/" + wado),
        ("/" + wado.replace("wado?", "wado/?"), "/" + wado),
        ("//" + rendered, "/" + rendered),
        ("/" + rendered.replace("dicom-web/", "dicom-web//"), "/" + rendered),
        ("/" + thumbnail.replace("/thumbnail", "//thumbnail"), "/" + thumbnail),
    ]


def test_odd_paths_are_wadofarms_to_render(wadofarm_orthanc: Wadofarm) -> None:
    """Through the pass-through these went to Orthanc's own renderer: no X-Wadofarm-Cache, and
    other pixels."""
    for odd, normal in _odd_forms():
        expected = get(wadofarm_orthanc.url + normal)
        assert expected.status == 200, (normal, expected.text)
        reply = get(wadofarm_orthanc.url + odd)
        assert reply.status == 200, (odd, reply.text)
        assert "x-wadofarm-cache" in reply.headers, odd
        assert reply.body == expected.body, odd


def test_odd_paths_without_the_pass_through(wadofarm_folder: Wadofarm) -> None:
    """With no Orthanc behind (a folder store), they were a 404."""
    for odd, normal in _odd_forms():
        reply = get(wadofarm_folder.url + odd)
        assert reply.status == 200, (odd, reply.text)
        assert reply.body == get(wadofarm_folder.url + normal).body, odd


def test_odd_paths_still_reach_orthanc(wadofarm_orthanc: Wadofarm, orthanc: object) -> None:
    """What wadofarm does not serve goes to Orthanc as sent, and Orthanc reads it alike."""
    for odd in ("//system", "/system/", "/dicom-web//studies", "/app//explorer.html"):
        proxied = get(wadofarm_orthanc.url + odd)
        direct = get(orthanc.url + odd)  # type: ignore[attr-defined]
        assert proxied.status == direct.status == 200, odd
        assert "x-wadofarm-cache" not in proxied.headers
    assert get(wadofarm_orthanc.url + "//nonexistent").status == 404
