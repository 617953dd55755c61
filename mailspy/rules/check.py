"""Checks that need the whole rule set or the machine, not one rule alone.

Duplicate names span files; a rule can be unreachable because of a `stop`
in an earlier file; a pipe command's program must exist where the daemon
runs; a log or Maildir must not lie where another user could redirect it.
Each finding points at the rule or action concerned.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterable

from mailspy import safefs
from mailspy.actions import privacy
from mailspy.actions.action import COMMAND, LOG, PATH
from mailspy.actions.logfile import log_problem
from mailspy.actions.registry import ACTIONS
from mailspy.diagnostics import Diagnostic, Position, error, warning
from mailspy.rules.ast import Rule
from mailspy.rules.compile import RuleSet


def check_rules(rules: Iterable[Rule], root: str = "",
                user: tuple[int, int] | None = None) -> list[Diagnostic]:
    """`root` is `mailspy run --root`'s directory, under which every path lands;
    `user` the (uid, gid) the daemon writes as, when it is not the caller."""
    rules = list(rules)
    return [*_duplicates(rules), *_unreachable(rules), *_pipe_programs(rules),
            *_unsafe_paths(rules, root, user)]


def _duplicates(rules: list[Rule]) -> list[Diagnostic]:
    seen: dict[str, Rule] = {}
    found = []
    for rule in rules:
        first = seen.setdefault(rule.name, rule)
        if first is not rule:
            found.append(error(rule.position, f"duplicate rule name '{rule.name}'; "
                               f"first defined at {first.position}"))
    return found


def _unreachable(rules: list[Rule]) -> list[Diagnostic]:
    """A shadow rule's `stop` stops nothing."""
    stopper = next((r for r in rules if r.stops and r.unconditional and not r.shadow), None)
    if stopper is None:
        return []
    later = rules[rules.index(stopper) + 1:]
    return [warning(r.position, f"rule '{r.name}' can never run: rule '{stopper.name}' "
                    f"at {stopper.position} stops every message") for r in later]


def _pipe_programs(rules: list[Rule]) -> list[Diagnostic]:
    found = []
    for rule in rules:
        for action in rule.actions:
            spec = ACTIONS.get(action.name)
            if spec is not None and spec.target == COMMAND and action.target:
                problem = program_problem(action.target)
                if problem:
                    found.append(warning(action.position, problem))
    return found


def target_problems(rules: RuleSet) -> list[Diagnostic]:
    """What keeps the user mailspy runs as (the caller) from using each target: a log
    it cannot create or open (an error: its records would be lost), a Maildir whose
    parent is missing (a warning: its copies wait in the spool and are retried, so
    a disk that is away for a while does not stop mail). The daemon checks this
    after dropping privileges, at start and on every reload; `check-rules` checks
    it as the daemon's user. Each target is probed once. A shadow rule writes
    nothing, so what it could not use is a warning, for the day it is made a
    rule; the shadow log, which it does write, is probed like a log. A key file
    of the privacy options must be readable."""
    found: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()
    for rule in rules.rules:
        for action in rule.actions:
            where = action.position or rule.position
            found += _key_problems(action.options, where, seen)
            spec = ACTIONS.get(action.name)
            if spec is None or spec.probe is None or (action.name, action.target) in seen:
                continue
            if not rule.shadow:
                seen.add((action.name, action.target))
            if not (problem := spec.probe(action.target)):
                continue
            if rule.shadow:
                found.append(warning(where, f"{problem} (rule '{rule.name}' is a shadow rule, "
                                            "which writes nothing there until made a rule)"))
            elif spec.kind == LOG:
                found.append(error(where, problem))
            else:
                found.append(warning(where, f"{problem} (until then its copies wait in "
                                            "the spool)"))
    first_shadow = next((r for r in rules.rules if r.shadow), None)
    if rules.shadow_log is not None and first_shadow is not None \
            and (problem := log_problem(rules.shadow_log)):
        found.append(error(first_shadow.position, f"the shadow log of rule "
                           f"'{first_shadow.name}' (--shadow-log): {problem}"))
    return found


def _key_problems(options: tuple[tuple[str, str], ...], where: Position,
                  seen: set[tuple[str, str]]) -> list[Diagnostic]:
    path = privacy.key_path(dict(options))
    if path is None or ("key", path) in seen:
        return []
    seen.add(("key", path))
    try:
        privacy.read_key(path)
    except privacy.KeyFileError as exc:
        return [error(where, str(exc))]
    return []


def _unsafe_paths(rules: list[Rule], root: str,
                  user: tuple[int, int] | None) -> list[Diagnostic]:
    """Targets another user could redirect (a directory they can write, a link)."""
    found = []
    for rule in rules:
        for action in rule.actions:
            spec = ACTIONS.get(action.name)
            target = action.target
            if spec is None or spec.target != PATH or not target or not target.startswith("/"):
                continue
            path = root.rstrip("/") + os.path.normpath(target) if root else target
            if problem := safefs.check_path(path, user):
                found.append(error(action.position, problem))
    return found


def program_problem(command: str) -> str | None:
    """Why the command's program cannot run here, or None when it can."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None  # reported as an error by the transformer
    if not words:
        return None
    program = words[0]
    if "/" not in program:
        if shutil.which(program) is None:
            return f"program '{program}' is not on PATH; give its absolute path"
        return None
    if not os.path.exists(program):
        return f"program '{program}' does not exist"
    if os.path.isdir(program) or not os.access(program, os.X_OK):
        return f"program '{program}' is not executable"
    return None
