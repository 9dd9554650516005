"""`python -m tests.corpus fetch` fetches and checks the test corpus; `check` only checks."""

from __future__ import annotations

import argparse
import sys

from tests import corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.corpus", description=__doc__)
    parser.add_argument("command", choices=["fetch", "check"], nargs="?", default="fetch")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            found, absent = corpus.fetch(), []
        else:
            found, absent = corpus.locate()
    except corpus.CorpusError as exc:
        print(f"test corpus: {exc}", file=sys.stderr)
        return 1
    for entry in absent:
        print(f"missing: {entry.file} ({entry.project} {entry.version})", file=sys.stderr)
    if absent:
        print(corpus.how_to_get_it(), file=sys.stderr)
        return 1
    size = sum(path.stat().st_size for path in found.values())
    places = sorted({str(path.parent) for path in found.values()})
    print(
        f"test corpus: {len(found)} files, {size / 2**20:.0f} MB, checked, in {', '.join(places)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
