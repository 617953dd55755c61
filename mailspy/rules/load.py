"""A rules directory -> a checked, compiled RuleSet, or every reason why not.

This is the only entry point the commands and the daemon use: it reads the
files in byte order of their names, parses, transforms, checks and
compiles, and gathers the diagnostics of all stages and all files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mailspy import safefs
from mailspy.diagnostics import Diagnostic, Position, error, warning
from mailspy.rules.ast import Rule
from mailspy.rules.check import check_rules
from mailspy.rules.compile import DEFAULTS, Defaults, RuleSet, compile_rules
from mailspy.rules.parse import parse_rules

SUFFIX = ".rules"
MAX_RULES_FILE = 16 * 1024 * 1024


@dataclass
class LoadResult:
    rules: RuleSet
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def rules_files(directory: str | Path) -> list[Path]:
    """`*.rules` entries, in byte order of their names; hidden files skipped.

    Directories are skipped; other entries that cannot be read as rules (a
    dangling link, a FIFO, a file only root may read) are listed too:
    reading them reports why, rather than the rules they were meant to hold
    silently going missing."""
    directory = Path(directory)
    found = [p for p in directory.iterdir()
             if p.name.endswith(SUFFIX) and not p.name.startswith(".") and not p.is_dir()]
    return sorted(found, key=lambda p: os.fsencode(p.name))


def load_rules(
    directory: str | Path | None = None,
    files: Iterable[str | Path] = (),
    defaults: Defaults = DEFAULTS,
    user: tuple[int, int] | None = None,
) -> LoadResult:
    """`user` is the (uid, gid) the daemon will write as, when that is not us."""
    paths = [Path(f) for f in files]
    if directory is not None:
        paths = rules_files(directory) + paths
    rules: list[Rule] = []
    diagnostics: list[Diagnostic] = []
    for path in paths:
        file_rules, file_diagnostics = read_rules_file(path)
        rules += file_rules
        diagnostics += file_diagnostics
    diagnostics += check_rules(rules, defaults.root, user)
    ruleset, compile_diagnostics = compile_rules(rules, defaults, [str(p) for p in paths])
    diagnostics += compile_diagnostics
    return LoadResult(ruleset, sorted(diagnostics, key=_order(paths)), [str(p) for p in paths])


def read_rules_file(path: Path) -> tuple[list[Rule], list[Diagnostic]]:
    name = str(path)
    try:
        data = safefs.read_regular(path, MAX_RULES_FILE)
    except OSError as exc:
        return [], [error(Position(name, 1, 1), f"cannot read: {exc.strerror or exc}")]
    diagnostics = _permission_warnings(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [*diagnostics, _not_utf8(name, data, exc.start)]
    rules, found = parse_rules(text, name)
    return rules, diagnostics + found


def _not_utf8(name: str, data: bytes, offset: int) -> Diagnostic:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return error(Position(name, line, column), "not valid UTF-8; save the file as UTF-8")


def _permission_warnings(path: Path) -> list[Diagnostic]:
    """Anyone who can write a rules file can make mailspy run commands."""
    problem = safefs.ownership_problem(path)
    return [warning(Position(str(path), 1, 1), problem)] if problem else []


def _order(paths: list[Path]) -> Callable[[Diagnostic], tuple[int, int, int]]:
    """Diagnostics sorted by file in load order, then line and column."""
    rank = {str(p): i for i, p in enumerate(paths)}

    def key(d: Diagnostic) -> tuple[int, int, int]:
        return (rank.get(d.position.file, len(rank)), d.position.line, d.position.column)

    return key
