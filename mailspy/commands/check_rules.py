"""`mailspy check-rules`: what a postmaster runs before every reload."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from mailspy import defaults, privileges
from mailspy.actions.action import LOG, PATH
from mailspy.actions.registry import ACTIONS
from mailspy.commands.fixtures import run_fixtures
from mailspy.diagnostics import Diagnostic, counted, warning
from mailspy.rules.check import target_problems
from mailspy.rules.compile import DEFAULTS, Defaults, RuleSet
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


def main(directory: str | None, files: list[str], fixtures: str | None = None,
         user: str | None = None, list_logs: bool = False, offline: bool = False,
         config: dict[str, Any] | None = None) -> int:
    """With named files or `--offline`, the rules only; else also what the daemon would
    refuse on this host, as the user it runs as (`--user`, or the configuration
    file's): a log it cannot create, a Maildir whose parent is missing. Under
    `--root` the daemon makes what is missing, so nothing is probed."""
    if files:
        result = load_for_command(directory, files)
        if result is None:
            return 1
        return _verdict(len(result.errors), len(result.diagnostics) - len(result.errors),
                        len(result.files), len(result.rules), bool(result.files))
    settings = rules_settings(directory, config or {})
    if not Path(settings.rules_dir).is_dir():
        print(f"mailspy: error: rules directory '{settings.rules_dir}' does not exist; "
              "give another with -d DIR", file=sys.stderr)
        return 1
    try:
        checked = check_as(user, settings, probe=not offline and not settings.defaults.root)
    except (LookupError, OSError) as exc:
        print(f"mailspy: error: cannot check as user {user}: {exc}", file=sys.stderr)
        return 1
    if list_logs:
        print("\n".join(checked["logs"]))
        return 1 if checked["errors"] else 0
    for line in checked["diagnostics"]:
        print(line, file=sys.stderr)
    status = _verdict(checked["errors"], checked["warnings"], len(checked["files"]),
                      checked["rules"], bool(checked["files"]), settings.rules_dir)
    if status or fixtures is None:
        return status
    return check_fixtures(load_running_rules(settings), Path(fixtures))


def _verdict(errors: int, warnings: int, files: int, rules: int, any_files: bool,
             directory: str | None = None) -> int:
    if not any_files:
        print(f"mailspy: error: no rules files (*.rules) in {directory or defaults.RULES_DIR}; "
              "a running mailspy refuses to reload to an empty rules directory",
              file=sys.stderr)
        return 1
    if errors:
        print(f"mailspy: {counted(errors, 'error')}, {counted(warnings, 'warning')} in "
              f"{counted(files, 'file')}", file=sys.stderr)
        return 1
    extra = f" ({counted(warnings, 'warning')})" if warnings else ""
    print(f"{counted(rules, 'rule')} in {counted(files, 'file')}, all valid{extra}")
    return 0


def rules_settings(directory: str | None, config: dict[str, Any]) -> RulesConfig:
    """The rules as `mailspy run` with this configuration would load them."""
    rules_dir = directory or config.get("rules_dir")
    header_log = config.get("header_log")
    targets = Defaults(summary_log=config.get("summary_log", defaults.SUMMARY_LOG),
                       header_log=header_log or defaults.HEADER_LOG,
                       shadow_log=config.get("shadow_log", defaults.SHADOW_LOG),
                       shadow_privacy=config.get("shadow_log_privacy", ""),
                       root=config.get("root", ""),
                       regex_timeout=config.get("regex_timeout", DEFAULTS.regex_timeout))
    return RulesConfig(rules_dir or defaults.RULES_DIR, targets,
                       header_log_given=header_log is not None,
                       pipe_command=config.get("pipe_command"), explicit=bool(rules_dir))


def check_as(user: str | None, settings: RulesConfig, probe: bool = True) -> dict[str, Any]:
    """What the daemon would find, found by a process acting as `user`: what it cannot
    read, create or open is an error, as it would be for the daemon."""
    account = privileges.lookup(user) if user else None
    if account is not None:
        settings = replace(settings, user=(account.uid, account.gid))
    if account is None or os.geteuid() == account.uid:
        return _check(settings, probe)
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's work is checked through its answer
        os.close(reader)
        try:
            privileges.drop_to(account)
            answer = json.dumps(_check(settings, probe)).encode()
        except BaseException as exc:  # the parent reports it
            answer = json.dumps({"failed": f"{type(exc).__name__}: {exc}"}).encode()
        with open(writer, "wb") as out:
            out.write(answer)
        os._exit(0)
    os.close(writer)
    with open(reader, "rb") as answer_file:
        answer = answer_file.read()
    os.waitpid(child, 0)
    checked: dict[str, Any] = json.loads(answer or b'{"failed": "no answer"}')
    if "failed" in checked:
        raise OSError(checked["failed"])
    return checked


def _check(settings: RulesConfig, probe: bool) -> dict[str, Any]:
    result = load_running_rules(settings)
    found = list(result.diagnostics)
    if result.ok and probe:
        found += target_problems(result.rules) + _unrotated(result.rules)
    logs = {a.target for r in result.rules.rules for a in r.actions
            if ACTIONS[a.name].kind == LOG and ACTIONS[a.name].target == PATH and not r.shadow}
    if result.rules.shadow_log is not None:
        logs.add(result.rules.shadow_log)
    return {"diagnostics": [str(d) for d in found],
            "errors": sum(d.is_error for d in found),
            "warnings": sum(not d.is_error for d in found),
            "files": result.files, "rules": len(result.rules), "logs": sorted(logs)}


def rotated(path: str) -> bool:
    """Whether contrib/mailspy.logrotate's patterns take the log."""
    directory, name = os.path.split(path)
    return directory == defaults.LOG_DIR and (name in ("mailspy", "headers")
                                              or name.endswith((".log", ".jsonl")))


def _unrotated(rules: RuleSet) -> list[Diagnostic]:
    """Logs outside the directory the shipped logrotate snippet rotates grow forever."""
    found, seen = [], set()
    shadow = next((r for r in rules.rules if r.shadow), None)
    if rules.shadow_log is not None and shadow is not None and not rotated(rules.shadow_log):
        seen.add(rules.shadow_log)
        found.append(warning(shadow.position, (
            f"the shadow log {rules.shadow_log} is not among the logs the shipped logrotate "
            f"snippet rotates ({defaults.LOG_DIR}/mailspy, headers, *.log, *.jsonl): add it "
            "to /etc/logrotate.d/mailspy, or give --shadow-log a path there")))
    for rule in rules.rules:
        for action in rule.actions:
            spec = ACTIONS[action.name]
            if spec.kind != LOG or spec.target != PATH or action.target in seen \
                    or rotated(action.target) or rule.shadow:
                continue
            seen.add(action.target)
            found.append(warning(action.position or rule.position, (
                f"{action.target} is not among the logs the shipped logrotate snippet "
                f"rotates ({defaults.LOG_DIR}/mailspy, headers, *.log, *.jsonl): add it to "
                "/etc/logrotate.d/mailspy, or log there (check-rules --list-logs lists every "
                "log)")))
    return found


def check_fixtures(result: LoadResult, directory: Path) -> int:
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
