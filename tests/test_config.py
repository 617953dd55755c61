"""/etc/mailspy/mailspy.conf: every `mailspy run` option in a file, flags winning.

A typo is an error that names the nearest key; a value of the wrong kind says
what the key takes. (The commented file the package ships is checked against
the options in tests/package/test_conffile.py.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mailspy import cli, defaults
from mailspy.commands import run
from mailspy.commands.config import ConfigError, read_config
from tests.command import mailspy

REPO = Path(__file__).resolve().parents[1]


def daemon_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    run.add_arguments(parser)
    return parser


def parsed(tmp_path: Path, text: str, *argv: str) -> argparse.Namespace:
    config = tmp_path / "mailspy.conf"
    config.write_text(text)
    words = ["run", "--config", str(config), *argv]
    return cli.build_parser(cli.daemon_config(words)).parse_args(words)


def test_the_file_replaces_the_defaults_and_flags_win(tmp_path: Path) -> None:
    args = parsed(tmp_path, 'spool-dir = "/srv/spool"\nworkers = 8\nrules-dir = "/srv/rules"\n'
                  'on-spool-failure = "accept"\nsyslog = true\nsocket-mode = "0640"\n',
                  "--workers", "2", "-d", "/etc/x")
    assert (args.spool_dir, args.workers, args.rules_dir) == ("/srv/spool", 2, "/etc/x")
    assert (args.on_spool_failure, args.syslog, args.socket_mode) == ("accept", "/dev/log",
                                                                      0o640)
    assert args.summary_log == defaults.SUMMARY_LOG  # not in the file: the default


def test_an_unknown_key_names_the_nearest(tmp_path: Path) -> None:
    config = tmp_path / "mailspy.conf"
    config.write_text('spool_dir = "/srv/spool"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'spool_dir'; did you mean 'spool-dir'"):
        read_config(str(config), daemon_parser(), named=True)
    done = mailspy("run", "--config", str(config))
    assert done.returncode == 1 and f"{config}: unknown key 'spool_dir'" in done.stderr


@pytest.mark.parametrize(("text", "says"), [
    ("workers = \"many\"\n", "workers: a whole number, not 'many'"),
    ("workers = 0\n", "workers: must be 1 or more"),
    ("on-spool-failure = \"drop\"\n", "on-spool-failure is one of tempfail, accept"),
    ("spool-dir = [1]\n", "spool-dir takes a quoted string"),
    ("workers = \n", "not valid TOML"),
])
def test_a_bad_value_says_what_the_key_takes(tmp_path: Path, text: str, says: str) -> None:
    config = tmp_path / "mailspy.conf"
    config.write_text(text)
    with pytest.raises(ConfigError, match=says):
        read_config(str(config), daemon_parser(), named=True)


def test_a_named_file_must_exist_and_the_default_may_be_absent(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        read_config(str(tmp_path / "nope.conf"), daemon_parser(), named=True)
    assert read_config(str(tmp_path / "nope.conf"), daemon_parser(), named=False) == {}


def test_help_and_version_work_as_everywhere() -> None:
    assert "check-rules" in mailspy("-h").stdout
    assert "check-rules" in mailspy("--help").stdout
    version = mailspy("--version")
    assert version.returncode == 0 and version.stdout.startswith("mailspy ")
    original = cli.normalise_argv(["-h", "/var/log/headers", "-p", "unix:/x"])
    assert original[0] == "run"  # -h with a value is still the original's header log
