"""The sans-I/O client side of POP3 (RFC 1939, with RFC 2449 CAPA and response codes, RFC 2595 STLS
and RFC 5034 AUTH), shaped like smtp.py: raw lines go in through `send(line) -> bytes`, server bytes
through `receive_data`, and `next_event()` returns each complete Pop3Reply, a Continuation ("+ "
during AUTH), ConnectionClosed or NEED_DATA.

How it works:
- TRANSITIONS, the one table (state -> verb -> state after +OK), is pop3_rules.py's, which the
  lab server reads too. -ERR leaves the state alone, except QUIT (ENDS_EITHER_WAY): the server
  closes after any answer to it (RFC 1939 section 6). A reply that leads to UPDATE or CLOSED
  (ENDED) ends the session: the client never waits in UPDATE, it is CLOSED at once.
- Replies are matched to pending commands in order (RFC 2449 PIPELINING). Whether a +OK reply
  is multi-line depends on the command (RFC 1939 section 3, RFC 2449 5): RETR, TOP and CAPA
  always; LIST, UIDL and LANG without an argument; AUTH without a mechanism (which lists
  mechanisms in Microsoft's and Dovecot's servers, and in the lab server). -ERR is always one
  line. Multi-line bodies are dot-unstuffed and kept byte-exact with CRLF line ends.
- While an AUTH with a mechanism is pending, "+ " lines are Continuation events and the lines
  the user sends are SASL responses: not commands, exempt from the 255-octet limit (RFC 5034 4),
  and "*" cancels. The AUTH's +OK or -ERR ends the exchange.
- Commands over 255 octets with CRLF (RFC 2449 4), CR or LF inside, or anything after the
  session closed are refused with LocalProtocolError; nothing else is: the server's -ERR is the
  lesson, and `warning(line)` explains it beforehand.
- A status line must start with +OK or -ERR (any case, RFC 1939 section 3). Lines over 64 KiB
  and replies over `max_reply_size` are RemoteProtocolErrors, so memory stays bounded.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections import deque
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from .codes import POP3_COMMANDS, explain_resp_code, usage
from .errors import LocalProtocolError, RemoteProtocolError
from .events import NEED_DATA, ConnectionClosed, NeedData, NeedDataType
from .lines import LineBuffer, guess_server, quote, strip_eol
from .machine import (
    Conversation,
    accepted_anyway,
    arguments_of,
    encode_line,
    route,
    sasl_warning,
    verb_of,
    verbs_of,
)
from .pop3_rules import (
    CONNECT,
    ENDED,
    ENDS_EITHER_WAY,
    MAX_COMMAND_LINE,
    STATE_MEANINGS,
    TRANSITIONS,
    Pop3State,
    argument_count_ok,
    command_of,
)

__all__ = [
    "CONNECT",
    "ENDS_EITHER_WAY",
    "MAX_COMMAND_LINE",
    "MAX_REPLY_LINE",
    "MAX_REPLY_SIZE",
    "MULTILINE_ALWAYS",
    "MULTILINE_WITHOUT_ARGUMENT",
    "NEED_DATA",
    "STATE_MEANINGS",
    "TRANSITIONS",
    "ConnectionClosed",
    "Continuation",
    "Mode",
    "NeedData",
    "NeedDataType",
    "Pop3Connection",
    "Pop3Reply",
    "Pop3State",
    "RespCode",
]

MAX_REPLY_LINE: Final = 65536
"""Octets accepted in one reply line (RFC 2449 section 4 sets 512 for status lines)."""
MAX_REPLY_SIZE: Final = 64 << 20
"""Default octets accepted in one reply, body included; `Pop3Connection(max_reply_size=...)`."""

MULTILINE_ALWAYS: Final = frozenset({"RETR", "TOP", "CAPA"})
MULTILINE_WITHOUT_ARGUMENT: Final = frozenset({"LIST", "UIDL", "LANG", "AUTH"})

Mode = Literal["command", "sasl"]


_SECRET_AFTER: Final = MappingProxyType({"PASS": 1, "APOP": 2, "AUTH": 2})
"""Verbs whose words after the first N are secrets, masked in transcripts."""
_RESP_CODE = re.compile(r"\[([^\[\]\s/]+(?:/[^\[\]\s/]+)*)\]\s*(.*)", re.DOTALL)
_TIMESTAMP = re.compile(r"<[^<>\s]*@[^<>\s]*>")


@dataclass(frozen=True)
class RespCode:
    """A response code in brackets after the status (RFC 2449 section 8): [SYS/TEMP] text."""

    code: str  # upper-cased, hierarchy kept: "SYS/TEMP"
    detail: str | None  # the human text after the bracket, if any

    @property
    def parts(self) -> tuple[str, ...]:
        """The hierarchy levels: ("SYS", "TEMP")."""
        return tuple(self.code.split("/"))

    def explain(self) -> str:
        return explain_resp_code(self.code)

    @classmethod
    def parse(cls, text: str) -> RespCode | None:
        """The code at the start of a status text, if there is one."""
        found = _RESP_CODE.match(text) if text.startswith("[") else None
        if found is None:
            return None
        return cls(found[1].upper(), found[2].strip() or None)


@dataclass(frozen=True)
class Pop3Reply:
    """One complete POP3 reply: status, text, response code and, if multi-line, the body."""

    ok: bool
    text: str  # after "+OK " / "-ERR ", response code included
    resp_code: RespCode | None = None
    body: bytes = b""  # body, dot-unstuffed, CRLF line ends: the exact message for RETR/TOP
    raw: bytes = b""  # every byte received for this reply
    command: str | None = field(default=None, compare=False)  # the verb it answers, if any

    @property
    def code(self) -> str:
        """The status, "+OK" or "-ERR" (RFC 1939 section 3), as an SMTP reply's ``code`` is its
        number; the bracketed response code, if any, is ``resp_code``."""
        return "+OK" if self.ok else "-ERR"

    @functools.cached_property
    def lines(self) -> tuple[str, ...]:
        """The body's lines, decoded (errors replaced); made when first asked for, since a big
        RETR would otherwise be kept twice more, as text and as a list of lines."""
        return tuple(self.body.decode("utf-8", "replace").split("\r\n")[:-1])

    @property
    def multiline(self) -> bool:
        """True for a multi-line reply, however short ("+OK 0 messages" and a lone "." is one):
        it has a body, or something follows its status line (RFC 1939 section 3). (A lean
        reply's ``raw`` is its status line alone: its body tells.)"""
        return bool(self.body) or -1 < self.raw.find(b"\n") < len(self.raw) - 1

    @property
    def timestamp(self) -> str | None:
        """The <...@...> timestamp of an APOP-capable greeting (RFC 1939 section 7)."""
        found = _TIMESTAMP.search(self.text) if self.ok else None
        return found[0] if found else None

    def explain(self) -> str:
        """One paragraph: success or failure, the body, and the response code if any."""
        to = f" to {self.command}" if self.command and not self.command.startswith("<") else ""
        head = (
            f"+OK{to}: the command succeeded" if self.ok else f"-ERR{to}: the command failed"
        ) + " (RFC 1939 section 3)."
        if self.raw.count(b"\n") > 1 or self.body:
            count = self.body.count(b"\n")
            head += f" {count} line(s) followed, dot-unstuffed, ended by '.'."
        return f"{head} {self.resp_code.explain()}" if self.resp_code else head

    def __str__(self) -> str:
        return self.code + (f" {self.text}" if self.text else "")


@dataclass(frozen=True)
class Continuation:
    """A "+ " line during AUTH: the server's SASL challenge, base64 (RFC 5034 section 4)."""

    text: str
    raw: bytes

    @property
    def code(self) -> str:
        """The status of a SASL challenge line, "+" (RFC 5034 section 4)."""
        return "+"

    @property
    def decoded(self) -> str | None:
        """The challenge decoded from base64 (e.g. "Username:"), or None if it is not base64."""
        try:
            return base64.b64decode(self.text, validate=True).decode("utf-8", "replace")
        except binascii.Error:
            return None


@dataclass(frozen=True)
class _Command:
    """A sent command and how to read its reply."""

    verb: str
    multiline: bool = False  # +OK is followed by lines up to "."
    sasl: bool = False  # an AUTH exchange: "+ " continuations, then +OK/-ERR
    moves: bool = True  # False for a bare AUTH, which only lists mechanisms

    @staticmethod
    @functools.lru_cache(maxsize=256)
    def of(verb: str, args: bool) -> _Command:
        """How to read the reply to `verb`, typed with arguments or without."""
        multiline = verb in MULTILINE_ALWAYS or (verb in MULTILINE_WITHOUT_ARGUMENT and not args)
        return _Command(verb, multiline, verb == "AUTH" and args, verb != "AUTH" or args)


@dataclass
class _PartialBody:
    """A multi-line reply being received: its status line, waiting for the lone "."."""

    text: str
    raw: bytes


# A multi-line reply ends at a line that is a lone "." (RFC 1939 section 3), found with
# LineBuffer.take_through_line: a regex search, resumed where the last search stopped.
_END_OF_BODY = b"."
# An LF without a CR before it; the literal "\n" first lets the regex engine skip to each LF.
_BARE_LF = re.compile(rb"\n(?<!\r\n)")
_STUFFED_DOT = re.compile(rb"\n\.")


class Pop3Connection(Conversation[Pop3State, Pop3Reply | Continuation]):
    """One POP3 session from the client's side, without I/O (see the module docstring)."""

    def __init__(self, *, max_reply_size: int = MAX_REPLY_SIZE, lean: bool = False) -> None:
        """``lean`` replies keep only the body of a multi-line reply (``raw`` is only the status
        line): what a bulk fetch wants, at half the memory."""
        lines = LineBuffer(MAX_REPLY_LINE, "reply line", "RFC 2449 4 allows 512 for status lines")
        self.lean = lean
        super().__init__(Pop3State.CONNECTED, Pop3State.CLOSED, lines)
        self.capabilities: dict[str, str] = {}
        self._pending: deque[_Command] = deque([_Command(CONNECT)])
        self._sasl_pending = 0  # AUTH exchanges among _pending: `mode` without a scan
        self._body: _PartialBody | None = None
        self._greeting_timestamp: str | None = None
        self._user_accepted = False
        self._max_reply_size = max_reply_size

    # --- what the user sees --------------------------------------------------------------------

    @property
    def pending(self) -> tuple[str, ...]:
        """Commands awaiting replies, oldest first ("<connect>" until the greeting)."""
        return tuple(command.verb for command in self._pending)

    @property
    def waiting(self) -> int:
        """How many replies are due (the length of `pending`)."""
        return len(self._pending)

    @property
    def greeting_timestamp(self) -> str | None:
        """The APOP timestamp of the greeting, such as "<1896.697170952@dbc.mtview.ca.us>"."""
        return self._greeting_timestamp

    @property
    def mode(self) -> Mode:
        """While an AUTH exchange is pending "sasl" (lines are SASL responses), else "command"."""
        return "sasl" if self._sasl_pending else "command"

    def expected(self) -> tuple[str, ...]:
        """The verbs that make sense now (by the table, the greeting, USER and CAPA; before CAPA,
        RFC 1939's commands only)."""
        if self._state is Pop3State.CLOSED or self._greeting_pending() or self.mode == "sasl":
            return ()
        return tuple(v for v in verbs_of(TRANSITIONS[self._projected()]) if self._offered(v))

    def mask(self, line: str) -> str:
        """`line` with secrets hidden, for transcripts: call it before `send(line)`."""
        if self.mode == "sasl":
            return line if line.strip() == "*" else "***"
        keep = _SECRET_AFTER.get(verb_of(line))
        if keep is None:
            return line
        words = line.split()
        return " ".join([*words[:keep], "***"]) if len(words) > keep else line

    # --- sending -------------------------------------------------------------------------------

    def send(self, line: str) -> bytes:
        """The bytes for one typed line (CRLF appended); see the module docstring for the rules."""
        words = line.split(None, 1)
        verb = words[0].upper() if words else ""
        self._refuse_if_closed(verb)
        sasl = self._sasl_pending > 0

        def where() -> str:
            return "an AUTH response line" if sasl else self._where(verb)

        data = encode_line(line, where)
        if not sasl and len(data) > MAX_COMMAND_LINE:
            raise LocalProtocolError(
                f"cannot send {where()}: the line is {len(data)} octets with its CRLF, over the "
                f"{MAX_COMMAND_LINE}-octet limit for a command (RFC 2449 section 4); shorten it "
                "(for AUTH, leave out the initial response and answer the '+' instead). "
                "Nothing was sent"
            )
        if not sasl:
            command = _Command.of(verb, len(words) > 1)
            self._pending.append(command)
            self._sasl_pending += command.sasl
        return data

    # --- receiving -----------------------------------------------------------------------------

    def _parse(self) -> Pop3Reply | Continuation | None:
        while True:
            if self._body is not None:
                return self._take_body()
            line = self._lines.pop_line()
            if line is None:
                return None
            event = self._take_status(line)
            if event is not None:
                return event

    def _take_status(self, line: bytes) -> Pop3Reply | Continuation | None:
        command = self._pending[0] if self._pending else None
        if command is not None and command.sasl and _is_continuation(line):
            text = strip_eol(line)[1:].decode("utf-8", "replace")
            return Continuation(text.removeprefix(" "), line)
        ok, text = self._parse_status(line)
        if ok and command is not None and command.multiline:
            self._body = _PartialBody(text, line)
            return None
        verb = command.verb if command is not None else None
        return self._complete(Pop3Reply(ok, text, RespCode.parse(text), b"", line, verb))

    def _take_body(self) -> Pop3Reply | None:
        """The whole body at once, found by its terminator (C-speed search and unstuffing)."""
        assert self._body is not None
        taken = self._lines.take_through_line(_END_OF_BODY)
        if taken is None:
            if self._lines.buffered > self._max_reply_size:
                raise self._broken_reply(
                    f"a reply longer than {self._max_reply_size} octets",
                    "raise Pop3Connection(max_reply_size=...) if this server is trusted",
                )
            return None
        (chunk, end), (status, self._body) = taken, (self._body, None)
        del taken
        # At most two copies of a message alive at once: in lean mode the chunk and the body;
        # else the raw reply, then the body cut from it once the chunk is gone.
        if self.lean:
            raw, body = status.raw, _unstuffed(chunk, 0, len(chunk))
        else:
            raw = b"".join((status.raw, chunk, end))
            del chunk
            body = _unstuffed(raw, len(status.raw), len(raw) - len(end))
        if _BARE_LF.search(body):
            body = _BARE_LF.sub(b"\r\n", body)
        resp, verb = RespCode.parse(status.text), self._pending[0].verb if self._pending else None
        return self._complete(Pop3Reply(True, status.text, resp, body, raw, verb))

    def _parse_status(self, line: bytes) -> tuple[bool, str]:
        """(ok, text) of a status line: +OK or -ERR, any case, then a space or the end."""
        content = strip_eol(line)
        head = content[:4].upper()
        if head[:3] == b"+OK" and content[3:4] in (b"", b" "):
            return True, content[4:].decode("utf-8", "replace")
        if head == b"-ERR" and content[4:5] in (b"", b" "):
            return False, content[5:].decode("utf-8", "replace")
        raise self._broken_reply(
            f"{quote(line)} where a status line belongs",
            "a POP3 reply starts with +OK or -ERR (RFC 1939 section 3); "
            + guess_server(line, "POP3"),
        )

    def _broken_reply(self, what: str, rule: str) -> RemoteProtocolError:
        waiting = self._pending[0].verb if self._pending else "nothing"
        return RemoteProtocolError(
            f"the server sent {what}, in state {self._state.name} while the reply to {waiting} "
            f"was awaited: {rule}. The connection cannot be read any further: close it"
        )

    def _complete(self, reply: Pop3Reply) -> Pop3Reply:
        """Match `reply` to the oldest pending command and move the state."""
        if not self._pending:
            return reply  # unsolicited
        command = self._pending.popleft()
        self._sasl_pending -= command.sasl
        self._state = self._next_state(command, reply.ok)
        self._learn(command.verb, reply)
        if self._state in ENDED:
            self._end(f"its {'+OK' if reply.ok else '-ERR'} reply to {command.verb}")
        if reply.command == command.verb:
            return reply
        return Pop3Reply(reply.ok, reply.text, reply.resp_code, reply.body, reply.raw, command.verb)

    def _next_state(self, command: _Command, ok: bool) -> Pop3State:
        row = TRANSITIONS[self._state]
        if not command.moves:
            return self._state
        if command.verb in row and (ok or command.verb in ENDS_EITHER_WAY):
            return row[command.verb]
        if ok:
            return accepted_anyway(TRANSITIONS, command.verb) or self._state
        return self._state

    def _learn(self, verb: str, reply: Pop3Reply) -> None:
        """What a reply teaches: the APOP timestamp, capabilities, whether USER was accepted."""
        self._user_accepted = verb == "USER" and reply.ok
        if verb == CONNECT and reply.ok:
            self._greeting_timestamp = reply.timestamp
        elif verb == "CAPA" and reply.ok:
            self.capabilities = _capabilities(reply.lines)
        elif verb == "STLS" and reply.ok:
            self.capabilities = {}  # RFC 2595 4: forget what was learned before TLS

    def _forget(self) -> None:
        self._pending.clear()
        self._sasl_pending = 0

    def _eof_reason(self) -> str:
        received = (self._body.raw if self._body else b"") + self._lines.partial
        if received:
            return (
                "the server closed the connection in the middle of a reply: the reply was cut "
                f"after {quote(received)}"
            )
        waiting = ", ".join(
            "the greeting" if c.verb == CONNECT else c.verb or "an empty line"
            for c in self._pending
        )
        if waiting:
            return f"the server closed the connection without answering {waiting}"
        if self._farewell:
            return f"the server closed the connection after {self._farewell}"
        return "the server closed the connection"

    # --- advice --------------------------------------------------------------------------------

    def warning(self, line: str) -> str | None:
        """One line of advice when `line` makes no sense now; None when it is fine."""
        if self._state is Pop3State.CLOSED:
            return "the connection is closed: connect again to start a new session"
        if self.mode == "sasl":
            return sasl_warning(line, "RFC 5034 4", "-ERR")
        if self._greeting_pending():
            return "the server has not sent its +OK greeting yet: wait for it (RFC 1939 section 4)"
        verb = verb_of(line)
        if verb not in POP3_COMMANDS:
            what = f"{verb} is not" if verb else "an empty line is not"
            return (
                f"{what} a POP3 command the RFCs define; it will be sent anyway and the server "
                "will probably answer -ERR"
            )
        return (
            self._sequence_warning(verb)
            or self._login_warning(verb)
            or self._capability_warning(verb, line)
            or _argument_warning(verb, line)
        )

    def _greeting_pending(self) -> bool:
        return any(command.verb == CONNECT for command in self._pending)

    def _projected(self) -> Pop3State:
        """The state once every pending command has been accepted (CLOSED once one ends it)."""
        state = self._state
        for command in self._pending:
            if command.moves:
                state = TRANSITIONS[state].get(command.verb, state)
        return Pop3State.CLOSED if state in ENDED else state

    def _sequence_warning(self, verb: str) -> str | None:
        state = self._projected()
        if verb in TRANSITIONS[state]:
            return None
        head = (
            f"{verb} in state {state.name} ({STATE_MEANINGS[state]}): the server will answer "
            "-ERR (RFC 1939 section 3: each command is valid in some states only)"
        )
        steps = route(TRANSITIONS, state, verb)
        if not steps:
            return f"{head}; it cannot succeed in this session: QUIT and connect again"
        if steps[-1] in ("PASS", "APOP", "AUTH"):
            return f"{head}; log in first: USER <name>, then PASS <password> (or APOP, or AUTH)"
        return f"{head}; first send {', then '.join(usage(POP3_COMMANDS, s) for s in steps)}"

    def _user_ready(self) -> bool:
        """True when PASS would come right after a successful (or pending) USER."""
        if self._pending:
            return self._pending[-1].verb == "USER"
        return self._user_accepted

    def _login_warning(self, verb: str) -> str | None:
        if verb == "PASS" and not self._user_ready():
            return (
                "PASS must come right after a successful USER (RFC 1939 section 7): "
                "the server will answer -ERR; send USER <name> first"
            )
        if verb == "APOP" and self._greeting_timestamp is None:
            return (
                "the greeting carried no <timestamp>, so this server does not offer APOP "
                "(RFC 1939 section 7); log in with USER and PASS"
            )
        return None

    def _capability_warning(self, verb: str, line: str) -> str | None:
        needed = POP3_COMMANDS[verb].extension
        if not self.capabilities or needed is None:
            return None
        if needed not in self.capabilities:
            return (
                f"{verb} needs the {needed} capability, which the last CAPA reply did not list "
                "(some servers list it only after STLS); the server will probably answer -ERR"
            )
        mechanisms = self.capabilities.get("SASL", "").upper().split()
        words = arguments_of(line)
        if verb == "AUTH" and words and words[0].upper() not in mechanisms:
            return (
                f"the server offers SASL {' '.join(mechanisms)}, not {words[0].upper()}: "
                "it will answer -ERR (RFC 5034 4)"
            )
        return None

    def _offered(self, verb: str) -> bool:
        if verb == "PASS" and not self._user_ready():
            return False
        if verb == "APOP" and self._greeting_timestamp is None:
            return False
        info = POP3_COMMANDS.get(verb)
        if info is None or info.extension is None:
            return True
        if self.capabilities:
            return info.extension in self.capabilities
        # Before CAPA (RFC 2449 section 5), RFC 1939's own optional commands (USER, TOP, UIDL)
        # are worth a try; later extensions (STLS, AUTH, UTF8, LANG) wait until advertised.
        return info.ref.startswith("RFC 1939")


def _unstuffed(data: bytes, start: int, end: int) -> bytes:
    """The body in ``data[start:end]`` (which starts at a line start) with the "." that was put
    before every line starting with "." taken away again (RFC 1939 section 3). The dots are
    found by a regex at C speed and the pieces between them joined from views: the body is the
    only copy made (`data` itself when it is all body and has no such dot)."""
    if start < end and data[start] == 0x2E:  # "."
        start += 1
    view, pieces = memoryview(data), []
    for found in _STUFFED_DOT.finditer(data, start, end):
        pieces.append(view[start : found.start() + 1])
        start = found.end()
    if not pieces and start == 0 and end == len(data):
        return data
    pieces.append(view[start:end])
    return b"".join(pieces)


def _is_continuation(line: bytes) -> bool:
    """A "+" line that is not "+OK": a SASL challenge (RFC 5034 section 4)."""
    return line.startswith(b"+") and line[:3].upper() != b"+OK"


def _capabilities(lines: tuple[str, ...]) -> dict[str, str]:
    """CAPA tags (upper-cased) -> their arguments."""
    found: dict[str, str] = {}
    for text in lines:
        tag, _, args = text.strip().partition(" ")
        if tag:
            found[tag.upper()] = args.strip()
    return found


def _argument_warning(verb: str, line: str) -> str | None:
    if argument_count_ok(command_of(" ".join([verb, *line.split(None, 1)[1:]]))):
        return None
    info = POP3_COMMANDS[verb]
    return f"{verb} is typed {info.syntax} ({info.ref}): the server will answer -ERR"
