"""The actions: each module declares one (`ACTION = ActionType(...)`), and the
registry (`registry.ACTIONS`) finds them all.

- `summary`: one tab-separated line or JSON record per message (log-summary);
- `headers`: the header block in the original's mbox-like form (log-headers);
- `pipe`: the message on a command's stdin, never through a shell
  (pipe-to-command);
- `maildir`: a copy delivered into a Maildir (archive-to-maildir);
- `syslog`: the summary record as an RFC 5424 message to a syslog server or
  the local socket (log-syslog);
- `stop`: evaluate no further rules.

Helpers: `action` (what an action declares), `logfile` (the append-only
writer log actions share), `sinks` (one open sink per target), `copy` (a
message copy for pipes and Maildirs), `clean` (hostile values neutralised
on their way into a log), `summary_json` (the JSON record), `privacy` (the
options that hash or drop personal values in records), `shadow` (the
record of what a shadow rule would have done), `registry` (the table of
every action, found from the modules).
"""
