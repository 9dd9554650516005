"""The folder store never serves a file outside its root: not through a symlink there at the scan,
not through a symlinked folder, not through a file swapped for a symlink after the scan, not
through `..` in a URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import badfiles, corpus
from tests.support.http import get
from tests.support.server import Wadofarm


def uid(name: str) -> str:
    return corpus.derived_uid(name, "instance")


@pytest.fixture(scope="module")
def rooted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Wadofarm, Path, Path]]:
    base = tmp_path_factory.mktemp("rooted")
    root, outside = base / "root", base / "outside"
    (outside / "folder").mkdir(parents=True)
    (root / "sub").mkdir(parents=True)
    ct = badfiles.ct()
    for name, target in [
        ("inside", root / "sub" / "inside.dcm"),
        ("victim", root / "victim.dcm"),
        ("secret_file", outside / "secret_file.dcm"),
        ("secret_folder", outside / "folder" / "secret_folder.dcm"),
        ("secret_swapped", outside / "secret_swapped.dcm"),
    ]:
        target.write_bytes(badfiles._bytes(name, ct))
    (root / "link_out.dcm").symlink_to(outside / "secret_file.dcm")
    (root / "folder_out").symlink_to(outside / "folder")
    (root / "link_in.dcm").symlink_to(root / "sub" / "inside.dcm")  # inside: fine
    server = Wadofarm(["--dicom-dir", str(root), "--workers", "1"], base / "w.log").start()
    yield server, root, outside
    server.stop()


def wado(name: str, **params: object) -> dict[str, object]:
    return {"requestType": "WADO", "objectUID": uid(name), **params}


@pytest.mark.parametrize("name", ["secret_file", "secret_folder", "secret_swapped"])
@pytest.mark.parametrize("content_type", ["image/jpeg", "application/dicom"])
def test_files_outside_the_root_are_not_indexed(
    rooted: tuple[Wadofarm, Path, Path], name: str, content_type: str
) -> None:
    server, _, _ = rooted
    reply = get(server.url + "/wado", params=wado(name, contentType=content_type))
    assert reply.status == 404


def test_files_inside_are_served(rooted: tuple[Wadofarm, Path, Path]) -> None:
    server, _, _ = rooted
    assert get(server.url + "/wado", params=wado("inside")).status == 200


def test_a_file_swapped_for_a_symlink_out_is_no_longer_served(
    rooted: tuple[Wadofarm, Path, Path],
) -> None:
    server, root, outside = rooted
    victim = root / "victim.dcm"
    assert get(server.url + "/wado", params=wado("victim", rows=20)).status == 200
    victim.unlink()
    victim.symlink_to(outside / "secret_swapped.dcm")
    secret = (outside / "secret_swapped.dcm").read_bytes()
    for params in (wado("victim", rows=21), wado("victim", contentType="application/dicom")):
        reply = get(server.url + "/wado", params=params)
        assert reply.status == 404 and "no longer inside the folder" in reply.text
        assert secret not in reply.body


def test_a_folder_swapped_for_a_symlink_out_is_no_longer_served(
    rooted: tuple[Wadofarm, Path, Path],
) -> None:
    server, root, outside = rooted
    assert get(server.url + "/wado", params=wado("inside", rows=22)).status == 200
    os.rename(root / "sub", root / "sub.old")
    (outside / "sub").mkdir()
    os.link(root / "sub.old" / "inside.dcm", outside / "sub" / "inside.dcm")
    (root / "sub").symlink_to(outside / "sub")
    try:
        for params in (wado("inside", rows=23), wado("inside", contentType="application/dicom")):
            assert get(server.url + "/wado", params=params).status == 404
    finally:
        (root / "sub").unlink()
        os.rename(root / "sub.old", root / "sub")
    assert get(server.url + "/wado", params=wado("inside", rows=24)).status == 200


@pytest.mark.parametrize(
    "path", ["/wado/../../etc/passwd", "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/wado%2f.."]
)
def test_dot_dot_in_the_url_goes_nowhere(rooted: tuple[Wadofarm, Path, Path], path: str) -> None:
    server, _, _ = rooted
    reply = get(server.url + path)
    # An encoded slash has no clear reading: refused as such (router.paths, issue 25).
    assert reply.status == (400 if "%2f" in path else 404) and b"root:" not in reply.body
