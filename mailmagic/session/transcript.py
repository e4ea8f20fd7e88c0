"""The running record of a session, every exchange as (direction, bytes, time, TLS state). Secrets
are masked at the moment they are recorded, never later: the session passes command lines through
the protocol's `mask` (POP3 PASS and APOP digests, AUTH initial responses, every SASL response line)
before they get here. Views hear of each new entry through `listeners`, which holds them weakly
(protocol/listeners.py): a view that is closed or dropped stops being called."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from mailmagic.protocol.listeners import Listeners

Direction = Literal["client", "server", "note"]


class Entry(NamedTuple):  # a named tuple: made for every line, at a third of a dataclass's cost
    """One recorded line group: what was sent or received (already masked), or a note."""

    direction: Direction
    data: bytes
    time: float
    tls: bool
    rtt: float | None = None

    @property
    def text(self) -> str:
        """The bytes as text (undecodable bytes shown as U+FFFD)."""
        return self.data.decode("utf-8", "replace")


@dataclass
class Transcript:
    """Every exchange of one session, oldest first; subscribers to ``listeners`` hear of each new
    entry (``sub = transcript.listeners.subscribe(callback)``; keep ``sub`` to keep hearing)."""

    entries: list[Entry] = field(default_factory=list)
    listeners: Listeners[[Entry]] = field(default_factory=Listeners, repr=False, compare=False)

    def _add(self, entry: Entry) -> None:
        self.entries.append(entry)
        if self.listeners:
            self.listeners.notify(entry)

    def sent(self, masked_line: str, tls: bool) -> None:
        """Record a command line the client sent, its secrets already masked by the protocol."""
        self._add(Entry("client", masked_line.encode("utf-8"), time.time(), tls))

    def sent_text(self, data: bytes, tls: bool) -> None:
        """Record message text sent in DATA (not a secret, recorded as is)."""
        self._add(Entry("client", data, time.time(), tls))

    def received(self, data: bytes, tls: bool, rtt: float | None) -> None:
        """Record a whole reply as received, with the time since its command was sent."""
        self._add(Entry("server", data, time.time(), tls, rtt))

    def note(self, text: str, tls: bool) -> None:
        """Record an event that is not on the wire: connected, TLS started, closed."""
        self._add(Entry("note", text.encode("utf-8"), time.time(), tls))

    def text(self) -> str:
        """The transcript as telnet would show it: C: and S: prefixes, notes in brackets."""
        out: list[str] = []
        for entry in self.entries:
            if entry.direction == "note":
                out.append(f"[{entry.text}]")
                continue
            prefix = "C: " if entry.direction == "client" else "S: "
            out.extend(prefix + line for line in entry.text.rstrip("\r\n").split("\r\n"))
        return "\n".join(out)
