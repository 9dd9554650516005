"""The documentation's generated parts and its runnable parts: the settings table of
docs/configuration.md (made from router/config.py's one definition of the settings), and the
shell commands and local URLs a page shows, in the order it shows them.

`python -m tests.support.docs` rewrites the settings table after a setting was added or changed
(or to resolve a merge conflict inside it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from router.cli import settings_table
from tests.support.server import REPO

CONFIGURATION = REPO / "docs" / "configuration.md"
START = "<!-- settings: generated from router/config.py"
END = "<!-- /settings -->"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
LOCAL_URL = re.compile(r"http://127\.0\.0\.1:8080/[^\s<>)`\"']*")


def settings_block(text: str) -> str:
    """The generated table of a configuration page, between its markers."""
    start = text.index(START)
    body = text[text.index("\n", start) + 1 :]
    return body[: body.index(END)]


def write_settings(path: Path = CONFIGURATION) -> bool:
    """Rewrite the table from the definitions; True if it changed."""
    text = path.read_text()
    old = settings_block(text)
    new = settings_table()
    if old == new:
        return False
    path.write_text(text.replace(old, new, 1))
    return True


@dataclass(frozen=True, slots=True)
class Command:
    """One shell command of a page's `sh` block (continuation lines joined)."""

    text: str
    position: int  # where it stands in the page, to order it among the URLs


@dataclass(frozen=True, slots=True)
class Url:
    text: str
    position: int


def runnable(path: Path) -> list[Command | Url]:
    """The page's shell commands (from ```sh blocks) and local URLs, in page order."""
    text = path.read_text()
    found: list[Command | Url] = []
    fenced = []
    for block in FENCE.finditer(text):
        fenced.append((block.start(), block.end()))
        if block.group(1) not in ("sh", "bash", "shell", "console"):
            continue
        joined = block.group(2).replace("\\\n", " ")
        for offset, line in enumerate(joined.splitlines()):
            line = line.strip()
            if line and not line.startswith("#"):
                found.append(Command(" ".join(line.split()), block.start(2) + offset))
    for url in LOCAL_URL.finditer(text):
        if not any(start <= url.start() < end for start, end in fenced):
            found.append(Url(url.group(0), url.start()))
    return sorted(found, key=lambda item: item.position)


if __name__ == "__main__":
    changed = write_settings()
    print(f"{CONFIGURATION.relative_to(REPO)}: {'rewritten' if changed else 'already current'}")
