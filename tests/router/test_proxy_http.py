"""The pass-through to Orthanc: QIDO-RS, STOW-RS, the REST API and Explorer, by real HTTP
through a real wadofarm to the real Orthanc, compared with asking Orthanc directly."""

from __future__ import annotations

import gzip
import http.client
import io
import json
import re
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pydicom
import pytest
import requests
from pydicom.uid import generate_uid

from tests.support import corpus
from tests.support.http import get, request
from tests.support.images import decode
from tests.support.multipart import parts
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm
from tests.support.spy import Spy
from tests.support.tools import free_port

CINE = "GREYSCALE_CINE.dcm"  # 13 MB: bodies bigger than any one read


def test_qido_search_passes_through(wadofarm_orthanc, orthanc, orthanc_series) -> None:  # type: ignore[no-untyped-def]
    params = {"PatientID": orthanc_series.patient_id, "includefield": "StudyDescription"}
    headers = {"Accept": "application/dicom+json"}
    proxied = get(wadofarm_orthanc.url + "/dicom-web/studies", params=params, headers=headers)
    direct = get(orthanc.url + "/dicom-web/studies", params=params, headers=headers)
    assert proxied.status == direct.status == 200, proxied.text
    assert proxied.content_type == direct.content_type == "application/dicom+json"
    found = json.loads(proxied.body)
    assert [study["0020000D"]["Value"][0] for study in found] == [orthanc_series.study_uid]
    # The same answer, but for the URLs in it: they point at whom the client asked.
    rebased = direct.body.replace(orthanc.url.encode(), wadofarm_orthanc.url.encode())
    assert found == json.loads(rebased)


def test_qido_series_and_instances(wadofarm_orthanc, orthanc_series) -> None:  # type: ignore[no-untyped-def]
    base = f"{wadofarm_orthanc.url}/dicom-web/studies/{orthanc_series.study_uid}"
    instances = get(f"{base}/series/{orthanc_series.series_uid}/instances")
    assert instances.status == 200, instances.text
    uids = {item["00080018"]["Value"][0] for item in json.loads(instances.body)}
    assert uids == {m.object_uid for m in orthanc_series.members}


def _retrieve_urls(answer: bytes) -> list[str]:
    """The Retrieve URL (0008,1190) of each item of a QIDO-RS answer."""
    return [item["00081190"]["Value"][0] for item in json.loads(answer)]


def test_orthanc_urls_point_at_wadofarm(wadofarm_orthanc, orthanc, orthanc_series) -> None:  # type: ignore[no-untyped-def]
    """With Orthanc's DICOMweb `Host` unset, the URLs it writes into an answer lead back to
    wadofarm, and `requests` (dicomweb-client's HTTP library) can follow them (issue 12: they
    came back as http://"127.0.0.1:port"/..., which it refuses as an InvalidURL)."""
    series = f"/dicom-web/studies/{orthanc_series.study_uid}/series/{orthanc_series.series_uid}"
    qido = get(wadofarm_orthanc.url + series + "/instances")
    assert qido.status == 200, qido.text
    urls = _retrieve_urls(qido.body)
    assert len(urls) == len(orthanc_series.members)
    # As stored (dicomweb-client's default): no transcoding, which in Debian's Orthanc 1.10.1
    # runs GDCM on a web thread and now and then overflows its stack (a segfault).
    accept = {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}
    for url in urls:
        assert url.startswith(wadofarm_orthanc.url + series + "/instances/"), url
        proxied = requests.get(url, headers=accept, timeout=30)
        direct = requests.get(
            url.replace(wadofarm_orthanc.url, orthanc.url), headers=accept, timeout=30
        )
        assert proxied.status_code == direct.status_code == 200, url
        ours = parts(proxied.headers["Content-Type"], proxied.content)
        assert ours == parts(direct.headers["Content-Type"], direct.content)
        assert len(ours) == 1 and ours[0][128:132] == b"DICM"


def test_client_forwarded_headers_cannot_steer_urls(wadofarm_orthanc, orthanc_series) -> None:  # type: ignore[no-untyped-def]
    """A client's own Forwarded / X-Forwarded-* are replaced by what wadofarm saw: Orthanc
    takes the first Forwarded element, so a client's, kept ahead, would write its URLs."""
    claims = {
        "Forwarded": "for=192.0.2.1;host=evil.example:1;proto=https",
        "X-Forwarded-Host": "evil.example:1",
        "X-Forwarded-Proto": "https",
    }
    qido = get(
        f"{wadofarm_orthanc.url}/dicom-web/studies/{orthanc_series.study_uid}/series",
        headers=claims,
    )
    assert qido.status == 200, qido.text
    urls = _retrieve_urls(qido.body)
    assert urls and all(url.startswith(wadofarm_orthanc.url + "/dicom-web/") for url in urls)


@pytest.fixture(scope="module")
def spied(
    tmp_path_factory: pytest.TempPathFactory, orthanc: object
) -> Iterator[tuple[Wadofarm, Spy]]:
    """wadofarm whose pass-through reaches the session's Orthanc through a recording spy."""
    spy = Spy(orthanc.server.port).start()  # type: ignore[attr-defined]
    log = tmp_path_factory.mktemp("wadofarm-spied") / "wadofarm.log"
    server = Wadofarm(["--orthanc", spy.url, "--workers", "1", "--proxy-writes"], log).start()
    yield server, spy
    server.stop()
    spy.stop()


def test_forwarded_headers_orthanc_receives(spied: tuple[Wadofarm, Spy]) -> None:
    """Exactly one Forwarded, X-Forwarded-Host and X-Forwarded-Proto each, wadofarm's, with the
    host unquoted (Orthanc keeps quotes); X-Forwarded-For appended to, as proxies do."""
    server, spy = spied
    claims = {
        "Forwarded": "for=192.0.2.1;host=evil.example;proto=https",
        "X-Forwarded-For": "192.0.2.1",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
    }
    assert get(server.url + "/system", headers=claims).status == 200
    seen = [r for r in spy.requests() if r.target == "/system"][-1]
    host = f"127.0.0.1:{server.port}"
    assert seen.named("Forwarded") == [f"for=127.0.0.1;proto=http;host={host}"]
    assert seen.named("X-Forwarded-Host") == [host]
    assert seen.named("X-Forwarded-Proto") == ["http"]
    assert seen.named("X-Forwarded-For") == ["192.0.2.1, 127.0.0.1"]


PUBLIC_HOST = "pacs.example:8042"


@pytest.fixture(scope="module")
def orthanc_with_host(
    tmp_path_factory: pytest.TempPathFactory, catalogue: dict[str, Path]
) -> Iterator[tuple[Orthanc, Wadofarm]]:
    """An Orthanc whose DICOMweb `Host` is set, and wadofarm in front of it."""

    class HostSet(Orthanc):
        def config(self) -> dict[str, object]:
            config = super().config()
            config["DicomWeb"] = {**config["DicomWeb"], "Host": PUBLIC_HOST}  # type: ignore[dict-item]
            return config

    server = HostSet(tmp_path_factory.mktemp("orthanc-host")).start()
    server.upload(catalogue["CT_small.dcm"])
    log = tmp_path_factory.mktemp("wadofarm-host") / "wadofarm.log"
    wadofarm = Wadofarm(["--orthanc", server.url, "--workers", "1"], log).start()
    yield server, wadofarm
    wadofarm.stop()
    server.stop()


def test_dicomweb_host_set_orthanc_decides(orthanc_with_host) -> None:  # type: ignore[no-untyped-def]
    """With `Host` set in Orthanc's DicomWeb section, Orthanc writes that host whoever asks:
    wadofarm passes the answer on as it is (the README says so)."""
    _, wadofarm = orthanc_with_host
    study = corpus.sample("CT_small.dcm").study_uid
    qido = get(f"{wadofarm.url}/dicom-web/studies/{study}/series")
    assert qido.status == 200, qido.text
    urls = _retrieve_urls(qido.body)
    assert urls and all(url.startswith(f"http://{PUBLIC_HOST}/dicom-web/") for url in urls)


def _multipart(files: list[Path]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for path in files:
        parts.append(
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            + path.read_bytes()
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


def test_stow_upload_then_wadofarm_renders_it(wadofarm_orthanc, orthanc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.series import write_series

    series = write_series(tmp_path, "stow-series")
    body, content_type = _multipart([m.path for m in series.members])
    reply = request(
        "POST",
        wadofarm_orthanc.url + "/dicom-web/studies",
        body=body,
        headers={"Content-Type": content_type, "Accept": "application/dicom+json"},
    )
    assert reply.status == 200, reply.text
    stored = json.loads(reply.body)["00081199"]["Value"]  # Referenced SOP Sequence
    assert {item["00081155"]["Value"][0] for item in stored} == {
        m.object_uid for m in series.members
    }
    # Orthanc has it, and wadofarm renders it (the series target: the middle instance).
    member = series.middle
    target = (
        f"/dicom-web/studies/{series.study_uid}/series/{series.series_uid}"
        f"/instances/{member.object_uid}/rendered"
    )
    rendered = get(wadofarm_orthanc.url + target, params={"accept": "image/png"})
    assert rendered.status == 200, rendered.text
    assert decode(rendered.body).shape == (128, 128)
    whole = get(
        f"{wadofarm_orthanc.url}/dicom-web/studies/{series.study_uid}/rendered",
        params={"accept": "image/png"},
    )
    assert whole.body == rendered.body


def test_rest_api_and_explorer_pass_through(wadofarm_orthanc, orthanc) -> None:  # type: ignore[no-untyped-def]
    for path in ("/system", "/statistics", "/app/explorer.html", "/instances/nonexistent"):
        proxied = get(wadofarm_orthanc.url + path)
        direct = get(orthanc.url + path)
        assert proxied.status == direct.status, path
        assert proxied.content_type == direct.content_type, path
        if path != "/statistics":  # counters move between the two reads
            assert proxied.body == direct.body, path
    head = request("HEAD", wadofarm_orthanc.url + "/system")
    assert head.status == request("HEAD", orthanc.url + "/system").status
    assert head.body == b""


def test_explorer_and_its_assets_pass_through(wadofarm_orthanc, orthanc) -> None:  # type: ignore[no-untyped-def]
    """Orthanc Explorer through wadofarm: the page, and every script, style sheet and image it
    loads, byte for byte."""
    page = get(wadofarm_orthanc.url + "/app/explorer.html")
    assert page.status == 200 and page.content_type == "text/html"
    assets = set(re.findall(r'(?:src|href)="([^"#:]+)"', page.text))
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in sorted(assets):
        path = "/app/" + asset.removeprefix("./")
        proxied = get(wadofarm_orthanc.url + path)
        direct = get(orthanc.url + path)
        assert proxied.status == direct.status == 200, path
        assert proxied.content_type == direct.content_type, path
        assert proxied.body == direct.body, path


def test_tools_find_passes_through(wadofarm_orthanc, orthanc, orthanc_series) -> None:  # type: ignore[no-untyped-def]
    """POST /tools/find, Orthanc's search that viewers (and wadofarm itself) use."""
    for level, query in (
        ("Study", {"StudyInstanceUID": orthanc_series.study_uid}),
        ("Series", {"SeriesInstanceUID": orthanc_series.series_uid}),
        ("Instance", {"SeriesInstanceUID": orthanc_series.series_uid}),
    ):
        body = json.dumps({"Level": level, "Query": query, "Expand": True}).encode()
        headers = {"Content-Type": "application/json"}
        proxied = request("POST", wadofarm_orthanc.url + "/tools/find", body=body, headers=headers)
        direct = request("POST", orthanc.url + "/tools/find", body=body, headers=headers)
        assert proxied.status == direct.status == 200, proxied.text
        found = json.loads(proxied.body)
        assert found == json.loads(direct.body)
        expected = len(orthanc_series.members) if level == "Instance" else 1
        assert len(found) == expected, level


def test_rest_resources_viewers_read(wadofarm_orthanc, orthanc, orthanc_series) -> None:  # type: ignore[no-untyped-def]
    """The REST resources a viewer on Orthanc's own API walks: study, series, instance, tags,
    the file and a raw frame, each as Orthanc answers it."""
    body = json.dumps(
        {"Level": "Instance", "Query": {"SOPInstanceUID": orthanc_series.middle.object_uid}}
    ).encode()
    [instance] = json.loads(request("POST", orthanc.url + "/tools/find", body=body).body)
    info = json.loads(get(f"{orthanc.url}/instances/{instance}").body)
    series = info["ParentSeries"]
    study = json.loads(get(f"{orthanc.url}/series/{series}").body)["ParentStudy"]
    for path in (
        "/studies",
        f"/studies/{study}",
        f"/studies/{study}/series",
        f"/series/{series}",
        f"/series/{series}/instances",
        f"/instances/{instance}",
        f"/instances/{instance}/tags",
        f"/instances/{instance}/simplified-tags",
        f"/instances/{instance}/file",
        f"/instances/{instance}/frames/0/raw",
    ):
        proxied = get(wadofarm_orthanc.url + path)
        direct = get(orthanc.url + path)
        assert proxied.status == direct.status == 200, path
        assert proxied.content_type == direct.content_type, path
        assert proxied.body == direct.body, path


def test_big_download_streams_byte_for_byte(wadofarm_orthanc, orthanc, catalogue) -> None:  # type: ignore[no-untyped-def]
    orthanc_id = orthanc.uploads[CINE]["ID"]
    reply = get(f"{wadofarm_orthanc.url}/instances/{orthanc_id}/file")
    assert reply.status == 200
    assert reply.body == catalogue[CINE].read_bytes()
    assert int(reply.headers["content-length"]) == len(reply.body)


def test_big_upload_streams_through(wadofarm_orthanc, orthanc, catalogue) -> None:  # type: ignore[no-untyped-def]
    reply = request(
        "POST",
        wadofarm_orthanc.url + "/instances",
        body=catalogue[CINE].read_bytes(),
        headers={"Content-Type": "application/dicom"},
    )
    assert reply.status == 200, reply.text
    answer = json.loads(reply.body)
    assert answer["Status"] in ("Success", "AlreadyStored")  # overwritten: the same ID
    assert answer["ID"] == orthanc.uploads[CINE]["ID"]
    stored = get(f"{orthanc.url}/instances/{answer['ID']}/file")
    assert stored.body == catalogue[CINE].read_bytes()


ENCODERS = {"gzip": gzip.compress, "deflate": zlib.compress}  # HTTP's deflate is zlib's format


def _fresh_instance(source: Path) -> tuple[str, bytes]:
    """`source` as a new instance (a SOP Instance UID of its own): what Orthanc stores is ours."""
    dataset = pydicom.dcmread(source)
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return dataset.SOPInstanceUID, out.getvalue()


def _post(url: str, body: bytes, headers: dict[str, str], chunked: bool) -> tuple[int, bytes]:
    """POST with Content-Length, or in 1000-byte chunks (Transfer-Encoding: chunked)."""
    target = urlsplit(url)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    try:
        if chunked:
            pieces = (body[i : i + 1000] for i in range(0, len(body), 1000))
            conn.request("POST", target.path, body=pieces, headers=headers, encode_chunked=True)
        else:
            conn.request("POST", target.path, body=body, headers=headers)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def _stored_file(orthanc_url: str, object_uid: str) -> bytes:
    found = request("POST", orthanc_url + "/tools/lookup", body=object_uid.encode())
    [match] = [m for m in json.loads(found.body) if m["Type"] == "Instance"]
    return get(f"{orthanc_url}/instances/{match['ID']}/file").body


def _stow_body(dicom: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + dicom
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_gzip_upload_is_stored_as_sent(wadofarm_orthanc, orthanc, catalogue, chunked: bool) -> None:  # type: ignore[no-untyped-def]
    """A gzip-encoded POST /instances through wadofarm is stored, and Orthanc's copy is the very
    file (issue 12: aiohttp inflated the body and the proxy sent the inflated bytes under the
    compressed length; Orthanc got the DICOM preamble cut short and answered 500)."""
    object_uid, dicom = _fresh_instance(catalogue["CT_small.dcm"])
    headers = {"Content-Type": "application/dicom", "Content-Encoding": "gzip"}
    url = wadofarm_orthanc.url + "/instances"
    status, answer = _post(url, gzip.compress(dicom), headers, chunked)
    assert status == 200, answer[:500]
    assert json.loads(answer)["Status"] == "Success"
    assert _stored_file(orthanc.url, object_uid) == dicom


def _stored(answer: bytes) -> list[str]:
    """What an upload stored, by its answer: POST /instances' ID, STOW-RS's Referenced SOPs."""
    parsed = json.loads(answer or b"{}")
    if "ID" in parsed:
        return [parsed["ID"]]
    items = parsed.get("00081199", {}).get("Value", [])  # Referenced SOP Sequence
    return [item["00081155"]["Value"][0] for item in items]


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "identity"])
@pytest.mark.parametrize("route", ["instances", "stow"])
def test_request_body_reaches_orthanc_unchanged(  # type: ignore[no-untyped-def]
    spied, orthanc, catalogue, route: str, encoding: str, chunked: bool
) -> None:
    """The bytes Orthanc receives are the bytes the client sent, under the client's
    Content-Encoding, and Orthanc answers as it does when asked directly. (Orthanc 1.10.1
    inflates a gzip POST /instances; a deflate one, and any encoded STOW-RS, it takes as they
    are: a 400, or a STOW answer that stored nothing, both ways.)"""
    server, spy = spied
    _, dicom = _fresh_instance(catalogue["CT_small.dcm"])
    if route == "instances":
        url, payload, content_type = "/instances", dicom, "application/dicom"
    else:
        url = "/dicom-web/studies"
        payload, content_type = _stow_body(dicom)
    sent = ENCODERS[encoding](payload) if encoding in ENCODERS else payload
    headers = {
        "Content-Type": content_type,
        "Content-Encoding": encoding,
        "Accept": "application/dicom+json",
    }
    seen = len(spy.requests())
    status, answer = _post(server.url + url, sent, headers, chunked)
    direct_status, direct_answer = _post(orthanc.url + url, sent, headers, chunked)
    assert status == direct_status, answer[:500]
    assert _stored(answer) == _stored(direct_answer)
    [upload] = [r for r in spy.requests()[seen:] if r.target == url]
    assert upload.body == sent
    assert upload.named("Content-Encoding") == [encoding]


def test_compressed_answers_stay_compressed(wadofarm_orthanc, orthanc) -> None:  # type: ignore[no-untyped-def]
    headers = {"Accept-Encoding": "gzip"}
    proxied = get(wadofarm_orthanc.url + "/tools", headers=headers)
    direct = get(orthanc.url + "/tools", headers=headers)
    assert proxied.headers.get("content-encoding") == direct.headers.get("content-encoding")
    if direct.headers.get("content-encoding") == "gzip":
        assert gzip.decompress(proxied.body) == gzip.decompress(direct.body)
    else:
        assert proxied.body == direct.body


def test_wado_stays_wadofarms_for_every_method(wadofarm_orthanc) -> None:  # type: ignore[no-untyped-def]
    reply = request("POST", wadofarm_orthanc.url + "/wado", params={"requestType": "WADO"})
    assert reply.status == 405 and "GET" in reply.headers["allow"]


@pytest.fixture(scope="module")
def wadofarm_no_orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wadofarm]:
    """wadofarm pointed at a port where no Orthanc listens. --auth none: with no answer to its
    anonymous probe, --auth auto would choose forward, and /metrics would ask Orthanc too."""
    log = tmp_path_factory.mktemp("wadofarm-down") / "wadofarm.log"
    dead = f"http://127.0.0.1:{free_port()}"
    flags = ["--orthanc", dead, "--workers", "1", "--upstream-timeout", "2", "--auth", "none"]
    server = Wadofarm(flags, log).start()
    yield server
    server.stop()


def test_orthanc_down_is_502_and_not_ready(wadofarm_no_orthanc) -> None:  # type: ignore[no-untyped-def]
    assert get(wadofarm_no_orthanc.url + "/healthz").status == 200
    ready = get(wadofarm_no_orthanc.url + "/readyz")
    assert ready.status == 503 and "is unreachable: the connection was refused" in ready.text
    proxied = get(wadofarm_no_orthanc.url + "/system")
    assert proxied.status == 502 and "unreachable" in proxied.text
    rendered = get(
        wadofarm_no_orthanc.url + f"/dicom-web/studies/{corpus.sample(CINE).study_uid}/rendered"
    )
    assert rendered.status == 502
    metrics = get(wadofarm_no_orthanc.url + "/metrics").text
    assert 'wadofarm_upstream_errors_total{kind="error",operation="proxy"} 1.0' in metrics
