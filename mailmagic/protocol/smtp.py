"""The sans-I/O client side of SMTP (RFC 5321), shaped after h11: the user's raw lines go in through
`send(line) -> bytes`, the server's bytes through `receive_data`, and `next_event()` returns each
complete Reply (or ConnectionClosed, or NEED_DATA).

How it works:
- TRANSITIONS is the one table of the session: state -> verb -> the state after a positive (2xx
  or 3xx) reply. A negative reply leaves the state alone, except for the verbs in
  ENDS_EITHER_WAY: after the end of the message data the transaction is over whatever the
  server answered (RFC 5321 4.1.1.4). A positive reply to a verb sent out of order follows the
  server: the state becomes the one target that verb has in the table (some servers accept
  MAIL without EHLO). 421 closes the session from any state (RFC 5321 3.8).
- Nothing typed is refused for being out of order or unknown: the server's 500/503 is the
  lesson, and `warning(line)` explains it beforehand. Only what cannot be sent as one line is
  refused (LocalProtocolError): CR or LF inside, over 512 octets for a command (RFC 5321
  4.5.3.1.4) or 1000 for message text (4.5.3.1.6), or anything after the session closed.
- Each command sent is queued in `pending`; replies are matched to it in order, which is what
  makes PIPELINING (RFC 2920) work. The greeting answers the pseudo-command "<connect>".
- What a typed line is depends on `mode`: a command; message text once DATA got its 354 (a lone
  "." ends it; raw lines are not dot-stuffed, `send_message` does that); a SASL response while
  an AUTH is pending (RFC 4954 4: exempt from the 512 limit, "*" cancels); or BDAT chunk octets
  (RFC 3030) until the announced count is used up.
- Sending builds the bytes first and only then changes the state (a command queued in
  `pending`, chunk octets counted): an error or Ctrl-C while a 30 MB message is dot-stuffed
  leaves the connection as it was, never with a reply awaited for bytes that were never made.
- Replies (RFC 5321 4.2.1): "250-" continues, "250 " or a bare "250" ends; all lines must share
  the code. CRLF or bare LF ends a line. A reply line over 64 KiB, or a reply over
  `max_reply_size`, is a RemoteProtocolError, so memory stays bounded.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from .codes import (
    EHLO_KEYWORDS,
    SMTP_COMMANDS,
    explain_enhanced,
    explain_smtp_code,
    usage,
)
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

__all__ = [
    "CONNECT",
    "ENDS_EITHER_WAY",
    "END_OF_DATA",
    "MAX_COMMAND_LINE",
    "MAX_REPLY_LINE",
    "MAX_REPLY_SIZE",
    "MAX_TEXT_LINE",
    "NEED_DATA",
    "STATE_MEANINGS",
    "TRANSITIONS",
    "ConnectionClosed",
    "EnhancedCode",
    "Mode",
    "NeedData",
    "NeedDataType",
    "Reply",
    "SmtpConnection",
    "SmtpState",
]

MAX_COMMAND_LINE: Final = 512
"""Octets in a command line, CRLF included (RFC 5321 4.5.3.1.4)."""
MAX_TEXT_LINE: Final = 1000
"""Octets in a line of message text, CRLF included (RFC 5321 4.5.3.1.6)."""
MAX_REPLY_LINE: Final = 65536
"""Octets accepted in one reply line; RFC 5321 4.5.3.1.5 sets 512, real servers exceed it."""
MAX_REPLY_SIZE: Final = 1 << 20
"""Default octets accepted in one (multi-line) reply; `SmtpConnection(max_reply_size=...)`."""

CONNECT: Final = "<connect>"
"""The pseudo-command the greeting answers (RFC 5321 3.1)."""
END_OF_DATA: Final = "."
"""The line that ends the message text, awaiting the final reply (RFC 5321 4.1.1.4)."""

Mode = Literal["command", "text", "sasl", "chunk"]


class SmtpState(enum.Enum):
    """Where the SMTP session stands, as confirmed by the server's replies."""

    CONNECTED = "CONNECTED"
    GREETED = "GREETED"
    READY = "READY"
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    CLOSED = "CLOSED"


STATE_MEANINGS: Mapping[SmtpState, str] = MappingProxyType(
    {
        SmtpState.CONNECTED: "waiting for the server's 220 greeting",
        SmtpState.GREETED: "greeted, not yet introduced with EHLO or HELO",
        SmtpState.READY: "introduced, no mail transaction open",
        SmtpState.MAIL: "sender given, no recipient accepted yet",
        SmtpState.RCPT: "at least one recipient accepted",
        SmtpState.DATA: "sending the message text",
        SmtpState.CLOSED: "the session is over",
    }
)

_S = SmtpState
_ANY_TIME = ("NOOP", "HELP", "VRFY", "EXPN")  # RFC 5321 4.1.4: valid in any state


def _row(state: SmtpState, **verbs: SmtpState) -> Mapping[str, SmtpState]:
    """A table row: its own verbs, then NOOP/HELP/VRFY/EXPN staying put, then QUIT."""
    return MappingProxyType({**verbs, **dict.fromkeys(_ANY_TIME, state), "QUIT": _S.CLOSED})


TRANSITIONS: Mapping[SmtpState, Mapping[str, SmtpState]] = MappingProxyType(
    {
        # RFC 5321 3.1: the greeting; after a 554 greeting only QUIT makes sense.
        _S.CONNECTED: MappingProxyType({CONNECT: _S.GREETED, "QUIT": _S.CLOSED}),
        # RFC 5321 4.1.4: EHLO/HELO first; RSET and the any-time verbs work before it.
        _S.GREETED: _row(_S.GREETED, EHLO=_S.READY, HELO=_S.READY, RSET=_S.GREETED),
        # RFC 3207 4.2: after STARTTLS the client is back to GREETED and must EHLO again.
        # RFC 4954 4: AUTH outside a mail transaction only.
        _S.READY: _row(
            _S.READY,
            MAIL=_S.MAIL,
            EHLO=_S.READY,
            HELO=_S.READY,
            AUTH=_S.READY,
            STARTTLS=_S.GREETED,
            RSET=_S.READY,
            ETRN=_S.READY,
        ),
        # RFC 5321 4.1.1.5 / 4.1.4: RSET or a new EHLO abort the transaction.
        _S.MAIL: _row(_S.MAIL, RCPT=_S.RCPT, RSET=_S.READY, EHLO=_S.READY, HELO=_S.READY),
        # RFC 3030 2: BDAT after at least one RCPT; BDAT ... LAST ends the message.
        _S.RCPT: _row(
            _S.RCPT,
            RCPT=_S.RCPT,
            DATA=_S.DATA,
            BDAT=_S.RCPT,
            **{"BDAT LAST": _S.READY},
            RSET=_S.READY,
            EHLO=_S.READY,
            HELO=_S.READY,
        ),
        # RFC 5321 4.1.1.4: the line "." ends the text; the final reply ends the transaction.
        _S.DATA: MappingProxyType({END_OF_DATA: _S.READY}),
        _S.CLOSED: MappingProxyType({}),
    }
)

ENDS_EITHER_WAY: Final = frozenset({END_OF_DATA})
"""Table entries taken on any final reply, not only a positive one (RFC 5321 4.1.1.4)."""

_ENHANCED = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?=\s|$)")


@dataclass(frozen=True)
class EnhancedCode:
    """An RFC 3463 enhanced status code such as 5.1.1 (class.subject.detail)."""

    klass: int
    subject: int
    detail: int

    def __str__(self) -> str:
        return f"{self.klass}.{self.subject}.{self.detail}"

    def explain(self) -> list[str]:
        """The class, the subject and the detail explained, one string each."""
        return explain_enhanced(self.klass, self.subject, self.detail)

    @classmethod
    def parse(cls, text: str, code: int | None = None) -> EnhancedCode | None:
        """The code at the start of `text`, if any (and if its class matches `code`'s digit)."""
        found = _ENHANCED.match(text)
        if found is None or (code is not None and int(found[1]) != code // 100):
            return None
        return cls(int(found[1]), int(found[2]), int(found[3]))


@dataclass(frozen=True)
class Reply:
    """One complete SMTP reply: its code, the text of every line, and the bytes received."""

    code: int
    lines: tuple[str, ...]  # each line's text after "250-" / "250 ", enhanced code included
    enhanced: EnhancedCode | None = None
    raw: bytes = b""
    command: str | None = field(default=None, compare=False)  # the verb it answers, if any

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def klass(self) -> int:
        return self.code // 100

    @property
    def is_positive(self) -> bool:
        return self.klass == 2

    @property
    def is_intermediate(self) -> bool:
        return self.klass == 3

    @property
    def is_transient(self) -> bool:
        return self.klass == 4

    @property
    def is_permanent(self) -> bool:
        return self.klass == 5

    def explain(self) -> str:
        """One paragraph: what the code means and, if present, the enhanced code's parts."""
        words = explain_smtp_code(self.code)
        if self.enhanced is None:
            return words
        parts = "; ".join(self.enhanced.explain())
        return f"{words} Enhanced status code {self.enhanced}: {parts}."

    def __str__(self) -> str:
        return self.raw.decode("utf-8", "replace").rstrip("\r\n") or f"{self.code} {self.text}"


@dataclass
class _PartialReply:
    """The lines of a multi-line reply received so far."""

    code: int
    texts: list[str] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)

    def reply(self, command: str | None) -> Reply:
        lines = tuple(self.texts)
        enhanced = next(
            (e for e in (EnhancedCode.parse(t, self.code) for t in lines) if e is not None), None
        )
        return Reply(self.code, lines, enhanced, bytes(self.raw), command)


def _extensions(reply: Reply) -> dict[str, str]:
    """EHLO keywords (upper-cased) -> their parameters, from the lines after the first."""
    found: dict[str, str] = {}
    for text in reply.lines[1:]:
        keyword, _, params = text.strip().partition(" ")
        if keyword:
            found[keyword.upper()] = params.strip()
    return found


def _key(line: str) -> str:
    """The table key of a command line: its verb, or "BDAT LAST" for the last chunk."""
    verb = verb_of(line)
    if verb == "BDAT" and line.split()[-1].upper() == "LAST":
        return "BDAT LAST"
    return verb


def _message_lines(message: bytes) -> list[bytes]:
    """`message` cut at CRLF, LF or CR, without an empty piece after a final line end."""
    lines = re.split(rb"\r\n|\r|\n", message)
    return lines[:-1] if lines[-1] == b"" else lines


_LIMITS: Mapping[str, tuple[int, str, str]] = MappingProxyType(
    {
        "command": (
            MAX_COMMAND_LINE,
            "a command line (RFC 5321 4.5.3.1.4)",
            "shorten it",
        ),
        "text": (
            MAX_TEXT_LINE,
            "a line of message text (RFC 5321 4.5.3.1.6)",
            "wrap the line, or encode the message (quoted-printable or base64)",
        ),
    }
)


class SmtpConnection(Conversation[SmtpState, Reply]):
    """One SMTP session from the client's side, without I/O (see the module docstring)."""

    def __init__(self, *, max_reply_size: int = MAX_REPLY_SIZE) -> None:
        lines = LineBuffer(MAX_REPLY_LINE, "reply line", "RFC 5321 4.5.3.1.5 allows 512")
        super().__init__(SmtpState.CONNECTED, SmtpState.CLOSED, lines)
        self.extensions: dict[str, str] = {}
        self._pending: deque[str] = deque([CONNECT])
        self._partial: _PartialReply | None = None
        self._chunk_left = 0
        self._authenticated = False
        self._max_reply_size = max_reply_size

    # --- what the user sees --------------------------------------------------------------------

    @property
    def pending(self) -> tuple[str, ...]:
        """Commands awaiting replies, oldest first ("<connect>" until the greeting)."""
        return tuple(self._pending)

    @property
    def waiting(self) -> int:
        """How many replies are due (the length of `pending`)."""
        return len(self._pending)

    @property
    def mode(self) -> Mode:
        """What the next line sent is: a command, message text, a SASL response or chunk data."""
        if self._chunk_left:
            return "chunk"
        if "AUTH" in self._pending:
            return "sasl"
        if self._state is SmtpState.DATA and END_OF_DATA not in self._pending:
            return "text"
        return "command"

    def expected(self) -> tuple[str, ...]:
        """The verbs that make sense now (advertised extensions only), or (".",) in DATA."""
        mode = self.mode
        if self._state is SmtpState.CLOSED or CONNECT in self._pending or mode in ("sasl", "chunk"):
            return ()
        if mode == "text":
            return (END_OF_DATA,)
        state = self._projected()
        if state is SmtpState.DATA:
            return ()  # DATA sent, its 354 not yet received: wait
        return tuple(v for v in verbs_of(TRANSITIONS[state]) if self._offered(v))

    def mask(self, line: str) -> str:
        """`line` with secrets hidden, for transcripts: call it before `send(line)`."""
        mode = self.mode
        if mode == "sasl":
            return line if line.strip() == "*" else "***"
        words = line.split()
        if mode == "command" and verb_of(line) == "AUTH" and len(words) > 2:
            return " ".join([*words[:2], "***"])
        return line

    # --- sending -------------------------------------------------------------------------------

    def send(self, line: str) -> bytes:
        """The bytes for one typed line (CRLF appended); see the module docstring for the rules."""
        data, mode = self._encode(line)
        if mode == "chunk":
            self._chunk_left = max(0, self._chunk_left - len(data))
        elif mode == "text" and line == END_OF_DATA:
            self._pending.append(END_OF_DATA)
        elif mode == "command":
            self._record_command(line)
        return data

    def send_message(self, message: bytes) -> bytes:
        """The whole message text after 354: dot-stuffed (RFC 5321 4.5.2), CRLF, then ".\\r\\n"."""
        self._refuse_if_closed("DATA")
        if self.mode != "text":
            raise LocalProtocolError(
                f"cannot send a message in state {self._state.name} ({self.mode} mode): "
                "send_message needs the DATA state; send DATA and wait for the 354 reply first"
            )
        lines = [b"." + line if line.startswith(b".") else line for line in _message_lines(message)]
        long = next((n for n, line in enumerate(lines) if len(line) + 2 > MAX_TEXT_LINE), None)
        if long is not None:
            where = f"line {long + 1} of the message in state DATA"
            self._check_length(lines[long] + b"\r\n", "text", lambda: where)
        data = b"".join(line + b"\r\n" for line in lines) + b".\r\n"
        self._pending.append(END_OF_DATA)  # only once the bytes exist (module docstring)
        return data

    def send_chunk(self, data: bytes, last: bool = False) -> bytes:
        """BDAT with its chunk (RFC 3030 2): "BDAT n [LAST]\\r\\n" followed by `data` as is."""
        self._refuse_if_closed("BDAT")
        if self.mode != "command":
            raise LocalProtocolError(
                f"cannot send BDAT in {self.mode} mode (state {self._state.name}): "
                "finish the current DATA, AUTH or chunk first"
            )
        line = f"BDAT {len(data)}" + (" LAST" if last else "")
        wire = self._encode(line)[0] + data
        self._record_command(line)
        self._chunk_left = 0  # the chunk goes with the command
        return wire

    def _encode(self, line: str) -> tuple[bytes, Mode]:
        """The bytes for `line` and the mode they are sent in; checks it, changes nothing."""
        verb = verb_of(line)
        self._refuse_if_closed(verb)
        mode = self.mode

        def where() -> str:
            return self._describe(verb, mode)

        data = encode_line(line, where)
        self._check_length(data, mode, where)
        return data, mode

    def _describe(self, verb: str, mode: Mode) -> str:
        if mode == "command":
            return self._where(verb)
        return {
            "text": "a line of message text in state DATA",
            "sasl": "an AUTH response line",
            "chunk": "BDAT chunk data",
        }[mode]

    def _check_length(self, data: bytes, mode: Mode, where: Callable[[], str]) -> None:
        if mode not in _LIMITS or len(data) <= _LIMITS[mode][0]:
            return
        limit, what, advice = _LIMITS[mode]
        raise LocalProtocolError(
            f"cannot send {where()}: the line is {len(data)} octets with its CRLF, over the "
            f"{limit}-octet limit for {what}; {advice}. Nothing was sent"
        )

    def _record_command(self, line: str) -> None:
        key = _key(line)
        self._pending.append(key)
        if key.startswith("BDAT"):
            size = arguments_of(line)[:1]
            self._chunk_left = int(size[0]) if size and size[0].isdigit() else 0

    # --- receiving -----------------------------------------------------------------------------

    def _parse(self) -> Reply | None:
        while (line := self._lines.pop_line()) is not None:
            reply = self._take(line)
            if reply is not None:
                self._apply(reply)
                return reply
        return None

    def _take(self, line: bytes) -> Reply | None:
        """Add one reply line; the Reply once its last line is in."""
        code, more, text = self._parse_line(line)
        partial = self._partial or _PartialReply(code)
        if code != partial.code:
            raise self._broken_reply(
                f"a reply that began with code {partial.code} and went on with {quote(line)}",
                "every line of one reply carries the same code (RFC 5321 4.2.1)",
            )
        partial.texts.append(text)
        partial.raw += line
        if len(partial.raw) > self._max_reply_size:
            raise self._broken_reply(
                f"a reply longer than {self._max_reply_size} octets",
                "raise SmtpConnection(max_reply_size=...) if this server is trusted",
            )
        self._partial = partial if more else None
        return None if more else partial.reply(self._pending[0] if self._pending else None)

    def _parse_line(self, line: bytes) -> tuple[int, bool, str]:
        """(code, more lines follow, text) of one reply line (RFC 5321 4.2)."""
        body = strip_eol(line)
        code, separator = body[:3], body[3:4]
        if (
            len(code) < 3
            or not code.isdigit()
            or code[:1] not in b"2345"
            or (separator not in (b"", b" ", b"-"))
        ):
            raise self._broken_reply(
                f"{quote(line)} where a reply line belongs",
                "a reply line is a code from 200 to 599, then a space, a hyphen or the line end "
                f"(RFC 5321 4.2); {guess_server(line, 'SMTP')}",
            )
        return int(code), separator == b"-", body[4:].decode("utf-8", "replace")

    def _broken_reply(self, what: str, rule: str) -> RemoteProtocolError:
        waiting = self._pending[0] if self._pending else "nothing"
        return RemoteProtocolError(
            f"the server sent {what}, in state {self._state.name} while the reply to {waiting} "
            f"was awaited: {rule}. The connection cannot be read any further: close it"
        )

    def _apply(self, reply: Reply) -> None:
        """Move the state for the reply to the oldest pending command."""
        if reply.code == 421:
            self._end(f"its 421 reply ({reply.text[:80]})")
            return
        if not self._pending or (self._pending[0] == "AUTH" and reply.code == 334):
            return  # unsolicited, or a SASL challenge: the AUTH goes on
        verb = self._pending.popleft()
        self._state = self._next_state(verb, reply)
        if self._state is SmtpState.DATA:
            self._pending.clear()  # lines sent after DATA, before its 354, became message text
        elif self._state is SmtpState.CLOSED:
            self._end(f"its {reply.code} reply to {verb}")
        if reply.is_positive:
            self._learn(verb, reply)

    def _next_state(self, verb: str, reply: Reply) -> SmtpState:
        row = TRANSITIONS[self._state]
        accepted = reply.klass in (2, 3)
        if verb in row and (accepted or verb in ENDS_EITHER_WAY):
            return row[verb]
        if accepted:
            return accepted_anyway(TRANSITIONS, verb) or self._state
        return self._state

    def _learn(self, verb: str, reply: Reply) -> None:
        """What a positive reply teaches: extensions (EHLO; none after HELO or STARTTLS)."""
        if verb == "EHLO":
            self.extensions = _extensions(reply)
        elif verb in ("HELO", "STARTTLS"):
            self.extensions = {}  # RFC 3207 4.2: forget everything learned before TLS
        elif verb == "AUTH":
            self._authenticated = True

    def _forget(self) -> None:
        self._pending.clear()
        self._chunk_left = 0

    def _eof_reason(self) -> str:
        received = bytes(self._partial.raw if self._partial else b"") + self._lines.partial
        if received:
            return (
                "the server closed the connection in the middle of a reply: the reply was cut "
                f"after {quote(received)}"
            )
        waiting = ", ".join("the greeting" if v == CONNECT else v for v in self._pending)
        if waiting:
            return f"the server closed the connection without answering {waiting}"
        if self._farewell:
            return f"the server closed the connection after {self._farewell}"
        return "the server closed the connection"

    # --- advice --------------------------------------------------------------------------------

    def warning(self, line: str) -> str | None:
        """One line of advice when `line` makes no sense now; None when it is fine."""
        if self._state is SmtpState.CLOSED:
            return "the connection is closed: connect again to start a new session"
        mode = self.mode
        if mode == "text":
            return self._text_warning(line)
        if mode == "sasl":
            return sasl_warning(line, "RFC 4954 4", "501")
        if mode == "chunk":
            return self._chunk_warning(line)
        return self._command_warning(line)

    def _command_warning(self, line: str) -> str | None:
        verb = verb_of(line)
        if CONNECT in self._pending:
            return (
                "the server has not sent its 220 greeting yet: wait for it (RFC 5321 3.1); "
                "servers may drop clients that talk first"
            )
        if self._pending and self._pending[-1] == "DATA":
            return (
                "DATA has not been answered yet: lines sent before its 354 reply are commands, "
                "not message text; wait for 354"
            )
        info = SMTP_COMMANDS.get(verb)
        if info is None:
            what = f"{verb} is not" if verb else "an empty line is not"
            return (
                f"{what} an SMTP command the RFCs define; it will be sent anyway and the server "
                "will probably answer 500 (command unrecognized) or 502"
            )
        if info.note:
            return f"{verb} is {info.note} ({info.ref})"
        return (
            self._sequence_warning(verb)
            or self._extension_warning(verb, line)
            or _syntax_warning(verb, line)
        )

    def _projected(self) -> SmtpState:
        """The state once every pending command has been accepted."""
        state = self._state
        for verb in self._pending:
            state = TRANSITIONS[state].get(verb, state)
        return state

    def _sequence_warning(self, verb: str) -> str | None:
        state = self._projected()
        if verb in TRANSITIONS[state]:
            return None
        head = (
            f"{verb} in state {state.name} ({STATE_MEANINGS[state]}): the server will answer "
            "503 (bad sequence of commands, RFC 5321 4.1.4)"
        )
        steps = route(TRANSITIONS, state, verb)
        if not steps:
            return f"{head}; it cannot succeed now: send QUIT"
        return f"{head}; first send {', then '.join(usage(SMTP_COMMANDS, s) for s in steps)}"

    def _extension_warning(self, verb: str, line: str) -> str | None:
        needed = SMTP_COMMANDS[verb].extension
        if needed is None:
            return None
        if needed not in self.extensions:
            known = "the last EHLO reply did not list it" if self.extensions else "no EHLO yet"
            return (
                f"{verb} needs the {needed} extension ({EHLO_KEYWORDS[needed].ref}), but "
                f"{known}; the server will probably answer 502 or 503"
            )
        return self._auth_warning(line) if verb == "AUTH" else None

    def _auth_warning(self, line: str) -> str | None:
        offered = self.extensions["AUTH"].upper().split()
        words = arguments_of(line)
        if self._authenticated:
            return "already authenticated: the server will answer 503 (RFC 4954 4)"
        if not words:
            return f"AUTH needs a mechanism, one of: {' '.join(offered)} (RFC 4954 4)"
        if words[0].upper() not in offered:
            return (
                f"the server offers AUTH {' '.join(offered)}, not {words[0].upper()}: "
                "it will answer 504 (RFC 4954 4)"
            )
        return None

    def _text_warning(self, line: str) -> str | None:
        if line.startswith(".") and line != END_OF_DATA and not line.startswith(".."):
            return (
                "this line starts with '.', and raw lines are sent as typed: the server will "
                "drop that dot (RFC 5321 4.5.2); type '..' to keep one, or use send_message"
            )
        if not line.isascii() and "8BITMIME" not in self.extensions:
            return (
                "8-bit characters, but the server did not advertise 8BITMIME (RFC 6152): "
                "encode the text (quoted-printable) or expect it to be mangled"
            )
        return None

    def _chunk_warning(self, line: str) -> str | None:
        size = len(line.encode("utf-8")) + 2
        if size <= self._chunk_left:
            return None
        return (
            f"BDAT announced {self._chunk_left} more octets but this line with its CRLF has "
            f"{size}: the extra {size - self._chunk_left} will be read as a command (RFC 3030 2)"
        )

    def _offered(self, verb: str) -> bool:
        info = SMTP_COMMANDS.get(verb)
        needed = info.extension if info else None
        if verb == "AUTH" and self._authenticated:
            return False
        return needed is None or needed in self.extensions


_ADDRESS_SYNTAX = MappingProxyType(
    {
        "MAIL": (re.compile(r"(?i)MAIL FROM:<[^<>]*>(\s|$)"), "MAIL FROM:<address>", "4.1.1.2"),
        "RCPT": (re.compile(r"(?i)RCPT TO:<[^<>]+>(\s|$)"), "RCPT TO:<address>", "4.1.1.3"),
    }
)


def _syntax_warning(verb: str, line: str) -> str | None:
    """Advice on the arguments of EHLO/HELO/MAIL/RCPT, which strict servers check."""
    if verb in ("EHLO", "HELO") and not arguments_of(line):
        return f"{verb} needs your host name, e.g. {verb} client.example (RFC 5321 4.1.1.1)"
    if verb in _ADDRESS_SYNTAX:
        pattern, form, section = _ADDRESS_SYNTAX[verb]
        if not pattern.match(line.strip()):
            return (
                f"RFC 5321 {section} wants {form}: angle brackets, no space after the colon; "
                "strict servers answer 501, lenient ones accept it"
            )
    return None
