"""The pass-through's list of reads (router/passthrough.py): what it lets through and what not,
over paths as Orthanc reads them, its method-override checks, and the security page's copy of it
(docs/security.md)."""

from __future__ import annotations

import pytest

from router.errors import InvalidRequest
from router.passthrough import allowed, check_overrides, orthanc_unquote, table
from tests.support.server import REPO

ID = "f689ddd2-662f8fe1-8b18180d-ec2a2cee-937917af"
UID = "1.2.840.113619.2.1"

PASS = [
    ("GET", "/system"),
    ("GET", "/app/explorer.html"),
    ("GET", "/app/libs/jquery.min.js"),
    ("GET", "/plugins/explorer.js"),
    ("POST", "/tools/find"),
    ("GET", "/patients"),
    ("HEAD", f"/studies/{ID}"),
    ("GET", f"/patients/{ID}/studies"),
    ("GET", f"/patients/{ID}/protected"),
    ("GET", f"/studies/{ID}/archive"),
    ("GET", f"/instances/{ID}/metadata/RemoteAET"),
    ("GET", f"/instances/{ID}/attachments/dicom/data"),
    ("GET", f"/instances/{ID}/file"),
    ("GET", f"/instances/{ID}/frames/0/preview"),
    ("GET", f"/instances/{ID}/content/0010-0010"),
    ("GET", "/dicom-web/studies"),
    ("GET", f"/dicom-web/studies/{UID}/series/{UID}/instances/{UID}/frames/1,2,3"),
    ("GET", f"/dicom-web/studies/{UID}/series/{UID}/instances/{UID}/bulk/7fe00010"),
]
REFUSED = [
    ("DELETE", f"/instances/{ID}"),
    ("PUT", f"/patients/{ID}/protected"),
    ("PUT", f"/instances/{ID}/metadata/1024"),
    ("POST", "/instances"),
    ("POST", "/dicom-web/studies"),
    ("POST", f"/instances/{ID}/attachments/dicom/verify-md5"),
    ("POST", "/tools/reset"),
    ("GET", "/tools/now"),
    ("GET", "/tools"),
    ("GET", "/tools/find"),
    ("GET", "/peers/evil/system"),
    ("GET", "/peers"),
    ("GET", "/modalities"),
    ("GET", "/modalities/m/configuration"),
    ("GET", "/jobs"),
    ("GET", "/changes"),
    ("GET", "/dicom-web/servers"),
    ("GET", "/plugins"),
    ("GET", "/instances/not-an-id/file"),
    ("GET", f"/instances/{ID}/anonymize"),
    ("OPTIONS", "/system"),
    ("PROPFIND", "/webdav"),
    ("GET", "/webdav/uids"),
]


@pytest.mark.parametrize(("method", "path"), PASS)
def test_reads_pass(method: str, path: str) -> None:
    assert allowed(method, path)


@pytest.mark.parametrize(("method", "path"), REFUSED)
def test_everything_else_is_refused(method: str, path: str) -> None:
    assert not allowed(method, path)


@pytest.mark.parametrize(
    "query",
    ["?_method=DELETE", "?a=1&_method=put", "?_METHOD=delete", "?%5Fmethod=DELETE", "?_meth%6fd=x"],
)
def test_method_parameter_is_refused(query: str) -> None:
    with pytest.raises(InvalidRequest, match="_method"):
        check_overrides(query)


def test_other_queries_pass() -> None:
    for query in ("", "?", "?expand", "?limit=10&since=0", "?method=x", "?x=_method"):
        check_overrides(query)


def test_orthanc_unquote_reads_as_orthanc() -> None:
    """Toolbox::UrlDecode: any letter or digit after %, hex or not; + is a space."""
    assert orthanc_unquote("%5Fmethod") == "_method"
    assert orthanc_unquote("a+b%20c") == "a b c"
    assert orthanc_unquote("%5g") == "p"  # (5 << 4) | ('g' - 'A' + 10)
    assert orthanc_unquote("%5") == "%5"


def test_security_page_lists_what_passes() -> None:
    readme = (REPO / "docs" / "security.md").read_text()
    assert table() in readme, (
        "the security page's pass-through table is stale; put there:\n" + table()
    )
