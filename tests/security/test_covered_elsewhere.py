"""Security properties whose tests live beside the code they check.

They are referenced here, not repeated: this module only makes sure the
references stay true (a renamed or deleted test fails here).

- the milter socket is not world-writable (0660) and the daemon runs as
  the `-u` user: tests/e2e/test_daemon.py,
  test_unix_socket_is_0660_and_the_daemon_runs_as_the_user;
- rules files writable by other users draw a warning:
  tests/rules/test_diagnostics.py,
  test_rules_files_writable_by_others_draw_a_warning;
- relative log and Maildir paths are refused by check-rules:
  tests/rules/test_diagnostics.py, test_semantic_errors (the
  "relative path" cases); under --root: test_paths.py here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize(("module", "test", "evidence"), [
    ("e2e/test_daemon.py", "test_unix_socket_is_0660_and_the_daemon_runs_as_the_user",
     "0o660"),
    ("rules/test_diagnostics.py", "test_rules_files_writable_by_others_draw_a_warning",
     "writable by every user"),
    ("rules/test_diagnostics.py", "test_semantic_errors",
     "paths must be absolute"),
])
def test_the_property_is_tested_where_referenced(module: str, test: str, evidence: str) -> None:
    path = TESTS / module
    assert test in functions_in(path)
    assert evidence in path.read_text()
