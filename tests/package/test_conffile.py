"""The configuration file the package installs as /etc/mailspy/mailspy.conf.

It lists every option of `mailspy run` under its long name, with the default
the daemon uses, commented out; uncommented, it is valid TOML.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

from mailspy.cli import build_parser

CONF = Path(__file__).resolve().parents[2] / "contrib" / "mailspy.conf"
SETTING = re.compile(r"^(?:# )?([a-z][a-z-]*) = (.*)$", re.M)
# The package runs mailspy as its own user; the program itself has no default user.
PACKAGE_CHOICES = {"user": "mailspy"}


def run_options() -> dict[str, argparse.Action]:
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    return {action.dest.replace("_", "-"): action for action in commands.choices["run"]._actions
            if action.dest not in ("help", "config")}


def documented() -> dict[str, object]:
    """Every setting of the file, uncommented."""
    text = "\n".join(f"{m.group(1)} = {m.group(2)}" for m in SETTING.finditer(CONF.read_text()))
    return tomllib.loads(text)


def test_uncommented_the_file_is_toml_and_names_each_key_once() -> None:
    keys = SETTING.findall(CONF.read_text())
    assert len(keys) == len({key for key, _ in keys})
    assert len(documented()) == len(keys)


def test_only_the_packages_user_is_set_everything_else_is_commented_out() -> None:
    assert tomllib.loads(CONF.read_text()) == PACKAGE_CHOICES


def test_every_option_of_mailspy_run_is_in_the_file() -> None:
    assert sorted(set(run_options()) - set(documented())) == []


def test_every_key_of_the_file_is_an_option_of_mailspy_run() -> None:
    unknown = set(documented()) - set(run_options())
    assert sorted(unknown) == []


def test_each_default_shown_is_the_daemons() -> None:
    options, shown = run_options(), documented()
    wrong = {key: (value, options[key].default) for key, value in shown.items()
             if key in options and options[key].default is not None
             and _as_given(options[key], value) != options[key].default}
    assert wrong == {}


def _as_given(action: argparse.Action, value: object) -> object:
    """A value as the daemon reads it from the file (a mode is written "0660")."""
    return action.type(value) if isinstance(value, str) and callable(action.type) else value
