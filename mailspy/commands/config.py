"""The daemon's options in a file: /etc/mailspy/mailspy.conf, TOML.

Every key is the long name of a `mailspy run` option without its dashes
(`spool-dir = "/var/spool/mailspy"`, `workers = 8`, `syslog = true`); an
option given on the command line wins over the file, the file over the
built-in default. A key the daemon does not know is an error that names
the nearest known one, so a typo cannot silently leave a default in place.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path
from typing import Any

from mailspy import defaults
from mailspy.diagnostics import suggest

__all__ = ["ConfigError", "config_path", "read_config"]


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message says what to fix."""


def config_path(argv: list[str]) -> tuple[str, bool]:
    """The file `--config` names in argv, or the default; and whether it was named."""
    for n, word in enumerate(argv):
        if word == "--config" and n + 1 < len(argv):
            return argv[n + 1], True
        if word.startswith("--config="):
            return word.split("=", 1)[1], True
    return defaults.CONFIG_FILE, False


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The keys a file may hold: each long option of the parser, without its dashes."""
    found: dict[str, argparse.Action] = {}
    for action in parser._actions:  # argparse offers no public list of its arguments
        for string in action.option_strings:
            if string.startswith("--") and string not in ("--help", "--config"):
                found[string[2:]] = action
    return found


def read_config(path: str, parser: argparse.ArgumentParser, named: bool) -> dict[str, Any]:
    """The file's values by argparse destination; {} when the default file is absent."""
    if not named and not os.path.exists(path):
        return {}
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; give another with --config") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    known = options(parser)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        action = known.get(key)
        if action is None:
            raise ConfigError(f"{path}: {suggest(key, known, 'key')}")
        values[action.dest] = _convert(path, key, value, action)
    return values


def _convert(path: str, key: str, value: Any, action: argparse.Action) -> Any:
    """The value as the command line would have given it."""
    if action.nargs == "?" and isinstance(value, bool):  # `syslog = true`
        return action.const if value else None
    if isinstance(value, bool | dict | list):
        raise ConfigError(f"{path}: {key} takes {_kind(action)}, not {value!r}")
    convert = action.type if callable(action.type) else str
    try:
        converted = convert(str(value)) if not isinstance(value, str) else convert(value)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise ConfigError(f"{path}: {key}: {exc}") from None
    if action.choices is not None and converted not in action.choices:
        raise ConfigError(f"{path}: {key} is one of {', '.join(map(str, action.choices))}, "
                          f"not {value!r}")
    return converted


def _kind(action: argparse.Action) -> str:
    if action.type in (int, float) or action.metavar in ("N", "SECONDS"):
        return "a number"
    return "a quoted string"
