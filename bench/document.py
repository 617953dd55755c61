"""docs/performance.md: the machine, the table, and what each row means.

Why generated whole: figures that are edited by hand drift from the code that measured
them. Everything here comes from one run of bench/run.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.report import Row, number, table

EXPLANATIONS = """\
## What each row measures

Every figure is mailspy divided by a baseline measured in the same run (rates), or an
absolute figure where the target is absolute (latency, memory, wall time). Rates are the
median of the repetitions; mailspy and its baseline run in turns, the order alternating.

- **O4, L4, C4, C1, CPU0, CPU1K, U4**: `bench/milterclient.py`, an MTA-side milter
  protocol v6 client, opens one milter connection per message (as Postfix opens one per
  SMTP session) and sends mail as a server sees it (`bench/corpus.py`,
  `make_real_corpus`: 2,000 messages, each with two to four `Received:` lines, a DKIM
  signature and 11-15 header fields in all, one to four recipients; two in ten plain
  text, two in ten text beside HTML, six in ten those with one file of 8-40 KiB as sent,
  or two; 22 KiB of body on average; every boundary and file name its own) over TCP on
  127.0.0.1. The milters: mailspy in the original usage (`-f` alone, no rules files: a
  summary line for every message), mailspy with 1,000 generated rules over sender,
  recipient, subject and attachment plus a catch-all `log-summary` (`bench/rulegen.py`),
  `bench/listening_milter.py` (a pymilter milter that takes every step mailspy needs,
  recipients, headers unanswered, DATA, body, and does nothing: what receiving the
  message through pymilter costs by itself) and the null pymilter milter
  (`tests/e2e/null_milter.py`, which negotiates recipients, headers and body away). The
  client honours what each milter negotiates: steps it skips are not sent, steps it
  leaves unanswered are not waited for; it sets TCP_NODELAY. O4, L4, C4, CPU0 and CPU1K
  run four connections at a time, C1 one. Beside each rate, the milter process's CPU time
  (user + system, all threads) per message, and the range over the repetitions: CPU time
  suffers less than rates from a busy neighbour. The client is Python too and uses most
  of a core, so the faster baselines are partly the client's limit, which flatters
  mailspy's ratios rather than the reverse. U4 is the original usage and the listening
  milter each on a unix socket: there mailspy answers only end-of-message (no Nagle on a
  unix socket), the listening milter every step but the headers.
- **SAT1, SAT2**: the same client keeps eight connections open, first all to one
  mailspy in the original usage, then in turns to two such processes (as two MTAs, or
  two `smtpd_milter_maps` entries, would spread them; see "More than one core" below).
  Beside each rate, the share of a core each mailspy process used and the client's own:
  on a two-core machine the client takes much of the second core.
- **P4, P16, P1**: Postfix's `smtp-source` (4 KiB messages) into three private Postfix
  instances on loopback (`tests/e2e/postfix.py`), identical but for their milter, which
  discard what they accept. The rate is smtp-source's submission rate; every run waits
  for its mail to be delivered before the next starts. P1 is one session: about 23 msg/s
  would mean the 40 ms Nagle stall (a milter that leaves DATA unanswered) is back.
- **N1, N4, N16**: the same mailspy figures against Postfix with no milter at all; the
  measure names the null pymilter milter's own ratio, the ceiling for any pymilter
  milter.
- **S4, T4**: the same `smtp-source` (4 sessions) into private sendmail 8.17 instances
  (`tests/e2e/sendmail.py`: Debian's package unpacked, `sendmail -bD` on loopback),
  identical but for their milter (`INPUT_MAIL_FILTER` with `F=T`), which deliver every
  message into a file through a shell script. S4: mailspy and the null milter each on a
  unix socket (`S=local:`), the hookup docs/install.md puts first. T4: mailspy on TCP
  (`S=inet:`, the daemon of the Postfix rows) against mailspy on the unix socket: this
  sendmail's milter client writes each macro list and each command separately with
  Nagle's algorithm on, so over TCP several steps of every message wait out the
  receiver's 40 ms delayed ACK.
- **R**: `mailspy.evaluate.evaluate` timed in-process over the same messages, parsed by
  `mailspy.message.parse.message_from_bytes`, with 10,000 and with 100 generated rules
  (`bench/rulegen.py`); the time includes computing each field once per message
  (subject decoding, the MIME walk for attachment names).
- **E**: mailspy with a rule piping mail for one recipient to a script that sleeps 10 s.
  mailspy spools each copy (fsync'd) before it answers, then its copy workers (default
  settings) run the pipes; they are soon all asleep and the rest of the copies wait in
  the spool. The client times SMFIC_BODYEOB sent to reply received, one message at a
  time; the baseline column is the same daemon and messages before any pipe matched.
  The spool lives in the run's folder under /tmp: fsync costs what it costs there.
- **H**: mailspy with a rule `subject matches /^(a|aa)+$/` and `--regex-timeout 0.25`;
  one connection sends, back to back, a message whose subject (60 a's and a "!") makes
  that search run until the timeout stops it, while a second connection sends the corpus
  one message at a time. SMFIC_BODYEOB to reply as for E; the baseline column is the
  same daemon and messages with no hostile connection, in alternating phases. The figure
  is a ratio of means, which a few long stalls would dominate: with a regex engine that
  held the interpreter lock, every message arriving during a search waited for its end.
- **M**: the 1,000-rule daemon's peak resident memory (`VmHWM` in /proc, reset through
  `clear_refs` just before) while one message carrying a base64 attachment of the
  stated size as sent streams through it, minus its `VmRSS` just before. MB = 10^6 bytes.
- **K**: `mailspy check-rules -d DIR` as a subprocess, interpreter start-up included;
  the baseline column is the same command on 100 rules (mostly start-up).
- **MS**: the daemon's own metrics server (`mailspy.daemon.metrics.MetricsServer`, its
  collector and HTTP handler) serving a Recorder that runs 20,000 generated rules, and
  then 10; `/metrics` fetched over loopback as Prometheus fetches it, the median of 20
  scrapes after one to warm up, end to end, with the size of the answer. Every rule is a
  series of `mailspy_rule_hits_total`, so the scrape grows with the rules; its CPU is
  taken from the milter's threads in the same process.
- **ST-…**: where the time of one message goes inside mailspy, each stage timed
  in-process (`bench/measure_stages.py`) on the same 2,000 messages, with no rules files
  and with 1,000 rules: the adapter's callbacks building the message (no libmilter, no
  socket, no thread), the MIME outline for attachment names and types, the full MIME walk
  (sizes, digests, zip listings: only the JSON record and `archive-member` need it),
  decoding the subject, evaluation with every field already computed, formatting the
  summary line, writing it, spooling one copy (fsync'd) for a message that owes one,
  and all of end-of-message through the adapter's `eom()` with a real Recorder. The
  daemon spends more on the same work than this loop does (cold caches, a thread per
  connection): the rows say where the time goes, CPU0 and CPU1K what it costs.
- **RP1, RP2, RP3**: `mailspy report --tz UTC -o DIR LOG` as a process of its own writes its
  whole site from a generated text summary log (`bench/summary_logs.py`: 3,000 addresses
  over 60 domains, one to three recipients, 30 % of the messages with one or two
  attachments). RP1 runs the original's `htmlspy.pl` (Perl; copied at run time from the
  original distribution beside the repository, `../shared/original/`, never kept in it)
  on the same 100,000-line log and divides its wall time by mailspy's, the best of two
  runs each, taken in turns, mailspy first (htmlspy.pl deletes thousands of temporary
  files, and creating files on ext4 stays slower for a minute or more after deletions:
  so each tool gets a run that no deletion of the other's precedes); both write every
  page they know (htmlspy.pl about 3,600 files, mailspy about as many). The log is
  flushed to disk before anything is timed.
  RP2 and RP3 are
  mailspy alone on 1,000,000 lines: wall time, and peak resident memory (`ru_maxrss` of
  the process, from wait4).
"""


def misses(rows: Sequence[Row]) -> list[str]:
    """One line per target missed: by how much, as a share of the target."""
    lines = []
    for row in rows:
        if row.target is None or row.result != "FAIL":
            continue
        bound, unit = row.target.bound, row.target.unit
        short = (bound - row.figure) / bound if row.target.op in ("≥", ">") \
            else (row.figure - bound) / bound
        lines.append(f"- **{row.id}**: {number(row.figure)}{unit} against "
                     f"{row.target}: missed by {short:.0%} of the target.")
    return lines


def render(rows: Sequence[Row], machine: Mapping[str, str], seconds: float,
           smoke: bool, notes: str = "") -> str:
    kind = "smoke run (tiny sizes: the figures mean nothing)" if smoke else "full run"
    missed = misses(rows)
    lines = [
        "# Performance",
        "",
        "Generated by `make bench` (`bench/run.py --write docs/performance.md`); do not",
        "edit by hand, run it again (the notes at the end come from bench/notes.md).",
        "",
        f"A {kind} that took {seconds:.0f} s.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in machine.items()),
        "",
        "## Results",
        "",
        table(rows),
        "",
        "## Targets missed",
        "",
        *(missed or ["None."]),
        "",
        EXPLANATIONS,
    ]
    if notes:
        lines += ["", notes.rstrip(), ""]
    return "\n".join(lines)
