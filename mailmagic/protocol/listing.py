# What this module does: reads the POP3 replies that describe a maildrop into values: STAT's
# "+OK count octets" (RFC 1939 section 5), LIST's scan listings "n octets" and UIDL's unique-id
# listings "n uid" (section 7), single-line (with an argument) or multi-line (without).
from __future__ import annotations

from dataclasses import dataclass

from mailmagic.protocol.pop3 import Pop3Reply


@dataclass(frozen=True)
class MaildropStat:
    """STAT: how many messages and how many octets in all."""

    count: int
    octets: int


@dataclass(frozen=True)
class ScanEntry:
    """One LIST line: message number and size in octets."""

    number: int
    octets: int


@dataclass(frozen=True)
class UidEntry:
    """One UIDL line: message number and its unique id (stable across sessions)."""

    number: int
    uid: str


def _pairs(reply: Pop3Reply) -> list[tuple[int, str]]:
    rows = list(reply.lines) if reply.lines else [reply.text]
    pairs: list[tuple[int, str]] = []
    for row in rows:
        first, _, rest = row.strip().partition(" ")
        value = rest.split(" ", 1)[0]
        if first.isdigit() and value:
            pairs.append((int(first), value))
    return pairs


def parse_stat(reply: Pop3Reply) -> MaildropStat | None:
    """The STAT values of a +OK reply, or None when the reply is not a drop listing."""
    pairs = _pairs(reply) if reply.ok and not reply.lines else []
    if not pairs or not pairs[0][1].isdigit():
        return None
    return MaildropStat(pairs[0][0], int(pairs[0][1]))


def parse_scan(reply: Pop3Reply) -> list[ScanEntry]:
    """LIST entries (one for "LIST n", all for "LIST"); [] for -ERR."""
    if not reply.ok:
        return []
    return [ScanEntry(n, int(v)) for n, v in _pairs(reply) if v.isdigit()]


def parse_uidl(reply: Pop3Reply) -> list[UidEntry]:
    """UIDL entries (one for "UIDL n", all for "UIDL"); [] for -ERR."""
    if not reply.ok:
        return []
    return [UidEntry(n, v) for n, v in _pairs(reply)]
