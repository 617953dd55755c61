"""Where mailspy reads and writes when nobody says otherwise, in one place.

Logs live in a directory of their own, owned by the user mailspy runs as,
so that it can create them and reopen them after logrotate once it has
dropped root (the layout the original mailspy moved to in its 0.4.0).
"""

from __future__ import annotations

RULES_DIR = "/etc/mailspy/rules.d"
CONFIG_FILE = "/etc/mailspy/mailspy.conf"
SOCKET = "unix:/var/run/mailspy/milter"
LOG_DIR = "/var/log/mailspy"
SUMMARY_LOG = f"{LOG_DIR}/mailspy"
HEADER_LOG = f"{LOG_DIR}/headers"
SHADOW_LOG = f"{LOG_DIR}/shadow.jsonl"  # what shadow rules would have done
PRIVACY_KEY = "/etc/mailspy/privacy.key"  # the key of hashed values in records
SPOOL_DIR = "/var/spool/mailspy"
RUNTIME_DIR = "/run/mailspy"  # the control socket (systemd: RuntimeDirectory=mailspy)
CONTROL_SOCKET = "control"  # in the runtime directory
REGEX_TIMEOUT = 0.1  # seconds a rule's regex may search: a hundred times a sane one's need
