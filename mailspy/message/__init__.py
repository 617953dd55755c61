"""The message model and its parsing: header decoding, MIME walking, file reading."""

from mailspy.message.decode import decode_header_value, decode_param, part_filename
from mailspy.message.mime import walk
from mailspy.message.model import Attachment, Envelope, Message
from mailspy.message.parse import (
    RebuiltEnvelope,
    message_from_bytes,
    read_message,
    rebuild_envelope,
)

__all__ = [
    "Attachment",
    "Envelope",
    "Message",
    "RebuiltEnvelope",
    "decode_header_value",
    "decode_param",
    "message_from_bytes",
    "part_filename",
    "read_message",
    "rebuild_envelope",
    "walk",
]
