# What this module does: drives a real Dovecot 2.3 (POP3 on one loopback port, POP3S on another,
# started by tests/interop/conftest.py) through mailmagic's session layer and through the %pop3
# magics in a real IPython shell: the greeting and its APOP timestamp, CAPA before and after STLS
# and login, USER/PASS, AUTH PLAIN (also typed by hand: the "+ " continuation answered, or
# cancelled with "*") and APOP logins, STAT/LIST/UIDL/TOP/RETR against the seeded Maildir (RETR
# byte-exact and dot-unstuffed), DELE with RSET and with QUIT, the [AUTH] response code of a wrong
# password, STLS and implicit TLS verified against the test CA, the refusal of a server whose CA
# is not trusted, the session state after each step, and transcripts that never hold the password.
from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from mailmagic.protocol.codes import explain_capa
from mailmagic.protocol.listing import MaildropStat, parse_scan, parse_stat, parse_uidl
from mailmagic.protocol.pop3 import Continuation, Pop3Reply, Pop3State
from mailmagic.session.base import SessionClosed, TlsMode
from mailmagic.session.pop3 import LoginMethod, Pop3Session

from .conftest import ALICE, ALICE_PASSWORD, SEEDS, Dovecot

# --- Dovecot's replies, named (Dovecot 2.3 src/pop3-login and src/pop3) --------------------------

OK = "+OK"
OK_LOGGED_IN = "+OK Logged in."
OK_LOGGING_OUT = "+OK Logging out."
OK_LOGGING_OUT_DELETED = "+OK Logging out, messages deleted."
OK_BEGIN_TLS = "+OK Begin TLS negotiation now."
OK_MARKED_DELETED = "+OK Marked to be deleted."
ERR_AUTH_FAILED = "-ERR [AUTH] Authentication failed."
ERR_MESSAGE_DELETED = "-ERR Message is deleted."
ERR_TLS_ACTIVE = "-ERR TLS is already active."
ERR_AUTH_ABORTED = "-ERR Authentication aborted by client."
CONTINUE_EMPTY = b"+ \r\n"
GREETING = re.compile(r"^Dovecot( \(\w+\))? ready\. (<[^<>@\s]+@[^<>\s]+>)$")
UIDL_FORMAT = re.compile(r"^[0-9a-f]{16}$")  # pop3_uidl_format %08Xu%08Xv: uid, uidvalidity

CAPA_BEFORE_LOGIN = {
    "CAPA": "",
    "TOP": "",
    "UIDL": "",
    "RESP-CODES": "",
    "PIPELINING": "",
    "AUTH-RESP-CODE": "",
    "STLS": "",
    "USER": "",
    "SASL": "PLAIN",
}
CAPA_AFTER_STLS = {k: v for k, v in CAPA_BEFORE_LOGIN.items() if k != "STLS"}
CAPA_AFTER_LOGIN = dict.fromkeys(
    ("CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"), ""
)
LOGIN_METHODS: list[LoginMethod] = ["user", "sasl", "apop"]
PASSWORD_ENV = "MAILMAGIC_INTEROP_POP3_PASSWORD"

OpenPop3 = Callable[..., Pop3Session]


@pytest.fixture
def pop3(dovecot: Dovecot) -> Iterator[OpenPop3]:
    """Make (unconnected) sessions to the module's Dovecot; all are closed after the test."""
    made: list[Pop3Session] = []

    def new(tls: TlsMode = "plain", *, trust: bool = True) -> Pop3Session:
        made.append(Pop3Session(f"dovecot-{len(made)}", dovecot.settings(tls, trust=trust)))
        return made[-1]

    yield new
    for session in made:
        session.close()


def reply(session: Pop3Session, line: str) -> Pop3Reply:
    """Send one raw line; the reply must be a complete +OK/-ERR reply."""
    answer = session.command(line)
    assert isinstance(answer, Pop3Reply), answer
    return answer


def logged_in(open_pop3: OpenPop3, tls: TlsMode = "plain") -> Pop3Session:
    session = open_pop3(tls)
    session.connect()
    assert str(session.login(ALICE, ALICE_PASSWORD)) == OK_LOGGED_IN
    return session


def secrets_of(session: Pop3Session) -> list[str]:
    """Every form the password takes on the wire: as typed, AUTH PLAIN's token, APOP's digest."""
    plain = base64.b64encode(f"\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode()
    forms = [ALICE_PASSWORD, plain]
    if session.conn.greeting_timestamp is not None:
        forms.append(session.apop_digest(ALICE_PASSWORD))
    return forms


# --- greeting and capabilities -------------------------------------------------------------------


def test_greeting_is_parsed_with_its_apop_timestamp(pop3: OpenPop3) -> None:
    session = pop3()
    greeting = session.connect()
    assert isinstance(greeting, Pop3Reply) and greeting.ok
    found = GREETING.match(greeting.text)
    assert found is not None, greeting.text
    assert greeting.timestamp == found[2] == session.conn.greeting_timestamp
    assert greeting.command == "<connect>"
    assert session.conn.state is Pop3State.AUTHORIZATION
    assert session.is_open and session.tls is None


def test_capa_before_login_is_parsed_and_explained(pop3: OpenPop3) -> None:
    session = pop3()
    session.connect()
    capa = reply(session, "CAPA")
    assert capa.ok and capa.command == "CAPA"
    assert capa.lines == tuple(f"{k} {v}".strip() for k, v in CAPA_BEFORE_LOGIN.items())
    assert capa.body == b"".join(line.encode() + b"\r\n" for line in capa.lines)
    assert session.conn.capabilities == CAPA_BEFORE_LOGIN
    assert "STLS" in session.conn.expected() and "APOP" in session.conn.expected()
    explained = {line.split()[0]: explain_capa(line) for line in capa.lines}
    assert explained["STLS"].endswith("(RFC 2595 4).")
    assert explained["SASL"].startswith("SASL: AUTH logs in with SASL; mechanisms offered: PLAIN (")
    assert explained["SASL"].endswith("(RFC 2449 6.3, RFC 5034).")
    for tag in ("TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER"):
        assert "RFC" in explained[tag] and "not a registered" not in explained[tag], tag


def test_bare_auth_lists_the_sasl_mechanisms(pop3: OpenPop3) -> None:
    session = pop3()
    session.connect()
    mechanisms = reply(session, "AUTH")
    assert mechanisms.ok and mechanisms.lines == ("PLAIN",)
    assert session.conn.state is Pop3State.AUTHORIZATION


def test_capa_after_login_leaves_out_the_login_capabilities(pop3: OpenPop3) -> None:
    session = logged_in(pop3)
    capa = reply(session, "CAPA")
    assert session.conn.capabilities == CAPA_AFTER_LOGIN
    assert session.conn.state is Pop3State.TRANSACTION
    assert "STLS" not in capa.lines and "USER" not in capa.lines


# --- logging in ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", LOGIN_METHODS)
def test_login_reaches_the_transaction_state(pop3: OpenPop3, method: LoginMethod) -> None:
    session = pop3()
    session.connect()
    answer = session.login(ALICE, ALICE_PASSWORD, method)
    assert str(answer) == OK_LOGGED_IN
    assert answer.command == {"user": "PASS", "sasl": "AUTH", "apop": "APOP"}[method]
    assert session.conn.state is Pop3State.TRANSACTION
    transcript = session.transcript.text()
    assert all(secret not in transcript for secret in secrets_of(session)), transcript
    expected_line = {
        "user": "C: PASS ***",
        "sasl": "C: AUTH PLAIN ***",
        "apop": "C: APOP alice ***",
    }
    assert expected_line[method] in transcript.splitlines()


def test_auth_plain_by_hand_answers_the_continuation(pop3: OpenPop3) -> None:
    session = pop3()
    session.connect()
    challenge = session.command("AUTH PLAIN")
    assert isinstance(challenge, Continuation) and challenge.raw == CONTINUE_EMPTY
    assert session.conn.mode == "sasl"
    assert str(reply(session, "*")) == ERR_AUTH_ABORTED  # RFC 5034 4: "*" cancels
    assert session.conn.mode == "command" and session.conn.state is Pop3State.AUTHORIZATION
    assert isinstance(session.command("AUTH PLAIN"), Continuation)
    token = base64.b64encode(f"\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode()
    assert str(reply(session, token)) == OK_LOGGED_IN
    assert session.conn.state is Pop3State.TRANSACTION
    assert session.transcript.text().splitlines()[-2:] == ["C: ***", f"S: {OK_LOGGED_IN}"]
    assert token not in session.transcript.text()


@pytest.mark.parametrize("method", LOGIN_METHODS)
def test_wrong_password_gets_the_auth_response_code(
    fresh_dovecot: Dovecot, method: LoginMethod
) -> None:
    session = Pop3Session("wrong", fresh_dovecot.settings())
    try:
        session.connect()
        answer = session.login(ALICE, "not-the-password", method)
        assert str(answer) == ERR_AUTH_FAILED
        assert answer.resp_code is not None and answer.resp_code.code == "AUTH"
        assert answer.resp_code.detail == "Authentication failed."
        assert "RFC 3206" in answer.explain()
        assert session.conn.state is Pop3State.AUTHORIZATION and session.is_open
        assert ALICE_PASSWORD not in session.transcript.text()
    finally:
        session.close()


# --- the maildrop --------------------------------------------------------------------------------


def test_stat_list_and_uidl_match_the_seeded_maildir(pop3: OpenPop3) -> None:
    session = logged_in(pop3)
    sizes = [len(seed.wire) for seed in SEEDS]  # octets as sent: CRLF line ends
    stat = reply(session, "STAT")
    assert str(stat) == f"{OK} {len(SEEDS)} {sum(sizes)}"
    assert parse_stat(stat) == MaildropStat(len(SEEDS), sum(sizes))
    listing = reply(session, "LIST")
    assert [(e.number, e.octets) for e in parse_scan(listing)] == list(enumerate(sizes, 1))
    assert str(reply(session, "LIST 2")) == f"{OK} 2 {sizes[1]}"
    uids = parse_uidl(reply(session, "UIDL"))
    assert [e.number for e in uids] == [1, 2, 3]
    assert all(UIDL_FORMAT.match(e.uid) for e in uids) and len({e.uid for e in uids}) == 3
    assert parse_uidl(reply(session, "UIDL 3")) == uids[2:]
    assert not reply(session, "LIST 9").ok


@pytest.mark.parametrize(("number", "body_lines"), [(1, 0), (2, 1), (3, 1)])
def test_top_gives_the_headers_and_body_lines(pop3: OpenPop3, number: int, body_lines: int) -> None:
    session = logged_in(pop3)
    top = reply(session, f"TOP {number} {body_lines}")
    head, _, body = SEEDS[number - 1].wire.partition(b"\r\n\r\n")
    first = b"".join(body.splitlines(keepends=True)[:body_lines])
    assert top.ok and top.body == head + b"\r\n\r\n" + first


@pytest.mark.parametrize("number", [1, 2, 3])
def test_retr_is_byte_exact_and_dot_unstuffed(pop3: OpenPop3, number: int) -> None:
    session = logged_in(pop3)
    message = reply(session, f"RETR {number}")
    seed = SEEDS[number - 1]
    assert message.ok and message.text == f"{len(seed.wire)} octets"
    assert message.body == seed.wire
    assert message.lines == tuple(seed.data.decode().splitlines())
    assert message.raw.endswith(b"\r\n.\r\n")


def test_dot_lines_are_stuffed_on_the_wire_and_unstuffed_in_the_body(pop3: OpenPop3) -> None:
    session = logged_in(pop3)
    message = reply(session, "RETR 2")
    assert b"\r\n..a line that starts with a dot\r\n...two dots\r\n..\r\n" in message.raw
    assert b"\r\n.a line that starts with a dot\r\n..two dots\r\n.\r\n" in message.body
    assert message.lines[-3:] == ("..two dots", ".", "the line above is a lone dot")


def test_eight_bit_utf8_lines_arrive_unchanged(pop3: OpenPop3) -> None:
    session = logged_in(pop3)
    message = reply(session, "RETR 3")
    assert "Grüße aus Köln: naïve café, € and 𝄞." in message.lines
    assert "Grüße aus Köln".encode() in message.raw


def test_dele_then_rset_keeps_every_message(pop3: OpenPop3, dovecot: Dovecot) -> None:
    session = logged_in(pop3)
    assert str(reply(session, "DELE 1")) == OK_MARKED_DELETED
    assert str(reply(session, "RETR 1")) == ERR_MESSAGE_DELETED
    assert str(reply(session, "DELE 1")) == ERR_MESSAGE_DELETED
    remaining = sum(len(seed.wire) for seed in SEEDS[1:])
    assert str(reply(session, "STAT")) == f"{OK} 2 {remaining}"
    assert str(reply(session, "RSET")) == OK
    assert str(reply(session, "STAT")) == f"{OK} 3 {remaining + len(SEEDS[0].wire)}"
    assert str(reply(session, "QUIT")) == OK_LOGGING_OUT
    assert all(dovecot.message_file(seed) is not None for seed in SEEDS)


def test_dele_then_quit_removes_the_file(pop3: OpenPop3, dovecot: Dovecot) -> None:
    session = logged_in(pop3)
    assert str(reply(session, "DELE 2")) == OK_MARKED_DELETED
    assert str(reply(session, "QUIT")) == OK_LOGGING_OUT_DELETED
    assert session.conn.state is Pop3State.CLOSED and session.status == "closed"
    assert dovecot.message_file(SEEDS[1]) is None
    assert all(dovecot.message_file(seed) is not None for seed in (SEEDS[0], SEEDS[2]))
    again = logged_in(pop3)
    assert reply(again, "RETR 2").body == SEEDS[2].wire


def test_dele_without_quit_is_not_committed(pop3: OpenPop3, dovecot: Dovecot) -> None:
    session = logged_in(pop3)
    assert str(reply(session, "DELE 1")) == OK_MARKED_DELETED
    session.close()  # as telnet's close: no QUIT, so no UPDATE state (RFC 1939 section 6)
    dovecot.wait_idle()
    assert dovecot.message_file(SEEDS[0]) is not None


# --- TLS -----------------------------------------------------------------------------------------


def test_stls_by_hand_upgrades_and_verifies_the_certificate(pop3: OpenPop3) -> None:
    session = pop3()
    session.connect()
    reply(session, "CAPA")
    assert str(reply(session, "STLS")) == OK_BEGIN_TLS
    assert session.tls is not None and session.tls.verified
    assert session.tls.version in ("TLSv1.2", "TLSv1.3")
    assert "localhost" in session.tls.subject
    assert session.conn.capabilities == {}  # RFC 2595 4: forget what was learned before TLS
    reply(session, "CAPA")
    assert session.conn.capabilities == CAPA_AFTER_STLS
    assert str(session.login(ALICE, ALICE_PASSWORD, "sasl")) == OK_LOGGED_IN
    assert "[TLS started: " in session.transcript.text()


def test_starttls_mode_sends_stls_before_anything_else(pop3: OpenPop3) -> None:
    session = pop3("starttls")
    greeting = session.connect()
    assert isinstance(greeting, Pop3Reply) and greeting.ok
    assert session.tls is not None and session.tls.verified
    assert "C: STLS" in session.transcript.text().splitlines()
    assert str(reply(session, "STLS")) == ERR_TLS_ACTIVE


def test_pop3s_is_implicit_tls_verified_against_the_test_ca(pop3: OpenPop3) -> None:
    session = pop3("implicit")
    greeting = session.connect()
    assert isinstance(greeting, Pop3Reply) and GREETING.match(greeting.text)
    assert session.tls is not None and session.tls.verified
    assert "mailmagic lab CA" in session.tls.issuer
    reply(session, "CAPA")
    assert session.conn.capabilities == CAPA_AFTER_STLS
    assert str(session.login(ALICE, ALICE_PASSWORD, "apop")) == OK_LOGGED_IN
    assert reply(session, "RETR 1").body == SEEDS[0].wire


def test_pop3s_without_the_test_ca_is_refused_clearly(pop3: OpenPop3) -> None:
    session = pop3("implicit", trust=False)
    with pytest.raises(SessionClosed, match="certificate was refused") as caught:
        session.connect()
    message = str(caught.value)
    assert "unable to get local issuer certificate" in message  # the test CA is not trusted
    assert session.status == "closed" and session.tls is None
    with pytest.raises(SessionClosed, match="is closed"):
        session.command("CAPA")


# --- the magics ----------------------------------------------------------------------------------


def test_pop3_magics_in_ipython(
    ipython: InteractiveShell, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, ALICE_PASSWORD)
    ca = dovecot.tls.ca_file
    greeting = ipython.run_line_magic(
        "pop3", f"open {dovecot.host} {dovecot.pop3s} --tls --cafile {ca}"
    )
    assert greeting.ok and greeting.timestamp is not None
    login = ipython.run_line_magic("pop3", f"login {ALICE} --password-env {PASSWORD_ENV}")
    assert str(login.reply) == OK_LOGGED_IN
    result = ipython.run_cell("stat = %pop3 STAT")
    assert result.success, result.error_in_exec
    stat = ipython.user_ns["stat"].stat
    assert (stat.count, stat.octets) == (3, sum(len(seed.wire) for seed in SEEDS))
    cell = ipython.run_cell_magic("pop3", "", "LIST\n# a comment line is skipped\n\nUIDL\nRETR 2\n")
    views = list(cell)
    assert [view.command for view in views] == ["LIST", "UIDL", "RETR 2"]
    assert [entry.octets for entry in views[0].entries] == [len(seed.wire) for seed in SEEDS]
    assert views[2].reply.body == SEEDS[1].wire
    assert str(ipython.run_line_magic("pop3", "QUIT").reply) == OK_LOGGING_OUT
    shown = repr(ipython.run_line_magic("pop3", "transcript"))
    assert ALICE_PASSWORD not in shown and "C: PASS ***" in shown.splitlines()


def test_pop3_magic_refuses_pop3s_without_the_ca(
    ipython: InteractiveShell, dovecot: Dovecot
) -> None:
    with pytest.raises(UsageError, match="certificate was refused"):
        ipython.run_line_magic("pop3", f"open {dovecot.host} {dovecot.pop3s} --tls")
