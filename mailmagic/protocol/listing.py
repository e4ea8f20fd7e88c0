"""Reads the POP3 replies that describe a maildrop into values: STAT's "+OK count octets" (RFC 1939
section 5), LIST's scan listings "n octets" and UIDL's unique-id listings "n uid" (section 7),
single-line (with an argument) or multi-line (without); and `Maildrop`, what a session has learnt of
its maildrop from every reply so far. Views hear of its changes through `listeners`
(protocol/listeners.py), which holds them weakly."""

from __future__ import annotations

from dataclasses import dataclass

from mailmagic.protocol.listeners import Listeners
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
    rows = list(reply.lines) if reply.multiline else [reply.text]
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


class Maildrop:
    """What a POP3 session has learnt of its maildrop from the replies so far.

    Fed every (command, reply) pair; knows sizes (LIST), UIDs (UIDL), header blocks (TOP/RETR)
    and which messages are marked deleted (DELE, undone by RSET; RFC 1939 section 5). A new
    connection starts a new Maildrop: message numbers only hold within one session.
    """

    def __init__(self) -> None:
        self.listeners: Listeners[[]] = Listeners()
        self.version = 0
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new connection numbers the messages anew)."""
        self.count: int | None = None
        self.sizes: dict[int, int] = {}
        self.uids: dict[int, str] = {}
        self.headers: dict[int, bytes] = {}
        self.deleted: set[int] = set()
        self._changed()

    def learn(self, command: str, reply: Pop3Reply) -> None:
        """Update from one command and its reply (-ERR teaches nothing)."""
        verb, _, argument = command.strip().partition(" ")
        handler = _LEARNERS.get(verb.upper())
        if reply.ok and handler is not None:
            handler(self, argument.split(), reply)
            self._changed()

    def _changed(self) -> None:
        self.version += 1
        self.listeners.notify()

    @property
    def numbers(self) -> list[int]:
        """Every message number known, in order."""
        known = set(self.sizes) | set(self.uids) | set(self.headers)
        if self.count is not None:
            known |= set(range(1, self.count + 1))
        return sorted(known)

    def _stat(self, args: list[str], reply: Pop3Reply) -> None:
        stat = parse_stat(reply)
        if stat is not None:
            self.count = stat.count

    def _list(self, args: list[str], reply: Pop3Reply) -> None:
        entries = parse_scan(reply)
        self.sizes.update((e.number, e.octets) for e in entries)
        if not args:
            self.count = len(entries) + len(self.deleted)

    def _uidl(self, args: list[str], reply: Pop3Reply) -> None:
        self.uids.update((e.number, e.uid) for e in parse_uidl(reply))

    def _message(self, args: list[str], reply: Pop3Reply) -> None:
        if args and args[0].isdigit():
            end = reply.body.find(b"\r\n\r\n")  # not partition: no copy of a big body
            self.headers[int(args[0])] = reply.body[: end if end >= 0 else None] + b"\r\n"

    def _dele(self, args: list[str], reply: Pop3Reply) -> None:
        if args and args[0].isdigit():
            self.deleted.add(int(args[0]))

    def _rset(self, args: list[str], reply: Pop3Reply) -> None:
        self.deleted.clear()


_LEARNERS = {
    "STAT": Maildrop._stat,
    "LIST": Maildrop._list,
    "UIDL": Maildrop._uidl,
    "RETR": Maildrop._message,
    "TOP": Maildrop._message,
    "DELE": Maildrop._dele,
    "RSET": Maildrop._rset,
}
