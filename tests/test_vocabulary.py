"""The fields and the actions: each declared once, complete, and documented as declared.

docs/rules.md's tables of fields and of actions are the tables in the code
(mailspy/fields.py, the actions' own declarations); every field has an
extractor that gives values of its kind for any message, and every action
has what its kind needs to run.
"""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest

from mailspy import fields
from mailspy.actions import action as kinds
from mailspy.actions import registry
from mailspy.message.model import Envelope, Message

DOCS = Path(__file__).resolve().parents[1] / "docs" / "rules.md"


def message() -> Message:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("inside.txt", "hello")
    body = (b"--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B\r\n"
            b'Content-Type: application/zip; name="a.zip"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(archive.getvalue()).replace(b"\n", b"\r\n") + b"--B--\r\n")
    headers = [("From", "a@x"), ("Subject", "=?UTF-8?Q?Caf=C3=A9?="), ("X-Tag", "one"),
               ("MIME-Version", "1.0"), ("Content-Type", 'multipart/mixed; boundary="B"')]
    envelope = Envelope("<ann@example.org>", ["<bob@example.net>"], queue_id="Q1",
                        client_address="192.0.2.7", client_name="mx.example", helo="mx")
    return Message(envelope, headers, io.BytesIO(body), len(body))


def test_the_documented_fields_are_the_fields() -> None:
    assert fields.markdown_table() in DOCS.read_text()


def test_the_documented_actions_are_the_actions() -> None:
    assert registry.markdown_table() in DOCS.read_text()


def test_the_documented_options_are_the_options() -> None:
    assert registry.options_table() in DOCS.read_text()


@pytest.mark.parametrize("field", fields.FIELDS.values(), ids=list(fields.FIELDS))
def test_every_field_extracts_values_of_its_kind(field: fields.Field) -> None:
    values = field.extract(message(), "X-Tag" if field.argument else None)
    assert isinstance(values, tuple) and values, values
    expected = int if field.kind == fields.SIZE else str
    assert all(isinstance(v, expected) for v in values), values
    assert field.many or len(values) == 1


@pytest.mark.parametrize("spec", registry.ACTIONS.values(), ids=list(registry.ACTIONS))
def test_every_action_has_what_its_kind_needs(spec: kinds.ActionType) -> None:
    if spec.kind == kinds.LOG:
        assert spec.open is not None and spec.record is not None and spec.deliver is None
    elif spec.kind == kinds.COPY:
        assert spec.deliver is not None and spec.open is None and spec.record is None
        assert spec.target_required
    else:
        assert spec.kind == kinds.CONTROL and spec.target is None
    assert spec.default is None or spec.default in ("summary_log", "header_log")
    for option in spec.options:
        assert option.doc, option
        if option.kind == kinds.WORD:  # its words, the first the default
            assert len(option.values) >= 2, option
        else:  # a quoted value or a list, checked by the option
            assert not option.values and option.check is not None, option


def test_an_action_is_found_by_its_module_alone(tmp_path: Path, monkeypatch) -> None:
    """Adding an action is adding a module: the registry finds it."""
    import mailspy.actions as package

    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "log_nothing.py").write_text(
        "from mailspy.actions.action import CONTROL, ActionType\n"
        "ACTION = ActionType(name='do-nothing', doc='does nothing', kind=CONTROL)\n")
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(extra)])
    found = registry._discover()
    assert "do-nothing" in found and list(found)[:2] == ["log-summary", "log-headers"]
