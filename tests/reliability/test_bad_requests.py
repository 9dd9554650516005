"""Every parameter malformed in every way gets 400 (406 for an unoffered content type) with a
reason, and none of it reaches Orthanc: a recording proxy between wadofarm and a real Orthanc
shows what does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest

from router.stores.orthanc import ORTHANC_ID
from tests.support import badfiles
from tests.support.http import get
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm
from tests.support.spy import Spy

UID = badfiles.GOOD_UID
STUDY = badfiles.corpus.derived_uid("good_ct", "study")
SERIES = badfiles.corpus.derived_uid("good_ct", "series")
BASE = {"requestType": "WADO", "objectUID": UID}

# Raw, already percent-encoded values: each breaks a rule whatever parameter carries it.
ANY = {
    "absurdly long": "1" * 5000,
    "NUL": "%00",
    "CRLF header injection": "1%0d%0aX-Injected:%201",
    "non-ASCII": "%C3%A9",
    "invalid UTF-8": "%FF%FE",
    "overlong UTF-8 dot": "%C0%AE",
    "double-encoded digits": "%2531%2530",
    "Arabic-Indic digits": quote("١٢"),
    "full-width digits": quote("１２"),
    "JSON breakout": quote('1", "Level": "Patient'),
    "path traversal": "..%2f..%2fetc%2fpasswd",
    "wildcard": "*",
    "space": "%20",
}
INTEGER = {
    "letters": "abc",
    "NaN": "NaN",
    "negative": "-1",
    "zero": "0",
    "fraction": "1.5",
    "exponent": "1e3",
    "hex": "0x10",
    "plus sign": "%2B5",
    "padded": "%205",
    "huge": "9" * 30,
    "empty": "",
}
DECIMAL = {
    "letters": "abc",
    "NaN": "nan",
    "infinity": "inf",
    "overflow": "1e999",
    "hex float": "0x1p3",
    "comma decimal": "1,5",
    "double sign": "--1",
    "empty": "",
}
REGION = {
    "three numbers": "0,0,1",
    "five numbers": "0,0,1,1,1",
    "NaN": "nan,0,1,1",
    "inverted": "0.5,0,0.2,1",
    "negative": "-0.1,0,1,1",
    "past one": "0,0,1.5,1",
    "empty box": "0.5,0.5,0.5,0.5",
    "semicolons": "0;0;1;1",
    "letters": "a,b,c,d",
    "empty": "",
}
UIDS = {
    "letters": "1.2.abc",
    "empty component": "1..2",
    "leading dot": ".1.2",
    "trailing dot": "1.2.",
    "65 characters": "1." * 32 + "1",
    "wildcard": "1.2.*",
    "SQL": "1.2%20OR%201=1",
}
CONTENT_TYPE = {
    "no subtype": "image/",
    "no type": "/png",
    "q above one": "image/png;q=2",
    "q not a number": "image/png;q=x",
    "q NaN": "image/png;q=nan",
    "bare word": "jpeg",
}
INTEGERS = ("rows", "columns", "frameNumber", "imageQuality")
OUT_OF_RANGE = {
    "rows": ["16385"],
    "columns": ["16385"],
    "frameNumber": ["1000001"],
    "imageQuality": ["101"],
}


def cases() -> Iterator[tuple[str, str]]:
    """(id, raw query string), every one to be refused."""
    base = "requestType=WADO&objectUID=" + UID
    for name in ("objectUID", "studyUID", "seriesUID"):
        rest = base.replace("&objectUID=" + UID, "") if name == "objectUID" else base
        for what, value in {**ANY, **UIDS}.items():
            yield f"{name}-{what}", f"{rest}&{name}={value}"
    for name in INTEGERS:
        for what, value in {**ANY, **INTEGER}.items():
            yield f"{name}-{what}", f"{base}&{name}={value}"
        for value in OUT_OF_RANGE[name]:
            yield f"{name}-out of range {value}", f"{base}&{name}={value}"
    for name, other in (("windowCenter", "windowWidth=400"), ("windowWidth", "windowCenter=40")):
        for what, value in {**ANY, **DECIMAL}.items():
            yield f"{name}-{what}", f"{base}&{other}&{name}={value}"
        yield f"{name}-alone", f"{base}&{name}=40"
    for what, value in {"zero": "0", "negative": "-5"}.items():
        yield f"windowWidth-{what}", f"{base}&windowCenter=40&windowWidth={value}"
    for what, value in {**ANY, **REGION}.items():
        yield f"region-{what}", f"{base}&region={value}"
    for what, value in CONTENT_TYPE.items():
        yield f"contentType-{what}", f"{base}&contentType={value}"
    yield "contentType-absurdly long", f"{base}&contentType=" + "image/jpeg," * 200
    for what, value in {**ANY, "lower case": "wado", "other": "WADOX", "empty": ""}.items():
        yield f"requestType-{what}", f"objectUID={UID}&requestType={value}"
    yield "requestType-missing", f"objectUID={UID}"
    yield "objectUID-missing", "requestType=WADO"
    for name, value in [
        ("requestType", "WADO"),
        ("objectUID", UID),
        ("studyUID", STUDY),
        ("rows", "10"),
        ("region", "0,0,1,1"),
        ("windowCenter", "40"),
        ("contentType", "image/png"),
        ("imageQuality", "50"),
        ("frameNumber", "1"),
    ]:
        extra = "&windowWidth=400" if name == "windowCenter" else ""
        yield f"{name}-repeated", f"{base}{extra}&{name}={value}&{name}={value}"


CASES = dict(cases())


@pytest.fixture(scope="module")
def spied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Wadofarm, Spy]]:
    orthanc = Orthanc(tmp_path_factory.mktemp("orthanc")).start()
    spy = Spy(orthanc.port).start()
    server = Wadofarm(["--orthanc", spy.url, "--workers", "1"], Path(orthanc.workdir) / "w.log")
    try:
        orthanc.upload_bytes(badfiles.good())
        server.start()
        yield server, spy
    finally:
        server.stop()
        spy.stop()
        orthanc.stop()


@pytest.mark.parametrize("query", CASES.values(), ids=CASES.keys())
def test_malformed_is_400_with_a_reason_and_never_reaches_orthanc(
    spied: tuple[Wadofarm, Spy], query: str
) -> None:
    server, spy = spied
    before = spy.sent
    reply = get(f"{server.url}/wado?{query}")
    assert reply.status == 400, reply.text
    assert reply.content_type == "text/plain"
    assert reply.text.endswith("\n") and reply.text.count("\n") == 1 and len(reply.text) > 12
    assert len(reply.text) < 600
    assert spy.sent == before, "a refused request reached Orthanc"


@pytest.mark.parametrize("value", ["image/webp", "image/png;q=0", "text/plain"])
def test_content_type_not_offered_is_406(spied: tuple[Wadofarm, Spy], value: str) -> None:
    """Types no object is offered in are refused before Orthanc is asked anything."""
    server, spy = spied
    before = spy.sent
    reply = get(f"{server.url}/wado", params={**BASE, "contentType": value})
    assert reply.status == 406 and "offers" in reply.text
    assert spy.sent == before


@pytest.mark.parametrize("value", ["text/html", "video/*", "application/pdf"])
def test_content_type_of_another_kind_is_406_naming_what_the_object_offers(
    spied: tuple[Wadofarm, Spy], value: str
) -> None:
    """An HTML report, a video or a PDF of an image: only the object can say, so it is read,
    and the 406 says what it is offered as."""
    server, _spy = spied
    reply = get(f"{server.url}/wado", params={**BASE, "contentType": value})
    assert reply.status == 406, reply.text
    assert "offered as a picture (JPEG, PNG, GIF)" in reply.text


def test_what_reaches_orthanc_is_one_json_find_and_one_file_read(
    spied: tuple[Wadofarm, Spy],
) -> None:
    """A valid request with percent-encoded digits and a leading-zero UID component: Orthanc
    sees the decoded UIDs only as JSON strings, and an Orthanc ID only in a URL path."""
    server, spy = spied
    seen = len(spy.requests())
    odd_study = "1.02.3"  # leading zeros occur in the wild and are accepted
    reply = get(
        f"{server.url}/wado?requestType=WADO&objectUID={quote(UID, safe='')}"
        f"&studyUID={odd_study}&rows=%31%30"
    )
    assert reply.status == 404  # not in that study: Orthanc was asked, and said so
    plain = get(f"{server.url}/wado", params={**BASE, "seriesUID": SERIES, "rows": 12})
    assert plain.status == 200
    new = spy.requests()[seen:]
    finds = [r for r in new if r.target == "/tools/find"]
    assert [r.method for r in finds] == ["POST", "POST"]
    assert [orjson.loads(r.body) for r in finds] == [
        {
            "Level": "Instance",
            "Query": {"SOPInstanceUID": UID, "StudyInstanceUID": odd_study},
            "Expand": False,
        },
        {
            "Level": "Instance",
            "Query": {"SOPInstanceUID": UID, "SeriesInstanceUID": SERIES},
            "Expand": False,
        },
    ]
    reads = [r for r in new if r not in finds]  # the worker's fetch (none from its frame cache)
    assert len(reads) <= 1
    for read in reads:
        assert read.method == "GET" and read.target.endswith("/file")
        orthanc_id = read.target.removeprefix("/instances/").removesuffix("/file")
        assert len(orthanc_id) == 44 and set(orthanc_id) <= set("0123456789abcdef-")


def test_a_frame_past_the_last_is_400_once_the_file_is_read(spied: tuple[Wadofarm, Spy]) -> None:
    """Only the file says how many frames it has; the number itself never reaches Orthanc."""
    server, spy = spied
    seen = len(spy.requests())
    reply = get(f"{server.url}/wado", params={**BASE, "frameNumber": 2})
    assert reply.status == 400 and "1 frame" in reply.text
    # Look-ups (a find; the background mapping of the series of an instance asked for by
    # objectUID alone: its parent, then the series' instances) and the file, nothing else.
    ends = {r.target.rsplit("/", 1)[-1] for r in spy.requests()[seen:]}
    assert {end for end in ends if not ORTHANC_ID.fullmatch(end)} <= {"find", "file", "instances"}


def test_oversized_request_line_and_headers_are_refused(spied: tuple[Wadofarm, Spy]) -> None:
    server, spy = spied
    before = spy.sent
    long_url = get(f"{server.url}/wado?requestType=WADO&objectUID={UID}&x={'a' * 20000}")
    assert 400 <= long_url.status < 500
    long_header = get(f"{server.url}/wado", params=BASE, headers={"X-Big": "b" * 20000})
    assert 400 <= long_header.status < 500
    assert spy.sent == before
    assert get(f"{server.url}/wado", params={**BASE, "rows": 9}).status == 200
