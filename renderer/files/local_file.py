"""A stored file opened by path without following a symlink anywhere on the path.

The folder store indexes real paths (no symlink on them) and checks, before a render or a
download, that the path is still that; this repeats the check where the file is really opened,
with nothing left between check and use: each folder is opened from the one above it with
O_NOFOLLOW, then the file, so a symlink swapped in for the file or any parent folder makes the
open fail. No pixel library here: the router opens its downloads with it too.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

from renderer.errors import NotDicom, SourceMissing

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # a FIFO must not block us
_MOVED = {errno.ELOOP, errno.ENOTDIR}  # a symlink (or a file) where a folder or file was
MOVED = "the stored file is no longer inside the folder (a symlink on its path)"


def open_nofollow(path: str) -> int:
    """A blocking read-only descriptor of the regular file at the absolute `path`;
    SourceMissing if a component of it is a symlink now or the file is gone, NotDicom if it
    cannot be opened for another reason."""
    if not os.path.isabs(path):
        raise SourceMissing("the stored file's path is not absolute")
    *folders, name = [part for part in path.split("/") if part]
    fd = os.open("/", _DIRECTORY)
    try:
        for folder in folders:
            below = os.open(folder, _DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = below
        below = os.open(name, _FILE, dir_fd=fd)
        os.close(fd)
        fd = below
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceMissing("the stored file is no longer a regular file")
        os.set_blocking(fd, True)
    except OSError as exc:
        os.close(fd)
        if exc.errno in _MOVED:
            raise SourceMissing(MOVED) from None
        if exc.errno == errno.ENOENT:
            raise SourceMissing("the stored file is gone") from None
        raise NotDicom(f"cannot read the stored file: {exc.strerror}") from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_nofollow(path: str, check_size: Callable[[int], None] | None = None) -> bytes:
    """The whole file at `path`, opened as `open_nofollow` does; `check_size` sees its size
    first, and may refuse it."""
    with os.fdopen(open_nofollow(path), "rb") as fh:
        if check_size is not None:
            check_size(os.fstat(fh.fileno()).st_size)
        try:
            return fh.read()
        except OSError as exc:
            raise NotDicom(f"cannot read the stored file: {exc.strerror}") from None
