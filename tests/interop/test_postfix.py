# What this module does: drives a real Postfix (smtpd on a loopback port, started by
# tests/interop/conftest.py, delivering alice@postfix.test into a Maildir) through mailmagic's
# session layer and through the %smtp magics in a real IPython shell: the greeting, EHLO
# extensions parsed and explained, the seed telnet walkthrough (HELO, MAIL, RCPT, DATA, text, ".",
# QUIT) with Postfix's own replies and the message read back byte for byte from the Maildir,
# send_message's dot-stuffing and 8-bit text, an unknown user (550 5.1.1), relaying refused
# (554 5.7.1), VRFY/NOOP/RSET/HELP/EXPN, commands out of order (503 5.5.1), STARTTLS by hand and
# as a connection mode with the certificate verified, and the session state after every step.
# BDAT (RFC 3030 CHUNKING) typed as raw lines: the reply comes once the chunk's octets are in.
from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from mailmagic.magics import ExpectFailed
from mailmagic.protocol.codes import explain_ehlo_keyword
from mailmagic.protocol.smtp import EnhancedCode, Reply, SmtpState
from mailmagic.session.base import SessionClosed, TlsMode
from mailmagic.session.smtp import SmtpSession

from .conftest import ALICE, POSTFIX_DOMAIN, POSTFIX_HOSTNAME, Postfix

# --- Postfix's replies, named (Postfix 3.7 src/smtpd/smtpd.c, smtpd_check.c) ---------------------

S220_GREETING = f"220 {POSTFIX_HOSTNAME} ESMTP Postfix"  # smtpd_banner left at its default
S220_READY_FOR_TLS = "220 2.0.0 Ready to start TLS"
S221_BYE = "221 2.0.0 Bye"
S250_HELO = f"250 {POSTFIX_HOSTNAME}"
S250_OK = "250 2.0.0 Ok"
S250_SENDER_OK = "250 2.1.0 Ok"
S250_RECIPIENT_OK = "250 2.1.5 Ok"
S250_QUEUED = re.compile(r"250 2\.0\.0 Ok: queued as [0-9A-Z]+")
S252_CANNOT_VRFY_ALICE = f"252 2.0.0 {ALICE}@{POSTFIX_DOMAIN}"
S354_START_INPUT = "354 End data with <CR><LF>.<CR><LF>"
S500_UNRECOGNIZED = "500 5.5.2 Error: command not recognized"
S503_NEED_MAIL = "503 5.5.1 Error: need MAIL command"
S503_NEED_RCPT = "503 5.5.1 Error: need RCPT command"
S503_NESTED_MAIL = "503 5.5.1 Error: nested MAIL command"
S550_USER_UNKNOWN = (
    "550 5.1.1 <nobody-here@postfix.test>: Recipient address rejected: "
    "User unknown in virtual mailbox table"
)
S554_RELAY_DENIED = "554 5.7.1 <someone@other.example>: Relay access denied"

ALICE_ADDRESS = f"{ALICE}@{POSTFIX_DOMAIN}"
UNKNOWN_ADDRESS = f"nobody-here@{POSTFIX_DOMAIN}"
FOREIGN_ADDRESS = "someone@other.example"
SENDER = "me@mydomain.com"
# What Postfix 3.7 advertises by default, in its order (no AUTH: SASL is not configured).
EHLO_EXTENSIONS = {
    "PIPELINING": "",
    "SIZE": "10240000",
    "VRFY": "",
    "ETRN": "",
    "STARTTLS": "",
    "ENHANCEDSTATUSCODES": "",
    "8BITMIME": "",
    "DSN": "",
    "SMTPUTF8": "",
    "CHUNKING": "",
}
# The trace fields Postfix puts above a delivered message (RFC 5321 4.4, virtual(8)).
TRACE = re.compile(
    rb"\AReturn-Path: <[^>]*>\nX-Original-To: \S+\nDelivered-To: \S+\n"
    rb"Received: from [^\n]*\n(?:\t[^\n]*\n)+"
)

OpenSmtp = Callable[..., SmtpSession]


@pytest.fixture
def smtp(postfix: Postfix) -> Iterator[OpenSmtp]:
    """Make (unconnected) sessions to the module's Postfix; all are closed after the test."""
    made: list[SmtpSession] = []

    def new(tls: TlsMode = "plain", *, trust: bool = True) -> SmtpSession:
        made.append(SmtpSession(f"postfix-{len(made)}", postfix.settings(tls, trust=trust)))
        return made[-1]

    yield new
    for session in made:
        session.close()


def reply(session: SmtpSession, line: str) -> Reply:
    """Send one raw command line; a reply is due."""
    answer = session.command(line)
    assert isinstance(answer, Reply), f"{line!r} got no reply"
    return answer


def greeted(open_smtp: OpenSmtp, hello: str = "EHLO client.example") -> SmtpSession:
    session = open_smtp()
    assert str(session.connect()) == S220_GREETING
    assert reply(session, hello).code == 250
    return session


def marker() -> str:
    """A token that tells this test's message apart in the shared Maildir."""
    return f"interop-{uuid.uuid4().hex[:12]}"


def as_delivered(delivered: bytes) -> bytes:
    """The delivered file without Postfix's trace fields: the message as the client sent it."""
    trace = TRACE.match(delivered)
    assert trace is not None, delivered[:400]
    return delivered[trace.end() :]


# --- greeting and EHLO ---------------------------------------------------------------------------


def test_greeting_is_220_esmtp(smtp: OpenSmtp) -> None:
    session = smtp()
    greeting = session.connect()
    assert str(greeting) == S220_GREETING
    assert greeting.code == 220 and greeting.command == "<connect>"
    assert "ESMTP" in greeting.lines[0].split()
    assert session.conn.state is SmtpState.GREETED
    assert {"EHLO", "HELO"} <= set(session.conn.expected())


def test_ehlo_extensions_are_parsed_and_explained(smtp: OpenSmtp) -> None:
    session = smtp()
    session.connect()
    ehlo = reply(session, "EHLO client.example")
    assert ehlo.code == 250 and ehlo.lines[0] == POSTFIX_HOSTNAME
    assert ehlo.raw.count(b"250-") == len(EHLO_EXTENSIONS) and ehlo.raw.count(b"250 ") == 1
    assert session.conn.extensions == EHLO_EXTENSIONS
    assert session.conn.state is SmtpState.READY
    expected = session.conn.expected()
    assert "STARTTLS" in expected and "MAIL" in expected and "AUTH" not in expected
    for line in ehlo.lines[1:]:
        words = explain_ehlo_keyword(line)
        assert words.startswith(line.split()[0] + ": ") and "not a registered" not in words
        assert re.search(r"\(RFC \d+(\s[\d.]+)?\)\.$", words), words
    assert "up to 9.8 MiB" in explain_ehlo_keyword("SIZE 10240000")


# --- the seed walkthrough ------------------------------------------------------------------------


def test_seed_telnet_walkthrough_is_delivered_byte_for_byte(
    smtp: OpenSmtp, postfix: Postfix
) -> None:
    tag = marker()
    text = [
        f"From: Me <{SENDER}>",
        f"To: Alice <{ALICE_ADDRESS}>",
        f"Subject: test {tag}",
        "",
        "Message Body",
        "Grüße, with 8-bit UTF-8 in the body",
    ]
    steps: list[tuple[str, str | None, SmtpState]] = [
        ("HELO mycomputer.mydomain.com", S250_HELO, SmtpState.READY),
        (f"MAIL FROM: {SENDER}", S250_SENDER_OK, SmtpState.MAIL),
        (f"RCPT TO: {ALICE_ADDRESS}", S250_RECIPIENT_OK, SmtpState.RCPT),
        ("DATA", S354_START_INPUT, SmtpState.DATA),
        *((line, None, SmtpState.DATA) for line in text),
    ]
    session = smtp()
    assert str(session.connect()) == S220_GREETING
    for line, expected, state in steps:
        answer = session.command(line)
        assert (None if answer is None else str(answer)) == expected, line
        assert session.conn.state is state, line
    queued = reply(session, ".")
    assert S250_QUEUED.fullmatch(str(queued)) and queued.enhanced == EnhancedCode(2, 0, 0)
    assert session.conn.state is SmtpState.READY
    assert str(reply(session, "QUIT")) == S221_BYE
    assert session.conn.state is SmtpState.CLOSED and session.status == "closed"
    delivered = postfix.delivered(tag.encode())
    assert as_delivered(delivered) == "".join(line + "\n" for line in text).encode()
    assert b"with SMTP id" in delivered  # HELO, no TLS (RFC 3848)


def test_send_message_dot_stuffs_and_keeps_8bit_text(smtp: OpenSmtp, postfix: Postfix) -> None:
    tag = marker()
    message = (
        f"From: {SENDER}\r\nTo: {ALICE_ADDRESS}\r\nSubject: {tag}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        ".a line that starts with a dot\r\n.\r\n..two dots\r\nnaïve café, € and 𝄞\r\n"
    ).encode()
    session = greeted(smtp)
    steps = session.send_message(SENDER, [ALICE_ADDRESS], message)
    assert [(command, str(answer)) for command, answer in steps[:3]] == [
        (f"MAIL FROM:<{SENDER}>", S250_SENDER_OK),
        (f"RCPT TO:<{ALICE_ADDRESS}>", S250_RECIPIENT_OK),
        ("DATA", S354_START_INPUT),
    ]
    assert S250_QUEUED.fullmatch(str(steps[3][1])) and session.conn.state is SmtpState.READY
    assert b"\r\n..a line that starts with a dot\r\n..\r\n...two dots\r\n" in b"".join(
        entry.data for entry in session.transcript.entries
    )
    delivered = postfix.delivered(tag.encode())
    assert as_delivered(delivered) == message.replace(b"\r\n", b"\n")


def test_send_message_stops_with_rset_when_every_recipient_is_refused(smtp: OpenSmtp) -> None:
    session = greeted(smtp)
    steps = session.send_message(SENDER, [UNKNOWN_ADDRESS, FOREIGN_ADDRESS], b"Subject: x\r\n\r\n")
    assert [(command, str(answer)) for command, answer in steps] == [
        (f"MAIL FROM:<{SENDER}>", S250_SENDER_OK),
        (f"RCPT TO:<{UNKNOWN_ADDRESS}>", S550_USER_UNKNOWN),
        (f"RCPT TO:<{FOREIGN_ADDRESS}>", S554_RELAY_DENIED),
        ("RSET", S250_OK),
    ]
    assert session.conn.state is SmtpState.READY


# --- refusals ------------------------------------------------------------------------------------


def test_unknown_local_user_is_550_5_1_1(smtp: OpenSmtp) -> None:
    session = greeted(smtp)
    reply(session, f"MAIL FROM:<{SENDER}>")
    refused = reply(session, f"RCPT TO:<{UNKNOWN_ADDRESS}>")
    assert str(refused) == S550_USER_UNKNOWN
    assert refused.is_permanent and refused.enhanced == EnhancedCode(5, 1, 1)
    assert "Enhanced status code 5.1.1" in refused.explain()
    assert "bad destination mailbox address" in refused.explain()
    assert session.conn.state is SmtpState.MAIL  # a refused RCPT leaves the transaction as it was


def test_relaying_for_an_untrusted_client_is_554_5_7_1(smtp: OpenSmtp) -> None:
    session = greeted(smtp)
    reply(session, f"MAIL FROM:<{SENDER}>")
    refused = reply(session, f"RCPT TO:<{FOREIGN_ADDRESS}>")
    assert str(refused) == S554_RELAY_DENIED
    assert refused.enhanced == EnhancedCode(5, 7, 1)
    assert session.conn.state is SmtpState.MAIL
    assert str(reply(session, f"RCPT TO:<{ALICE_ADDRESS}>")) == S250_RECIPIENT_OK
    assert session.conn.state is SmtpState.RCPT


def test_vrfy_noop_rset_help_and_expn(smtp: OpenSmtp) -> None:
    session = greeted(smtp)
    assert str(reply(session, f"VRFY {ALICE_ADDRESS}")) == S252_CANNOT_VRFY_ALICE
    assert str(reply(session, f"VRFY {UNKNOWN_ADDRESS}")) == S550_USER_UNKNOWN
    assert str(reply(session, "NOOP")) == S250_OK
    reply(session, f"MAIL FROM:<{SENDER}>")
    assert session.conn.state is SmtpState.MAIL
    assert str(reply(session, "RSET")) == S250_OK
    assert session.conn.state is SmtpState.READY
    assert str(reply(session, "HELP")) == S500_UNRECOGNIZED  # Postfix implements no HELP
    assert str(reply(session, "EXPN postmaster")) == S500_UNRECOGNIZED  # nor EXPN
    assert session.conn.state is SmtpState.READY and session.is_open


def test_commands_out_of_order_get_503_5_5_1(smtp: OpenSmtp) -> None:
    session = greeted(smtp)
    rcpt = f"RCPT TO:<{ALICE_ADDRESS}>"
    warning = session.conn.warning(rcpt)
    assert warning is not None and "503" in warning and "MAIL FROM" in warning
    assert str(reply(session, rcpt)) == S503_NEED_MAIL
    assert str(reply(session, "DATA")) == S503_NEED_RCPT
    assert session.conn.state is SmtpState.READY
    reply(session, f"MAIL FROM:<{SENDER}>")
    assert str(reply(session, f"MAIL FROM:<{SENDER}>")) == S503_NESTED_MAIL
    assert session.conn.state is SmtpState.MAIL


def test_mail_before_helo_follows_the_server(smtp: OpenSmtp) -> None:
    session = smtp()
    session.connect()
    assert str(reply(session, f"MAIL FROM:<{SENDER}>")) == S250_SENDER_OK  # smtpd_helo_required=no
    assert session.conn.state is SmtpState.MAIL


def test_quit_ends_the_session(smtp: OpenSmtp) -> None:
    session = greeted(smtp)
    assert str(reply(session, "QUIT")) == S221_BYE
    assert session.conn.state is SmtpState.CLOSED and not session.is_open
    with pytest.raises(SessionClosed, match="is closed"):
        session.command("NOOP")


# --- STARTTLS ------------------------------------------------------------------------------------


def test_starttls_by_hand_upgrades_then_ehlo_again(smtp: OpenSmtp, postfix: Postfix) -> None:
    session = greeted(smtp)
    assert str(reply(session, "STARTTLS")) == S220_READY_FOR_TLS
    assert session.tls is not None and session.tls.verified
    assert "localhost" in session.tls.subject
    assert session.conn.state is SmtpState.GREETED and session.conn.extensions == {}
    reply(session, "EHLO client.example")
    assert session.conn.extensions == {k: v for k, v in EHLO_EXTENSIONS.items() if k != "STARTTLS"}
    assert session.conn.state is SmtpState.READY
    tag = marker()
    steps = session.send_message(
        SENDER, [ALICE_ADDRESS], f"Subject: {tag}\r\n\r\nover TLS\r\n".encode()
    )
    assert S250_QUEUED.fullmatch(str(steps[-1][1]))
    assert b"with ESMTPS id" in postfix.delivered(tag.encode())  # RFC 3848: ESMTP + TLS


def test_starttls_mode_upgrades_before_the_first_command(smtp: OpenSmtp) -> None:
    session = smtp("starttls")
    assert str(session.connect()) == S220_GREETING
    assert session.tls is not None and session.tls.verified
    sent = [line for line in session.transcript.text().splitlines() if line.startswith("C: ")]
    assert sent == ["C: EHLO localhost", "C: STARTTLS"]
    assert session.conn.state is SmtpState.GREETED
    assert reply(session, "EHLO client.example").code == 250
    assert "STARTTLS" not in session.conn.extensions


def test_starttls_without_the_test_ca_is_refused_clearly(smtp: OpenSmtp) -> None:
    session = smtp("starttls", trust=False)
    with pytest.raises(SessionClosed, match="certificate was refused: unable to get local issuer"):
        session.connect()
    assert session.status == "closed" and session.tls is None


def test_bdat_by_raw_lines(smtp: OpenSmtp, postfix: Postfix) -> None:
    session = greeted(smtp)
    reply(session, f"MAIL FROM:<{SENDER}>")
    reply(session, f"RCPT TO:<{ALICE_ADDRESS}>")
    chunk = f"Subject: {marker()}"
    assert session.command(f"BDAT {len(chunk) + 2} LAST", timeout=2) is None  # chunk still due
    final = str(session.command(chunk, timeout=5))  # Postfix also counts the octets for BDAT
    assert re.fullmatch(r"250 2\.0\.0 Ok: \d+ bytes queued as [0-9A-Z]+", final), final


# --- the magics ----------------------------------------------------------------------------------


def test_smtp_magics_walkthrough_over_starttls(ipython: InteractiveShell, postfix: Postfix) -> None:
    tag = marker()
    opened = ipython.run_line_magic(
        "smtp", f"open {postfix.host} {postfix.port} --starttls --cafile {postfix.tls.ca_file}"
    )
    assert str(opened.reply) == S220_GREETING
    cell = "\n".join(
        [
            "EHLO client.example",
            f"MAIL FROM:<{SENDER}>",
            f"RCPT TO:<{ALICE_ADDRESS}>",
            "DATA",
            f"Subject: {tag}",
            "",
            "typed in a notebook cell",
            ".",
            "QUIT",
        ]
    )
    result = ipython.run_cell_magic("smtp", "", cell)
    shown = [(view.command, None if view.reply is None else str(view.reply)) for view in result]
    assert shown[1:4] == [
        (f"MAIL FROM:<{SENDER}>", S250_SENDER_OK),
        (f"RCPT TO:<{ALICE_ADDRESS}>", S250_RECIPIENT_OK),
        ("DATA", S354_START_INPUT),
    ]
    assert shown[4:7] == [(f"Subject: {tag}", None), ("", None), ("typed in a notebook cell", None)]
    assert S250_QUEUED.fullmatch(shown[7][1] or "") and shown[8] == ("QUIT", S221_BYE)
    delivered = postfix.delivered(tag.encode())
    assert as_delivered(delivered) == f"Subject: {tag}\n\ntyped in a notebook cell\n".encode()
    assert b"with ESMTPS id" in delivered


def test_smtp_sendmail_and_expect_magics(ipython: InteractiveShell, postfix: Postfix) -> None:
    tag = marker()
    ipython.run_line_magic("smtp", f"open {postfix.host} {postfix.port}")
    ipython.run_line_magic("smtp", "--expect 250 EHLO client.example")
    ipython.run_line_magic("smtp", f"--expect 550 VRFY {UNKNOWN_ADDRESS}")
    with pytest.raises(ExpectFailed, match="expected 250, got 554"):
        ipython.run_line_magic("smtp", f"--expect 250 VRFY {FOREIGN_ADDRESS}")
    sent = ipython.run_cell_magic(
        "smtp", f'sendmail --from {SENDER} --to {ALICE_ADDRESS} --subject "{tag}"', "Hello Alice\n"
    )
    assert S250_QUEUED.fullmatch(str(sent.last.reply))
    delivered = postfix.delivered(tag.encode())
    assert f"Subject: {tag}\n".encode() in delivered and b"\n\nHello Alice\n" in delivered
    with pytest.raises(UsageError, match="certificate was refused"):
        ipython.run_line_magic("smtp", f"open {postfix.host} {postfix.port} --starttls")
