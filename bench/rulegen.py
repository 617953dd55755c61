"""Generated rules files: N rules of the kinds a postmaster writes, over all four fields.

Why this mix: the cost of a rule depends on its test (a set lookup for `in`, a scan for
`contains`, a compiled pattern for globs and regexes) and on its field (the attachment
field means a MIME walk). The rules cycle through every field and every test, alone and
combined with and/or/not, with values that do not occur in the corpus, so most rules
match nothing; one in MATCH_EVERY uses the corpus's own vocabulary and matches some
messages. The last rule is the catch-all `log-summary` every message reaches.
"""

from __future__ import annotations

from pathlib import Path

MATCH_EVERY = 100  # one rule in this many matches part of the corpus
PER_FILE = 500  # rules per file, as a site splits them by topic

# Conditions that match nothing in the corpus; {i} makes each rule's values unique.
MISSING = (
    'sender matches "*@vendor{i}.example"',
    'recipient is "user{i}@partner{i}.example"',
    'subject contains "ticket v{i} "',
    'attachment matches "invoice-v{i}-*.pdf"',
    'recipient in ["a{i}@branch.example", "b{i}@branch.example", "c{i}@branch.example"]',
    r"sender matches /^(billing|invoices)\.v{i}@/i",
    r"subject matches /\b(order|ticket) #V{i}\b/",
    r"attachment matches /^scan-v{i}-\d+\.(pdf|tiff?)$/i",
    'sender matches "*@vendor{i}.example" and (subject contains "invoice" '
    'or attachment matches "*.pdf")',
    'recipient matches "*@branch{i}.example" and not sender is "noreply@branch{i}.example"',
    'attachment in ["payroll-v{i}.xlsx", "salaries-v{i}.xlsx"]',
    'subject is "Weekly digest v{i}"',
)
# Conditions that match some corpus messages (see bench/corpus.py).
PRESENT = (
    'sender matches "*@ext{k}.example"',
    'recipient is "ann@corp{k}.example"',
    'subject contains "invoice"',
    'attachment matches "*.pdf"',
)


def condition(index: int) -> str:
    """The `when` condition of generated rule `index`."""
    if index % MATCH_EVERY == MATCH_EVERY - 1:
        serial = index // MATCH_EVERY
        return PRESENT[serial % len(PRESENT)].format(k=serial % 8)
    return MISSING[index % len(MISSING)].format(i=index)


def rule_text(index: int, actions: tuple[str, ...] = ("log-summary",)) -> str:
    body = "\n    ".join(actions)
    return f'rule "generated-{index:05d}" {{\n    when {condition(index)}\n    {body}\n}}\n'


def write_rules(directory: Path, count: int, *,
                catch_all: tuple[str, ...] = ("log-summary",),
                per_file: int = PER_FILE) -> Path:
    """Write `count` rules into `directory` (created): count - 1 generated rules in files
    of `per_file`, then 99-everything.rules with the catch-all. Returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    generated = max(count - 1, 0)
    for first in range(0, generated, per_file):
        texts = [rule_text(i) for i in range(first, min(first + per_file, generated))]
        (directory / f"{10 + first // per_file:03d}-generated.rules").write_text("\n".join(texts))
    actions = "\n    ".join(catch_all)
    (directory / "999-everything.rules").write_text(
        f'rule "everything" {{\n    {actions}\n}}\n')
    return directory
