# What this module does: tests mailmagic/protocol/pop3.py without sockets: status lines and
# response codes, which replies are multi-line (LIST/UIDL with and without an argument, RETR, TOP,
# CAPA, bare AUTH; never -ERR), dot-unstuffing with a byte-exact body, the seed telnet session,
# every entry of TRANSITIONS, AUTH continuations, APOP timestamps, STLS, refusals (CR/LF, the
# 255-octet limit), EOF and server errors, warnings and expected(), and a hypothesis property:
# any server bytes either parse or raise RemoteProtocolError, with bounded buffering.
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailmagic.protocol.errors import LocalProtocolError, RemoteProtocolError
from mailmagic.protocol.pop3 import (
    CONNECT,
    ENDS_EITHER_WAY,
    MAX_COMMAND_LINE,
    MAX_REPLY_LINE,
    NEED_DATA,
    TRANSITIONS,
    ConnectionClosed,
    Continuation,
    Pop3Connection,
    Pop3Reply,
    Pop3State,
    RespCode,
)
from mailmagic.protocol.pop3_rules import ENDED
from tests.protocol import streams

P = Pop3State

# --- replies, named ----------------------------------------------------------------------------

P_GREETING = b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"
P_GREETING_PLAIN = b"+OK Hello there.\r\n"
P_OK = b"+OK\r\n"
P_USER_OK = b"+OK Password required.\r\n"
P_PASS_OK = b"+OK User successfully logged on.\r\n"
P_QUIT_EXCHANGE = (
    b"+OK Microsoft Exchange Server 2003 POP3 server version 6.5.6944.0 signing off.\r\n"
)
P_QUIT_OK = b"+OK dewey POP3 server signing off (maildrop empty)\r\n"
P_STAT = b"+OK 2 320\r\n"
P_LIST_ALL = b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"
P_LIST_ONE = b"+OK 2 200\r\n"
P_UIDL_ALL = b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n"
P_UIDL_ONE = b"+OK 2 QhdPYR:00WBw1Ph7x7\r\n"
P_RETR = b"+OK 120 octets\r\nSubject: hi\r\n\r\n..leading dot\r\n...\r\n..\r\nlast line\r\n.\r\n"
P_RETR_BODY = b"Subject: hi\r\n\r\n.leading dot\r\n..\r\n.\r\nlast line\r\n"
P_TOP = b"+OK top of message follows\r\nSubject: hi\r\n\r\nfirst body line\r\n.\r\n"
P_RETR_LF_ONLY = b"+OK\nline one\n..two\n.\n"
P_CAPA = (
    b"+OK Capability list follows\r\n"
    b"TOP\r\n"
    b"USER\r\n"
    b"SASL PLAIN LOGIN\r\n"
    b"RESP-CODES\r\n"
    b"AUTH-RESP-CODE\r\n"
    b"PIPELINING\r\n"
    b"UIDL\r\n"
    b"STLS\r\n"
    b"LOGIN-DELAY 900\r\n"
    b"IMPLEMENTATION mailmagic-lab\r\n"
    b".\r\n"
)
P_CAPA_NO_USER = b"+OK\r\nSASL PLAIN\r\nSTLS\r\n.\r\n"
P_AUTH_LIST = b"+OK SASL mechanisms follow\r\nPLAIN\r\n.\r\n"
P_CONTINUE = b"+ \r\n"
P_CONTINUE_USERNAME = b"+ VXNlcm5hbWU6\r\n"
P_AUTH_OK = b"+OK Logged in.\r\n"
P_STLS_OK = b"+OK Begin TLS negotiation\r\n"
P_ERR = b"-ERR no such message\r\n"
P_ERR_IN_USE = b"-ERR [IN-USE] Mailbox locked by another session\r\n"
P_ERR_LOGIN_DELAY = b"-ERR [LOGIN-DELAY] wait 15 minutes between logins\r\n"
P_ERR_AUTH = b"-ERR [AUTH] invalid user name or password\r\n"
P_ERR_SYS_TEMP = b"-ERR [SYS/TEMP] try again later\r\n"
P_ERR_SYS_PERM = b"-ERR [SYS/PERM] mailbox damaged\r\n"
P_ERR_UTF8 = b"-ERR [UTF8] send UTF8 first\r\n"

ALL_REPLIES = [
    P_GREETING,
    P_OK,
    P_USER_OK,
    P_STAT,
    P_LIST_ALL,
    P_LIST_ONE,
    P_UIDL_ALL,
    P_RETR,
    P_TOP,
    P_CAPA,
    P_AUTH_LIST,
    P_CONTINUE,
    P_ERR_IN_USE,
    P_ERR_SYS_TEMP,
    P_QUIT_OK,
]


# --- helpers -------------------------------------------------------------------------------------


def drain(conn: Pop3Connection) -> list[Pop3Reply | Continuation | ConnectionClosed]:
    found: list[Pop3Reply | Continuation | ConnectionClosed] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return found
        found.append(event)
        if isinstance(event, ConnectionClosed):
            return found


def event_of(conn: Pop3Connection, data: bytes) -> Pop3Reply | Continuation:
    conn.receive_data(data)
    event = conn.next_event()
    assert isinstance(event, (Pop3Reply, Continuation)), event
    return event


def reply_of(conn: Pop3Connection, data: bytes) -> Pop3Reply:
    reply = event_of(conn, data)
    assert isinstance(reply, Pop3Reply)
    return reply


def connection_in(state: Pop3State, greeting: bytes = P_GREETING) -> Pop3Connection:
    conn = Pop3Connection()
    if state is P.CONNECTED:
        return conn
    reply_of(conn, greeting)
    if state is P.TRANSACTION:
        conn.send("USER alice")
        reply_of(conn, P_USER_OK)
        conn.send("PASS alice-password")
        reply_of(conn, P_PASS_OK)
    assert conn.state is state
    return conn


def exchange(conn: Pop3Connection, line: str, data: bytes) -> Pop3Reply:
    conn.send(line)
    return reply_of(conn, data)


# --- status lines, response codes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "ok", "text", "code"),
    [
        (P_OK, True, "", None),
        (b"+OK \r\n", True, "", None),
        (b"+ok lower case\r\n", True, "lower case", None),
        (b"-err lower case\r\n", False, "lower case", None),
        (b"+OK\n", True, "", None),
        (P_ERR, False, "no such message", None),
        (P_ERR_IN_USE, False, "[IN-USE] Mailbox locked by another session", "IN-USE"),
        (P_ERR_LOGIN_DELAY, False, "[LOGIN-DELAY] wait 15 minutes between logins", "LOGIN-DELAY"),
        (P_ERR_AUTH, False, "[AUTH] invalid user name or password", "AUTH"),
        (P_ERR_SYS_TEMP, False, "[SYS/TEMP] try again later", "SYS/TEMP"),
        (P_ERR_SYS_PERM, False, "[SYS/PERM] mailbox damaged", "SYS/PERM"),
        (P_ERR_UTF8, False, "[UTF8] send UTF8 first", "UTF8"),
        (b"-ERR [X-FOO/BAR/BAZ] vendor\r\n", False, "[X-FOO/BAR/BAZ] vendor", "X-FOO/BAR/BAZ"),
        (b"-ERR [sys/temp]\r\n", False, "[sys/temp]", "SYS/TEMP"),
        (b"-ERR [not a code] x\r\n", False, "[not a code] x", None),
        (b"-ERR [] x\r\n", False, "[] x", None),
        (b"-ERR [SYS//TEMP] x\r\n", False, "[SYS//TEMP] x", None),
    ],
    ids=lambda value: repr(value)[:24],
)
def test_status_lines_and_response_codes(
    data: bytes, ok: bool, text: str, code: str | None
) -> None:
    conn = connection_in(P.TRANSACTION)
    reply = exchange(conn, "NOOP", data)
    assert (reply.ok, reply.text) == (ok, text)
    assert (reply.resp_code.code if reply.resp_code else None) == code
    if reply.resp_code is not None:
        assert reply.resp_code.detail == (text.partition("]")[2].strip() or None)
    assert reply.lines == () and reply.body == b"" and reply.raw == data


def test_every_reply_has_a_code_as_an_smtp_reply_does() -> None:
    conn = connection_in(P.TRANSACTION)
    ok, err = exchange(conn, "NOOP", b"+OK\r\n"), exchange(conn, "NOOP", P_ERR_SYS_TEMP)
    assert (ok.code, err.code) == ("+OK", "-ERR")
    assert str(err).startswith("-ERR [SYS/TEMP]") and err.resp_code is not None
    assert Continuation("", P_CONTINUE).code == "+"


def test_resp_code_parts_and_explain() -> None:
    code = RespCode.parse("[SYS/TEMP] later")
    assert code == RespCode("SYS/TEMP", "later")
    assert code.parts == ("SYS", "TEMP")
    assert "RFC 3206" in code.explain()
    assert "RFC 2449" in (RespCode.parse("[IN-USE]") or RespCode("", None)).explain()
    assert "no RFC" in RespCode("X-SOMETHING", None).explain()


# --- multi-line replies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "data", "lines"),
    [
        ("LIST", P_LIST_ALL, ("1 120", "2 200")),
        ("LIST 2", P_LIST_ONE, ()),
        ("UIDL", P_UIDL_ALL, ("1 whqtswO00WBw418f9t5JxYwZ", "2 QhdPYR:00WBw1Ph7x7")),
        ("UIDL 2", P_UIDL_ONE, ()),
        ("RETR 1", P_RETR, ("Subject: hi", "", ".leading dot", "..", ".", "last line")),
        ("TOP 1 1", P_TOP, ("Subject: hi", "", "first body line")),
        ("STAT", P_STAT, ()),
        ("RETR 1", P_RETR_LF_ONLY, ("line one", ".two")),
        ("RETR 9", P_ERR, ()),
        ("TOP 9 0", P_ERR, ()),
        ("LIST", P_ERR_SYS_TEMP, ()),
        ("CAPA", P_CAPA, tuple(P_CAPA.decode().splitlines()[1:-1])),
        ("list", P_LIST_ALL, ("1 120", "2 200")),
    ],
    ids=lambda value: repr(value)[:20],
)
def test_which_replies_are_multi_line(line: str, data: bytes, lines: tuple[str, ...]) -> None:
    conn = connection_in(P.TRANSACTION)
    conn.send(line)
    conn.send("NOOP")  # pipelined: must answer the next reply, not be swallowed
    reply = reply_of(conn, data + P_OK)
    assert reply.lines == lines
    assert reply.raw == data
    assert reply.command == line.split()[0].upper()
    follow = conn.next_event()
    assert isinstance(follow, Pop3Reply) and follow.command == "NOOP"


def test_retr_body_is_byte_exact_and_dot_unstuffed() -> None:
    conn = connection_in(P.TRANSACTION)
    reply = exchange(conn, "RETR 1", P_RETR)
    assert reply.body == P_RETR_BODY
    assert exchange(conn, "RETR 1", P_RETR_LF_ONLY).body == b"line one\r\n.two\r\n"
    assert "dot-unstuffed" in reply.explain()


def test_non_utf8_body_bytes_are_kept_exactly() -> None:
    conn = connection_in(P.TRANSACTION)
    reply = exchange(conn, "RETR 1", b"+OK\r\ncaf\xe9\r\n.\r\n")
    assert reply.body == b"caf\xe9\r\n"
    assert reply.lines == ("caf\ufffd",)


ANSWERING = {
    P_GREETING: "NOOP",
    P_OK: "NOOP",
    P_USER_OK: "USER a",
    P_STAT: "STAT",
    P_LIST_ALL: "LIST",
    P_LIST_ONE: "LIST 2",
    P_UIDL_ALL: "UIDL",
    P_RETR: "RETR 1",
    P_TOP: "TOP 1 1",
    P_CAPA: "CAPA",
    P_AUTH_LIST: "AUTH",
    P_CONTINUE: "AUTH PLAIN",
    P_ERR_IN_USE: "RETR 1",
    P_ERR_SYS_TEMP: "LIST",
    P_QUIT_OK: "QUIT",
}


def drain_all(conn: Pop3Connection, chunks: list[bytes]) -> list[object]:
    found: list[object] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        found += drain(conn)
    return found


@pytest.mark.parametrize(("data", "line"), ANSWERING.items(), ids=lambda d: repr(d)[:14])
def test_split_at_every_byte_is_the_same_reply(data: bytes, line: str) -> None:
    def fresh() -> Pop3Connection:
        conn = connection_in(P.TRANSACTION)
        conn.send(line)
        return conn

    whole = drain_all(fresh(), [data])
    assert len(whole) == 1
    assert drain_all(fresh(), [data[i : i + 1] for i in range(len(data))]) == whole
    for cut in range(1, len(data)):
        assert drain_all(fresh(), [data[:cut], data[cut:]]) == whole


def test_capa_becomes_capabilities_and_stls_forgets_them() -> None:
    conn = connection_in(P.AUTHORIZATION)
    exchange(conn, "CAPA", P_CAPA)
    assert conn.capabilities["SASL"] == "PLAIN LOGIN"
    assert conn.capabilities["LOGIN-DELAY"] == "900"
    assert conn.capabilities["IMPLEMENTATION"] == "mailmagic-lab"
    assert conn.capabilities["TOP"] == ""
    exchange(conn, "STLS", P_STLS_OK)
    assert conn.state is P.AUTHORIZATION
    assert conn.capabilities == {}


def test_bare_auth_lists_mechanisms_and_does_not_log_in() -> None:
    conn = connection_in(P.AUTHORIZATION)
    conn.send("AUTH")
    assert conn.mode == "command"
    reply = reply_of(conn, P_AUTH_LIST)
    assert reply.lines == ("PLAIN",)
    assert conn.state is P.AUTHORIZATION


# --- AUTH, APOP, login ---------------------------------------------------------------------------


def test_auth_plain_continuation_flow() -> None:
    conn = connection_in(P.AUTHORIZATION)
    conn.send("AUTH PLAIN")
    assert conn.mode == "sasl"
    challenge = event_of(conn, P_CONTINUE)
    assert challenge == Continuation("", P_CONTINUE)
    assert conn.pending == ("AUTH",)
    assert conn.mask("AGFsaWNlAGFsaWNlLXBhc3N3b3Jk") == "***"
    response = "AGFsaWNlAGFsaWNlLXBhc3N3b3Jk" * 20  # longer than 255: allowed (RFC 5034 4)
    assert conn.send(response).endswith(b"\r\n")
    assert conn.pending == ("AUTH",)
    reply = reply_of(conn, P_AUTH_OK)
    assert reply.ok and reply.command == "AUTH"
    assert conn.state is P.TRANSACTION
    assert conn.mode == "command"


def test_auth_login_challenges_decode() -> None:
    conn = connection_in(P.AUTHORIZATION)
    conn.send("AUTH LOGIN")
    challenge = event_of(conn, P_CONTINUE_USERNAME)
    assert isinstance(challenge, Continuation)
    assert challenge.decoded == "Username:"
    assert Continuation("not base64!", b"").decoded is None


def test_auth_cancelled_and_failed() -> None:
    conn = connection_in(P.AUTHORIZATION)
    conn.send("AUTH PLAIN")
    event_of(conn, P_CONTINUE)
    assert conn.warning("*") is None
    assert "not base64" in (conn.warning("no way!") or "")
    conn.send("*")
    reply = reply_of(conn, b"-ERR AUTH cancelled\r\n")
    assert not reply.ok
    assert conn.state is P.AUTHORIZATION
    assert conn.pending == ()
    conn.send("AUTH PLAIN AGFsaWNlAHdyb25n")
    assert reply_of(conn, P_ERR_AUTH).resp_code == RespCode("AUTH", "invalid user name or password")
    assert conn.state is P.AUTHORIZATION


def test_a_plus_line_outside_auth_is_a_protocol_error() -> None:
    conn = connection_in(P.TRANSACTION)
    conn.send("NOOP")
    conn.receive_data(P_CONTINUE)
    with pytest.raises(RemoteProtocolError, match=r"\+OK or -ERR"):
        conn.next_event()


@pytest.mark.parametrize(
    ("greeting", "timestamp"),
    [
        (P_GREETING, "<1896.697170952@dbc.mtview.ca.us>"),
        (P_GREETING_PLAIN, None),
        (b"+OK ready <no-at-sign>\r\n", None),
        (b"+OK <a@b> and <c@d>\r\n", "<a@b>"),
        (b"-ERR busy <1@x>\r\n", None),
    ],
)
def test_apop_timestamp(greeting: bytes, timestamp: str | None) -> None:
    conn = Pop3Connection()
    reply = reply_of(conn, greeting)
    assert reply.timestamp == timestamp
    assert conn.greeting_timestamp == timestamp
    assert ("APOP" in conn.expected()) == (timestamp is not None)


def test_apop_login() -> None:
    conn = connection_in(P.AUTHORIZATION)
    assert conn.warning("APOP mrose c4c9334bac560ecc979e58001b3e22fb") is None
    assert conn.mask("APOP mrose c4c9334bac560ecc979e58001b3e22fb") == "APOP mrose ***"
    exchange(conn, "APOP mrose c4c9334bac560ecc979e58001b3e22fb", P_OK)
    assert conn.state is P.TRANSACTION


def test_pass_needs_a_successful_user_right_before() -> None:
    conn = connection_in(P.AUTHORIZATION)
    assert "USER" in (conn.warning("PASS secret") or "")
    assert "PASS" not in conn.expected()
    conn.send("USER alice")
    assert conn.warning("PASS secret") is None  # pipelined right after USER
    reply_of(conn, P_USER_OK)
    assert "PASS" in conn.expected()
    assert conn.mask("PASS s e c r e t") == "PASS ***"
    exchange(conn, "CAPA", P_CAPA)
    assert conn.warning("PASS secret") is not None  # not right after USER any more
    exchange(conn, "USER bob", b"-ERR [AUTH] no such user\r\n")
    assert conn.warning("PASS secret") is not None


# --- the seed walkthrough ------------------------------------------------------------------------

SEED = [
    (None, P_GREETING_PLAIN, P.AUTHORIZATION),
    ("USER me@mydomain.com", P_USER_OK, P.AUTHORIZATION),
    ("PASS password", P_PASS_OK, P.TRANSACTION),
    ("STAT", P_STAT, P.TRANSACTION),
    ("LIST", P_LIST_ALL, P.TRANSACTION),
    ("RETR 1", P_RETR, P.TRANSACTION),
    ("TOP 1 1", P_TOP, P.TRANSACTION),
    ("DELE 1", b"+OK message 1 deleted\r\n", P.TRANSACTION),
    ("QUIT", P_QUIT_EXCHANGE, P.CLOSED),
]


def test_seed_walkthrough() -> None:
    conn = Pop3Connection()
    for line, data, state in SEED:
        if line is not None:
            conn.send(line)
        reply = reply_of(conn, data)
        assert reply.raw == data
        assert conn.state is state, line
    conn.receive_data(b"")
    closed = conn.next_event()
    assert isinstance(closed, ConnectionClosed)
    assert "QUIT" in closed.reason
    with pytest.raises(LocalProtocolError, match="closed"):
        conn.send("NOOP")


def test_pipelined_session_in_one_chunk() -> None:
    conn = connection_in(P.AUTHORIZATION)
    for line in ("USER alice", "PASS secret", "STAT", "LIST", "RETR 1", "QUIT"):
        conn.send(line)
    conn.receive_data(P_USER_OK + P_PASS_OK + P_STAT + P_LIST_ALL + P_RETR + P_QUIT_OK)
    states = []
    for _ in range(6):
        reply = conn.next_event()
        assert isinstance(reply, Pop3Reply)
        states.append((reply.command, conn.state))
    assert states == [
        ("USER", P.AUTHORIZATION),
        ("PASS", P.TRANSACTION),
        ("STAT", P.TRANSACTION),
        ("LIST", P.TRANSACTION),
        ("RETR", P.TRANSACTION),
        ("QUIT", P.CLOSED),
    ]


# --- TRANSITIONS: every entry --------------------------------------------------------------------

LINES = {
    "USER": "USER alice",
    "PASS": "PASS secret",
    "APOP": "APOP alice 0123456789abcdef0123456789abcdef",
    "AUTH": "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    "LIST": "LIST 1",
    "RETR": "RETR 1",
    "DELE": "DELE 1",
    "TOP": "TOP 1 0",
    "UIDL": "UIDL 1",
    "LANG": "LANG en",
}
MULTI = {"RETR": P_RETR, "TOP": P_TOP, "CAPA": P_CAPA}
EVERY_TRANSITION = [
    (state, verb, target) for state, row in TRANSITIONS.items() for verb, target in row.items()
]


def start(state: Pop3State, verb: str) -> Pop3Connection:
    if verb == CONNECT:
        return Pop3Connection()
    conn = connection_in(state)
    if state is P.CONNECTED:
        reply_of(conn, b"-ERR too many connections\r\n")
    conn.send(LINES.get(verb, verb))
    return conn


def client_state(target: Pop3State) -> Pop3State:
    """Where the client stands after the table leads to ``target``: a session that ENDED is
    CLOSED at once (the client never waits in UPDATE)."""
    return P.CLOSED if target in ENDED else target


@pytest.mark.parametrize(("state", "verb", "target"), EVERY_TRANSITION, ids=str)
def test_every_transition_on_ok(state: Pop3State, verb: str, target: Pop3State) -> None:
    conn = start(state, verb)
    reply_of(conn, MULTI.get(verb, P_OK))
    assert conn.state is client_state(target)
    assert conn.pending == ()


@pytest.mark.parametrize(("state", "verb", "target"), EVERY_TRANSITION, ids=str)
def test_err_keeps_the_state_except_for_quit(
    state: Pop3State, verb: str, target: Pop3State
) -> None:
    conn = start(state, verb)
    reply = reply_of(conn, P_ERR)
    assert reply.lines == ()
    assert conn.state is (client_state(target) if verb in ENDS_EITHER_WAY else state)


def test_update_is_where_quit_in_transaction_leads_and_the_client_never_waits() -> None:
    assert TRANSITIONS[P.TRANSACTION]["QUIT"] is P.UPDATE
    assert TRANSITIONS[P.AUTHORIZATION]["QUIT"] is P.CLOSED  # RFC 1939 section 4: no UPDATE
    assert TRANSITIONS[P.UPDATE] == {} and TRANSITIONS[P.CLOSED] == {}
    assert set(TRANSITIONS) == set(Pop3State)
    conn = connection_in(P.TRANSACTION)
    exchange(conn, "QUIT", P_QUIT_OK)
    assert conn.state is P.CLOSED


def test_a_server_accepting_a_command_out_of_order_is_followed() -> None:
    conn = connection_in(P.AUTHORIZATION)
    assert conn.warning("STAT") is not None
    exchange(conn, "STAT", P_STAT)
    assert conn.state is P.TRANSACTION


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["USER a\r\nPASS b", "RETR 1\n", "\rSTAT"])
def test_cr_or_lf_inside_a_line_is_refused(line: str) -> None:
    conn = connection_in(P.TRANSACTION)
    with pytest.raises(LocalProtocolError, match="TRANSACTION"):
        conn.send(line)
    assert conn.pending == ()


def test_the_255_octet_limit() -> None:
    conn = connection_in(P.AUTHORIZATION)
    fits = "USER " + "a" * (MAX_COMMAND_LINE - 7)
    assert len(conn.send(fits)) == MAX_COMMAND_LINE
    with pytest.raises(LocalProtocolError) as raised:
        conn.send(fits + "a")
    assert "255-octet" in str(raised.value) and "RFC 2449 section 4" in str(raised.value)
    assert "USER in state AUTHORIZATION" in str(raised.value)
    assert conn.pending == ("USER",)


def test_nothing_is_refused_for_being_out_of_order_or_unknown() -> None:
    conn = connection_in(P.AUTHORIZATION)
    for line in ("RETR 1", "XTND XMIT", "", "DELE"):
        conn.send(line)
    assert conn.pending == ("RETR", "XTND", "", "DELE")


# --- EOF and a misbehaving server --------------------------------------------------------------


@pytest.mark.parametrize("cut", [b"+OK 120 octets\r\nSubject: hi\r\n", b"+OK 12", b"+OK\r\n.."])
def test_eof_in_the_middle_of_a_reply_says_it_was_cut(cut: bytes) -> None:
    conn = connection_in(P.TRANSACTION)
    conn.send("RETR 1")
    conn.receive_data(cut)
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    closed = conn.next_event()
    assert isinstance(closed, ConnectionClosed)
    assert "reply was cut" in closed.reason
    assert conn.state is P.CLOSED


def test_eof_with_commands_pending_names_them() -> None:
    conn = connection_in(P.TRANSACTION)
    conn.send("STAT")
    conn.send("DELE 1")
    conn.receive_data(P_STAT)
    conn.receive_data(b"")
    closed = drain(conn)[-1]
    assert isinstance(closed, ConnectionClosed)
    assert "without answering DELE" in closed.reason


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"220 smtp.lab.test ESMTP\r\n", "SMTP server"),
        (b"* OK IMAP4rev1\r\n", "IMAP"),
        (b"+OKAY\r\n", "+OKAY"),
        (b"OK\r\n", "OK"),
        (b"\x16\x03\x01\r\n", "TLS"),
        (b"?" * 300 + b"\n", "?" * 80),
    ],
    ids=lambda value: repr(value)[:16],
)
def test_a_bad_status_line_is_a_remote_protocol_error(data: bytes, words: str) -> None:
    conn = connection_in(P.TRANSACTION)
    conn.send("STAT")
    conn.receive_data(data)
    with pytest.raises(RemoteProtocolError) as raised:
        conn.next_event()
    assert words in str(raised.value)
    assert "STAT" in str(raised.value) and "TRANSACTION" in str(raised.value)
    assert "?" * 81 not in str(raised.value)
    assert conn.state is P.CLOSED
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_an_endless_line_fails_fast_with_bounded_memory() -> None:
    conn = connection_in(P.TRANSACTION)
    conn.send("RETR 1")
    conn.receive_data(b"+OK\r\n")
    chunk = b"a" * 8192
    with pytest.raises(RemoteProtocolError, match="65536"):
        for _ in range(10_000_000 // len(chunk)):
            conn.receive_data(chunk)
            assert conn.buffered <= MAX_REPLY_LINE + len(chunk)
            assert conn.next_event() is NEED_DATA


def test_a_body_over_max_reply_size_is_refused() -> None:
    conn = Pop3Connection(max_reply_size=1000)
    reply_of(conn, P_GREETING)
    conn.send("USER a")
    conn.send("RETR 1")
    conn.receive_data(P_USER_OK + b"+OK\r\n" + b"line\r\n" * 300)
    assert isinstance(conn.next_event(), Pop3Reply)
    with pytest.raises(RemoteProtocolError, match="max_reply_size"):
        conn.next_event()


def test_an_err_greeting_then_eof() -> None:
    conn = Pop3Connection()
    reply = reply_of(conn, b"-ERR [SYS/TEMP] too many connections\r\n")
    assert conn.state is P.CONNECTED
    assert reply.resp_code is not None and reply.resp_code.code == "SYS/TEMP"
    assert conn.expected() == ("QUIT",)
    conn.receive_data(b"")
    assert isinstance(conn.next_event(), ConnectionClosed)


# --- warning() and expected() --------------------------------------------------------------------

WARNINGS = [
    (P.CONNECTED, "USER alice", "greeting"),
    (P.AUTHORIZATION, "RETR 1", "log in first: USER <name>, then PASS <password>"),
    (P.AUTHORIZATION, "PASS x", "right after a successful USER"),
    (P.TRANSACTION, "USER alice", "QUIT and connect again"),
    (P.TRANSACTION, "STLS", "QUIT and connect again"),
    (P.TRANSACTION, "XTND XMIT", "not a POP3 command"),
    (P.TRANSACTION, "", "empty line"),
    (P.TRANSACTION, "RETR", "RETR <msg>"),
    (P.TRANSACTION, "TOP 1", "TOP <msg> <lines>"),
    (P.TRANSACTION, "LIST 1 2", "LIST [msg]"),
    (P.TRANSACTION, "STAT 1", "STAT"),
]
FINE = [
    (P.AUTHORIZATION, "USER alice"),
    (P.AUTHORIZATION, "CAPA"),
    (P.AUTHORIZATION, "APOP alice 0123"),
    (P.AUTHORIZATION, "AUTH PLAIN"),
    (P.AUTHORIZATION, "QUIT"),
    (P.TRANSACTION, "LIST"),
    (P.TRANSACTION, "LIST 1"),
    (P.TRANSACTION, "retr 1"),
    (P.TRANSACTION, "TOP 1 10"),
    (P.TRANSACTION, "QUIT"),
]


@pytest.mark.parametrize(("state", "line", "words"), WARNINGS, ids=str)
def test_warnings(state: Pop3State, line: str, words: str) -> None:
    warning = connection_in(state).warning(line)
    assert warning is not None and words in warning, warning


@pytest.mark.parametrize(("state", "line"), FINE, ids=str)
def test_no_warning_when_fine(state: Pop3State, line: str) -> None:
    assert connection_in(state).warning(line) is None


def test_warnings_follow_capa() -> None:
    conn = connection_in(P.AUTHORIZATION)
    exchange(conn, "CAPA", P_CAPA_NO_USER)
    assert "USER capability" in (conn.warning("USER alice") or "")
    assert "not CRAM-MD5" in (conn.warning("AUTH CRAM-MD5") or "")
    assert conn.warning("AUTH plain") is None
    assert conn.expected() == ("APOP", "AUTH", "CAPA", "STLS", "QUIT")


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (P.CONNECTED, ()),
        (P.AUTHORIZATION, ("USER", "APOP", "CAPA", "QUIT")),  # no CAPA yet: RFC 1939 only
        (
            P.TRANSACTION,
            ("STAT", "LIST", "RETR", "DELE", "TOP", "UIDL", "NOOP", "RSET", "CAPA", "QUIT"),
        ),
    ],
)
def test_expected(state: Pop3State, expected: tuple[str, ...]) -> None:
    assert connection_in(state).expected() == expected


def test_expected_and_warning_when_closed_or_in_sasl() -> None:
    conn = connection_in(P.AUTHORIZATION)
    conn.send("AUTH PLAIN")
    assert conn.expected() == ()
    conn.send("*")
    reply_of(conn, P_ERR)
    exchange(conn, "QUIT", P_QUIT_OK)
    assert conn.state is P.CLOSED
    assert conn.expected() == ()
    assert "closed" in (conn.warning("NOOP") or "")


def test_reply_values() -> None:
    reply = Pop3Reply(False, "[IN-USE] locked", RespCode("IN-USE", "locked"))
    assert str(reply) == "-ERR [IN-USE] locked"
    assert "failed" in reply.explain() and "IN-USE" in reply.explain()
    assert str(Pop3Reply(True, "")) == "+OK"
    assert Pop3Reply(True, "x", command="STAT") == Pop3Reply(True, "x")


# --- property: any server bytes ------------------------------------------------------------------

COMMANDS = ["USER a", "PASS b", "RETR 1", "LIST", "CAPA", "AUTH PLAIN", "AUTH", "QUIT", "TOP 1 1"]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(
            st.binary(max_size=200),
            st.sampled_from(ALL_REPLIES),
            st.sampled_from([b".\r\n", b"..\r\n", b"+ \r\n", b"\r\n"]),
        ),
        max_size=12,
    ),
    cuts=st.lists(st.integers(min_value=1, max_value=300), max_size=20),
    commands=st.lists(st.sampled_from(COMMANDS), max_size=5),
    eof=st.booleans(),
)
def test_any_server_bytes_parse_or_raise_remote_protocol_error(
    pieces: list[bytes], cuts: list[int], commands: list[str], eof: bool
) -> None:
    conn = Pop3Connection()
    for line in commands:
        conn.send(line)
    chunks = streams.cut(b"".join(pieces), cuts)
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
            drain(conn)
            assert conn.buffered <= MAX_REPLY_LINE + len(chunk)
            if conn.state is not P.CLOSED:
                conn.warning("STAT")
                conn.expected()
        if eof:
            conn.receive_data(b"")
            assert isinstance(drain(conn)[-1], ConnectionClosed)
            assert conn.state is P.CLOSED
    except RemoteProtocolError:
        assert conn.state is P.CLOSED


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.binary(max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b),
            st.sampled_from([b".", b"..", b".x", b"", b"..\xff"]),
        ),
        max_size=20,
    ),
    cuts=st.lists(st.integers(min_value=1, max_value=60), max_size=20),
    lean=st.booleans(),
)
def test_any_retr_body_comes_back_exactly(lines: list[bytes], cuts: list[int], lean: bool) -> None:
    body = b"".join(line + b"\r\n" for line in lines)
    stuffed = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)
    wire = b"+OK message follows\r\n" + stuffed + b".\r\n"
    conn = connection_in(P.TRANSACTION)
    conn.lean = lean
    conn.send("RETR 1")
    replies = drain_all(conn, streams.cut(wire, cuts))
    assert len(replies) == 1
    reply = replies[0]
    assert isinstance(reply, Pop3Reply) and reply.body == body
    assert reply.raw == (b"+OK message follows\r\n" if lean else wire)
    assert reply.lines == tuple(body.decode("utf-8", "replace").split("\r\n")[:-1])
