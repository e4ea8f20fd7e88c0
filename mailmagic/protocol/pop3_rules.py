"""The rules of a POP3 session, written once and read by both ends (h11's rule: the table does not
know which role it plays). The client connection (pop3.py) walks TRANSITIONS on the server's replies
and warns and completes from it; the lab server (lab/pop3.py) checks every command line it receives
with `read_command` and `check_command`.

- Pop3State and TRANSITIONS: state -> verb -> the state after +OK (RFC 1939 sections 3-7, RFC
  2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH, RFC 6856 UTF8 and LANG). The greeting answers the
  pseudo-command CONNECT. QUIT in AUTHORIZATION ends the session without entering UPDATE
  (section 4); QUIT in TRANSACTION leads to UPDATE, where the server removes the messages marked
  deleted and closes (section 6). No command is valid in UPDATE or CLOSED (ENDED): the server
  closes the connection once it has answered the command that led there. QUIT is in
  ENDS_EITHER_WAY: it moves on -ERR too, as the server closes after any answer to it.
- Which commands exist, and how many arguments each takes, is codes.POP3_COMMANDS; PASS takes
  the whole rest of the line, spaces and all (RFC 1939 section 7).
- Reading a received command line: at most 255 octets with its CRLF (RFC 2449 section 4), ASCII
  text without control characters, a case-insensitive keyword and arguments separated by spaces
  (RFC 1939 section 3). What these rules refuse raises CommandRefused, whose text is what a
  server answers after "-ERR".
"""

from __future__ import annotations

import enum
from collections.abc import Container, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from .codes import POP3_COMMANDS
from .errors import ProtocolError

__all__ = [
    "CONNECT",
    "ENDED",
    "ENDS_EITHER_WAY",
    "MAX_COMMAND_LINE",
    "STATE_HINTS",
    "STATE_MEANINGS",
    "TOO_LONG",
    "TRANSITIONS",
    "CommandRefused",
    "Pop3Command",
    "Pop3State",
    "argument_count_ok",
    "check_command",
    "command_of",
    "read_command",
    "typed_usage",
]

MAX_COMMAND_LINE: Final = 255
"""Octets in a command line, CRLF included (RFC 2449 section 4)."""
TOO_LONG: Final = (
    f"command line too long: the limit is {MAX_COMMAND_LINE} octets including CRLF "
    "(RFC 2449 section 4); the line was discarded"
)
CONNECT: Final = "<connect>"
"""The pseudo-command the greeting answers (RFC 1939 section 4)."""


class Pop3State(enum.Enum):
    """Where a POP3 session stands (RFC 1939 section 3): CONNECTED until the greeting."""

    CONNECTED = "CONNECTED"
    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"
    CLOSED = "CLOSED"


_P = Pop3State

STATE_MEANINGS: Mapping[Pop3State, str] = MappingProxyType(
    {
        _P.CONNECTED: "waiting for the server's +OK greeting",
        _P.AUTHORIZATION: "not logged in yet",
        _P.TRANSACTION: "logged in, the maildrop is open",
        _P.UPDATE: "the server removes the messages marked deleted, then closes",
        _P.CLOSED: "the session is over",
    }
)

STATE_HINTS: Mapping[Pop3State, str] = MappingProxyType(
    {
        _P.CONNECTED: "wait for the server's greeting",
        _P.AUTHORIZATION: "log in with USER and PASS first",
        _P.TRANSACTION: "you are logged in already (QUIT ends the session)",
        _P.UPDATE: "the session is ending",
        _P.CLOSED: "the session is over; connect again",
    }
)
"""What to do instead, for a command that is not valid in the state."""

_MAILDROP = ("STAT", "LIST", "RETR", "DELE", "TOP", "UIDL", "NOOP", "RSET", "CAPA", "LANG")

TRANSITIONS: Mapping[Pop3State, Mapping[str, Pop3State]] = MappingProxyType(
    {
        _P.CONNECTED: MappingProxyType({CONNECT: _P.AUTHORIZATION, "QUIT": _P.CLOSED}),
        # RFC 1939 section 4 and 7; RFC 2449 5 (CAPA); RFC 2595 4 (STLS); RFC 5034 4 (AUTH);
        # RFC 6856 (UTF8, LANG).
        _P.AUTHORIZATION: MappingProxyType(
            {
                "USER": _P.AUTHORIZATION,
                "PASS": _P.TRANSACTION,
                "APOP": _P.TRANSACTION,
                "AUTH": _P.TRANSACTION,
                "CAPA": _P.AUTHORIZATION,
                "STLS": _P.AUTHORIZATION,
                "UTF8": _P.AUTHORIZATION,
                "LANG": _P.AUTHORIZATION,
                "QUIT": _P.CLOSED,
            }
        ),
        # RFC 1939 section 5 and 7; QUIT enters UPDATE (section 6).
        _P.TRANSACTION: MappingProxyType(
            {**dict.fromkeys(_MAILDROP, _P.TRANSACTION), "QUIT": _P.UPDATE}
        ),
        _P.UPDATE: MappingProxyType({}),
        _P.CLOSED: MappingProxyType({}),
    }
)

ENDED: Final = frozenset({_P.UPDATE, _P.CLOSED})
"""States after which the server closes the connection: the session is over."""
ENDS_EITHER_WAY: Final = frozenset({"QUIT"})
"""Table entries taken on +OK or -ERR: the server closes after answering QUIT."""


@dataclass(frozen=True)
class Pop3Command:
    """One command: the upper-cased verb and its arguments."""

    verb: str
    args: tuple[str, ...]


class CommandRefused(ProtocolError):
    """A command refused, by these rules or by the server that read it ("no such message");
    ``str()`` is the text the server answers after ``-ERR``."""


def command_of(text: str) -> Pop3Command:
    """A command line's text (no CRLF) as verb and arguments; PASS keeps its spaces."""
    verb, _, rest = text.partition(" ")
    verb = verb.upper()
    info = POP3_COMMANDS.get(verb)
    if info is not None and info.rest_of_line:
        return Pop3Command(verb, (rest,) if rest else ())
    return Pop3Command(verb, tuple(rest.split()))


def read_command(line: bytes) -> Pop3Command:
    """One received command line, its CRLF included, as verb and arguments (RFC 1939 section 3).

    CommandRefused for a line over MAX_COMMAND_LINE, an empty one, one that starts with a space,
    or one with bytes that are not ASCII text.
    """
    if len(line) > MAX_COMMAND_LINE:
        raise CommandRefused(TOO_LONG)
    text = _line_text(line)
    if text.startswith(" "):
        raise CommandRefused(
            "command line starts with a space; start it with a keyword such as CAPA"
        )
    return command_of(text)


def _line_text(line: bytes) -> str:
    body = line.removesuffix(b"\n").removesuffix(b"\r")
    if not body.strip(b" "):
        raise CommandRefused("empty command line; send a command such as CAPA or QUIT")
    if not body.isascii():
        raise CommandRefused("command line contains non-ASCII bytes; POP3 commands are ASCII text")
    control = next((byte for byte in body if byte < 0x20 or byte == 0x7F), None)
    if control is not None:
        raise CommandRefused(
            f"command line contains the control character 0x{control:02X}; "
            "separate arguments with single spaces"
        )
    return body.decode("ascii")


def check_command(
    state: Pop3State, command: Pop3Command, offered: Container[str] = POP3_COMMANDS
) -> Pop3State:
    """The state a +OK to ``command`` leads to from ``state``.

    CommandRefused if the verb is not one of ``offered`` (the commands this end implements, a
    subset of POP3_COMMANDS), not valid in ``state``, or has the wrong number of arguments.
    """
    if command.verb not in offered or command.verb not in POP3_COMMANDS:
        raise CommandRefused(f'unknown command "{command.verb}" (CAPA lists the extensions)')
    next_state = TRANSITIONS[state].get(command.verb)
    if next_state is None:
        raise CommandRefused(
            f"{command.verb} is not valid in the {state.value} state; {STATE_HINTS[state]}"
        )
    if not argument_count_ok(command):
        raise CommandRefused(_arity_text(command))
    return next_state


def argument_count_ok(command: Pop3Command) -> bool:
    """True when ``command`` has as many arguments as its verb takes (or the verb is unknown)."""
    info = POP3_COMMANDS.get(command.verb)
    if info is None or info.args is None:
        return True
    low, high = info.args
    return low <= len(command.args) <= high


def typed_usage(verb: str) -> str:
    """How to type ``verb``, placeholders without their brackets: "TOP msg lines"."""
    info = POP3_COMMANDS.get(verb)
    return info.syntax.replace("<", "").replace(">", "") if info else verb


def _arity_text(command: Pop3Command) -> str:
    info = POP3_COMMANDS[command.verb]
    assert info.args is not None  # argument_count_ok passes every verb without a fixed count
    low, high = info.args
    if high == 0:
        wanted = "no arguments"
    elif low == high:
        wanted = f"{low} argument{'s' if low > 1 else ''}"
    else:
        wanted = f"{low} to {high} arguments"
    count = len(command.args)
    return f"{command.verb} takes {wanted}, got {count}; usage: {typed_usage(command.verb)}"
