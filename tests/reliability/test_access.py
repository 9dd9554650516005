"""Access control for real: bearer tokens from a file (re-read when it changes), and Orthanc's own
users deciding through the forwarded Authorization header, with a cached render served only to a
client whose access to that instance was checked."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import badfiles, corpus
from tests.support.http import get
from tests.support.orthanc import Orthanc
from tests.support.server import REPO, Wadofarm
from tests.support.spy import Spy

UID = badfiles.GOOD_UID
WADO = {"requestType": "WADO", "objectUID": UID}
ALPHA, BETA, GAMMA = "tok-alpha-5f2c9e", "tok-beta-77d01a", "tok-gamma-0b9e44"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def tokens_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Wadofarm, Path]]:
    base = tmp_path_factory.mktemp("bearer")
    (base / "dicom").mkdir()
    (base / "dicom" / "good.dcm").write_bytes(badfiles.good())
    tokens = base / "tokens"
    tokens.write_text(f"# viewers\n{ALPHA}\n\n  {BETA}  \n")
    server = Wadofarm(
        [
            "--dicom-dir",
            str(base / "dicom"),
            "--workers",
            "1",
            "--auth",
            "bearer",
            "--auth-tokens",
            str(tokens),
        ],
        base / "w.log",
    ).start()
    yield server, tokens
    server.stop()


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, ""),
        (bearer("tok-wrong"), 'error="invalid_token"'),
        ({"Authorization": "Bearer "}, ""),
        (basic("alice", ALPHA), ""),
        ({"Authorization": ALPHA}, ""),
    ],
    ids=["none", "unknown token", "empty token", "basic scheme", "no scheme"],
)
def test_bearer_refuses_without_a_listed_token(
    tokens_server: tuple[Wadofarm, Path], headers: dict[str, str], error: str
) -> None:
    server, _ = tokens_server
    for params in (WADO, {**WADO, "contentType": "application/dicom"}):
        reply = get(server.url + "/wado", params=params, headers=headers)
        assert reply.status == 401 and reply.content_type == "text/plain"
        assert reply.headers["www-authenticate"].startswith('Bearer realm="wadofarm"')
        assert error in reply.headers["www-authenticate"]


def test_bearer_serves_listed_tokens_and_never_a_cached_render_without_one(
    tokens_server: tuple[Wadofarm, Path],
) -> None:
    server, _ = tokens_server
    params = {**WADO, "rows": 50}
    first = get(server.url + "/wado", params=params, headers=bearer(ALPHA))
    assert first.status == 200
    again = get(server.url + "/wado", params=params, headers=bearer(BETA))
    assert again.status == 200 and again.headers["x-wadofarm-cache"] == "L1"
    refused = get(server.url + "/wado", params=params)
    assert refused.status == 401 and first.body not in refused.body
    assert get(server.url + "/healthz").status == 200  # public


def test_token_file_changes_take_effect_without_a_restart(
    tokens_server: tuple[Wadofarm, Path],
) -> None:
    server, tokens = tokens_server
    tokens.write_text(f"{ALPHA}\n{GAMMA}\n")  # BETA revoked, GAMMA added
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if get(server.url + "/wado", params=WADO, headers=bearer(BETA)).status == 401:
            break
        time.sleep(0.1)
    assert get(server.url + "/wado", params=WADO, headers=bearer(BETA)).status == 401
    assert get(server.url + "/wado", params=WADO, headers=bearer(GAMMA)).status == 200
    assert get(server.url + "/wado", params=WADO, headers=bearer(ALPHA)).status == 200
    log = server.log_tail()
    assert all(token not in log for token in (ALPHA, BETA, GAMMA, "tok-wrong"))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--auth", "bearer"], "needs --auth-tokens"),
        (["--auth", "bearer", "--auth-tokens", "/nonexistent/tokens"], "a readable file"),
        (["--auth", "forward"], "needs --orthanc"),
    ],
)
def test_a_misconfigured_auth_refuses_to_start(flags: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "router", "serve", "--port", "0", *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and message in done.stderr


USERS = {"alice": "alice-pw-31x", "bob": "bob-pw-92q"}
TTL = 1.5


@pytest.fixture(scope="module")
def forwarding(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Wadofarm, Orthanc, Spy]]:
    base = tmp_path_factory.mktemp("forward")
    orthanc = Orthanc(base / "orthanc", users=USERS).start()
    spy = Spy(orthanc.port).start()
    server = Wadofarm(
        [
            "--orthanc",
            spy.url,
            "--workers",
            "1",
            "--auth",
            "forward",
            "--auth-cache-seconds",
            str(TTL),
            "--log-level",
            "debug",
        ],
        base / "w.log",
    )
    try:
        orthanc.upload_bytes(badfiles.good())
        server.start()
        yield server, orthanc, spy
    finally:
        server.stop()
        spy.stop()
        orthanc.stop()


def test_forward_lets_orthanc_users_decide(forwarding: tuple[Wadofarm, Orthanc, Spy]) -> None:
    server, _, spy = forwarding
    seen = len(spy.requests())
    anonymous = get(server.url + "/wado", params={**WADO, "rows": 60})
    assert anonymous.status == 401 and "refused the client's credentials" in anonymous.text
    assert anonymous.headers["www-authenticate"].lower().startswith("basic")
    wrong = get(server.url + "/wado", params={**WADO, "rows": 60}, headers=basic("alice", "no"))
    assert wrong.status == 401
    alice = get(server.url + "/wado", params={**WADO, "rows": 60}, headers=basic(*ALICE))
    assert alice.status == 200
    sent = {r.headers.get("authorization") for r in spy.requests()[seen:]}
    assert sent == {None, basic("alice", "no")["Authorization"], basic(*ALICE)["Authorization"]}


ALICE = ("alice", USERS["alice"])
BOB = ("bob", USERS["bob"])


def test_a_cached_render_is_served_only_after_a_check(
    forwarding: tuple[Wadofarm, Orthanc, Spy],
) -> None:
    server, _, spy = forwarding
    params = {**WADO, "rows": 61}
    assert get(server.url + "/wado", params=params, headers=basic(*ALICE)).status == 200
    for headers in ({}, basic("mallory", "guess"), basic("alice", "wrong")):
        refused = get(server.url + "/wado", params=params, headers=headers)
        assert refused.status == 401, "a cached render went to an unchecked client"
    seen = len(spy.requests())
    bob = get(server.url + "/wado", params=params, headers=basic(*BOB))
    assert bob.status == 200 and bob.headers["x-wadofarm-cache"] == "L1"
    checks = spy.requests()[seen:]
    assert [r.target.count("/") for r in checks] == [2]  # one GET /instances/{id}, as bob
    assert checks[0].headers["authorization"] == basic(*BOB)["Authorization"]
    seen = len(spy.requests())
    for _ in range(5):  # within the decision's lifetime: no more questions to Orthanc
        assert get(server.url + "/wado", params=params, headers=basic(*BOB)).status == 200
    assert spy.requests()[seen:] == []


def test_a_revoked_user_is_refused_once_the_decision_expires(
    forwarding: tuple[Wadofarm, Orthanc, Spy],
) -> None:
    server, orthanc, _ = forwarding
    params = {**WADO, "rows": 62}
    assert get(server.url + "/wado", params=params, headers=basic(*ALICE)).status == 200
    orthanc.stop()
    orthanc.users = {"bob": USERS["bob"]}  # alice's account removed
    orthanc.start()
    time.sleep(TTL)
    refused = get(server.url + "/wado", params=params, headers=basic(*ALICE))
    assert refused.status == 401
    assert get(server.url + "/wado", params=params, headers=basic(*BOB)).status == 200
    log = server.log_tail()
    for user, password in USERS.items():
        assert password not in log
        assert basic(user, password)["Authorization"].split()[1] not in log


def test_the_pass_through_lets_orthanc_users_decide(
    forwarding: tuple[Wadofarm, Orthanc, Spy],
) -> None:
    server, _, _ = forwarding
    assert get(server.url + "/system").status == 401
    assert get(server.url + "/system", headers=basic("mallory", "guess")).status == 401
    assert get(server.url + "/system", headers=basic(*BOB)).status == 200


@pytest.fixture(scope="module")
def bearer_orthanc(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Wadofarm, Spy]]:
    base = tmp_path_factory.mktemp("bearer-orthanc")
    orthanc = Orthanc(base / "orthanc").start()
    spy = Spy(orthanc.port).start()
    tokens = base / "tokens"
    tokens.write_text(ALPHA + "\n")
    server = Wadofarm(
        ["--orthanc", spy.url, "--workers", "1", "--auth", "bearer", "--auth-tokens", str(tokens)],
        base / "w.log",
    )
    try:
        orthanc.upload_bytes(badfiles.good())
        server.start()
        yield server, spy
    finally:
        server.stop()
        spy.stop()
        orthanc.stop()


def test_bearer_guards_every_route_and_keeps_the_token_from_orthanc(
    bearer_orthanc: tuple[Wadofarm, Spy],
) -> None:
    server, spy = bearer_orthanc
    seen = len(spy.requests())
    for path in ("/system", "/dicom-web/studies", "/wado?requestType=WADO&objectUID=" + UID):
        assert get(server.url + path).status == 401, path
    assert spy.requests()[seen:] == [], "an unauthenticated request reached Orthanc"
    assert get(server.url + "/system", headers=bearer(ALPHA)).status == 200
    assert get(server.url + "/wado", params=WADO, headers=bearer(ALPHA)).status == 200
    sent = spy.requests()[seen:]
    assert sent and all(ALPHA not in r.headers.get("authorization", "") for r in sent)


SECRET = "RG1_J2KR.dcm"  # ~0.5-1 s to render: requests for it overlap, and coalesce
# Orthanc's own permissions are all or nothing per user; a Lua filter makes one instance
# unreadable to bob, so that "may not read this instance" is Orthanc's real answer (403).
FILTER = """
function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)
  if username == "bob" and string.find(uri, "{secret}", 1, true) then
    return false
  end
  return true
end
"""


@pytest.fixture(scope="module")
def filtered(
    tmp_path_factory: pytest.TempPathFactory, catalogue: dict[str, Path]
) -> Iterator[tuple[Wadofarm, Spy, str]]:
    """Orthanc with alice and bob, where bob may read every instance but SECRET; wadofarm in
    front with --auth forward and one render worker; the spy sees what reaches Orthanc."""
    base = tmp_path_factory.mktemp("filtered")
    orthanc = Orthanc(base / "orthanc", users=USERS).start()
    spy = Spy(orthanc.port).start()
    server = Wadofarm(
        ["--orthanc", spy.url, "--workers", "1", "--auth", "forward", "--frame-cache-mb", "0"],
        base / "w.log",
    )
    try:
        orthanc.upload_bytes(badfiles.good())
        secret_id = str(orthanc.upload(catalogue[SECRET])["ID"])
        orthanc.stop()
        script = base / "filter.lua"
        script.write_text(FILTER.replace("{secret}", secret_id))
        orthanc.extra = {"LuaScripts": [str(script)]}
        orthanc.start()
        server.start()
        yield server, spy, secret_id
    finally:
        server.stop()
        spy.stop()
        orthanc.stop()


def test_a_client_never_receives_through_another_clients_render_what_it_may_not_read(
    filtered: tuple[Wadofarm, Spy, str],
) -> None:
    """Bob asks for the instance he may not read while alice's render of the very same URL is
    in flight (the render he would share), and again once it is cached: 403 each time, never
    the image. The worker fetched the file once, with alice's credentials only."""
    server, spy, secret_id = filtered
    secret = {"requestType": "WADO", "objectUID": corpus.sample(SECRET).object_uid}
    seen = len(spy.requests())
    assert get(server.url + "/wado", params=secret, headers=basic(*BOB)).status == 403
    with ThreadPoolExecutor(8) as pool:
        for rows in (300, 301, 302):
            params = {**secret, "rows": rows, "contentType": "image/png"}
            alice = pool.submit(get, server.url + "/wado", params=params, headers=basic(*ALICE))
            time.sleep(0.15)  # alice's render has started: bob's would coalesce with it
            bobs = [
                pool.submit(get, server.url + "/wado", params=params, headers=basic(*BOB))
                for _ in range(4)
            ]
            refused = [b.result(timeout=60) for b in bobs]
            shown = alice.result(timeout=60)
            assert shown.status == 200 and shown.body.startswith(b"\x89PNG")
            for reply in refused:
                assert reply.status == 403, reply.status
                assert "does not let these credentials read this" in reply.text
                assert shown.body not in reply.body and b"PNG" not in reply.body
            cached = get(server.url + "/wado", params=params, headers=basic(*BOB))
            assert cached.status == 403 and shown.body not in cached.body
            again = get(server.url + "/wado", params=params, headers=basic(*ALICE))
            assert again.status == 200 and again.headers["x-wadofarm-cache"] == "L1"
    fetches = [r for r in spy.requests()[seen:] if r.target.endswith(f"/{secret_id}/file")]
    assert len(fetches) == 3
    assert {r.headers.get("authorization") for r in fetches} == {basic(*ALICE)["Authorization"]}
    # bob reads what he may, and a render he started is shared with alice
    good = {**WADO, "rows": 90}
    with ThreadPoolExecutor(2) as pool:
        replies = [
            pool.submit(get, server.url + "/wado", params=good, headers=basic(*who))
            for who in (BOB, ALICE)
        ]
        assert [r.result(timeout=60).status for r in replies] == [200, 200]
