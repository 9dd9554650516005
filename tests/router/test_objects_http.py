"""A study of every kind of object (tests.support.objects), in a folder and in a real Orthanc:
each gets a picture through /wado and the DICOMweb rendered and thumbnail routes, exactly the
renderer's own for that file, and the gallery in headless Chromium shows every card loaded."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import numpy as np
import pydicom
import pytest

from renderer.formats import OutputFormat
from renderer.params import DefaultWindow, RenderParams
from renderer.pipeline import render
from tests.support import objects, videos
from tests.support.browser import chromium
from tests.support.http import get
from tests.support.images import decode, psnr
from tests.support.server import Wadofarm

STUDY = objects.STUDY_UID
PDF = "application/pdf"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> list[objects.StudyObject]:
    return objects.write_study(tmp_path_factory.mktemp("objects") / "study")


@pytest.fixture(scope="module")
def objects_folder(
    tmp_path_factory: pytest.TempPathFactory, study: list[objects.StudyObject]
) -> Iterator[Wadofarm]:
    folder = study[0].path.parent
    log = tmp_path_factory.mktemp("objects-folder") / "wadofarm.log"
    server = Wadofarm(["--dicom-dir", str(folder), "--workers", "1"], log).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def objects_orthanc(orthanc, wadofarm_orthanc, study) -> Wadofarm:  # type: ignore[no-untyped-def]
    for obj in study:
        assert orthanc.server.upload(obj.path)["HttpStatus"] == 200, obj.name
    return wadofarm_orthanc  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def anonymizing(
    tmp_path_factory: pytest.TempPathFactory,
    study,
    objects_orthanc,
    orthanc,  # type: ignore[no-untyped-def]
) -> Iterator[dict[str, Wadofarm]]:
    """wadofarm with --allow-anonymize over the study's folder and over the Orthanc holding it."""
    log = tmp_path_factory.mktemp("anonymizing")
    folder = study[0].path.parent
    servers = {
        "folder": Wadofarm(
            ["--dicom-dir", str(folder), "--workers", "1", "--allow-anonymize"], log / "f.log"
        ).start(),
        "orthanc": Wadofarm(
            ["--orthanc", orthanc.url, "--workers", "1", "--allow-anonymize"], log / "o.log"
        ).start(),
    }
    yield servers
    for running in servers.values():
        running.stop()


@pytest.fixture(params=["folder", "orthanc"])
def server(request: pytest.FixtureRequest) -> Wadofarm:
    return request.getfixturevalue(f"objects_{request.param}")  # type: ignore[no-any-return]


def own_render(obj: objects.StudyObject, **params: object) -> bytes:
    """What the renderer alone makes of the file: the oracle for every route."""
    return render(str(obj.path), RenderParams(**params)).data  # type: ignore[arg-type]


def by_name(study: list[objects.StudyObject]) -> dict[str, objects.StudyObject]:
    return {obj.name: obj for obj in study}


NAMES = [obj.name for obj, _ in objects.OBJECTS]


@pytest.mark.parametrize("name", NAMES)
def test_wado_renders_every_object(server: Wadofarm, study, name: str) -> None:  # type: ignore[no-untyped-def]
    obj = by_name(study)[name]
    reply = get(server.url + "/wado", params=server.wado(obj.object_uid, contentType="image/png"))
    assert reply.status == 200, reply.text
    assert reply.content_type == "image/png"
    assert reply.body == own_render(obj, output=OutputFormat.PNG)
    jpeg = get(server.url + "/wado", params=server.wado(obj.object_uid, rows=100))
    assert jpeg.status == 200 and jpeg.content_type == "image/jpeg", jpeg.text
    assert decode(jpeg.body).shape[0] == 100  # rows alone: the height
    # The stored file is still the stored file.
    dicom = get(
        server.url + "/wado", params=server.wado(obj.object_uid, contentType="application/dicom")
    )
    assert dicom.status == 200 and dicom.body == obj.path.read_bytes()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("route", ["thumbnail", "rendered"])
def test_dicomweb_series_and_instance_pictures(
    server: Wadofarm, study, name: str, route: str
) -> None:  # type: ignore[no-untyped-def]
    obj = by_name(study)[name]
    series = f"/dicom-web/studies/{STUDY}/series/{obj.series_uid}"
    for target in (series, f"{series}/instances/{obj.object_uid}"):
        reply = get(f"{server.url}{target}/{route}", headers={"Accept": "image/png"})
        assert reply.status == 200, reply.text
        side = 128 if route == "thumbnail" else None
        expected = own_render(
            obj,
            output=OutputFormat.PNG,
            rows=side,
            columns=side,
            default_window=DefaultWindow.MINMAX,  # DICOMweb's default (--default-window route)
        )
        assert reply.body == expected


def test_a_placeholder_is_one_frame(server: Wadofarm, study) -> None:  # type: ignore[no-untyped-def]
    obj = by_name(study)["rtplan"]
    reply = get(server.url + "/wado", params=server.wado(obj.object_uid, frameNumber=2))
    assert reply.status == 400 and "frameNumber 2" in reply.text


def test_pdf_document_and_pages(server: Wadofarm, study) -> None:  # type: ignore[no-untyped-def]
    pdf, ct = by_name(study)["pdf"], by_name(study)["ct"]
    document = get(server.url + "/wado", params=server.wado(pdf.object_uid, contentType=PDF))
    assert document.status == 200 and document.content_type == PDF, document.text
    assert document.body == objects.make_pdf()
    page = get(
        server.url + "/wado",
        params=server.wado(pdf.object_uid, contentType="image/png", frameNumber=2),
    )
    assert page.status == 200 and page.body == own_render(pdf, output=OutputFormat.PNG, frame=1)
    past = get(server.url + "/wado", params=server.wado(pdf.object_uid, frameNumber=3))
    assert past.status == 400 and "2 page" in past.text
    refused = get(server.url + "/wado", params=server.wado(ct.object_uid, contentType=PDF))
    assert refused.status == 406 and "PDF" in refused.text
    base = f"{server.url}/dicom-web/studies/{STUDY}/series/{pdf.series_uid}"
    rendered = get(base + "/rendered", headers={"Accept": PDF})
    assert rendered.status == 200 and rendered.body == document.body
    # A thumbnail is a picture, whatever else the client would take.
    thumbnail = get(base + "/thumbnail", headers={"Accept": f"{PDF}, image/png;q=0.5"})
    assert thumbnail.status == 200 and thumbnail.content_type == "image/png"
    assert get(base + "/thumbnail", headers={"Accept": PDF}).status == 406


def test_report_html_in_the_charset_asked(server: Wadofarm, study) -> None:  # type: ignore[no-untyped-def]
    sr, ct = by_name(study)["sr"], by_name(study)["ct"]
    params = server.wado(sr.object_uid, contentType="text/html", charset="ISO-8859-1")
    reply = get(server.url + "/wado", params=params)
    assert reply.status == 200, reply.text
    assert reply.headers["content-type"] == "text/html; charset=ISO-8859-1"
    assert b"J\xf6rg Riesmeier" in reply.body and b'<meta charset="ISO-8859-1">' in reply.body
    utf8 = get(server.url + "/wado", params=server.wado(sr.object_uid, contentType="text/html"))
    assert utf8.headers["content-type"] == "text/html; charset=utf-8"
    assert "Jörg Riesmeier".encode() in utf8.body
    # The first acceptable charset of a list; none known is a 406; HTML of an image too.
    listed = server.wado(sr.object_uid, contentType="text/html", charset="x-klingon, UTF-16")
    reply = get(server.url + "/wado", params=listed)
    assert reply.headers["content-type"] == "text/html; charset=UTF-16"
    assert "Jörg".encode("utf-16-le") in reply.body
    unknown = server.wado(sr.object_uid, contentType="text/html", charset="x-klingon")
    assert get(server.url + "/wado", params=unknown).status == 406
    image = get(server.url + "/wado", params=server.wado(ct.object_uid, contentType="text/html"))
    assert image.status == 406 and "HTML" in image.text
    base = f"{server.url}/dicom-web/studies/{STUDY}/series/{sr.series_uid}"
    rendered = get(
        base + "/rendered", params={"charset": "ISO-8859-1"}, headers={"Accept": "text/html"}
    )
    assert rendered.status == 200 and rendered.body == reply_body(server, sr, "ISO-8859-1")


@pytest.mark.parametrize("name", objects.VIDEOS)
def test_video_stream_and_frames(server: Wadofarm, study, name: str) -> None:  # type: ignore[no-untyped-def]
    video, ct = by_name(study)[name], by_name(study)["ct"]
    url = server.url + "/wado"
    as_stored = get(url, params=server.wado(video.object_uid, contentType="video/mpeg"))
    assert as_stored.status == 200 and as_stored.content_type == "video/mpeg"
    assert as_stored.body == videos.encode(name)
    mp4 = get(url, params=server.wado(video.object_uid, contentType="video/mp4"))
    assert mp4.status == 200 and mp4.content_type == "video/mp4" and mp4.body[4:8] == b"ftyp"
    source = videos.source_frames()
    for number in (1, 7):
        params = server.wado(video.object_uid, contentType="image/png", frameNumber=number)
        image = decode(get(url, params=params).body)
        assert psnr(image, source[number - 1]) > 30
    past = get(url, params=server.wado(video.object_uid, frameNumber=videos.FRAMES + 1))
    assert past.status == 400 and f"{videos.FRAMES} frame" in past.text
    assert get(url, params=server.wado(ct.object_uid, contentType="video/mp4")).status == 406
    base = f"{server.url}/dicom-web/studies/{STUDY}/series/{video.series_uid}"
    thumbnail = get(base + "/thumbnail")
    assert thumbnail.status == 200 and thumbnail.content_type == "image/jpeg"
    assert decode(thumbnail.body).shape[:2] == (105, 128)
    rendered = get(base + "/rendered", headers={"Accept": "video/mp4"})
    assert rendered.status == 200 and rendered.body == mp4.body


@pytest.mark.parametrize(
    ("syntax", "least_psnr"),
    [
        ("1.2.840.10008.1.2.5", None),
        ("1.2.840.10008.1.2.4.80", None),
        ("1.2.840.10008.1.2.4.91", 45),
    ],
)
def test_transfer_syntax_round_trip(
    server: Wadofarm, study, syntax: str, least_psnr: float | None
) -> None:  # type: ignore[no-untyped-def]
    ct = by_name(study)["ct"]
    params = server.wado(ct.object_uid, contentType="application/dicom", transferSyntax=syntax)
    reply = get(server.url + "/wado", params=params)
    assert reply.status == 200 and reply.content_type == "application/dicom", reply.text
    sent = pydicom.dcmread(io.BytesIO(reply.body))
    assert sent.file_meta.TransferSyntaxUID == syntax
    original = pydicom.dcmread(ct.path).pixel_array.astype(float)
    back = sent.pixel_array.astype(float)
    if least_psnr is None:
        assert (back == original).all()
    else:
        mse = float(((back - original) ** 2).mean())
        assert 10 * np.log10((original.max() - original.min()) ** 2 / mse) > least_psnr


def test_transfer_syntax_refusals(server: Wadofarm, study) -> None:  # type: ignore[no-untyped-def]
    ct = by_name(study)["ct"]
    url = server.url + "/wado"
    baseline = "1.2.840.10008.1.2.4.50"
    refused = get(
        url,
        params=server.wado(ct.object_uid, contentType="application/dicom", transferSyntax=baseline),
    )
    assert refused.status == 406 and baseline in refused.text and "16" in refused.text
    unknown = get(
        url,
        params=server.wado(ct.object_uid, contentType="application/dicom", transferSyntax="1.2.3"),
    )
    assert unknown.status == 406 and "1.2.3" in unknown.text
    image = get(url, params=server.wado(ct.object_uid, transferSyntax="1.2.840.10008.1.2"))
    assert image.status == 400 and "application/dicom" in image.text
    same = get(
        url,
        params=server.wado(
            ct.object_uid, contentType="application/dicom", transferSyntax="1.2.840.10008.1.2.1"
        ),
    )
    assert same.status == 200 and same.body == ct.path.read_bytes()


def test_a_list_of_types_falls_back_to_what_the_object_offers(server: Wadofarm, study) -> None:  # type: ignore[no-untyped-def]
    """A viewer asks a whole study for "application/pdf, text/html, image/png": each object
    answers with the first it holds."""
    accept = "application/pdf, text/html;q=0.9, image/png;q=0.5"
    expected = {"pdf": PDF, "sr": "text/html", "kos": "text/html", "ct": "image/png"}
    expected |= {"rtplan": "image/png", "mpeg2": "image/png"}
    for name, media in expected.items():
        obj = by_name(study)[name]
        reply = get(server.url + "/wado", params=server.wado(obj.object_uid, contentType=accept))
        assert reply.status == 200 and reply.content_type == media, (name, reply.text)
        base = f"{server.url}/dicom-web/studies/{STUDY}/series/{obj.series_uid}"
        rendered = get(base + "/rendered", headers={"Accept": accept})
        assert rendered.status == 200 and rendered.content_type == media, (name, rendered.text)


def parts(reply_headers: dict[str, str], body: bytes) -> list[tuple[str, bytes]]:
    """The parts of a multipart/related body: (content type, bytes) each."""
    content_type = reply_headers["content-type"]
    assert content_type.startswith("multipart/related;")
    boundary = content_type.split("boundary=")[1].split(";")[0].strip().strip('"').encode()
    chunks = body.split(b"--" + boundary)
    assert chunks[0] == b"" and chunks[-1] == b"--\r\n"
    found = []
    for chunk in chunks[1:-1]:
        head, _, payload = chunk.partition(b"\r\n\r\n")
        assert payload.endswith(b"\r\n")
        found.append((head.decode().split("Content-Type:")[1].strip(), payload[:-2]))
    return found


@pytest.mark.parametrize(("name", "frames"), [("mpeg2", (5, 1, 3)), ("pdf", (2, 1))])
def test_a_frame_list_is_multipart(
    server: Wadofarm, study, name: str, frames: tuple[int, ...]
) -> None:  # type: ignore[no-untyped-def]
    obj = by_name(study)[name]
    base = (
        f"{server.url}/dicom-web/studies/{STUDY}/series/{obj.series_uid}/instances/{obj.object_uid}"
    )
    listed = ",".join(str(f) for f in frames)
    reply = get(f"{base}/frames/{listed}/rendered", headers={"Accept": "image/png"})
    assert reply.status == 200, reply.text
    assert 'type="image/png"' in reply.headers["content-type"]
    found = parts(reply.headers, reply.body)
    assert [media for media, _ in found] == ["image/png"] * len(frames)
    for frame, (_, payload) in zip(frames, found, strict=True):
        single = get(f"{base}/frames/{frame}/rendered", headers={"Accept": "image/png"})
        assert payload == single.body
    again = get(
        f"{base}/frames/{listed}/rendered",
        headers={"Accept": "image/png", "If-None-Match": reply.headers["etag"]},
    )
    assert again.status == 304
    past = get(f"{base}/frames/1,99/rendered")
    assert past.status == 400 and "frameNumber 99" in past.text


def test_anonymize_is_refused_unless_allowed(server: Wadofarm, study) -> None:  # type: ignore[no-untyped-def]
    ct = by_name(study)["ct"]
    params = server.wado(ct.object_uid, contentType="application/dicom", anonymize="yes")
    reply = get(server.url + "/wado", params=params)
    assert reply.status == 403 and "--allow-anonymize" in reply.text


@pytest.mark.parametrize("store", ["folder", "orthanc"])
def test_anonymize_over_http(anonymizing, study, store: str) -> None:  # type: ignore[no-untyped-def]
    running = anonymizing[store]
    ct, sr = by_name(study)["ct"], by_name(study)["sr"]
    original = pydicom.dcmread(ct.path)
    url = running.url + "/wado"
    for syntax in (None, "1.2.840.10008.1.2.5"):
        extra = {"transferSyntax": syntax} if syntax else {}
        params = running.wado(
            ct.object_uid, contentType="application/dicom", anonymize="yes", **extra
        )
        reply = get(url, params=params)
        assert reply.status == 200, reply.text
        sent = pydicom.dcmread(io.BytesIO(reply.body))
        assert sent.PatientIdentityRemoved == "YES"
        assert str(sent.PatientName) != str(original.PatientName)
        assert sent.PatientID != original.PatientID and sent.SOPInstanceUID != ct.object_uid
        assert (sent.pixel_array == original.pixel_array).all()
        assert sent.file_meta.TransferSyntaxUID == (syntax or original.file_meta.TransferSyntaxUID)
    html = get(url, params=running.wado(sr.object_uid, contentType="text/html", anonymize="yes"))
    assert html.status == 200 and "Jörg".encode() not in html.body and b"S R Test" not in html.body
    bad = get(url, params=running.wado(ct.object_uid, anonymize="no"))
    assert bad.status == 400 and "anonymize must be yes" in bad.text


def reply_body(server: Wadofarm, obj: objects.StudyObject, charset: str) -> bytes:
    params = server.wado(obj.object_uid, contentType="text/html", charset=charset)
    return get(server.url + "/wado", params=params).body


CARDS_JS = """
return Array.from(document.querySelectorAll('a.series')).map(card => {
  const img = card.querySelector('img');
  return [card.dataset.series, img.complete && !img.dataset.retrying, img.naturalWidth,
          img.classList.contains('failed')];
});
"""


def test_the_gallery_shows_a_picture_for_every_object(objects_folder: Wadofarm, study) -> None:  # type: ignore[no-untyped-def]
    with chromium() as driver:
        driver.get(objects_folder.url + "/")
        deadline = time.monotonic() + 90
        cards: list[list[object]] = []
        while time.monotonic() < deadline:
            cards = driver.execute_script(CARDS_JS)
            if len(cards) == len(study) and all(settled for _, settled, _, _ in cards):
                break
            time.sleep(0.2)
        assert {uid for uid, *_ in cards} == {obj.series_uid for obj in study}
        broken = [
            uid for uid, settled, width, failed in cards if not settled or not width or failed
        ]
        assert not broken, cards
