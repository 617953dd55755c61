"""The rules the daemon runs: the rules files, or the original's global switches.

With no rules files, `mailspy run` records what the original mailspy did:
a summary of every message, every header block when -h is given, every
message piped when -P is given. Beside rules files, -P is one more rule
that matches every message, placed before them.

A rules directory given with -d must exist: a typo there must not turn
every archive and quarantine rule off. Only the default directory, when
missing or empty, means the original's behaviour.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from mailspy.diagnostics import Diagnostic, Position, error, warning
from mailspy.rules.ast import Action, Rule
from mailspy.rules.check import program_problem
from mailspy.rules.compile import Defaults, compile_rules
from mailspy.rules.load import LoadResult, load_rules, rules_files

COMMAND_LINE = Position("command line", 1, 1)


@dataclass(frozen=True)
class RulesConfig:
    rules_dir: str
    defaults: Defaults
    header_log_given: bool = False  # -h on the command line
    pipe_command: str | None = None  # -P
    explicit: bool = False  # -d on the command line
    user: tuple[int, int] | None = None  # the (uid, gid) of -u, which the daemon writes as


def load_running_rules(config: RulesConfig) -> LoadResult:
    """The rules to run, with every problem; checked like rules files, -P included."""
    result = _load(config)
    if config.pipe_command is not None:
        result.diagnostics[:0] = _pipe_problems(config.pipe_command)
    return result


def _pipe_problems(command: str) -> list[Diagnostic]:
    """-P is checked like a rules file's pipe command: at start and on SIGHUP."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return [error(COMMAND_LINE, f"-P {command!r}: cannot split the command into words: "
                                    f"{exc}; quote it as a POSIX shell would")]
    if not words:
        return [error(COMMAND_LINE, "-P: the command is empty")]
    problem = program_problem(command)
    return [warning(COMMAND_LINE, f"-P: {problem}")] if problem else []


def _load(config: RulesConfig) -> LoadResult:
    directory = Path(config.rules_dir)
    try:
        is_dir = directory.is_dir()
        files = rules_files(directory) if is_dir else []
    except OSError as exc:  # never taken for "no rules files": that would record everything
        ruleset, _ = compile_rules([], config.defaults)
        return LoadResult(ruleset, [error(COMMAND_LINE, f"cannot read the rules directory "
                                          f"{directory}: {exc.strerror or exc}; it and every "
                                          "directory above it must let the user mailspy runs "
                                          "as read and pass (chmod o+rx), or correct -d")], [])
    if config.explicit and not is_dir:
        ruleset, _ = compile_rules([], config.defaults)
        return LoadResult(ruleset, [error(COMMAND_LINE, f"rules directory {directory} does not "
                                          "exist; create it or correct -d")], [])
    if not files:
        ruleset, diagnostics = compile_rules([_original_rule(config)], config.defaults)
        return LoadResult(ruleset, diagnostics, [])
    result = load_rules(directory, defaults=config.defaults, user=config.user)
    if config.pipe_command:
        pipe_rule = Rule("-P", COMMAND_LINE, None, (_pipe(config.pipe_command),))
        first, _ = compile_rules([pipe_rule], config.defaults)
        result.rules = replace(result.rules, rules=first.rules + result.rules.rules)
    return result


def _original_rule(config: RulesConfig) -> Rule:
    actions = [Action("log-summary", None, COMMAND_LINE)]
    if config.header_log_given:
        actions.append(Action("log-headers", None, COMMAND_LINE))
    if config.pipe_command:
        actions.append(_pipe(config.pipe_command))
    return Rule("original", COMMAND_LINE, None, tuple(actions))


def _pipe(command: str) -> Action:
    return Action("pipe-to-command", command, COMMAND_LINE)
