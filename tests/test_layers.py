"""The pipeline's layers, checked: data flows one way, and so do the imports.

grammar -> rules -> message -> evaluate -> actions -> spool -> dispatch ->
milter -> daemon -> commands -> cli, with the reports reading records beside
the commands. A module may import from its own layer and the layers before
it, never from a later one; a few tools below every layer (diagnostics,
defaults, safe file opening, thread supervision) may be imported by all.
The spool delivers copies through the action registry, never naming an
action module. Every import is read from the source, also those inside
functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mailspy"

# Each layer, in the order data flows; a module's layer is its first path part.
LAYERS = ("rules", "message", "evaluate", "actions", "spool", "dispatch", "milter",
          "daemon", "report", "commands", "cli", "__main__")
TOOLS = {"diagnostics", "defaults", "safefs", "supervise", "__init__"}
ACTION_MODULES_ALLOWED_TO_SPOOL = {"mailspy.actions", "mailspy.actions.registry"}


def layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found.append((".".join(parts).removesuffix(".__init__"), path))
    return found


def imports(path: Path) -> set[str]:
    """Every mailspy module the file imports, at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("mailspy")}
        elif isinstance(node, ast.ImportFrom) and node.module \
                and node.module.startswith("mailspy"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names
                      if (PACKAGE.parent / f"{node.module}.{alias.name}".replace(".", "/"))
                      .with_suffix(".py").exists()}
    return found


MODULES = modules()


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_no_module_imports_from_a_later_layer(module: str, path: Path) -> None:
    here = layer(module)
    later = set(LAYERS) if here in TOOLS else set(LAYERS[LAYERS.index(here) + 1:])
    wrong = sorted(m for m in imports(path) if layer(m) in later - {here})
    assert wrong == [], f"{module} ({here}) imports from later layers: {wrong}"


def test_rules_know_nothing_of_mail() -> None:
    wrong = sorted((m, i) for m, p in MODULES if layer(m) == "rules"
                   for i in imports(p) if layer(i) == "message")
    assert wrong == []


def test_the_spool_names_no_action() -> None:
    wrong = sorted((m, i) for m, p in MODULES if layer(m) == "spool"
                   for i in imports(p)
                   if layer(i) == "actions" and i not in ACTION_MODULES_ALLOWED_TO_SPOOL)
    assert wrong == []


def test_the_layers_are_every_part_of_the_package() -> None:
    parts = {layer(m) for m, _ in MODULES}
    assert parts <= set(LAYERS) | TOOLS, parts - set(LAYERS) - TOOLS
