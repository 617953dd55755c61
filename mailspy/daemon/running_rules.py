"""The rules the daemon runs: the rules files, or the original's global switches.

With no rules files, `mailspy run` records what the original mailspy did:
a summary of every message, every header block when -h is given, every
message piped when -P is given. Beside rules files, -P is one more rule
that matches every message, placed before them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mailspy.diagnostics import Position
from mailspy.rules.ast import Action, Rule
from mailspy.rules.compile import Defaults, compile_rules
from mailspy.rules.load import LoadResult, load_rules, rules_files

COMMAND_LINE = Position("command line", 1, 1)


@dataclass(frozen=True)
class RulesConfig:
    rules_dir: str
    defaults: Defaults
    header_log_given: bool = False  # -h on the command line
    pipe_command: str | None = None  # -P


def load_running_rules(config: RulesConfig) -> LoadResult:
    directory = Path(config.rules_dir)
    if not directory.is_dir() or not rules_files(directory):
        ruleset, diagnostics = compile_rules([_original_rule(config)], config.defaults)
        return LoadResult(ruleset, diagnostics, [])
    result = load_rules(directory, defaults=config.defaults)
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
