"""The row of a message: made once, shared by every page that shows the message."""

from __future__ import annotations

from mailspy.report.pages import Links
from mailspy.report.records import Record
from mailspy.report.rows import RECIPIENTS_SHOWN, message_rows


def stamp(epoch: int) -> str:
    return f"T{epoch}"


def test_what_comes_from_the_log_is_escaped() -> None:
    record = Record(60, "a@x.example", ("b@y.example",), 1500, "<img src=x>\"&'",
                    ("<f>.pdf", "b&c"), queue='<q">')
    row, = message_rows([record], stamp, Links())
    assert row == (
        '<tr><td title="queue id &lt;q&#34;&gt;">T60</td>'
        '<td><a href="../a/' + Links().address_name("a@x.example") + '">a@x.example</a></td>'
        '<td><a href="../a/' + Links().address_name("b@y.example") + '">b@y.example</a></td>'
        "<td>1.5 KB</td><td>&lt;img src=x&gt;&#34;&amp;&#39;</td>"
        "<td>&lt;f&gt;.pdf, b&amp;c</td></tr>")


def test_no_queue_id_no_tooltip_and_no_files_an_empty_cell() -> None:
    row, = message_rows([Record(0, "a@x", ("b@y",), 10, "s")], stamp, Links())
    assert row.startswith("<tr><td>T0</td>")
    assert row.endswith("<td>10 B</td><td>s</td><td></td></tr>")


def test_recipients_past_the_first_ones_are_counted() -> None:
    recipients = tuple(f"r{n}@y.example" for n in range(RECIPIENTS_SHOWN + 7))
    row, = message_rows([Record(0, "a@x", recipients, 10, "s")], stamp, Links())
    assert row.count("<a href=") == 1 + RECIPIENTS_SHOWN
    assert '<span class="muted">and 7 more</span>' in row


def test_a_separator_inside_a_value_shifts_no_other_row() -> None:
    """Values are escaped a batch at a time, joined by U+001E; one that holds it (the
    reader writes it as an escape, but a record may come from elsewhere) must not
    move the values of the rows after it."""
    records = [Record(0, "a@x", ("b@y",), 10, "one\x1etwo", ("f\x1e.pdf",), queue="q\x1e"),
               Record(1, "c@x", ("d@y",), 20, "<second>", ("g.pdf",), queue="Q2")]
    first, second = message_rows(records, stamp, Links())
    assert "<td>one\x1etwo</td><td>f\x1e.pdf</td>" in first and 'title="queue id q\x1e"' in first
    assert "<td>&lt;second&gt;</td><td>g.pdf</td>" in second
    assert 'title="queue id Q2"' in second
