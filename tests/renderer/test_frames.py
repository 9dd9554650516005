"""The per-worker cache of decoded frames: a re-render with a new window costs no fetch and no
decode and gives the same bytes as an uncached render; it is bounded, and a changed file is a
new entry."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from renderer.files import frames
from renderer.params import HttpSource, RenderParams, Window
from renderer.pipeline import render
from tests.conftest import LoadedOrthanc
from tests.support import corpus

CT = "693_UNCI.dcm"  # 512x512 CT


@pytest.fixture
def cache() -> Iterator[frames.FrameCache]:
    frames.configure(64 * 2**20)
    yield frames.CACHE
    frames.configure(0)


def drag(step: int) -> RenderParams:
    # As /wado builds them: no frameNumber asks for every frame, which only a GIF animates.
    return RenderParams(window=Window(center=40 + 10 * step, width=400 + step), animate=True)


def test_a_re_window_reuses_the_decoded_frame(cache: frames.FrameCache, tmp_path: Path) -> None:
    path = str(shutil.copy(corpus.sample(CT).path, tmp_path / "ct.dcm"))
    renders = [render(path, drag(step)).data for step in range(4)]
    assert (cache.stats.misses, cache.stats.hits, len(cache)) == (1, 3, 1)
    frames.configure(0)
    assert renders == [render(path, drag(step)).data for step in range(4)]  # same bytes uncached


def test_a_changed_file_is_decoded_again(cache: frames.FrameCache, tmp_path: Path) -> None:
    path = tmp_path / "ct.dcm"
    shutil.copy(corpus.sample(CT).path, path)
    render(str(path), drag(0))
    shutil.copy(corpus.sample("CT_small.dcm").path, path)  # another image, same name
    assert render(str(path), drag(0)).stored_rows == 128
    assert cache.stats.misses == 2


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    """Room for two 512x512 frames (each a view of its 0.5 MB file), not three: the third
    evicts the least recently used, and the two it keeps are hits."""
    frames.configure(1_200_000)
    try:
        paths = [str(shutil.copy(corpus.sample(CT).path, tmp_path / f"{n}.dcm")) for n in range(3)]
        for path in paths:
            render(path, drag(0))
        cache = frames.CACHE
        assert (len(cache), cache.stats.misses, cache.stats.evictions) == (2, 3, 1)
        assert 2 * 500_000 < cache.bytes <= 1_200_000
        render(paths[2], drag(1))
        render(paths[1], drag(1))
        assert (cache.stats.hits, cache.stats.misses) == (2, 3)
        render(paths[0], drag(1))  # the one evicted: decoded again
        assert (cache.stats.hits, cache.stats.misses, len(cache)) == (2, 4, 2)
    finally:
        frames.configure(0)


def test_bytes_are_not_cached(cache: frames.FrameCache) -> None:
    data = corpus.sample(CT).path.read_bytes()
    render(data, drag(0))
    render(data, drag(1))
    assert len(cache) == 0


def test_a_cached_orthanc_instance_is_not_fetched_again(
    cache: frames.FrameCache, orthanc: LoadedOrthanc
) -> None:
    orthanc_id = str(orthanc.uploads["CT_small.dcm"]["ID"])
    source = HttpSource(orthanc.url, f"/instances/{orthanc_id}/file", key=orthanc_id)
    first = render(source, drag(0))
    # Same content key, but a path that would 404 if it were fetched.
    gone = HttpSource(orthanc.url, "/instances/no-such-id/file", key=orthanc_id)
    assert render(gone, drag(0)) == first
    assert cache.stats.hits == 1
