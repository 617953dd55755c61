"""Member names of zip attachments, at a cost no zip can make large.

Which attachments are zips: a declared type in ZIP_TYPES, a name ending in
`.zip`, or (for any other named part) decoded content that starts with a
local file header, `PK\\x03\\x04` (so .docx, .xlsx, .jar and the like are
listed too; a macro shows as `word/vbaProject.bin`).

How: `ZipSpool` writes the attachment's decoded bytes to an anonymous
temporary file (`tempfile.TemporaryFile`: unlinked from the start, in
TMPDIR) as the MIME walker decodes them; when the part ends, the file is
listed and closed. Memory stays bounded whatever the attachment's size.

Listing reads member NAMES from the central directory only; no member is
decompressed for that. The stdlib's zipfile does the reading, but it would
parse every entry of a directory it is handed (a 60 MB zip of 700,000 empty
members costs it 400 MB and seconds), so it is handed a bounded one: the end
record is found here, the first MAX_MEMBERS entries (and at most
MAX_DIRECTORY_BYTES) of the central directory are copied, and zipfile reads
a view of the file that ends in that copy and a fresh end record. Entry by
entry, what would make zipfile refuse the whole archive is neutralised in
the copy: a name flagged UTF-8 that is not (read as cp437 instead), a
"version needed" above what zipfile knows, a malformed extra field
(dropped); comments are dropped. Names are what zipfile gives: UTF-8 when
flagged, cp437 otherwise, cut at a NUL.

Nested zips: a member whose name ends in `.zip` is decompressed (to another
temporary file) and its names are listed after its own, as
`inner.zip/name`, the path down the archives; a rule glob such as `*.exe`
matches either. Only MAX_NESTING levels are opened (the attachment, and zips
directly inside it); an inner zip is only opened when stored or deflated,
not encrypted, and at most MAX_INNER_BYTES decompressed, and all inner zips
of a message share MAX_INFLATED_BYTES. Encrypted archives still list their
names (the directory is not encrypted).

Limits, and what happens at them: an attachment larger than
MAX_ARCHIVE_BYTES lists nothing (its directory is at its end, and the bytes
are not kept); beyond MAX_MEMBERS names (nested ones included) the list is
cut; beyond MAX_ARCHIVES archives per message, the rest list nothing. A
broken zip (truncated, bad directory, not a zip at all) lists nothing, or
the entries before the damage; nothing here raises.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO

__all__ = [
    "MAX_ARCHIVES",
    "MAX_ARCHIVE_BYTES",
    "MAX_DIRECTORY_BYTES",
    "MAX_INFLATED_BYTES",
    "MAX_INNER_BYTES",
    "MAX_MEMBERS",
    "MAX_NESTING",
    "ZIP_TYPES",
    "Budget",
    "ZipSpool",
    "is_zip_declared",
    "list_members",
]

MAX_ARCHIVE_BYTES = 64 * 1024 * 1024  # decoded bytes kept of one attachment
MAX_MEMBERS = 1_000  # names listed per attachment, nested ones included
MAX_DIRECTORY_BYTES = 1024 * 1024  # read of one central directory
MAX_NESTING = 2  # archive levels opened: the attachment, zips inside it
MAX_INNER_BYTES = 16 * 1024 * 1024  # decompressed of one inner zip
MAX_ARCHIVES = 100  # archives listed per message, inner ones included
MAX_INFLATED_BYTES = 64 * 1024 * 1024  # decompressed per message, all inner zips

ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed", "application/x-zip"})

_LOCAL_MAGIC = b"PK\x03\x04"
_DIRECTORY_MAGIC = b"PK\x01\x02"
_END_MAGIC = b"PK\x05\x06"
_END64_MAGIC = b"PK\x06\x06"
_LOCATOR_MAGIC = b"PK\x06\x07"
_END = struct.Struct("<4s4H2LH")  # end of central directory record
_END64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record
_LOCATOR = struct.Struct("<4sLQL")  # zip64 end of central directory locator
_ENTRY_SIZE = 46  # fixed part of a central directory entry
_TAIL = _END.size + 0xFFFF + _LOCATOR.size + _END64.size  # where the end records can be
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_MAX_EXTRACT_VERSION = 63  # zipfile refuses higher "version needed"
_OPENABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # bounded per read by zipfile
_CHUNK = 64 * 1024


def is_zip_declared(content_type: str, name: str) -> bool:
    """A part that says it is a zip, by its type or its file name."""
    return content_type.lower() in ZIP_TYPES or name.lower().endswith(".zip")


@dataclass
class Budget:
    """What one message may still spend on archives; its attachments share it."""

    archives: int = field(default_factory=lambda: MAX_ARCHIVES)
    inflated: int = field(default_factory=lambda: MAX_INFLATED_BYTES)


_SNIFF, _SPOOL, _OFF = "sniff", "spool", "off"


class ZipSpool:
    """One attachment's decoded bytes, kept on disk while it may be a zip.

    Declared zips are kept from the first byte (a self-extractor's stub
    before the zip is fine); other parts only when their first four bytes
    are a local file header: anything else costs a comparison, no disk.
    """

    def __init__(self, declared: bool, budget: Budget) -> None:
        self._budget = budget
        self._state = _SPOOL if declared else _SNIFF
        if budget.archives <= 0:
            self._state = _OFF
        self._head = b""
        self._file: BinaryIO | None = None
        self._size = 0

    @classmethod
    def for_part(cls, content_type: str, name: str, budget: Budget) -> ZipSpool:
        return cls(is_zip_declared(content_type, name), budget)

    def feed(self, data: bytes) -> None:
        """More decoded content, in order."""
        if self._state == _OFF or not data:
            return
        if self._state == _SNIFF:
            data = self._sniff(data)
        if data:
            self._write(data)

    def members(self) -> tuple[str, ...]:
        """The part has ended: its member names; the temporary file is gone after."""
        fp, self._file = self._file, None
        listing = self._state == _SPOOL
        self._state = _OFF
        if fp is None:
            return ()
        with fp:
            return list_members(fp, self._budget) if listing else ()

    def _sniff(self, data: bytes) -> bytes:
        head = self._head + data
        if len(head) < len(_LOCAL_MAGIC) and _LOCAL_MAGIC.startswith(head):
            self._head = head  # a decoder can hand over a byte at a time
            return b""
        self._head = b""
        self._state = _SPOOL if head.startswith(_LOCAL_MAGIC) else _OFF
        return head if self._state == _SPOOL else b""

    def _write(self, data: bytes) -> None:
        if self._size + len(data) > MAX_ARCHIVE_BYTES:
            self._give_up()  # its directory is at the end, which will not be kept
            return
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="mailspy-zip-")  # noqa: SIM115
            self._file.write(data)
        except OSError:  # no temporary directory, disk full: no listing, mail flows
            self._give_up()
            return
        self._size += len(data)

    def _give_up(self) -> None:
        self._state = _OFF
        fp, self._file = self._file, None
        if fp is not None:
            with contextlib.suppress(OSError):
                fp.close()


def list_members(fp: BinaryIO, budget: Budget | None = None) -> tuple[str, ...]:
    """Member names of the zip in a seekable binary file; () when it is none.

    Nested zips' names follow their own as `inner.zip/name` (see the module
    docstring for the limits). Never raises.
    """
    try:
        return tuple(_names(fp, 1, budget or Budget(), MAX_MEMBERS))
    except Exception:  # zipfile and struct on hostile bytes: no listing
        return ()


def _names(fp: BinaryIO, depth: int, budget: Budget, room: int) -> list[str]:
    """Up to `room` names of the zip in fp, inner zips' names after their own."""
    if budget.archives <= 0 or room <= 0:
        return []
    budget.archives -= 1
    archive = _bounded_zipfile(fp, room)
    if archive is None:
        return []
    names: list[str] = []
    with archive:
        for info in archive.infolist():
            if len(names) >= room:
                break
            names.append(info.filename)
            if depth < MAX_NESTING and _worth_opening(info, budget):
                inner = _inner_names(archive, info, depth + 1, budget, room - len(names))
                names += [f"{info.filename}/{name}" for name in inner]
    return names[:room]


def _worth_opening(info: zipfile.ZipInfo, budget: Budget) -> bool:
    """An inner zip whose decompression is bounded and affordable."""
    return (
        info.filename.lower().endswith(".zip")
        and not info.is_dir()
        and not info.flag_bits & _ENCRYPTED_FLAG
        and info.compress_type in _OPENABLE
        and info.file_size <= min(MAX_INNER_BYTES, budget.inflated)
        and budget.archives > 0
    )


def _inner_names(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, depth: int, budget: Budget, room: int
) -> list[str]:
    """Decompress an inner zip to a temporary file and list it.

    zipfile never returns more than the declared size (and checks the CRC
    at the end), so the declared size checked by `_worth_opening` bounds
    the work; it is charged up front.
    """
    budget.inflated -= info.file_size
    try:
        with tempfile.TemporaryFile(prefix="mailspy-zip-") as tmp, archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                tmp.write(chunk)
            return _names(tmp, depth, budget, room)
    except Exception:  # damaged, lying, or no room on disk: its own name stays listed
        return []


# -- a central directory zipfile can afford ---------------------------------


@dataclass(frozen=True)
class _Directory:
    """Where the central directory is, by the end records."""

    start: int  # position in the file
    size: int
    offset: int  # as recorded: differs from start when data precedes the zip


def _bounded_zipfile(fp: BinaryIO, room: int) -> zipfile.ZipFile | None:
    """zipfile over the file, shown at most `room` directory entries."""
    directory = _find_directory(fp)
    if directory is None:
        return None
    fp.seek(directory.start)
    raw = fp.read(min(directory.size, MAX_DIRECTORY_BYTES))
    entries, count = _copy_entries(raw, room)
    if count == 0:
        return None
    # Data before the zip (a self-extractor's stub) is left out of the view,
    # so that the directory stands where the end record says: zipfile then
    # never looks for end records anywhere but in the trailer written here.
    base = directory.start - directory.offset if directory.offset <= directory.start else 0
    position = directory.start - base
    view = _Window(fp, base, directory.start, entries + _trailer(count, len(entries), position))
    return zipfile.ZipFile(view)


def _find_directory(fp: BinaryIO) -> _Directory | None:
    """The directory the end records point to, as unzip finds it.

    The last end record, and the zip64 one before it if there is one (as
    zipfile does). The directory is where its size says, right before the
    end record (data before the zip, such as a self-extractor's stub, only
    shifts the recorded offset); failing that, at the recorded offset
    (bytes between the directory and the end record). zipfile only tries
    the first and lists nothing of the second, which unzip extracts.
    """
    size = fp.seek(0, os.SEEK_END)
    tail_start = max(0, size - _TAIL)
    fp.seek(tail_start)
    tail = fp.read()
    at = _end_record(tail)
    if at < 0:
        return None
    fields = _END.unpack_from(tail, at)
    dir_size, dir_offset, dir_end = fields[5], fields[6], at
    locator = at - _LOCATOR.size
    record = locator - _END64.size
    zip64 = tail.startswith(_LOCATOR_MAGIC, locator) and tail.startswith(_END64_MAGIC, record)
    if record >= 0 and zip64:
        fields64 = _END64.unpack_from(tail, record)
        dir_size, dir_offset, dir_end = fields64[8], fields64[9], record
    end = tail_start + dir_end  # where the directory stops at the latest
    for start in dict.fromkeys((end - dir_size, dir_offset)):
        if 0 <= start < end:
            fp.seek(start)
            if fp.read(len(_DIRECTORY_MAGIC)) == _DIRECTORY_MAGIC:
                return _Directory(start=start, size=min(dir_size, end - start), offset=dir_offset)
    return None


def _end_record(tail: bytes) -> int:
    """Where the end record is: the last one whose comment ends the file, else the last one.

    zipfile takes the last signature found, so a fake record inside the
    archive comment would hide the real one; Info-ZIP's check is kept first.
    """
    last = -1
    stop = len(tail) - _END.size + len(_END_MAGIC)
    while (at := tail.rfind(_END_MAGIC, 0, stop)) >= 0:
        (comment_len,) = struct.unpack_from("<H", tail, at + _END.size - 2)
        if at + _END.size + comment_len == len(tail):
            return at
        last = at if last < 0 else last
        stop = at + len(_END_MAGIC) - 1
    return last


def _copy_entries(raw: bytes, room: int) -> tuple[bytes, int]:
    """The first whole entries of a central directory, made safe for zipfile."""
    out = bytearray()
    pos = count = 0
    while count < room and pos + _ENTRY_SIZE <= len(raw):
        if not raw.startswith(_DIRECTORY_MAGIC, pos):
            break  # damage: keep the entries before it
        name_len, extra_len, comment_len = struct.unpack_from("<3H", raw, pos + 28)
        name_end = pos + _ENTRY_SIZE + name_len
        end = name_end + extra_len + comment_len
        if end > len(raw):
            break  # cut by MAX_DIRECTORY_BYTES, or truncated
        header = bytearray(raw[pos : pos + _ENTRY_SIZE])
        name, extra = raw[pos + _ENTRY_SIZE : name_end], raw[name_end : end - comment_len]
        out += _safe_entry(header, name, extra)
        pos = end
        count += 1
    return bytes(out), count


def _safe_entry(header: bytearray, name: bytes, extra: bytes) -> bytes:
    """One entry that cannot make zipfile refuse the whole archive; no comment."""
    (flags,) = struct.unpack_from("<H", header, 8)
    if flags & _UTF8_FLAG and not _is_utf8(name):
        struct.pack_into("<H", header, 8, flags & ~_UTF8_FLAG)  # read as cp437
    header[6] = min(header[6], _MAX_EXTRACT_VERSION)
    if not _extra_is_sound(extra, header):
        extra = b""
    struct.pack_into("<2H", header, 30, len(extra), 0)
    return bytes(header) + name + extra


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _extra_is_sound(extra: bytes, header: bytearray) -> bool:
    """Blocks that fit, and a zip64 block long enough for the sizes it stands for."""
    sizes = struct.unpack_from("<2L", header, 20) + struct.unpack_from("<L", header, 42)
    zip64_needs = 8 * sum(value == 0xFFFFFFFF for value in sizes)
    pos = 0
    while len(extra) - pos >= 4:
        kind, length = struct.unpack_from("<2H", extra, pos)
        if pos + 4 + length > len(extra) or (kind == 1 and length < zip64_needs):
            return False
        pos += 4 + length
    return True


def _trailer(count: int, size: int, position: int) -> bytes:
    """Zip64 end records for a copied directory at `position`, then a plain end record.

    Always zip64: zipfile then reads the locator written here, never bytes
    of a member name that happen to look like one.
    """
    record = _END64.pack(_END64_MAGIC, 44, 45, 45, 0, 0, count, count, size, position)
    locator = _LOCATOR.pack(_LOCATOR_MAGIC, 0, position + size, 1)
    end = _END.pack(_END_MAGIC, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return record + locator + end


class _Window:
    """The file's bytes from `start` to `stop`, then bytes of our own.

    Reads never return more than there is, whatever size is asked for:
    zipfile reads the directory size an end record states.
    """

    def __init__(self, fp: BinaryIO, start: int, stop: int, tail: bytes) -> None:
        self._fp = fp
        self._start = start
        self._split = stop - start
        self._tail = tail
        self._size = self._split + len(tail)
        self._pos = 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("seek before the start of the archive")
        self._pos = base + offset
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        end = self._size if n is None or n < 0 else min(self._size, self._pos + n)
        chunks = []
        if self._pos < min(end, self._split):
            self._fp.seek(self._start + self._pos)
            data = self._fp.read(min(end, self._split) - self._pos)
            chunks.append(data)
            self._pos += len(data)
            if self._pos < min(end, self._split):
                end = self._pos  # the file ended early
        if self._split <= self._pos < end:
            chunks.append(self._tail[self._pos - self._split : end - self._split])
            self._pos = end
        return b"".join(chunks)
