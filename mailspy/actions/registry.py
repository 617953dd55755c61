"""Every action mailspy knows, found in the modules of this package.

A module of `mailspy.actions` that declares `ACTION = ActionType(...)` is an
action; the others (`clean`, `copy`, `logfile`...) are helpers. Adding an
action is adding one module: nothing else names it.
"""

from __future__ import annotations

import importlib
import pkgutil

import mailspy.actions as package
from mailspy.actions.action import BARE_OPTION, ActionType


def _discover() -> dict[str, ActionType]:
    found: dict[str, ActionType] = {}
    for module in pkgutil.iter_modules(package.__path__):
        declared = getattr(importlib.import_module(f"{package.__name__}.{module.name}"),
                           "ACTION", None)
        if isinstance(declared, ActionType):
            if declared.name in found:
                raise RuntimeError(f"two modules declare the action {declared.name!r}")
            found[declared.name] = declared
    return dict(sorted(found.items(), key=lambda item: (item[1].rank, item[0])))


ACTIONS: dict[str, ActionType] = _discover()


def markdown_table() -> str:
    """The table of actions as docs/rules.md shows it."""
    rows = ["| action | does |", "|---|---|"]
    rows += [f"| `{a.usage}` | {a.doc} |" for a in ACTIONS.values()]
    return "\n".join(rows) + "\n"


def options_table() -> str:
    """The table of the actions' options (after `with`) as docs/rules.md shows it; an
    option several actions share is one row."""
    rows = ["| option | of | does |", "|---|---|---|"]
    seen: dict[str, list[str]] = {}
    docs: dict[str, tuple[str, str]] = {}
    for action in ACTIONS.values():
        for option in action.options:
            if option.name != BARE_OPTION:
                seen.setdefault(option.name, []).append(action.name)
                docs.setdefault(option.name, (option.usage, option.doc))
    for name, actions in seen.items():
        usage, doc = docs[name]
        usage = usage.replace("|", "\\|")  # a table's cell, even inside backquotes
        rows.append(f"| `{usage}` | {', '.join(f'`{a}`' for a in actions)} | {doc} |")
    return "\n".join(rows) + "\n"
