"""Holds what the SMTP and POP3 connections share, so each protocol module keeps only its own rules.

- Reading a typed command line: its verb, its arguments, and the CR/LF check before encoding.
- Generic readings of a TRANSITIONS table (state -> verb -> state): the verbs a state accepts,
  where a command the server accepted out of order leads (the one target that verb has anywhere
  in the table), and the shortest list of commands from the current state to one where a verb
  is valid (for "send MAIL FROM:<address> first" advice).
- Conversation: the h11-style skeleton (receive_data with b"" for EOF, next_event returning an
  event or NEED_DATA) around a bounded LineBuffer. A RemoteProtocolError is final, as in h11: the
  state becomes CLOSED and every later next_event raises it again.
"""

from __future__ import annotations

import base64
import binascii
import enum
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from .errors import LocalProtocolError, RemoteProtocolError
from .events import NEED_DATA, ConnectionClosed, NeedDataType
from .lines import LineBuffer

__all__ = [
    "Conversation",
    "accepted_anyway",
    "arguments_of",
    "encode_line",
    "is_pseudo",
    "route",
    "sasl_warning",
    "verb_of",
    "verbs_of",
]

S = TypeVar("S", bound=enum.Enum)
E = TypeVar("E")


def verb_of(line: str) -> str:
    """The command verb of a typed line, upper-cased ("" for a blank line)."""
    words = line.split(None, 1)
    return words[0].upper() if words else ""


def arguments_of(line: str) -> list[str]:
    """The words after the verb."""
    return line.split()[1:]


def encode_line(line: str, where: Callable[[], str]) -> bytes:
    """`line` in UTF-8 with CRLF appended; a CR or LF inside is refused (RFC 5321 2.3.8).
    ``where()`` says what the line is, for the error message only."""
    if "\r" in line or "\n" in line:
        char, name = ("\r", "CR") if "\r" in line else ("\n", "LF")
        raise LocalProtocolError(
            f"cannot send {where()}: the line contains a {name} at position {line.index(char)}; "
            "a line is sent with one call and CRLF is appended for you (a CR or LF inside "
            "would smuggle in a second command). Send each line with its own call"
        )
    return line.encode("utf-8") + b"\r\n"


def is_pseudo(verb: str) -> bool:
    """True for table keys that are not typed commands, such as "<connect>"."""
    return verb.startswith("<")


def verbs_of(row: Mapping[str, S]) -> tuple[str, ...]:
    """The typed verbs of one table row, in table order ("BDAT LAST" counts as BDAT)."""
    found = [key.split()[0] for key in row if not is_pseudo(key)]
    return tuple(dict.fromkeys(found))


def accepted_anyway(table: Mapping[S, Mapping[str, S]], verb: str) -> S | None:
    """Where `verb` leads when a server accepts it out of order: its one target in the table."""
    targets = {row[verb] for row in table.values() if verb in row}
    return targets.pop() if len(targets) == 1 else None


def route(table: Mapping[S, Mapping[str, S]], start: S, verb: str) -> list[str] | None:
    """The shortest list of commands from `start` to a state where `verb` is valid, or None."""
    seen = {start}
    queue: deque[tuple[S, list[str]]] = deque([(start, [])])
    while queue:
        state, path = queue.popleft()
        if verb in table[state]:
            return path
        for step, target in table[state].items():
            if target not in seen and not is_pseudo(step):
                seen.add(target)
                queue.append((target, [*path, step]))
    return None


def sasl_warning(line: str, rule: str, answer: str) -> str | None:
    """Advice on a SASL response line: base64, or "*" to cancel (RFC 4954 4, RFC 5034 4)."""
    if line.strip() == "*":
        return None
    try:
        base64.b64decode(line.strip(), validate=True)
    except binascii.Error:
        return (
            f"this line answers the server's AUTH challenge but is not base64 ({rule}): "
            f"the server will answer {answer}; type * to cancel the AUTH"
        )
    return None


class Conversation(ABC, Generic[S, E]):
    """receive_data / next_event over a LineBuffer; subclasses parse lines into events."""

    def __init__(self, state: S, closed: S, lines: LineBuffer) -> None:
        self._state = state
        self._closed_state = closed
        self._lines = lines
        self._broken: str | None = None
        self._closed_event: ConnectionClosed | None = None
        self._farewell = ""  # how the server ended the session before EOF: "its 221 reply to QUIT"

    @property
    def state(self) -> S:
        """The state of the conversation, as confirmed by the server's replies so far."""
        return self._state

    @property
    def buffered(self) -> int:
        """Octets received and not yet parsed: at most the line limit plus one chunk."""
        return self._lines.buffered

    def receive_data(self, data: bytes) -> None:
        """Bytes from the server; b"" means the server closed the connection."""
        if data and self._lines.eof:
            raise RuntimeError("receive_data() got bytes after b'' (EOF); start a new connection")
        self._lines.feed(data)

    def next_event(self) -> E | ConnectionClosed | NeedDataType:
        """The next complete event, ConnectionClosed after EOF, or NEED_DATA."""
        if self._broken is not None:
            raise RemoteProtocolError(self._broken)
        if self._closed_event is not None:
            return self._closed_event
        try:
            event = self._parse()
        except RemoteProtocolError as error:
            self._broken = str(error)
            self._end("a reply that broke the protocol")
            raise
        if event is not None:
            return event
        return self._end_of_stream() if self._lines.eof else NEED_DATA

    def _end(self, farewell: str) -> None:
        """The session is over: CLOSED, with no reply to wait for."""
        self._state = self._closed_state
        self._farewell = farewell
        self._forget()

    def _end_of_stream(self) -> ConnectionClosed:
        self._closed_event = ConnectionClosed(self._eof_reason())
        self._end(self._farewell or "closing the connection")
        return self._closed_event

    def _where(self, verb: str) -> str:
        """The command and the state, for messages: 'RCPT in state READY'."""
        return f"{verb or 'an empty line'} in state {self._state.name}"

    def _refuse_if_closed(self, verb: str) -> None:
        if self._state is self._closed_state:
            why = self._closed_event.reason if self._closed_event else None
            why = why or f"the server ended the session with {self._farewell}"
            raise LocalProtocolError(
                f"cannot send {self._where(verb)}: the connection is closed ({why}); "
                "connect again to start a new session"
            )

    @abstractmethod
    def _parse(self) -> E | None:
        """Consume complete lines; return an event once one is complete, else None."""

    @abstractmethod
    def _eof_reason(self) -> str:
        """Why the stream ended, said for the user (what was cut, what went unanswered)."""

    @abstractmethod
    def _forget(self) -> None:
        """Drop the commands still waiting for replies: none will come."""
