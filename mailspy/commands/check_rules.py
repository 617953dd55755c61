"""`mailspy check-rules`: what a postmaster runs before every reload."""

from __future__ import annotations

import sys
from pathlib import Path

from mailspy import defaults
from mailspy.rules.compile import DEFAULTS
from mailspy.rules.load import LoadResult, load_rules
from mailspy.rules.running import RulesConfig, load_running_rules


def load_for_command(directory: str | None, files: list[str]) -> LoadResult | None:
    """Load the rules, printing every diagnostic; None when the directory is missing."""
    if directory is None and not files:
        directory = defaults.RULES_DIR
    if directory is not None and not Path(directory).is_dir():
        print(f"mailspy: error: rules directory '{directory}' does not exist; "
              "give another with -d DIR", file=sys.stderr)
        return None
    result = load_rules(directory, files)
    for diagnostic in result.diagnostics:
        print(diagnostic, file=sys.stderr)
    return result


def rules_for_dry_run(directory: str | None, files: list[str]) -> LoadResult | None:
    """The rules `run` would use: with no rules files, the original mailspy's
    summary of every message (test-rules and replay must agree with the daemon)."""
    result = load_for_command(directory, files)
    if result is None or result.files or files:
        return result
    print(f"mailspy: note: no rules files in {directory or defaults.RULES_DIR}: like the "
          "daemon, every message gets a summary line, as the original mailspy did",
          file=sys.stderr)
    return load_running_rules(RulesConfig(directory or defaults.RULES_DIR, DEFAULTS))


def counted(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def main(directory: str | None, files: list[str], fixtures: str | None = None) -> int:
    result = load_for_command(directory, files)
    if result is None:
        return 1
    if not result.files:
        print(f"mailspy: error: no rules files (*.rules) in {directory or defaults.RULES_DIR}; "
              "a running mailspy refuses to reload to an empty rules directory",
              file=sys.stderr)
        return 1
    warnings = len(result.diagnostics) - len(result.errors)
    if not result.ok:
        print(f"mailspy: {counted(len(result.errors), 'error')}, "
              f"{counted(warnings, 'warning')} in {counted(len(result.files), 'file')}",
              file=sys.stderr)
        return 1
    extra = f" ({counted(warnings, 'warning')})" if warnings else ""
    print(f"{counted(len(result.rules), 'rule')} in {counted(len(result.files), 'file')}, "
          f"all valid{extra}")
    return 0 if fixtures is None else check_fixtures(result, Path(fixtures))


def check_fixtures(result: LoadResult, directory: Path) -> int:
    from mailspy.commands.fixtures import run_fixtures

    if not directory.is_dir():
        print(f"mailspy: error: fixture directory '{directory}' does not exist", file=sys.stderr)
        return 1
    outcomes = run_fixtures(result.rules, directory)
    for outcome in outcomes:
        print(f"{'ok    ' if not outcome.problems else 'FAILED'}  {directory / outcome.name}")
        for problem in outcome.problems:
            print("\n".join("    " + line for line in problem.splitlines()))
    failed = sum(1 for o in outcomes if o.problems)
    print(f"{counted(len(outcomes), 'fixture')}: {len(outcomes) - failed} passed, "
          f"{failed} failed")
    return 1 if failed or not outcomes else 0
