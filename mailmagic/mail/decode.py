r"""Turns the bytes of a message's parts and headers into text, and never raises on broken input.
Parsing is the stdlib's `email` package with `policy.default` (RFC 5322, RFC 2045-2047, RFC 2231 and
RFC 6532 raw UTF-8 headers); where it raises anyway (deep nesting, odd headers) `safe` falls back to
a default. Headers that are plain ASCII without encoded words are kept exactly as sent (unfolded,
RFC 5322 section 2.2.3); the others are decoded by the policy. Bodies are decoded with their
declared charset, then UTF-8, then the declared charset (or windows-1252) with replacement
characters; iso-8859-1 is read as windows-1252, as browsers do (WHATWG Encoding Standard). Text
never contains lone surrogates, and CRLF becomes "\n"."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from email.message import EmailMessage
from typing import TypeVar

T = TypeVar("T")
_WHATWG = {"iso8859-1": "cp1252"}  # label -> what browsers decode it as


def safe(action: Callable[[], T], default: T) -> T:
    """The stdlib email package raises on some broken input; show what we can instead."""
    try:
        return action()
    except Exception:
        return default


def scrub(text: str) -> str:
    """Valid Unicode: surrogate-escaped bytes read as UTF-8, anything else unpaired replaced."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _codec(charset: str | None) -> str | None:
    """Python's name for a declared charset, or None if unknown."""
    try:
        return codecs.lookup(charset).name if charset else None
    except (LookupError, ValueError, TypeError):
        return None


def _try_decode(data: bytes, codec: str, errors: str) -> str | None:
    try:
        return data.decode(codec, errors)
    except (LookupError, ValueError, TypeError):
        return None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text in the declared charset, else UTF-8, else with replacement characters; never raises."""
    codec = _codec(charset)
    for attempt in (_WHATWG.get(codec or "", codec), "utf-8"):
        text = _try_decode(data, attempt, "strict") if attempt else None
        if text is not None:
            return scrub(text)
    return scrub(
        _try_decode(data, codec or "cp1252", "replace") or data.decode("cp1252", "replace")
    )


def payload_bytes(part: EmailMessage) -> bytes:
    """A part's decoded payload (base64 / quoted-printable undone); a message/rfc822's message."""
    if part.get_content_type() == "message/rfc822" and part.is_multipart():
        inner = part.get_payload(0)
        return safe(inner.as_bytes, b"") if isinstance(inner, EmailMessage) else b""
    data = safe(lambda: part.get_payload(decode=True), None)
    return data if isinstance(data, bytes) else b""


def part_text(part: EmailMessage) -> str:
    """A text part decoded with its charset, CRLF as "\\n"."""
    charset = safe(part.get_content_charset, None)
    return decode_bytes(payload_bytes(part), charset).replace("\r\n", "\n")


def _unfolded(raw: str) -> str:
    return re.sub(r"\r\n|\r|\n", "", raw).strip()


def header_value(message: EmailMessage, name: str, raw: str) -> str:
    """Plain ASCII as sent; encoded words (RFC 2047) and raw UTF-8 (RFC 6532) decoded."""
    if raw.isascii() and "=?" not in raw:
        return scrub(_unfolded(raw))
    decoded = safe(lambda: str(message.policy.header_fetch_parse(name, raw)), "")
    return scrub(decoded if decoded.strip() else _unfolded(raw))
