# What this module does: tests mailmagic/protocol/smtp.py without sockets: reply framing (single,
# multi-line, bare, LF-only, split at every byte, pipelined), the seed telnet walkthroughs step by
# step, every entry of TRANSITIONS, warnings and expected(), the refusals (CR/LF, line limits,
# CLOSED), DATA mode and dot-stuffing (the bytes built before the state changes, checked with
# Ctrl-C at every point), AUTH and STARTTLS, EOF and server errors, and a hypothesis property: any
# server bytes either parse or raise RemoteProtocolError, with bounded buffering.
from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailmagic.protocol import events, pop3
from mailmagic.protocol.errors import LocalProtocolError, RemoteProtocolError
from mailmagic.protocol.smtp import (
    CONNECT,
    END_OF_DATA,
    ENDS_EITHER_WAY,
    MAX_COMMAND_LINE,
    MAX_REPLY_LINE,
    MAX_TEXT_LINE,
    NEED_DATA,
    TRANSITIONS,
    ConnectionClosed,
    EnhancedCode,
    Reply,
    SmtpConnection,
    SmtpState,
)
from tests.protocol import streams
from tests.protocol.interrupts import PACKAGE, Interrupter, every_point

S = SmtpState
PROTOCOL = (str(PACKAGE / "protocol"),)

# --- replies, named ----------------------------------------------------------------------------

S220_GREETING = b"220 mail.lab.test ESMTP mailmagic lab\r\n"
S220_EXCHANGE_GREETING = (
    b"220 mail.mydomain.com Microsoft ESMTP MAIL Service, Version: 6.0.3790.211 "
    b"ready at Fri, 4 Mar 2005 17:27:35 -0800\r\n"
)
S220_MDAEMON_GREETING = b"220 domain.ext ESMTP MDaemon 6.7.6; Tue, 25 Mar 2003 11:37:02 +0000\r\n"
S220_MULTILINE_GREETING = b"220-mail.lab.test ESMTP\r\n220-no spam please\r\n220 ready\r\n"
S220_TLS_READY = b"220 2.0.0 Ready to start TLS\r\n"
S221_BYE = b"221 2.0.0 mail.lab.test closing connection\r\n"
S235_AUTH_OK = b"235 2.7.0 Authentication successful\r\n"
S250_OK = b"250 2.0.0 OK\r\n"
S250_BARE = b"250\r\n"
S250_LF_ONLY = b"250-first\n250-second\n250 last\n"
S250_HELO = b"250 mail.lab.test Hello c\r\n"
S250_EHLO_LAB = (
    b"250-mail.lab.test Hello c [127.0.0.1]\r\n"
    b"250-PIPELINING\r\n"
    b"250-SIZE 10485760\r\n"
    b"250-8BITMIME\r\n"
    b"250-SMTPUTF8\r\n"
    b"250-STARTTLS\r\n"
    b"250-AUTH LOGIN PLAIN\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n"
    b"250 HELP\r\n"
)
S250_EHLO_POSTFIX = (
    b"250-mx.example.com\r\n"
    b"250-PIPELINING\r\n"
    b"250-SIZE 10240000\r\n"
    b"250-VRFY\r\n"
    b"250-ETRN\r\n"
    b"250-STARTTLS\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n"
    b"250-8BITMIME\r\n"
    b"250-DSN\r\n"
    b"250-SMTPUTF8\r\n"
    b"250 CHUNKING\r\n"
)
S250_EHLO_EXCHANGE = (
    b"250-mail.contoso.com Hello [10.0.0.5]\r\n"
    b"250-SIZE 37748736\r\n"
    b"250-PIPELINING\r\n"
    b"250-DSN\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n"
    b"250-STARTTLS\r\n"
    b"250-AUTH GSSAPI NTLM LOGIN\r\n"
    b"250-AUTH=LOGIN\r\n"
    b"250-X-EXPS GSSAPI NTLM\r\n"
    b"250-8BITMIME\r\n"
    b"250-BINARYMIME\r\n"
    b"250-CHUNKING\r\n"
    b"250-XEXCH50\r\n"
    b"250 X-LINK2STATE\r\n"
)
S250_SENDER_OK = b"250 2.1.0 Sender OK\r\n"
S250_RECIPIENT_OK = b"250 2.1.5 Recipient OK\r\n"
S250_QUEUED = b"250 2.6.0 <a1b2@mail.lab.test> Queued mail for delivery\r\n"
S334_USERNAME = b"334 VXNlcm5hbWU6\r\n"
S334_PASSWORD = b"334 UGFzc3dvcmQ6\r\n"
S354_START_INPUT = b"354 Start mail input; end with <CRLF>.<CRLF>\r\n"
S421_SHUTDOWN = b"421 4.3.2 mail.lab.test Service shutting down\r\n"
S454_TLS_UNAVAILABLE = b"454 4.7.0 TLS not available\r\n"
S501_AUTH_CANCELLED = b"501 5.7.0 Authentication cancelled\r\n"
S503_BAD_SEQUENCE = b"503 5.5.1 Error: need MAIL command\r\n"
S550_NO_USER = b"550 5.1.1 <nobody@lab.test>: Recipient address rejected: User unknown\r\n"
S550_GMAIL_NO_USER = (
    b"550-5.1.1 The email account that you tried to reach does not exist.\r\n"
    b"550 5.1.1 https://support.google.com/mail/?p=NoSuchUser\r\n"
)
S554_NO_SERVICE = b"554 5.7.1 No SMTP service here\r\n"
S554_FAILED = b"554 5.0.0 Transaction failed\r\n"

ALL_REPLIES = [
    S220_GREETING,
    S220_MULTILINE_GREETING,
    S221_BYE,
    S235_AUTH_OK,
    S250_OK,
    S250_BARE,
    S250_LF_ONLY,
    S250_EHLO_LAB,
    S250_EHLO_POSTFIX,
    S250_EHLO_EXCHANGE,
    S250_RECIPIENT_OK,
    S334_USERNAME,
    S354_START_INPUT,
    S421_SHUTDOWN,
    S503_BAD_SEQUENCE,
    S550_GMAIL_NO_USER,
]


# --- helpers -------------------------------------------------------------------------------------


def drain(conn: SmtpConnection) -> list[Reply | ConnectionClosed]:
    """Every event available now, up to NEED_DATA or ConnectionClosed."""
    found: list[Reply | ConnectionClosed] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return found
        found.append(event)
        if isinstance(event, ConnectionClosed):
            return found


def reply_of(conn: SmtpConnection, data: bytes) -> Reply:
    conn.receive_data(data)
    event = conn.next_event()
    assert isinstance(event, Reply), event
    return event


def connection_in(state: SmtpState, ehlo: bytes = S250_EHLO_LAB) -> SmtpConnection:
    """A connection driven to `state` by real replies."""
    conn = SmtpConnection()
    path = [
        (S.GREETED, None, S220_GREETING),
        (S.READY, "EHLO c", ehlo),
        (S.MAIL, "MAIL FROM:<alice@lab.test>", S250_SENDER_OK),
        (S.RCPT, "RCPT TO:<bob@lab.test>", S250_RECIPIENT_OK),
        (S.DATA, "DATA", S354_START_INPUT),
    ]
    for reached, line, data in path:
        if conn.state is state:
            break
        if line is not None:
            conn.send(line)
        reply_of(conn, data)
        assert conn.state is reached
    assert conn.state is state
    return conn


# --- reply framing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code", "lines", "enhanced"),
    [
        (S250_OK, 250, ("2.0.0 OK",), "2.0.0"),
        (S250_BARE, 250, ("",), None),
        (b"250 \r\n", 250, ("",), None),
        (S250_LF_ONLY, 250, ("first", "second", "last"), None),
        (S220_MULTILINE_GREETING, 220, ("mail.lab.test ESMTP", "no spam please", "ready"), None),
        (S550_NO_USER, 550, (S550_NO_USER[4:-2].decode(),), "5.1.1"),
        (
            S550_GMAIL_NO_USER,
            550,
            (
                "5.1.1 The email account that you tried to reach does not exist.",
                "5.1.1 https://support.google.com/mail/?p=NoSuchUser",
            ),
            "5.1.1",
        ),
        (b"250 5.1.1 class digit differs\r\n", 250, ("5.1.1 class digit differs",), None),
        (b"451 4.7.1 Greylisted\r\n", 451, ("4.7.1 Greylisted",), "4.7.1"),
        (b"250 2.1.5\r\n", 250, ("2.1.5",), "2.1.5"),
        (b"250 2.1.5x no\r\n", 250, ("2.1.5x no",), None),
        (b"250-a\r\n250-\r\n250 c\r\n", 250, ("a", "", "c"), None),
        ("250 caf\u00e9\r\n".encode(), 250, ("caf\u00e9",), None),
    ],
    ids=lambda value: repr(value)[:30],
)
def test_reply_framing(
    data: bytes, code: int, lines: tuple[str, ...], enhanced: str | None
) -> None:
    conn = connection_in(S.READY)
    reply = reply_of(conn, data)
    assert reply.code == code
    assert reply.lines == tuple(lines)
    assert (str(reply.enhanced) if reply.enhanced else None) == enhanced
    assert reply.raw == data
    assert conn.next_event() is NEED_DATA


@pytest.mark.parametrize("data", ALL_REPLIES, ids=lambda d: d[:12].decode())
def test_reply_split_at_every_byte_is_the_same_reply(data: bytes) -> None:
    whole = reply_of(SmtpConnection(), data)
    conn = SmtpConnection()
    events_seen: list[Reply | ConnectionClosed] = []
    for i in range(len(data)):
        conn.receive_data(data[i : i + 1])
        events_seen += drain(conn)
        if i < len(data) - 1:
            assert events_seen == []
    assert events_seen == [whole]
    for cut in range(1, len(data)):
        conn = SmtpConnection()
        conn.receive_data(data[:cut])
        first = drain(conn)
        conn.receive_data(data[cut:])
        assert first + drain(conn) == [whole]


@pytest.mark.parametrize(
    ("ehlo", "expected"),
    [
        (
            S250_EHLO_LAB,
            {
                "PIPELINING": "",
                "SIZE": "10485760",
                "8BITMIME": "",
                "SMTPUTF8": "",
                "STARTTLS": "",
                "AUTH": "LOGIN PLAIN",
                "ENHANCEDSTATUSCODES": "",
                "HELP": "",
            },
        ),
        (
            S250_EHLO_POSTFIX,
            {"VRFY": "", "ETRN": "", "DSN": "", "CHUNKING": "", "SIZE": "10240000"},
        ),
        (
            S250_EHLO_EXCHANGE,
            {"X-EXPS": "GSSAPI NTLM", "XEXCH50": "", "AUTH=LOGIN": "", "X-LINK2STATE": ""},
        ),
    ],
    ids=["lab", "postfix", "exchange"],
)
def test_ehlo_reply_becomes_extensions(ehlo: bytes, expected: dict[str, str]) -> None:
    conn = connection_in(S.READY, ehlo)
    assert expected.items() <= conn.extensions.items()
    assert len(conn.extensions) == ehlo.count(b"\n") - 1


def test_pipelined_replies_in_one_chunk_are_matched_in_order() -> None:
    conn = connection_in(S.READY)
    for line in ("MAIL FROM:<a@lab.test>", "RCPT TO:<b@lab.test>", "RCPT TO:<x@lab.test>", "DATA"):
        conn.send(line)
    assert conn.pending == ("MAIL", "RCPT", "RCPT", "DATA")
    conn.receive_data(S250_SENDER_OK + S250_RECIPIENT_OK + S550_NO_USER + S354_START_INPUT)
    seen = []
    for _ in range(4):
        reply = conn.next_event()
        assert isinstance(reply, Reply)
        seen.append((reply.command, reply.code, conn.state))
    assert seen == [
        ("MAIL", 250, S.MAIL),
        ("RCPT", 250, S.RCPT),
        ("RCPT", 550, S.RCPT),
        ("DATA", 354, S.DATA),
    ]
    assert conn.pending == ()
    assert conn.mode == "text"


# --- the seed walkthroughs (/work/shared/seeds) -------------------------------------------------

SEED_EXCHANGE = [
    (None, S220_EXCHANGE_GREETING, S.GREETED),
    ("HELO mycomputer.mydomain.com", b"250 mail.mydomain.com Hello []\r\n", S.READY),
    ("MAIL FROM: me@mydomain.com", b"250 2.1.0 me@mydomain.com....Sender OK\r\n", S.MAIL),
    ("RCPT TO: you@yourdomain.com", b"250 2.1.5 you@yourdomain.com\r\n", S.RCPT),
    ("DATA", S354_START_INPUT, S.DATA),
    ("Subject: test", None, S.DATA),
    ("", None, S.DATA),
    ("Message Body", None, S.DATA),
    (
        ".",
        b"250 2.6.0 <MAILc1WGfLOG9ep40000031a@mail.mydomain.com> Queued mail for delivery\r\n",
        S.READY,
    ),
    ("QUIT", b"221 2.0.0 mail.mydomain.com Service closing transmission channel\r\n", S.CLOSED),
]

SEED_MDAEMON = [
    (None, S220_MDAEMON_GREETING, S.GREETED),
    (
        "HELO local.domain.name",
        b"250 mail.domain.ext Hello local.domain.name [a.b.c.d], pleased to meet you\r\n",
        S.READY,
    ),
    ("MAIL FROM: mail@domain.ext", b"250 2.1.0 mail@domain.ext... Sender ok\r\n", S.MAIL),
    (
        "RCPT TO: mail@destinationdomain.ext",
        b"250 2.1.0 mail@destinationdomain.ext... Recipient ok\r\n",
        S.RCPT,
    ),
    ("DATA", S354_START_INPUT, S.DATA),
    ("From: Your Name", None, S.DATA),
    ("To: Their name", None, S.DATA),
    ("CC: Someone else", None, S.DATA),
    ("Subject: Your subject.", None, S.DATA),
    ("", None, S.DATA),
    ("Hello, this is the body.", None, S.DATA),
    (".", b"250 2.0.0 OK Message saved for delivery\r\n", S.READY),
    ("QUIT", b"221 2.0.0 mail.domain.ext closing connection\r\n", S.CLOSED),
]


@pytest.mark.parametrize("steps", [SEED_EXCHANGE, SEED_MDAEMON], ids=["exchange", "mdaemon"])
def test_seed_walkthrough(steps: list[tuple[str | None, bytes | None, SmtpState]]) -> None:
    conn = SmtpConnection()
    wire = b""
    for line, data, state in steps:
        if line is not None:
            wire += conn.send(line)
        if data is not None:
            reply = reply_of(conn, data)
            assert reply.raw == data
        assert conn.state is state, (line, conn.state)
    assert b"Subject: " in wire
    assert wire.endswith(b".\r\nQUIT\r\n")
    conn.receive_data(b"")
    closed = conn.next_event()
    assert isinstance(closed, ConnectionClosed)
    assert "221" in closed.reason
    assert conn.next_event() == closed


# --- TRANSITIONS: every entry --------------------------------------------------------------------

LINES = {
    "EHLO": "EHLO c",
    "HELO": "HELO c",
    "MAIL": "MAIL FROM:<a@lab.test>",
    "RCPT": "RCPT TO:<b@lab.test>",
    "VRFY": "VRFY bob",
    "EXPN": "EXPN team",
    "HELP": "HELP",
    "AUTH": "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    "ETRN": "ETRN lab.test",
    "BDAT": "BDAT 0",
    "BDAT LAST": "BDAT 0 LAST",
}
POSITIVE = {
    CONNECT: S220_GREETING,
    "DATA": S354_START_INPUT,
    "STARTTLS": S220_TLS_READY,
    "QUIT": S221_BYE,
    "AUTH": S235_AUTH_OK,
}
EVERY_TRANSITION = [
    (state, verb, target) for state, row in TRANSITIONS.items() for verb, target in row.items()
]


def start(state: SmtpState, verb: str) -> SmtpConnection:
    """A connection in `state` that has just sent `verb` (the greeting needs no sending)."""
    if verb == CONNECT:
        return SmtpConnection()
    conn = connection_in(state, S250_EHLO_POSTFIX)
    if state is S.CONNECTED:
        reply_of(conn, S554_NO_SERVICE)  # a refusing greeting: only QUIT is left
    conn.send(LINES.get(verb, verb))
    assert conn.pending[-1] == verb
    return conn


@pytest.mark.parametrize(("state", "verb", "target"), EVERY_TRANSITION, ids=str)
def test_every_transition_on_a_positive_reply(
    state: SmtpState, verb: str, target: SmtpState
) -> None:
    conn = start(state, verb)
    reply_of(conn, POSITIVE.get(verb, S250_OK))
    assert conn.state is target
    assert conn.pending == ()


@pytest.mark.parametrize(("state", "verb", "target"), EVERY_TRANSITION, ids=str)
def test_a_negative_reply_keeps_the_state_except_after_the_data(
    state: SmtpState, verb: str, target: SmtpState
) -> None:
    conn = start(state, verb)
    reply_of(conn, S554_FAILED)
    assert conn.state is (target if verb in ENDS_EITHER_WAY else state)
    assert conn.pending == ()


def test_every_state_but_closed_has_a_way_out() -> None:
    assert set(TRANSITIONS) == set(SmtpState)
    for state, row in TRANSITIONS.items():
        assert bool(row) == (state is not S.CLOSED)


def test_a_554_greeting_leaves_only_quit() -> None:
    conn = SmtpConnection()
    reply_of(conn, S554_NO_SERVICE)
    assert conn.state is S.CONNECTED
    assert conn.expected() == ("QUIT",)
    assert "QUIT" in (conn.warning("EHLO c") or "")


def test_a_server_accepting_mail_without_ehlo_is_followed() -> None:
    conn = connection_in(S.GREETED)
    assert "EHLO" in (conn.warning("MAIL FROM:<a@b>") or "")
    conn.send("MAIL FROM:<a@b>")
    reply_of(conn, S250_SENDER_OK)
    assert conn.state is S.MAIL


def test_an_unsolicited_reply_is_returned_and_changes_nothing() -> None:
    conn = connection_in(S.READY)
    reply = reply_of(conn, S250_OK)
    assert reply.command is None
    assert conn.state is S.READY


def test_commands_sent_after_data_before_354_became_message_text() -> None:
    conn = connection_in(S.RCPT)
    conn.send("DATA")
    assert conn.expected() == ()
    assert "354" in (conn.warning("Subject: hi") or "")
    conn.send("Subject: hi")
    assert conn.pending == ("DATA", "SUBJECT:")
    reply_of(conn, S354_START_INPUT)
    assert conn.pending == ()
    assert conn.mode == "text"


# --- 421, EOF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [S.CONNECTED, S.GREETED, S.READY, S.MAIL, S.RCPT, S.DATA])
def test_421_closes_from_any_state(state: SmtpState) -> None:
    conn = connection_in(state)
    if state is not S.CONNECTED:
        conn.send("NOOP" if state is not S.DATA else ".")
    reply_of(conn, S421_SHUTDOWN)
    assert conn.state is S.CLOSED
    assert conn.pending == ()
    with pytest.raises(LocalProtocolError, match="421"):
        conn.send("QUIT")
    conn.receive_data(b"")
    closed = conn.next_event()
    assert isinstance(closed, ConnectionClosed)
    assert "421" in closed.reason


@pytest.mark.parametrize("cut", [b"250-PIPELINING\r\n", b"250 OK", b"250-a\r\n250-b"])
def test_eof_in_the_middle_of_a_reply_says_it_was_cut(cut: bytes) -> None:
    conn = connection_in(S.GREETED)
    conn.send("EHLO c")
    conn.receive_data(cut)
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    closed = conn.next_event()
    assert isinstance(closed, ConnectionClosed)
    assert "reply was cut" in closed.reason
    assert conn.state is S.CLOSED
    assert conn.pending == ()


def test_eof_with_commands_pending_names_them() -> None:
    conn = connection_in(S.READY)
    conn.send("MAIL FROM:<a@b>")
    conn.send("RCPT TO:<c@d>")
    conn.receive_data(S250_OK)
    conn.receive_data(b"")
    events_seen = drain(conn)
    assert isinstance(events_seen[-1], ConnectionClosed)
    assert "without answering RCPT" in events_seen[-1].reason


def test_eof_before_the_greeting() -> None:
    conn = SmtpConnection()
    conn.receive_data(b"")
    closed = conn.next_event()
    assert isinstance(closed, ConnectionClosed)
    assert "greeting" in closed.reason


def test_data_after_eof_is_a_caller_bug() -> None:
    conn = SmtpConnection()
    conn.receive_data(b"")
    conn.receive_data(b"")
    with pytest.raises(RuntimeError):
        conn.receive_data(S220_GREETING)


# --- the server breaking the protocol ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n", "HTTP/1.1 400"),
        (b"+OK POP3 server ready\r\n", "POP3"),
        (b"* OK IMAP4rev1 ready\r\n", "IMAP"),
        (b"\x16\x03\x01\x02\x00\x01\r\n", "TLS"),
        (b"2500 too many digits\r\n", "2500"),
        (b"25\r\n", "25"),
        (b"600 no such class\r\n", "600"),
        (b"150 preliminary\r\n", "150"),
        (b"250_x\r\n", "250_x"),
        (b"250-first\r\n251 second\r\n", "began with code 250"),
        (b"x" * 200 + b"\r\n", "x" * 80),
    ],
    ids=lambda value: repr(value)[:20],
)
def test_garbage_is_a_remote_protocol_error(data: bytes, words: str) -> None:
    conn = connection_in(S.GREETED)
    conn.send("EHLO c")
    conn.receive_data(data)
    with pytest.raises(RemoteProtocolError) as raised:
        drain(conn)
    message = str(raised.value)
    assert words in message
    assert "EHLO" in message and "GREETED" in message
    assert "x" * 81 not in message  # quoted, truncated to 80
    assert conn.state is S.CLOSED
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send("QUIT")


def test_a_server_streaming_10_mb_without_line_end_fails_fast_with_bounded_memory() -> None:
    conn = connection_in(S.READY)
    chunk = b"2" * 4096
    fed = 0
    with pytest.raises(RemoteProtocolError, match="65536"):
        while fed < 10_000_000:
            conn.receive_data(chunk)
            fed += len(chunk)
            assert conn.buffered <= MAX_REPLY_LINE + len(chunk)
            assert conn.next_event() is NEED_DATA
    assert fed <= MAX_REPLY_LINE + len(chunk)


def test_complete_lines_before_an_over_long_one_are_still_returned() -> None:
    conn = connection_in(S.READY)
    conn.send("NOOP")
    conn.receive_data(S250_OK + b"250-" + b"y" * (MAX_REPLY_LINE + 10))
    assert conn.buffered < MAX_REPLY_LINE + 100
    assert isinstance(conn.next_event(), Reply)
    with pytest.raises(RemoteProtocolError, match="without a line end"):
        conn.next_event()


def test_an_over_long_line_with_its_line_end_is_refused_too() -> None:
    conn = connection_in(S.READY)
    conn.receive_data(b"250 " + b"z" * MAX_REPLY_LINE + b"\r\n")
    with pytest.raises(RemoteProtocolError, match="longer than 65536"):
        conn.next_event()


def test_a_reply_over_max_reply_size_is_refused() -> None:
    conn = SmtpConnection(max_reply_size=100)
    conn.receive_data(b"220-greeting\r\n" * 10)
    with pytest.raises(RemoteProtocolError, match="max_reply_size"):
        drain(conn)


# --- sending: refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("NOOP\r\nQUIT", "CR"),
        ("MAIL FROM:<a@b>\nRCPT TO:<c@d>", "LF"),
        ("NOOP\r", "CR"),
        ("\nNOOP", "LF"),
    ],
)
def test_cr_or_lf_inside_a_line_is_refused(line: str, name: str) -> None:
    conn = connection_in(S.READY)
    with pytest.raises(LocalProtocolError, match=f"contains a {name}") as raised:
        conn.send(line)
    assert "READY" in str(raised.value)
    assert conn.pending == ()


@pytest.mark.parametrize(
    ("state", "line", "limit", "rule"),
    [
        (S.READY, "VRFY " + "a" * (MAX_COMMAND_LINE - 6), 512, "RFC 5321 4.5.3.1.4"),
        (S.READY, "VRFY " + "\u00e9" * 253, 512, "RFC 5321 4.5.3.1.4"),
        (S.DATA, "b" * (MAX_TEXT_LINE - 1), 1000, "RFC 5321 4.5.3.1.6"),
    ],
    ids=["command", "command-utf8", "text"],
)
def test_over_long_lines_are_refused_naming_the_limit(
    state: SmtpState, line: str, limit: int, rule: str
) -> None:
    conn = connection_in(state)
    with pytest.raises(LocalProtocolError) as raised:
        conn.send(line)
    message = str(raised.value)
    assert f"{limit}-octet" in message and rule in message
    assert conn.pending == ()
    conn.send(line[:-1])  # one octet (or character) less fits


def test_lines_exactly_at_the_limits_are_sent() -> None:
    conn = connection_in(S.READY)
    assert len(conn.send("VRFY " + "a" * (MAX_COMMAND_LINE - 7))) == MAX_COMMAND_LINE
    data = connection_in(S.DATA)
    assert len(data.send("b" * (MAX_TEXT_LINE - 2))) == MAX_TEXT_LINE


def test_nothing_is_refused_for_being_out_of_order_or_unknown() -> None:
    conn = connection_in(S.GREETED)
    for line in ("RCPT TO:<a@b>", "DATA", "XYZZY", "", "TURN", "BDAT 0 LAST"):
        conn.send(line)
    assert conn.pending == ("RCPT", "DATA", "XYZZY", "", "TURN", "BDAT LAST")


# --- DATA mode and dot-stuffing -----------------------------------------------------------------


def test_raw_data_lines_go_as_typed_and_a_lone_dot_ends_them() -> None:
    conn = connection_in(S.DATA)
    assert conn.send("..leading dot kept as typed") == b"..leading dot kept as typed\r\n"
    assert conn.send(".x") == b".x\r\n"
    assert conn.pending == ()
    assert conn.send(".") == b".\r\n"
    assert conn.pending == (END_OF_DATA,)
    assert conn.mode == "command"
    conn.send("QUIT")  # pipelined after the end of data
    reply_of(conn, S250_QUEUED)
    assert conn.state is S.READY
    reply_of(conn, S221_BYE)
    assert conn.state is S.CLOSED


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (b"Subject: t\n\nbody", b"Subject: t\r\n\r\nbody\r\n.\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b".x\r\n..y\n", b"..x\r\n...y\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b"", b".\r\n"),
        (b"\n", b"\r\n.\r\n"),
        (b"a\rb\r\n\r\n", b"a\r\nb\r\n\r\n.\r\n"),
        (b"x.\n.\n", b"x.\r\n..\r\n.\r\n"),
        ("caf\u00e9\n".encode(), "caf\u00e9\r\n.\r\n".encode()),
    ],
)
def test_send_message_dot_stuffs_and_normalises_line_ends(message: bytes, wire: bytes) -> None:
    conn = connection_in(S.DATA)
    assert conn.send_message(message) == wire
    assert conn.pending == (END_OF_DATA,)
    reply_of(conn, S250_QUEUED)
    assert conn.state is S.READY


def test_send_message_outside_data_is_refused() -> None:
    conn = connection_in(S.RCPT)
    conn.send("DATA")  # not yet answered
    with pytest.raises(LocalProtocolError, match="354"):
        conn.send_message(b"hi")


def test_send_message_refuses_an_over_long_line() -> None:
    conn = connection_in(S.DATA)
    with pytest.raises(LocalProtocolError, match=r"line 2 of the message.*1000-octet"):
        conn.send_message(b"ok\n" + b"x" * 999 + b"\n")
    assert conn.pending == ()


def _after_interrupts(send: Callable[[SmtpConnection], bytes], state: SmtpState) -> list[bool]:
    """Interrupt ``send`` at every point in turn; for each, whether the connection had changed
    (``pending``, ``mode``) by the time the interrupt came."""
    changed: list[bool] = []

    def attempt(n: int) -> bool:
        conn = connection_in(state, S250_EHLO_POSTFIX)
        before = (conn.pending, conn.mode)
        with Interrupter(n, PROTOCOL) as interrupter, contextlib.suppress(KeyboardInterrupt):
            send(conn)
        changed.append((conn.pending, conn.mode) != before)
        return interrupter.fired

    every_point(attempt)
    return changed[:-1]  # the last attempt ran to the end


@pytest.mark.parametrize(
    ("send", "state"),
    [
        (lambda conn: conn.send_message(b"Subject: t\n\n" + b".line\n" * 40), S.DATA),
        (lambda conn: conn.send_chunk(b"Subject: t\r\n\r\nbody\r\n", last=True), S.RCPT),
        (lambda conn: conn.send("RCPT TO:<b@x.test>"), S.RCPT),
    ],
    ids=["send_message", "send_chunk", "send"],
)
def test_the_bytes_are_built_before_the_state_changes(
    send: Callable[[SmtpConnection], bytes], state: SmtpState
) -> None:
    # Ctrl-C while a 30 MB message is dot-stuffed must not leave "." awaiting a reply for bytes
    # that were never made: the state changes only at the very end, after the bytes exist.
    changed = _after_interrupts(send, state)
    first = changed.index(True) if True in changed else len(changed)
    assert all(changed[first:]), "the state changed back and forth"
    assert first > 20 and len(changed) - first <= 10  # only the few points that record it


def test_a_rejected_message_still_ends_the_transaction() -> None:
    conn = connection_in(S.DATA)
    conn.send_message(b"spam")
    reply_of(conn, b"554 5.7.1 Message rejected as spam\r\n")
    assert conn.state is S.READY


def test_bdat_chunks() -> None:
    conn = connection_in(S.RCPT, S250_EHLO_POSTFIX)
    assert conn.send_chunk(b"Subject: a\r\n\r\n") == b"BDAT 14\r\nSubject: a\r\n\r\n"
    reply_of(conn, S250_OK)
    assert conn.state is S.RCPT
    conn.send("BDAT 7 LAST")
    assert conn.mode == "chunk"
    assert conn.warning("Hello!") is not None  # 8 octets with CRLF, 7 announced
    assert conn.warning("Hello") is None
    assert conn.send("Hello") == b"Hello\r\n"
    assert conn.mode == "command"
    reply_of(conn, S250_QUEUED)
    assert conn.state is S.READY


# --- AUTH, STARTTLS, HELO ------------------------------------------------------------------------


def test_auth_login_continuations_keep_the_auth_pending() -> None:
    conn = connection_in(S.READY)
    conn.send("AUTH LOGIN")
    for challenge in (S334_USERNAME, S334_PASSWORD):
        reply = reply_of(conn, challenge)
        assert reply.code == 334
        assert reply.command == "AUTH"
        assert conn.pending == ("AUTH",)
        assert conn.mode == "sasl"
        assert conn.mask("YWxpY2U=") == "***"
        long_response = "QUFB" * 1000  # SASL responses are exempt from the 512 limit
        assert conn.send(long_response) == long_response.encode() + b"\r\n"
        assert conn.pending == ("AUTH",)
    reply_of(conn, S235_AUTH_OK)
    assert conn.pending == ()
    assert conn.state is S.READY
    assert "AUTH" not in conn.expected()
    assert "503" in (conn.warning("AUTH PLAIN") or "")


def test_auth_plain_with_initial_response_and_a_failure() -> None:
    conn = connection_in(S.READY)
    assert conn.mask("AUTH PLAIN AGFsaWNlAHdyb25n") == "AUTH PLAIN ***"
    conn.send("AUTH PLAIN AGFsaWNlAHdyb25n")
    reply = reply_of(conn, b"535 5.7.8 Authentication credentials invalid\r\n")
    assert reply.is_permanent
    assert conn.state is S.READY
    assert conn.mode == "command"


def test_auth_cancelled_with_a_star() -> None:
    conn = connection_in(S.READY)
    conn.send("AUTH LOGIN")
    reply_of(conn, S334_USERNAME)
    assert conn.warning("not base64!") is not None
    assert conn.warning("*") is None
    conn.send("*")
    reply_of(conn, S501_AUTH_CANCELLED)
    assert conn.pending == ()
    assert conn.state is S.READY


def test_starttls_forgets_extensions_and_wants_ehlo_again() -> None:
    conn = connection_in(S.READY)
    conn.send("STARTTLS")
    reply_of(conn, S220_TLS_READY)
    assert conn.state is S.GREETED
    assert conn.extensions == {}
    assert "EHLO" in (conn.warning("MAIL FROM:<a@b>") or "")
    conn.send("EHLO c")
    reply_of(conn, S250_EHLO_LAB)
    assert conn.state is S.READY and "AUTH" in conn.extensions


def test_starttls_refused_keeps_everything() -> None:
    conn = connection_in(S.READY)
    conn.send("STARTTLS")
    reply_of(conn, S454_TLS_UNAVAILABLE)
    assert conn.state is S.READY and "STARTTLS" in conn.extensions


def test_helo_clears_extensions() -> None:
    conn = connection_in(S.READY)
    conn.send("HELO c")
    reply_of(conn, S250_HELO)
    assert conn.extensions == {}
    assert "no EHLO yet" in (conn.warning("STARTTLS") or "")


# --- warning() and expected() --------------------------------------------------------------------

WARNINGS = [
    (S.CONNECTED, "EHLO c", "220 greeting"),
    (S.GREETED, "MAIL FROM:<a@b>", "first send EHLO <your-host-name>"),
    (S.GREETED, "STARTTLS", "first send EHLO"),
    (S.READY, "RCPT TO:<a@b>", "first send MAIL FROM:<address>"),
    (S.READY, "DATA", "MAIL FROM:<address>, then RCPT TO:<address>"),
    (S.MAIL, "MAIL FROM:<a@b>", "first send RSET"),
    (S.MAIL, "DATA", "first send RCPT TO:<address>"),
    (S.MAIL, "AUTH PLAIN", "first send RSET"),
    (S.READY, "XYZZY", "not an SMTP command"),
    (S.READY, "", "empty line"),
    (S.READY, "TURN", "obsolete"),
    (S.READY, "ETRN lab.test", "ETRN extension"),
    (S.READY, "AUTH CRAM-MD5", "not CRAM-MD5"),
    (S.READY, "AUTH", "needs a mechanism"),
    (S.READY, "EHLO", "host name"),
    (S.READY, "MAIL FROM: me@mydomain.com", "angle brackets"),
    (S.MAIL, "RCPT TO: you@yourdomain.com", "angle brackets"),
    (S.DATA, ".hidden", "drop that dot"),
    (S.DATA, "caf\u00e9", None),  # the lab server advertises 8BITMIME
]
FINE = [
    (S.GREETED, "EHLO c"),
    (S.GREETED, "NOOP"),
    (S.GREETED, "RSET"),
    (S.READY, "MAIL FROM:<a@b>"),
    (S.READY, "MAIL FROM:<>"),
    (S.READY, "AUTH plain"),
    (S.READY, "STARTTLS"),
    (S.MAIL, "RCPT TO:<b@c> NOTIFY=NEVER"),
    (S.RCPT, "DATA"),
    (S.RCPT, "QUIT"),
    (S.DATA, "Subject: hi"),
    (S.DATA, "."),
    (S.DATA, ""),
]


@pytest.mark.parametrize(("state", "line", "words"), WARNINGS, ids=str)
def test_warnings(state: SmtpState, line: str, words: str | None) -> None:
    warning = connection_in(state).warning(line)
    if words is None:
        assert warning is None
    else:
        assert warning is not None and words in warning
        assert "\n" not in warning


@pytest.mark.parametrize(("state", "line"), FINE, ids=str)
def test_no_warning_when_fine(state: SmtpState, line: str) -> None:
    assert connection_in(state).warning(line) is None


def test_8bit_text_without_8bitmime_is_warned_about() -> None:
    conn = connection_in(S.RCPT, S250_EHLO_LAB.replace(b"250-8BITMIME\r\n", b""))
    conn.send("DATA")
    reply_of(conn, S354_START_INPUT)
    assert "8BITMIME" in (conn.warning("caf\u00e9") or "")


def test_warnings_see_pipelined_commands_as_accepted() -> None:
    conn = connection_in(S.READY)
    conn.send("MAIL FROM:<a@b>")
    assert conn.warning("RCPT TO:<c@d>") is None
    assert conn.expected()[0] == "RCPT"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (S.CONNECTED, ()),
        (S.GREETED, ("EHLO", "HELO", "RSET", "NOOP", "HELP", "VRFY", "EXPN", "QUIT")),
        (
            S.READY,
            (
                "MAIL",
                "EHLO",
                "HELO",
                "AUTH",
                "STARTTLS",
                "RSET",
                "NOOP",
                "HELP",
                "VRFY",
                "EXPN",
                "QUIT",
            ),
        ),
        (S.MAIL, ("RCPT", "RSET", "EHLO", "HELO", "NOOP", "HELP", "VRFY", "EXPN", "QUIT")),
        (
            S.RCPT,
            ("RCPT", "DATA", "RSET", "EHLO", "HELO", "NOOP", "HELP", "VRFY", "EXPN", "QUIT"),
        ),
        (S.DATA, (".",)),
    ],
)
def test_expected(state: SmtpState, expected: tuple[str, ...]) -> None:
    assert connection_in(state).expected() == expected


def test_expected_follows_the_extensions() -> None:
    postfix = connection_in(S.READY, S250_EHLO_POSTFIX).expected()
    assert "ETRN" in postfix and "STARTTLS" in postfix and "AUTH" not in postfix
    rcpt = connection_in(S.RCPT, S250_EHLO_POSTFIX).expected()
    assert "BDAT" in rcpt
    assert connection_in(S.RCPT).expected().count("BDAT") == 0


def test_expected_is_empty_when_closed_or_in_sasl() -> None:
    conn = connection_in(S.READY)
    conn.send("AUTH LOGIN")
    assert conn.expected() == ()
    conn.send("QUIT")  # a SASL response here, not a command
    reply_of(conn, S501_AUTH_CANCELLED)
    conn.send("QUIT")
    reply_of(conn, S221_BYE)
    assert conn.expected() == ()
    assert "closed" in (conn.warning("NOOP") or "")


# --- values --------------------------------------------------------------------------------------


def test_reply_properties_and_explain() -> None:
    reply = reply_of(connection_in(S.MAIL), S550_GMAIL_NO_USER)
    assert reply.text.splitlines()[1].startswith("5.1.1 https://")
    assert (reply.klass, reply.is_permanent, reply.is_positive) == (5, True, False)
    explained = reply.explain()
    assert "550" in explained and "RFC 5321" in explained
    assert "5.1.1" in explained and "bad destination mailbox address" in explained
    assert "RFC 3463" in explained
    assert str(reply).startswith("550-5.1.1")
    ok = Reply(354, ("go",))
    assert ok.is_intermediate and not ok.is_transient
    assert Reply(451, ("x",)).is_transient
    assert "354" in ok.explain()


@pytest.mark.parametrize(
    ("text", "code", "parsed"),
    [
        ("2.1.5 Ok", 250, (2, 1, 5)),
        ("4.7.1 Greylisted", 451, (4, 7, 1)),
        ("5.7.26 Unauthenticated email", 550, (5, 7, 26)),
        ("5.123.456", 554, (5, 123, 456)),
        ("5.1.1 wrong class", 250, None),
        ("3.0.0 no class 3", 354, None),
        ("5.1000.1 too many digits", 550, None),
        ("5.1.1x", 550, None),
        ("Ok 2.1.5", 250, None),
    ],
)
def test_enhanced_code_parse(text: str, code: int, parsed: tuple[int, int, int] | None) -> None:
    found = EnhancedCode.parse(text, code)
    assert (None if found is None else (found.klass, found.subject, found.detail)) == parsed
    if found is not None:
        assert str(found) == ".".join(map(str, parsed or ()))
        assert len(found.explain()) == 3


def test_events_are_shared_with_pop3() -> None:
    assert NEED_DATA is pop3.NEED_DATA is events.NEED_DATA
    assert ConnectionClosed is pop3.ConnectionClosed
    assert repr(NEED_DATA) == "NEED_DATA"


# --- property: any server bytes ------------------------------------------------------------------

COMMANDS = ["EHLO c", "MAIL FROM:<a@b>", "DATA", "AUTH LOGIN", "QUIT", "BDAT 3", "NOOP"]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.one_of(st.binary(max_size=200), st.sampled_from(ALL_REPLIES)), max_size=12),
    cuts=st.lists(st.integers(min_value=1, max_value=300), max_size=20),
    commands=st.lists(st.sampled_from(COMMANDS), max_size=4),
    eof=st.booleans(),
)
def test_any_server_bytes_parse_or_raise_remote_protocol_error(
    pieces: list[bytes], cuts: list[int], commands: list[str], eof: bool
) -> None:
    conn = SmtpConnection()
    for line in commands:
        conn.send(line)
    chunks = streams.cut(b"".join(pieces), cuts)
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
            drain(conn)
            assert conn.buffered <= MAX_REPLY_LINE + len(chunk)
            if conn.state is not S.CLOSED and conn.mode == "command":
                conn.warning("NOOP")
                conn.expected()
        if eof:
            conn.receive_data(b"")
            assert isinstance(drain(conn)[-1], ConnectionClosed)
            assert conn.state is S.CLOSED
    except RemoteProtocolError:
        assert conn.state is S.CLOSED
