"""docs/cookbook.md's rules are the real thing: each recipe passes its fixtures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.command import mailspy

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"```rules\n# recipe: ([\w-]+)\n(.*?)```", re.DOTALL)


def recipes() -> dict[str, str]:
    return dict(BLOCK.findall((DOCS / "cookbook.md").read_text()))


def test_every_recipe_has_fixtures_and_every_fixture_folder_a_recipe():
    folders = {p.name for p in (DOCS / "cookbook").iterdir() if p.is_dir()}
    assert set(recipes()) == folders == {"compliance", "executables", "invoices",
                                         "shadow-trial", "zip-quarantine"}


@pytest.mark.parametrize("name", sorted(recipes()))
def test_a_recipe_passes_its_fixtures(name: str, tmp_path: Path):
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / f"{name}.rules").write_text(recipes()[name])
    done = mailspy("check-rules", "--offline", "-d", str(rules), "--test",
                   str(DOCS / "cookbook" / name))
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 failed" in done.stdout.splitlines()[-1]
