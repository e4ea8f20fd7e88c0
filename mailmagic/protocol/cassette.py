"""The cassette format (version 1, docs/cassettes.md): one recorded SMTP or POP3 session as JSON
lines. The first line is a header object, ``{"mailmagic-cassette": 1, "protocol": "smtp",
"server": ..., "recorded": ISO time, "source": ..., "note": ...}``; every later line is one event,
``{"t": seconds since the start, "dir": "c" | "s" | "note", "line": text}``: a line the client
sent, a line the server sent (a multi-line reply is successive "s" lines) or a note (connected,
TLS started, closed). Secrets are recorded masked (``***``, as in the transcript).

Pure text in, text out (no files here: session/ writes cassettes, lab/ serves them): `parse`
validates a whole file's text and raises CassetteError naming the file, the line and what is
wrong; `header_line` and `event_line` write one line each; `matches` says whether a line a client
sent now is the line the cassette holds (see its docstring for the rules)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

FORMAT_KEY = "mailmagic-cassette"
VERSION = 1
PROTOCOLS = ("smtp", "pop3")
MASK = "***"
"""What a secret is recorded as; in a cassette's client line it matches anything."""

Direction = Literal["c", "s", "note"]
DIRECTIONS: tuple[Direction, ...] = ("c", "s", "note")


class CassetteError(ValueError):
    """A cassette that cannot be read: the message names the file, the line and the fault."""


@dataclass(frozen=True)
class Header:
    """The cassette's first line: what was recorded, where from, when, and how it was made."""

    protocol: str
    server: str
    recorded: str
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class Event:
    """One line of a session: ``t`` seconds after the start, sent by the client ("c"), the
    server ("s"), or a note ("note") that was not on the wire."""

    t: float
    dir: Direction
    line: str


@dataclass(frozen=True)
class Cassette:
    """A whole cassette: its header, its events in order, and where it was read from."""

    header: Header
    events: tuple[Event, ...]
    where: str = "<text>"

    @property
    def protocol(self) -> str:
        """ "smtp" or "pop3"."""
        return self.header.protocol


def header_line(header: Header) -> str:
    """The header as the cassette's first line (no newline)."""
    data: dict[str, Any] = {FORMAT_KEY: VERSION, "protocol": header.protocol}
    data |= {"server": header.server, "recorded": header.recorded}
    data |= {k: v for k, v in (("source", header.source), ("note", header.note)) if v}
    return json.dumps(data, ensure_ascii=False)


def event_line(event: Event) -> str:
    """One event as a cassette line (no newline)."""
    data = {"t": round(event.t, 3), "dir": event.dir, "line": event.line}
    return json.dumps(data, ensure_ascii=False)


def dump(cassette: Cassette) -> str:
    """The whole cassette as text, one JSON object a line."""
    lines = [header_line(cassette.header), *map(event_line, cassette.events)]
    return "\n".join(lines) + "\n"


def parse(text: str, where: str = "<text>", protocol: str | None = None) -> Cassette:
    """Read and check a cassette's text (``where`` names it in errors); with ``protocol``, the
    cassette must be of that protocol. Raises CassetteError."""
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not numbered:
        raise CassetteError(f"{where}: empty file, not a mailmagic cassette (docs/cassettes.md)")
    header = _header(_object(where, *numbered[0]), where, numbered[0][0])
    if protocol is not None and header.protocol != protocol.lower():
        raise CassetteError(
            f"{where}, line {numbered[0][0]}: the cassette is {header.protocol.upper()}, "
            f"not {protocol.upper()}: open it with %{header.protocol} open --replay"
        )
    events = tuple(_event(_object(where, n, line), where, n) for n, line in numbered[1:])
    _check_times(events, where, numbered[1:])
    return Cassette(header, events, where)


def _object(where: str, number: int, line: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise CassetteError(f"{where}, line {number}: not JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise CassetteError(f"{where}, line {number}: expected a JSON object {{...}}")
    return data


def _header(data: dict[str, Any], where: str, number: int) -> Header:
    at = f"{where}, line {number}"
    if FORMAT_KEY not in data:
        raise CassetteError(f'{at}: no "{FORMAT_KEY}" header: not a mailmagic cassette')
    if data[FORMAT_KEY] != VERSION:
        raise CassetteError(
            f"{at}: cassette format version {data[FORMAT_KEY]!r} is unknown; "
            f"this mailmagic reads version {VERSION}"
        )
    fields = {name: _text(data, name, at) for name in ("protocol", "server", "recorded")}
    if fields["protocol"] not in PROTOCOLS:
        raise CassetteError(f'{at}: "protocol" is {fields["protocol"]!r}, not smtp or pop3')
    extra = {name: _text(data, name, at, "") for name in ("source", "note")}
    return Header(**fields, **extra)


def _text(data: dict[str, Any], name: str, at: str, default: str | None = None) -> str:
    value = data.get(name, default)
    if value is None:
        raise CassetteError(f'{at}: the field "{name}" is missing')
    if not isinstance(value, str):
        raise CassetteError(f'{at}: "{name}" must be a string, not {value!r}')
    return value


def _event(data: dict[str, Any], where: str, number: int) -> Event:
    at = f"{where}, line {number}"
    for name in ("t", "dir", "line"):
        if name not in data:
            raise CassetteError(f'{at}: the field "{name}" is missing')
    t, direction, line = data["t"], data["dir"], data["line"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0:
        raise CassetteError(f'{at}: "t" must be a number of seconds, 0 or more, not {t!r}')
    if direction not in DIRECTIONS:
        raise CassetteError(f'{at}: "dir" must be "c", "s" or "note", not {direction!r}')
    if not isinstance(line, str) or "\r" in line or "\n" in line:
        raise CassetteError(f'{at}: "line" must be one line of text, not {line!r}')
    return Event(float(t), direction, line)


def _check_times(events: tuple[Event, ...], where: str, numbered: list[tuple[int, str]]) -> None:
    for (number, _), before, event in zip(numbered[1:], events, events[1:], strict=False):
        if event.t < before.t:
            raise CassetteError(
                f'{where}, line {number}: "t" goes back in time ({event.t} after {before.t})'
            )


def normal(line: str) -> str:
    """A line as `matches` compares it: case folded, runs of white space made one space, none
    after a colon, and no angle brackets (``MAIL FROM: me@x`` is ``mail from:<me@x>``)."""
    return re.sub(r":\s*", ":", " ".join(line.replace("<", "").replace(">", "").split()).casefold())


def matches(recorded: str, sent: str) -> bool:
    """True if ``sent`` is the client line ``recorded``: equal once both are `normal`; where the
    recorded line has the mask ``***`` (a secret), anything from there on matches (``PASS ***``
    takes any password, a lone ``***`` any SASL response)."""
    words = recorded.split()
    if MASK in words:
        kept = words[: words.index(MASK)]
        return normal(" ".join(sent.split()[: len(kept)])) == normal(" ".join(kept))
    return normal(recorded) == normal(sent)
