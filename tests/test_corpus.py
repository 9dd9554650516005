"""The test corpus (tests/corpus) without the network: the files kept in the repository unpack
to their checksums, a fetched archive is unpacked and checked, a wrong file is an error that
names it, and a filled cache is used as it is."""

from __future__ import annotations

import hashlib
import io
import lzma
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests import corpus as store
from tests.support import corpus


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty corpus cache of this test's own, and no WADOFARM_CORPUS."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("WADOFARM_CORPUS", raising=False)
    return tmp_path / "cache" / "wadofarm" / "corpus"


def no_network(*args: object) -> Path:
    raise AssertionError("pip download was called")


def test_the_manifest_pins_every_file_to_a_release_or_the_repository() -> None:
    entries = store.entries()
    assert len({e.file for e in entries}) == len(entries) == 60
    for e in entries:
        assert len(e.sha256) == 64 and e.size > 0 and e.row["licence"], e.file
        assert e.source in ("wheel", "sdist", "repository"), e.file
        if e.source == "repository":
            assert (store.DATA / f"{e.file}.xz").is_file(), e.file
        else:
            assert e.version.count(".") >= 2 and e.version[0].isdigit(), e.file  # pinned
    # Nothing over 2 MB goes into git.
    assert max(p.stat().st_size for p in store.DATA.glob("*.xz")) < 2 * 2**20


def test_the_files_kept_in_the_repository_unpack_to_their_checksums() -> None:
    for e in store.entries():
        if e.source == "repository":
            data = lzma.decompress((store.DATA / f"{e.file}.xz").read_bytes())
            assert (len(data), hashlib.sha256(data).hexdigest()) == (e.size, e.sha256), e.file


def test_a_filled_cache_is_used_without_the_network(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.mkdir(parents=True)
    for name, path in corpus.files().items():
        shutil.copy(path, cache / name)
    monkeypatch.setattr(store, "_download", no_network)
    found = store.fetch(say=no_network)
    assert found == {e.file: cache / e.file for e in store.entries()}


def test_a_wrong_file_in_the_cache_is_an_error_naming_it(cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / "CT_small.dcm").write_bytes(b"not the file")
    with pytest.raises(store.CorpusError, match=r"CT_small\.dcm: .* has SHA-256"):
        store.locate()


def test_a_wrong_file_in_wadofarm_corpus_is_an_error_naming_it(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "0051.dcm").write_bytes(b"not the file")
    monkeypatch.setenv("WADOFARM_CORPUS", str(shared))
    with pytest.raises(store.CorpusError, match=r"0051\.dcm: .*shared/0051\.dcm"):
        store.locate()


def _only(*sources: str) -> list[store.Entry]:
    return [e for e in store.entries() if e.source in sources]


def _archive(kind: str, members: dict[str, bytes], dest: Path) -> Path:
    if kind == "wheel":
        path = dest / "project-1.0-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as wheel:
            for name, data in members.items():
                wheel.writestr(name, data)
        return path
    path = dest / "project-1.0.tar"  # uncompressed: quicker to make, read the same way
    with tarfile.open(path, "w") as sdist:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            sdist.addfile(info, io.BytesIO(data))
    return path


def _fake_release(entries: list[store.Entry], damaged: str = "") -> object:
    """A stand-in for `pip download`: an archive holding the corpus's real bytes at the paths
    the manifest names (a zip inside it where the path says "a.zip!member")."""

    def download(project: str, version: str, source: str, dest: Path) -> Path:
        members: dict[str, bytes] = {}
        for e in entries:
            if (e.project, e.version, e.source) != (project, version, source):
                continue
            data = corpus.files()[e.file].read_bytes()
            if e.file == damaged:
                data = data[:-1] + bytes([data[-1] ^ 1])
            outer, _, inner = e.path.partition("!")
            if inner:
                nested = io.BytesIO()
                with zipfile.ZipFile(nested, "w") as z:
                    z.writestr(inner, data)
                data = nested.getvalue()
            members[outer] = data
        return _archive(source, members, dest)

    return download


def test_fetch_unpacks_wheels_and_sdists_and_checks_each_file(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "_download", _fake_release(_only("wheel", "sdist")))
    said: list[str] = []
    found = store.fetch(say=said.append)
    assert sorted(found) == sorted(e.file for e in store.entries())
    for e in store.entries():
        assert hashlib.sha256((cache / e.file).read_bytes()).hexdigest() == e.sha256
    assert len(said) == 4  # three releases and the repository, each said once
    assert not list(cache.glob(".*.part"))


def test_a_fetched_file_with_a_wrong_checksum_is_an_error_naming_it(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = next(e.file for e in store.entries() if "!" in e.path)  # in a zip in the sdist
    cache.mkdir(parents=True)
    for e in _only("wheel", "repository"):
        shutil.copy(corpus.files()[e.file], cache / e.file)
    monkeypatch.setattr(store, "_download", _fake_release(_only("sdist"), victim))
    with pytest.raises(store.CorpusError, match=f"{victim}: deid-data 0.0.20 has it with SHA"):
        store.fetch(say=lambda _: None)
    assert not (cache / victim).exists()


def test_a_failed_download_says_how_to_get_the_corpus(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # as offline: pip finds no release
    with pytest.raises(store.Unfetchable, match=r"pip download pydicom==3\.0\.2"):
        store.fetch(say=lambda _: None)
    assert "python -m tests.corpus fetch" in store.how_to_get_it()
    assert str(cache) in store.how_to_get_it()
