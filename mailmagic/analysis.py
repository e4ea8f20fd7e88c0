"""Turns fetched messages into a pandas DataFrame for exploring a mailbox: one row per message with
its UID, size and the headers people ask questions about, decoded (RFC 2047), dates timezone-aware
(RFC 5322 section 3.3), attachments counted and named, and the Message-ID / In-Reply-To / References
that group messages into threads (RFC 5322 section 3.6.4). pandas is an optional extra: `pip install
mailmagic[analysis]`. This is the small case, every message parsed in memory; for a mailbox past
memory, ``index(path, out)`` (mailmagic/index.py) streams the headers into a Parquet file for
DuckDB, Polars or Spark."""

from __future__ import annotations

import email.utils
from collections.abc import Iterable
from email.message import EmailMessage
from typing import Any, Protocol

from mailmagic.index import index

__all__ = ["COLUMNS", "Fetched", "index", "row", "thread_sizes", "to_dataframe"]

COLUMNS = (
    "uid", "number", "size", "from", "to", "cc", "subject", "date", "content_type",
    "attachments", "attachment_names", "message_id", "in_reply_to", "references", "thread",
)  # fmt: skip


class Fetched(Protocol):
    """What a row is made from (session.fetch.FetchedMessage has it)."""

    @property
    def number(self) -> int: ...

    @property
    def uid(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def message(self) -> EmailMessage: ...


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "mailbox analysis needs pandas: pip install 'mailmagic[analysis]'"
        ) from None
    return pandas


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError):  # a header the parser cannot read
        value = message.get_all(name, failobj=[""])[0] if name in message else ""
    return str(value or "").strip()


def _date(message: EmailMessage) -> Any:
    text = _header(message, "Date")
    try:
        when = email.utils.parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError):
        when = None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=email.utils.localtime().tzinfo)


def _attachments(message: EmailMessage) -> list[str]:
    names = []
    for part in message.iter_attachments():
        names.append(part.get_filename() or f"({part.get_content_type()})")
    return names


def _ids(text: str) -> list[str]:
    return [f"<{x.strip('<> ')}>" for x in text.replace("\n", " ").split(">") if x.strip("<> ")]


def row(fetched: Fetched) -> dict[str, Any]:
    """One message's row (see COLUMNS)."""
    m = fetched.message
    references = _ids(_header(m, "References"))
    in_reply_to = _header(m, "In-Reply-To")
    message_id = _header(m, "Message-ID")
    thread = references[0] if references else in_reply_to or message_id
    attachments = _attachments(m) if m.is_multipart() else []
    return {
        "uid": fetched.uid,
        "number": fetched.number,
        "size": fetched.size,
        "from": _header(m, "From"),
        "to": _header(m, "To"),
        "cc": _header(m, "Cc"),
        "subject": _header(m, "Subject"),
        "date": _date(m),
        "content_type": m.get_content_type(),
        "attachments": len(attachments),
        "attachment_names": attachments,
        "message_id": message_id,
        "in_reply_to": in_reply_to,
        "references": references,
        "thread": thread,
    }


def to_dataframe(messages: Iterable[Fetched]) -> Any:
    """A DataFrame with one row per message; ``date`` is a timezone-aware (UTC) datetime."""
    pandas = _pandas()
    frame = pandas.DataFrame([row(m) for m in messages], columns=list(COLUMNS))
    frame["date"] = pandas.to_datetime(frame["date"], utc=True)
    return frame


def thread_sizes(frame: Any) -> Any:
    """How many messages each thread has, largest first."""
    return frame.groupby("thread").size().sort_values(ascending=False)
