"""What the MIME walk reports of one attachment: plain data, no behaviour.

Kept apart from the message model so that the walker (which makes these)
and the model (which offers them as `Message.attachments`) both import it
and neither imports the other's importer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attachment:
    """One MIME part that carries a file name or is declared an attachment."""

    name: str  # decoded file name; "" for `Content-Disposition: attachment` without one
    content_type: str = "application/octet-stream"  # declared, lower case
    path: str = ""  # MIME path, "1", "2.1", ...
    size: int = 0  # decoded bytes
    sha256: str = ""  # of the decoded bytes
    members: tuple[str, ...] = ()  # names inside a zip archive
