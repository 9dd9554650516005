"""Paths as Orthanc reads them (router/paths.py): `//wado`, `/wado/`, `/dicom-web//studies/...`
are wadofarm's to render, as `/wado` and `/dicom-web/studies/...` are, instead of slipping past
its routes to Orthanc (issue 12). Unit checks of the normal form, then real HTTP."""

from __future__ import annotations

import pytest

from router.paths import is_normal, orthanc_path
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
    ("/a%2Fb", "/a%2Fb"),  # an encoded slash stays in its segment
    ("/wado%2F..", "/wado%2F.."),
]


@pytest.mark.parametrize(("sent", "routed"), PATHS, ids=[sent for sent, _ in PATHS])
def test_orthanc_path(sent: str, routed: str) -> None:
    assert orthanc_path(sent) == routed
    assert is_normal(sent) == (sent == routed)


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
