"""Property-based fuzzing of the WADO-URI parser, in process and over real HTTP: every query
either parses into a request that keeps every rule, or is refused with 400/406 and one line."""

from __future__ import annotations

import math
from urllib.parse import quote

from hypothesis import event, given
from hypothesis import strategies as st
from multidict import MultiDict

from router import wado_uri
from router.errors import InvalidRequest, NotAcceptable
from router.negotiation import EVERY_FORMAT
from router.uid import MAX_LENGTH, is_uid
from router.values import MAX_FRAME, MAX_SIDE
from tests.reliability.fuzz import fuzz_settings
from tests.support import corpus
from tests.support.http import get
from tests.support.server import Wadofarm

NUMBERISH = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789+-.,eE xna", max_size=16),
)
UIDISH = st.one_of(
    st.lists(st.one_of(st.integers(0, 10**40).map(str), st.just("")), max_size=12).map(".".join),
    st.just(corpus.derived_uid("CT_small.dcm", "instance")),
)
GOOD_UID = st.lists(st.integers(0, 99999).map(str), min_size=1, max_size=10).map(".".join)
MEDIA = st.sampled_from(
    [
        "image/jpeg",
        "image/jpg",
        "image/png",
        "application/dicom",
        "*/*",
        "image/*",
        "text/html",
        "image/gif",
        "image/webp",
        "video/*",
        "image/",
        "/png",
        "",
    ]
)
CONTENT_TYPE = st.lists(
    st.tuples(MEDIA, st.one_of(st.none(), NUMBERISH)), min_size=1, max_size=4
).map(lambda items: ", ".join(m + ("" if q is None else f";q={q}") for m, q in items))
REGION = st.lists(NUMBERISH, min_size=0, max_size=6).map(",".join)
UNIT = st.floats(0, 1)
VALID = {
    "requestType": st.just("WADO"),
    "objectUID": GOOD_UID,
    "studyUID": GOOD_UID,
    "seriesUID": GOOD_UID,
    "contentType": CONTENT_TYPE,
    "rows": st.integers(1, MAX_SIDE).map(str),
    "columns": st.integers(1, MAX_SIDE).map(str),
    "region": st.lists(UNIT, min_size=4, max_size=4).map(
        lambda v: ",".join(
            map(str, (min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3])))
        )
    ),
    "windowCenter": st.floats(-1e6, 1e6).map(str),
    "windowWidth": st.floats(1e-3, 1e6).map(str),
    "frameNumber": st.integers(1, MAX_FRAME).map(str),
    "imageQuality": st.integers(1, 100).map(str),
}
ANYTHING = st.text(max_size=80)
VALUES = {
    name: st.one_of(valid, valid, valid, NUMBERISH, ANYTHING) for name, valid in VALID.items()
}


def query(values: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[dict[str, str]]:
    required = ("requestType", "objectUID")
    return st.fixed_dictionaries(
        {k: values[k] for k in required},
        optional={k: v for k, v in values.items() if k not in required},
    )


def paired(q: dict[str, str]) -> list[tuple[str, str]]:
    """Valid values, and the window as a pair."""
    if ("windowCenter" in q) != ("windowWidth" in q):
        q = {**q, "windowCenter": "40", "windowWidth": "400"}
    return list(q.items())


EXTRA = st.lists(st.tuples(st.sampled_from([*VALUES, "x"]) | ANYTHING, ANYTHING), max_size=3)
QUERY = st.one_of(
    query(VALID).map(paired),  # valid in every value: accepted unless the types clash
    st.tuples(query(VALUES), EXTRA).map(lambda parts: [*parts[0].items(), *parts[1]]),
)


def check(request: wado_uri.WadoRequest) -> None:
    """Every rule a parsed request must keep."""
    for uid in (request.object_uid, request.study_uid, request.series_uid):
        assert uid is None or (is_uid(uid) and len(uid) <= MAX_LENGTH)
    asked = request.render
    assert asked.output in EVERY_FORMAT and set(asked.alternatives) <= set(EVERY_FORMAT)
    for side in (asked.rows, asked.columns):
        assert side is None or 1 <= side <= MAX_SIDE
    assert request.frame is None or 1 <= request.frame <= MAX_FRAME
    assert 1 <= asked.quality <= 100
    if asked.region is not None:
        r = asked.region
        assert 0 <= r.xmin < r.xmax <= 1 and 0 <= r.ymin < r.ymax <= 1
    if asked.window is not None:
        assert math.isfinite(asked.window.center) and math.isfinite(asked.window.width)
        assert asked.window.width > 0


@fuzz_settings(2000)
@given(QUERY)
def test_parser_accepts_only_valid_requests(items: list[tuple[str, str]]) -> None:
    try:
        request = wado_uri.parse(MultiDict(items))
    except (InvalidRequest, NotAcceptable) as exc:
        event(f"refused {exc.status}")
        assert exc.status in (400, 406)
        assert exc.detail and "\n" not in exc.detail and len(exc.detail) < 600
        return
    event("accepted")
    check(request)


RAW = st.lists(st.tuples(st.sampled_from([*VALUES, "x"]), st.binary(max_size=24)), max_size=8).map(
    lambda items: "&".join(f"{k}={quote(v, safe='')}" for k, v in items)
)


@fuzz_settings(1000)
@given(raw=RAW, base=st.booleans())
def test_no_query_makes_the_server_fail(wadofarm_folder: Wadofarm, raw: str, base: bool) -> None:
    """Arbitrary bytes, percent-encoded, against the real server: never a 5xx."""
    uid = corpus.derived_uid("CT_small.dcm", "instance")
    prefix = f"requestType=WADO&objectUID={uid}&" if base else ""
    reply = get(f"{wadofarm_folder.url}/wado?{prefix}{raw}")
    assert reply.status in (200, 400, 404, 406), (reply.status, reply.text)
    if reply.status != 200:
        assert reply.text.count("\n") == 1
