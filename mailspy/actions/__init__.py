"""The four recording actions, as plain library code usable without the milter.

- `summary`: one tab-separated line per message (log-summary);
- `headers`: the header block in the original's mbox-like form (log-headers);
- `pipe`: the message on a command's stdin, never through a shell
  (pipe-to-command);
- `maildir`: a copy delivered into a Maildir (archive-to-maildir).

`logfile` is the append-only writer the two log actions share, `copy`
renders a message copy for pipes and Maildirs, and `clean` neutralises
hostile values on their way into a log.
"""
