"""Builds the analysis index of a mailbox too large for memory: one Parquet row per message with
the headers people ask questions about, written by streaming over a Maildir folder or an mbox file
with bounded memory, so that DuckDB, Polars or Spark take over where a pandas DataFrame stops.

How it works:
- Only each message's header block is read (up to the first empty line, RFC 5322 section 2.1,
  at most 1 MiB); the body is never read: a Maildir message's size is its file's size, an mbox
  message's comes from the offsets of the "From " lines around it. A Maildir is walked with
  os.scandir (new/, then cur/) and an mbox is scanned in blocks of 1 MiB, so nothing grows with
  the message count. The columns are listed in SCHEMA.
- The header reader is our own and reads only the fields of SCHEMA: a line starting with a space
  or tab continues the field before it (unfolding, RFC 5322 section 2.2.3), field names are
  matched without case, a field given twice keeps its first value (address lists and
  Authentication-Results keep all). Octets that are not UTF-8 (RFC 6532) are read as Latin-1,
  one character per octet. Encoded words are decoded (RFC 2047); dates become UTC timestamps
  (RFC 5322 section 3.3; "-0000" and no zone are UTC) and a date that cannot be read is null, as
  is every missing field.
- Rows are written in row groups of ROW_GROUP rows with pyarrow's ParquetWriter, to a temporary
  name next to the index, renamed over it only when complete: no half-written index is ever left
  under its final name.

pyarrow is an optional extra: `pip install "mailmagic[analysis]"`.
"""

from __future__ import annotations

import calendar
import email.errors
import email.header
import email.utils
import importlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

ROW_GROUP = 10_000
"""Rows per Parquet row group: what the writer holds in memory at most."""

SCHEMA = (
    ("key", "string"),  # Maildir: the file name before ":"; mbox: 0, 1, ... as mailbox.mbox
    ("source", "string"),  # the message's file: its Maildir file, or the mbox
    ("offset", "int64"),  # mbox: the octet offset of its "From " line; null in a Maildir
    ("size", "int64"),  # octets as stored
    ("date", "timestamp"),  # UTC
    ("from", "string"),  # decoded: "Name <addr>" or addr
    ("from_address", "string"),  # the addr-spec, domain in lower case
    ("to", "list"),  # addr-specs
    ("cc", "list"),
    ("subject", "string"),  # decoded
    ("message_id", "string"),
    ("in_reply_to", "string"),  # the first msg-id in In-Reply-To
    ("references", "list"),  # msg-ids, oldest first
    ("thread", "string"),  # the first reference, else In-Reply-To, else Message-ID
    ("list_id", "string"),  # the id between < and > (RFC 2919 section 3)
    ("authentication_results", "list"),  # every Authentication-Results field, topmost first
    ("spf", "string"),  # results in the topmost Authentication-Results (RFC 8601 section 2.2)
    ("dkim", "string"),
    ("dmarc", "string"),
)
"""The index's columns and their kinds, in order."""

_FIELDS = {
    b"date", b"from", b"to", b"cc", b"subject", b"message-id", b"in-reply-to", b"references",
    b"list-id", b"authentication-results",
}  # fmt: skip
_ALL = {b"to", b"cc", b"references", b"authentication-results"}  # fields whose every copy counts
_IDS = re.compile(r"<[^<>]*>")
_ATOMS = r'[^\s"(),:;<>@\\\[\]]+'
_ADDR = rf"{_ATOMS}@{_ATOMS}"
_PHRASE = r'[^\s"(),.:;<>@\\\[\]]+(?:\s+[^\s"(),.:;<>@\\\[\]]+)*'
_ITEM = rf"\s*(?:{_ADDR}|(?:{_PHRASE}\s*)?<{_ADDR}>)\s*"
_PLAIN = re.compile(rf"{_ITEM}(?:,{_ITEM})*")  # "a@b, Name <c@d>": no quotes, comments or groups
_METHOD = re.compile(r"(?:^|[;\s])(spf|dkim|dmarc)\s*=\s*([A-Za-z]+)", re.I)
_BLOCK = 1 << 20
_HEAD = 16384
_HEAD_MAX = 1 << 20  # a header block is read up to 1 MiB: what follows counts as body


class NotAMailboxError(ValueError):
    """The path given to index() is neither a Maildir folder nor an mbox file."""


@dataclass(frozen=True)
class Stored:
    """One message as found on disk: where it is, its size and its header block."""

    key: str
    source: str
    offset: int | None
    size: int
    header: bytes


def _arrow() -> tuple[Any, Any]:
    try:
        pyarrow = importlib.import_module("pyarrow")
        parquet = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise ImportError(
            'the Parquet index needs pyarrow: pip install "mailmagic[analysis]"'
        ) from None
    return pyarrow, parquet


def arrow_schema() -> Any:
    """SCHEMA as a pyarrow schema."""
    pa, _ = _arrow()
    kinds = {
        "string": pa.string(),
        "int64": pa.int64(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "list": pa.list_(pa.string()),
    }
    return pa.schema([(name, kinds[kind]) for name, kind in SCHEMA])


# --- reading the header blocks ------------------------------------------------------------------


def _header_end(data: bytes) -> int:
    """Where the header block ends (the empty line), or -1 if it goes on past ``data``."""
    if data[:1] == b"\n" or data[:2] == b"\r\n":
        return 0
    ends = [i for i in (data.find(b"\n\n"), data.find(b"\n\r\n")) if i >= 0]
    return min(ends) + 1 if ends else -1


def _read_head(fd: int, first: bytes, limit: int) -> bytes:
    """The header block that starts ``first``, reading on from ``fd`` up to ``limit`` octets."""
    data, limit = first, min(limit, _HEAD_MAX)
    end = _header_end(data)
    while end < 0 and len(data) < limit:
        more = os.read(fd, min(_HEAD * 4, limit - len(data)))
        if not more:
            break
        data += more
        end = _header_end(data)
    return data[:limit] if end < 0 else data[:end]


def _maildir_file(path: str) -> tuple[int, bytes] | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # moved (new/ to cur/) or deleted while we walk: skipped
        return None
    try:
        size = os.fstat(fd).st_size
        return size, _read_head(fd, os.read(fd, _HEAD), size)
    finally:
        os.close(fd)


def maildir_messages(folder: Path) -> Iterator[Stored]:
    """Every message of a Maildir (new/, then cur/), in directory order."""
    for sub in ("new", "cur"):
        with os.scandir(folder / sub) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                found = _maildir_file(entry.path)
                if found is not None:
                    yield Stored(entry.name.split(":")[0], entry.path, None, *found)


def _from_lines(scan: IO[bytes]) -> Iterator[tuple[int, bool]]:
    """The offset of every line starting with "From " and whether an empty line is before it
    (mailbox.mbox's rule), read in blocks of _BLOCK octets."""
    carry, start = b"", 0  # the last 6 octets of the block before; the offset of window[0]
    while block := scan.read(_BLOCK):
        window = carry + block
        if not carry and window.startswith(b"From "):
            yield 0, False
        at = window.find(b"\nFrom ", 1 if carry else 0)
        while at >= 0:
            yield start + at + 1, at >= 1 and window[at - 1] == 10
            at = window.find(b"\nFrom ", at + 1)
        carry = window[-6:]
        start += len(window) - len(carry)


def _mbox_message(read: IO[bytes], key: int, start: int, stop: int, source: str) -> Stored:
    read.seek(start)
    first = read.read(min(_HEAD, stop - start))
    line_end = first.find(b"\n") + 1 or len(first)  # the "From " line is not the message's
    body = start + line_end
    head = first[line_end:]
    end = _header_end(head)
    while end < 0 and body + len(head) < stop and len(head) < _HEAD_MAX:
        more = read.read(min(_HEAD * 4, stop - body - len(head)))
        if not more:
            break
        head += more
        end = _header_end(head)
    return Stored(str(key), source, start, stop - body, head if end < 0 else head[:end])


def mbox_messages(path: Path) -> Iterator[Stored]:
    """Every message of an mbox, keyed and cut as mailbox.mbox does (key 0, 1, ...)."""
    size = path.stat().st_size
    with open(path, "rb") as scan, open(path, "rb") as read:
        previous, key = -1, 0
        for start, blank_before in _from_lines(scan):
            if previous >= 0:
                stop = start - 1 if blank_before else start
                yield _mbox_message(read, key, previous, stop, str(path))
                key += 1
            previous = start
        if previous >= 0:
            read.seek(max(size - 2, previous))
            ends_blank = size - previous > 2 and read.read(2) == b"\n\n"
            yield _mbox_message(read, key, previous, size - 1 if ends_blank else size, str(path))


def messages(path: str | os.PathLike[str]) -> Iterator[Stored]:
    """The messages at ``path``: a Maildir folder (cur/ and new/ in it) or an mbox file."""
    where = Path(path)
    if where.is_dir() and (where / "cur").is_dir() and (where / "new").is_dir():
        return maildir_messages(where)
    if where.is_file() and _looks_like_mbox(where):
        return mbox_messages(where)
    what = "does not exist"
    if where.exists():
        what = "is neither a Maildir (a folder with cur/ and new/) nor an mbox (a file whose "
        what += "first line starts with 'From ')"
    raise NotAMailboxError(
        f"{where} {what}: give the folder or file you fetched into (%pop3 fetch --to PATH)"
    )


def _looks_like_mbox(path: Path) -> bool:
    with open(path, "rb") as f:
        first = f.read(5)
    return first in (b"", b"From ")


# --- one row ------------------------------------------------------------------------------------


def _fields(block: bytes) -> dict[bytes, list[bytes]]:
    """The wanted fields of a header block, unfolded (RFC 5322 section 2.2.3), by lower name."""
    found: dict[bytes, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in block.split(b"\n"):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current[-1] += line
            continue
        name, colon, value = line.partition(b":")
        name = name.rstrip().lower()
        current = None
        if colon and name in _FIELDS and (name in _ALL or name not in found):
            current = found.setdefault(name, [])
            current.append(value)
    return found


def _text(raw: bytes) -> str:
    try:
        return raw.decode().strip()
    except UnicodeDecodeError:  # not UTF-8 (RFC 6532): one character per octet
        return raw.decode("latin-1").strip()


def _decoded(text: str) -> str:
    """``text`` with its encoded words decoded (RFC 2047); left as it is if they are broken."""
    if "=?" not in text:
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        return text


def _address(addr: str) -> str:
    local, at, domain = addr.rpartition("@")  # domains have no case, local parts may (RFC 5321 2.4)
    return f"{local}@{domain.lower()}" if at else addr


def _pairs(text: str) -> list[tuple[str, str]]:
    """(display name, addr-spec) of each address in an address list (RFC 5322 section 3.4):
    the plain forms ``addr`` and ``Name <addr>`` directly, anything else (quoted strings,
    comments, groups) through email.utils.getaddresses, which gives the same for the plain ones."""
    if not _PLAIN.fullmatch(text):
        return [(name, addr) for name, addr in email.utils.getaddresses([text]) if addr]
    pairs = []
    for piece in text.split(","):
        name, lt, rest = piece.partition("<")
        addr = rest.partition(">")[0].strip() if lt else name.strip()
        if addr:
            pairs.append((" ".join(name.split()) if lt else "", addr))
    return pairs


def _addresses(values: list[bytes] | None) -> list[str] | None:
    if values is None:
        return None
    return [_address(addr) for v in values for _, addr in _pairs(_text(v))]


def _sender(values: list[bytes] | None) -> tuple[str | None, str | None]:
    """The From field as written (decoded) and its addr-spec."""
    if values is None:
        return None, None
    text = _text(values[0])
    pairs = _pairs(text)
    if not pairs:
        return _decoded(text) or None, None
    name, addr = pairs[0]
    return (f"{_decoded(name)} <{addr}>" if name else addr), _address(addr)


def _date(values: list[bytes] | None) -> int | None:
    """Microseconds since the epoch (UTC); None for a date that cannot be read."""
    if values is None:
        return None
    try:
        parsed = email.utils.parsedate_tz(_text(values[0]))
        if parsed is None:
            return None
        datetime(*parsed[:6])  # a real date: ValueError for day 31 of November, hour 25, ...
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    # No zone, or "-0000", is UTC with the local zone unknown (RFC 5322 section 3.3).
    return (calendar.timegm(parsed[:6]) - (parsed[9] or 0)) * 1_000_000


def _ids(values: list[bytes] | None) -> list[str] | None:
    if values is None:
        return None
    return [i for v in values for i in _IDS.findall(_text(v))]


def _first_id(values: list[bytes] | None) -> str | None:
    if values is None:
        return None
    text = _text(values[0])
    found = _IDS.search(text)
    return found.group() if found else text or None


def _list_id(values: list[bytes] | None) -> str | None:
    if values is None:
        return None
    text = _text(values[0])
    found = _IDS.search(text)
    return found.group()[1:-1] if found else text or None


def _results(values: list[bytes] | None) -> tuple[list[str] | None, dict[str, str]]:
    """Every Authentication-Results field, and method -> result of the topmost one."""
    if values is None:
        return None, {}
    texts = [" ".join(_text(v).split()) for v in values]
    methods: dict[str, str] = {}
    for method, result in _METHOD.findall(texts[0]):
        methods.setdefault(method.lower(), result.lower())
    return texts, methods


def row(stored: Stored) -> tuple[Any, ...]:
    """One message's row, its values in SCHEMA's order."""
    f = _fields(stored.header)
    sender, address = _sender(f.get(b"from"))
    subject = f.get(b"subject")
    message_id, in_reply_to = _first_id(f.get(b"message-id")), _first_id(f.get(b"in-reply-to"))
    references = _ids(f.get(b"references"))
    results, methods = _results(f.get(b"authentication-results"))
    return (
        stored.key, stored.source, stored.offset, stored.size, _date(f.get(b"date")),
        sender, address, _addresses(f.get(b"to")), _addresses(f.get(b"cc")),
        _decoded(_text(subject[0])) if subject else None, message_id, in_reply_to, references,
        (references[0] if references else None) or in_reply_to or message_id,
        _list_id(f.get(b"list-id")), results,
        methods.get("spf"), methods.get("dkim"), methods.get("dmarc"),
    )  # fmt: skip


# --- writing ------------------------------------------------------------------------------------


def _table(schema: Any, rows: list[tuple[Any, ...]]) -> Any:
    pa, _ = _arrow()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    arrays = [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def write(stored: Iterator[Stored], out: Path, *, row_group: int = ROW_GROUP) -> int:
    """Write the rows of ``stored`` to the Parquet file ``out``, ``row_group`` rows at a time;
    return how many. Nothing is left at ``out`` unless it was written whole."""
    _, parquet = _arrow()
    schema = arrow_schema()
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    count, rows = 0, []
    try:
        with parquet.ParquetWriter(temporary, schema) as writer:
            for message in stored:
                rows.append(row(message))
                if len(rows) >= row_group:
                    writer.write_table(_table(schema, rows), row_group_size=row_group)
                    count, rows = count + len(rows), []
            if rows or not count:
                writer.write_table(_table(schema, rows), row_group_size=row_group)
                count += len(rows)
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return count


def index(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str] = "mailbox.parquet",
    *,
    row_group: int = ROW_GROUP,
) -> Path:
    """Index the Maildir folder or mbox file at ``path`` into the Parquet file ``out`` (one row
    per message, columns as in SCHEMA) and return its path. Memory stays bounded by
    ``row_group`` rows whatever the number of messages; read it with DuckDB
    (``SELECT ... FROM 'mailbox.parquet'``), pandas, Polars or Spark."""
    target = Path(out)
    write(messages(path), target, row_group=row_group)
    return target
