"""The pipeline's layers, checked: data flows one way, and so do the imports.

grammar -> rules -> message -> evaluate -> spool -> dispatch -> milter ->
daemon -> commands -> cli, with the reports reading records beside the
commands. A module may import from its own layer and the layers before it,
never from a later one. Below them all: a few tools (diagnostics, defaults,
the table of fields, safe file opening, thread supervision) and the actions,
each declaring itself to the registry that the language, the dispatcher,
the daemon and the spool read. An action touches a message only through
the object it is handed (its imports of the message model are for type
checking), so the rules know nothing of mail. The spool delivers copies
through the registry, never naming an action module. Every import is read
from the source, also those inside functions; those under
`if TYPE_CHECKING:` only name types and do not count.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mailspy"

# Each layer, in the order data flows; a module's layer is its first path part.
LAYERS = ("actions", "rules", "message", "evaluate", "spool", "dispatch", "milter",
          "daemon", "report", "commands", "cli", "__main__")
TOOLS = {"diagnostics", "defaults", "fields", "privileges", "safefs", "supervise", "__init__"}
ACTION_MODULES_ALLOWED_TO_SPOOL = {"mailspy.actions", "mailspy.actions.action",
                                   "mailspy.actions.registry"}


def layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found.append((".".join(parts).removesuffix(".__init__"), path))
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the nodes inside `if TYPE_CHECKING:` blocks."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside |= {id(n) for child in node.body for n in ast.walk(child)}
    return inside


def imports(path: Path) -> set[str]:
    """Every mailspy module the file imports at run time, at any depth of the file."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    typing_only = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
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


def test_the_spool_knows_nothing_of_rules() -> None:
    """The spool takes a message and plain jobs; which rule owed a copy is the
    dispatcher's business, so the spool reads well after the rules in the layers and
    still may not import them."""
    wrong = sorted((m, i) for m, p in MODULES if layer(m) == "spool"
                   for i in imports(p) if layer(i) == "rules")
    assert wrong == []


def test_loading_rules_loads_nothing_of_mail() -> None:
    """At run time too: the rules and the actions they read import no message code."""
    done = subprocess.run([sys.executable, "-c", "import sys, mailspy.rules.load, "
                           "mailspy.rules.running; print(sorted(m for m in sys.modules if "
                           "m.startswith(('mailspy.message', 'mailspy.evaluate', "
                           "'mailspy.spool', 'mailspy.daemon'))))"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_only_the_run_command_reaches_the_daemon() -> None:
    wrong = sorted((m, i) for m, p in MODULES if layer(m) == "commands"
                   and m != "mailspy.commands.run" for i in imports(p) if layer(i) == "daemon")
    assert wrong == []


def test_the_layers_are_every_part_of_the_package() -> None:
    parts = {layer(m) for m, _ in MODULES}
    assert parts <= set(LAYERS) | TOOLS, parts - set(LAYERS) - TOOLS
