"""The drop-in guide's report (docs/drop-in.md) names, for each operation a viewer uses, the
test that shows it through wadofarm: each named test must exist (a renamed or removed one fails
here)."""

from __future__ import annotations

import ast
import re

from tests.support.server import REPO

SECTION = "## What a viewer does, through wadofarm, and the test that shows it"


def _named() -> list[tuple[str, str]]:
    guide = (REPO / "docs" / "drop-in.md").read_text()
    section = guide[guide.index(SECTION) :].split("\n## ", 1)[0]
    return re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", section)


def test_every_operation_names_a_test_that_exists() -> None:
    named = _named()
    assert len(named) >= 14
    for path, name in named:
        tree = ast.parse((REPO / path).read_text())
        tests = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert name in tests, f"docs/drop-in.md names {path}::{name}, which is not there"
