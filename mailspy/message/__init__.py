"""The message model and its parsing: header decoding, MIME walking, file reading."""

from mailspy.message.decode import decode_header_value, decode_param, part_filename
from mailspy.message.mime import walk
from mailspy.message.model import Attachment, Envelope, Message
from mailspy.message.parse import envelope_from_headers, message_from_bytes, read_message

__all__ = [
    "Attachment",
    "Envelope",
    "Message",
    "decode_header_value",
    "decode_param",
    "envelope_from_headers",
    "message_from_bytes",
    "part_filename",
    "read_message",
    "walk",
]
