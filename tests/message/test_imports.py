"""The message package imports in one direction, at module level only.

A module imported inside a function is imported on first use, which may be
after the daemon has dropped its privileges; and a circle between modules
works only as long as someone breaks it that way. Both are checked here
from the source, so they cannot come back unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mailspy.message

PACKAGE = "mailspy.message"
SOURCE = Path(mailspy.message.__file__).parent
MODULES = {path.stem: path for path in SOURCE.glob("*.py")}


def _targets(node: ast.Import | ast.ImportFrom) -> set[str]:
    """Modules of this package that the statement imports ("__init__" for the package)."""
    found: set[str] = set()
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.level or node.module is None:  # relative: "from . import x", "from .x import y"
        base = node.module or ""
        names = [f"{PACKAGE}.{base}".rstrip(".")] + [
            f"{PACKAGE}.{base}.{alias.name}".replace("..", ".") for alias in node.names
        ]
    else:
        names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    for name in names:
        if name == PACKAGE:
            found.add("__init__")
        elif name.startswith(PACKAGE + "."):
            module = name[len(PACKAGE) + 1 :].split(".")[0]
            if module in MODULES:
                found.add(module)
    from_modules = isinstance(node, ast.ImportFrom) and node.module == PACKAGE
    if from_modules and all(alias.name in MODULES for alias in node.names):
        found.discard("__init__")  # "from mailspy.message import archive": modules only
    return found


def _imports(module: str) -> tuple[set[str], list[str]]:
    """The package's modules that `module` imports, and where it imports inside a body."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    targets: set[str] = set()
    nested: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            targets |= _targets(node)
    for statement in tree.body:
        for node in ast.walk(statement):
            if node is statement:
                continue
            if isinstance(node, ast.Import | ast.ImportFrom) and isinstance(
                statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
            ):
                nested.append(f"{module}.py:{node.lineno}")
    targets.discard(module)
    return targets, nested


def _graph() -> dict[str, set[str]]:
    return {module: _imports(module)[0] for module in MODULES}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One circle of imports, as the list of modules around it; [] when there is none."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        for target in sorted(graph.get(module, ())):
            found = visit(target, [*path, module])
            if found:
                return found
        done.add(module)
        return []

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return []


def test_the_checker_sees_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_checker_reads_every_import_form() -> None:
    def targets(source: str) -> set[str]:
        node = ast.parse(source).body[0]
        assert isinstance(node, ast.Import | ast.ImportFrom)
        return _targets(node)

    assert targets("from mailspy.message.mime import walk") == {"mime"}
    assert targets("from mailspy.message import archive") == {"archive"}
    assert targets("from mailspy.message import walk") == {"__init__"}
    assert targets("import mailspy.message.parse") == {"parse"}
    assert targets("from .decode import unfold") == {"decode"}
    assert targets("import json") == set()


def test_no_module_imports_inside_a_function_or_class() -> None:
    nested = [where for module in MODULES for where in _imports(module)[1]]
    assert nested == []


def test_no_circle_between_the_modules() -> None:
    assert _cycle(_graph()) == []


def test_no_module_imports_the_package_itself() -> None:
    """The package's __init__ imports every module: a module that imports it closes a circle."""
    assert [module for module, targets in _graph().items() if "__init__" in targets] == []
