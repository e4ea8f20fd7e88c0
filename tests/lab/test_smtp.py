# What this module does: tests of the lab SMTP server (mailmagic/lab/smtp.py) through independent
# real clients on loopback: stdlib smtplib, and a raw socket where smtplib would hide the wire.
# One scenario per command of the seeds and of the issue, including the error replies; refused
# commands that must change nothing; and endless lines streamed at a server in a subprocess of its
# own (the `lab_process` fixture), whose memory is read from /proc.
from __future__ import annotations

import base64
import errno
import logging
import poplib
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiosmtpd.smtp import SMTP

from mailmagic.lab import LabServer
from mailmagic.lab.commit import COMMITTER
from mailmagic.lab.smtp import INTERNAL_ERROR, TLS_ACTIVE, LabSMTP, with_enhanced_code
from mailmagic.lab.store import OUTBOX

if TYPE_CHECKING:
    from tests.lab.process import LabProcess

S214_HELP = 214
S220_READY = 220
S221_CLOSING = 221
S235_AUTH_OK = 235
S250_OK = 250
S252_CANNOT_VRFY = 252
S354_START_INPUT = 354
S451_LOCAL_ERROR = 451
S452_TOO_MANY_RCPTS = 452
S500_UNKNOWN = 500
S501_SYNTAX = 501
S502_NOT_IMPLEMENTED = 502
S503_BAD_SEQUENCE = 503
S504_PARAM_NOT_IMPLEMENTED = 504
S530_AUTH_REQUIRED = 530
S535_AUTH_FAILED = 535
S550_UNAVAILABLE = 550
S552_TOO_BIG = 552


@pytest.fixture
def client(lab: LabServer) -> Iterator[smtplib.SMTP]:
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp, timeout=10) as smtp:
        yield smtp


def reply(smtp: smtplib.SMTP, line: str) -> tuple[int, str]:
    code, text = smtp.docmd(line)
    return code, text.decode("utf-8")


class Wire:
    """A raw SMTP connection: send lines exactly as typed, read whole replies."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.greeting = self.read()

    def send(self, *lines: str | bytes) -> None:
        data = b"".join((x.encode() if isinstance(x, str) else x) + b"\r\n" for x in lines)
        self.sock.sendall(data)

    def read(self) -> list[str]:
        lines = []
        while True:
            line = self.file.readline().decode("utf-8").rstrip("\r\n")
            lines.append(line)
            if line[3:4] != "-":
                return lines

    def ask(self, line: str | bytes) -> list[str]:
        self.send(line)
        return self.read()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def wire(lab: LabServer) -> Iterator[Wire]:
    w = Wire(lab.endpoints.host, lab.endpoints.smtp)  # type: ignore[arg-type]
    yield w
    w.close()


def test_greeting_names_the_server(wire: Wire) -> None:
    assert wire.greeting == ["220 mail.lab.test ESMTP mailmagic lab server ready"]


def test_ehlo_advertises_every_extension(client: smtplib.SMTP) -> None:
    code, _ = client.ehlo("client.example")
    assert code == S250_OK
    for keyword in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes"):
        assert client.has_extn(keyword), keyword
    assert client.has_extn("starttls")
    assert set(client.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN"}
    assert client.esmtp_features["size"] == str(10 * 1024 * 1024)


SEQUENCE_CASES = [
    # (commands sent first, command, expected code, expected start of the text)
    ([], "HELO mycomputer.mydomain.com", S250_OK, "mail.lab.test Hello mycomputer"),
    (["HELO c"], "MAIL FROM: me@mydomain.com", S250_OK, "2.1.0 <me@mydomain.com>"),
    (["HELO c", "MAIL FROM:<a@b.c>"], "RCPT TO: alice@lab.test", S250_OK, "2.1.5 <alice@lab"),
    (["HELO c", "MAIL FROM:<a@b.c>"], "RCPT TO:<ALICE@LAB.TEST>", S250_OK, "2.1.5"),
    (["HELO c", "MAIL FROM:<a@b.c>"], "RCPT TO:<zed@lab.test>", S550_UNAVAILABLE, "5.1.1"),
    (["HELO c", "MAIL FROM:<a@b.c>"], "RCPT TO:<you@elsewhere.org>", S550_UNAVAILABLE, "5.7.1"),
    (["HELO c", "MAIL FROM:<a@b.c>"], "RCPT TO:<postmaster@lab.test>", S250_OK, "2.1.5"),
    (["HELO c", "MAIL FROM:<a@b.c>"], "RSET", S250_OK, "2.0.0"),
    ([], "VRFY alice", S250_OK, "2.1.5 <alice@lab.test>"),
    ([], "VRFY <bob@lab.test>", S250_OK, "2.1.5 <bob@lab.test>"),
    ([], "VRFY zed", S550_UNAVAILABLE, "5.1.1"),
    ([], "VRFY", S501_SYNTAX, "5.5.4"),
    ([], "EXPN team", S250_OK, "2.1.5 <alice@lab.test>\n2.1.5 <bob@lab.test>"),
    ([], "EXPN alice", S550_UNAVAILABLE, "5.1.1"),
    ([], "EXPN", S501_SYNTAX, "5.5.4"),
    ([], "HELP", S214_HELP, "2.0.0 This is the mailmagic lab server"),
    ([], "HELP RCPT", S214_HELP, "2.0.0 RCPT TO:<recipient>"),
    ([], "help data", S214_HELP, "2.0.0 DATA"),
    ([], "HELP FROB", S504_PARAM_NOT_IMPLEMENTED, "5.3.0"),
    ([], "NOOP", S250_OK, "2.0.0 OK"),
    ([], "noop", S250_OK, "2.0.0 OK"),
    ([], "TURN", S502_NOT_IMPLEMENTED, "5.5.1 TURN is obsolete"),
    ([], "FROB", S500_UNKNOWN, "5.5.2"),
    ([], "MAIL FROM:<a@b.c>", S503_BAD_SEQUENCE, "5.5.1"),
    (["HELO c"], "RCPT TO:<alice@lab.test>", S503_BAD_SEQUENCE, "5.5.1"),
    (["HELO c"], "DATA", S503_BAD_SEQUENCE, "5.5.1"),
    (["HELO c", "MAIL FROM:<a@b.c>"], "MAIL FROM:<a@b.c>", S503_BAD_SEQUENCE, "5.5.1"),
    (["HELO c", "MAIL FROM:<a@b.c>"], "DATA", S503_BAD_SEQUENCE, "5.5.1"),
    (["HELO c"], "MAIL", S501_SYNTAX, "5.5.4"),
    (["HELO c"], "MAIL FROM:<not an address", S501_SYNTAX, "5.1.7"),
    (["HELO c", "MAIL FROM:<a@b.c>"], "RCPT alice", S501_SYNTAX, "5.5.4"),
    (["HELO c", "MAIL FROM:<a@b.c>"], "RCPT TO:<alice>", S501_SYNTAX, "5.1.3"),
    (["HELO c"], "MAIL FROM:<>", S250_OK, "2.1.0 <>"),
    ([], "HELO", S501_SYNTAX, "5.5.4"),
    (["HELO c", "MAIL FROM:<a@b.c>", "RCPT TO:<alice@lab.test>"], "DATA now", S501_SYNTAX, "5.5.4"),
    (["HELO c", "MAIL FROM:<a@b.c>"], "DATA now", S503_BAD_SEQUENCE, "5.5.1 Error: need RCPT"),
    (["EHLO c"], "AUTH FROB", S504_PARAM_NOT_IMPLEMENTED, "5.5.4"),
    ([], "QUIT", S221_CLOSING, "2.0.0 mail.lab.test"),
]


@pytest.mark.parametrize(("before", "command", "code", "text"), SEQUENCE_CASES)
def test_command_replies(
    client: smtplib.SMTP, before: list[str], command: str, code: int, text: str
) -> None:
    for line in before:
        assert reply(client, line)[0] < 400, line
    got_code, got_text = reply(client, command)
    assert (got_code, got_text[: len(text)]) == (code, text)


def test_data_queues_and_delivers_before_the_reply(lab: LabServer, wire: Wire) -> None:
    wire.send(
        "HELO mycomputer.mydomain.com", "MAIL FROM: me@mydomain.com", "RCPT TO: alice@lab.test"
    )
    assert [wire.read()[0][:3] for _ in range(3)] == ["250"] * 3
    assert wire.ask("DATA")[0].startswith(f"{S354_START_INPUT} ")
    queued = wire.ask(b"Subject: test\r\n\r\nMessage Body\r\n.")[0]
    assert queued.startswith("250 2.6.0 <") and queued.endswith("> Queued mail for delivery")
    (stored,) = lab.store.messages("alice")
    text = stored.path.read_bytes()
    assert text.startswith(b"Return-Path: <me@mydomain.com>\nReceived: from mycomputer")
    assert b"with SMTP id " in text and b"for <alice@lab.test>" in text
    assert text.endswith(b"\nSubject: test\n\nMessage Body\n")
    assert wire.ask("QUIT") == ["221 2.0.0 mail.lab.test Service closing transmission channel"]


def test_alias_expands_and_each_mailbox_gets_one_copy(lab: LabServer) -> None:
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        refused = smtp.sendmail(
            "x@y.z", ["team@lab.test", "alice@lab.test"], b"Subject: hi\r\n\r\nx"
        )
    assert refused == {}
    assert len(lab.store.messages("alice")) == 1
    assert len(lab.store.messages("bob")) == 1


def test_dot_stuffed_lines_are_stored_without_the_extra_dot(lab: LabServer, wire: Wire) -> None:
    wire.send("EHLO c", "MAIL FROM:<a@b.c>", "RCPT TO:<bob@lab.test>", "DATA")
    assert [wire.read()[-1][:3] for _ in range(4)] == ["250", "250", "250", "354"]
    assert wire.ask(b"Subject: dots\r\n\r\n..leading dot\r\n.")[0].startswith("250 2.6.0")
    (stored,) = lab.store.messages("bob")
    assert stored.path.read_bytes().endswith(b"\n\n.leading dot\n")


def test_vrfy_can_be_told_to_disclose_nothing(lab_factory: Callable[..., LabServer]) -> None:
    lab = lab_factory(vrfy_discloses=False)
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        assert smtp.verify("alice")[0] == S252_CANNOT_VRFY
        assert smtp.verify("zed")[0] == S252_CANNOT_VRFY


def test_size_limit_declared_and_actual(lab_factory: Callable[..., LabServer]) -> None:
    lab = lab_factory(max_message_size=2000)
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        smtp.ehlo("c")
        code, text = reply(smtp, "MAIL FROM:<a@b.c> SIZE=5000")
        assert (code, text[:5]) == (S552_TOO_BIG, "5.3.4")
        assert reply(smtp, "MAIL FROM:<a@b.c>")[0] == S250_OK
        assert reply(smtp, "RCPT TO:<alice@lab.test>")[0] == S250_OK
        assert reply(smtp, "DATA")[0] == S354_START_INPUT
        smtp.send(b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n")
        smtp.send((b"y" * 70 + b"\r\n") * 40 + b".\r\n")
        code, text = smtp.getreply()
        assert (code, text[:5]) == (S552_TOO_BIG, b"5.3.4")
    assert lab.store.messages("alice") == []


def test_recipient_limit(lab_factory: Callable[..., LabServer]) -> None:
    lab = lab_factory(max_recipients=2)
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        smtp.ehlo("c")
        smtp.mail("a@b.c")
        assert smtp.rcpt("alice@lab.test")[0] == S250_OK
        assert smtp.rcpt("bob@lab.test")[0] == S250_OK
        code, text = smtp.rcpt("team@lab.test")
        assert (code, text[:5]) == (S452_TOO_MANY_RCPTS, b"4.5.3")


def test_command_line_over_512_octets_is_refused(wire: Wire) -> None:
    assert wire.ask("HELO c")[0].startswith("250")
    answer = wire.ask("MAIL FROM:<" + "a" * 600 + "@b.c>")
    assert answer[0].startswith("500 5.5.2 Command line too long")
    assert wire.ask("NOOP") == ["250 2.0.0 OK"]


def test_text_line_over_1000_octets_rejects_the_message(lab: LabServer, wire: Wire) -> None:
    wire.send("HELO c", "MAIL FROM:<a@b.c>", "RCPT TO:<alice@lab.test>", "DATA")
    assert [wire.read()[0][:3] for _ in range(4)] == ["250", "250", "250", "354"]
    answer = wire.ask(b"Subject: long\r\n\r\n" + b"z" * 1200 + b"\r\n.")
    assert answer[0].startswith("500 5.5.2 Line too long")
    assert lab.store.messages("alice") == []


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_mechanisms(client: smtplib.SMTP, mechanism: str) -> None:
    client.ehlo("c")
    client.user, client.password = "alice", "alice-password"
    code, text = client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
    assert (code, text[:5]) == (S235_AUTH_OK, b"2.7.0")


def test_auth_wrong_password(client: smtplib.SMTP) -> None:
    client.ehlo("c")
    with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
        client.login("alice", "wrong")
    assert failed.value.smtp_code == S535_AUTH_FAILED
    assert failed.value.smtp_error.startswith(b"5.7.8")


def test_authenticated_client_may_relay_into_the_outbox(
    lab: LabServer, client: smtplib.SMTP
) -> None:
    client.ehlo("c")
    client.login("bob@lab.test", "bob-password")
    assert client.sendmail("bob@lab.test", ["carol@elsewhere.org"], b"Subject: out\r\n\r\n") == {}
    (kept,) = lab.store.messages(OUTBOX)
    assert b"with ESMTPA id" in kept.path.read_bytes()


def test_submission_port_wants_auth_first(lab: LabServer) -> None:
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.submission) as smtp:
        smtp.ehlo("c")
        code, text = smtp.mail("alice@lab.test")
        assert (code, text[:5]) == (S530_AUTH_REQUIRED, b"5.7.0")
        smtp.login("alice", "alice-password")
        assert smtp.mail("alice@lab.test")[0] == S250_OK


def test_starttls_verified_against_the_lab_ca(lab: LabServer, client: smtplib.SMTP) -> None:
    client.ehlo("c")
    code, text = client.starttls(context=lab.tls.client_context())
    assert (code, text) == (S220_READY, b"2.0.0 Ready to start TLS")
    client.ehlo("c")
    assert not client.has_extn("starttls")
    client.login("alice", "alice-password")
    client.sendmail("alice@lab.test", ["bob@lab.test"], b"Subject: tls\r\n\r\n")
    assert b"with ESMTPSA id" in lab.store.messages("bob")[0].path.read_bytes()


def test_starttls_fails_for_a_client_that_does_not_trust_the_lab_ca(client: smtplib.SMTP) -> None:
    client.ehlo("c")
    with pytest.raises(ssl.SSLCertVerificationError):
        client.starttls(context=ssl.create_default_context())


def test_auth_can_require_tls(lab_factory: Callable[..., LabServer]) -> None:
    lab = lab_factory(auth_require_tls=True)
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        smtp.ehlo("c")
        assert not smtp.has_extn("auth")
        code, text = reply(smtp, "AUTH PLAIN AGFsaWNlAGFsaWNlLXBhc3N3b3Jk")
        assert code == 538 and text.startswith("5.7.11")
        smtp.starttls(context=lab.tls.client_context())
        smtp.ehlo("c")
        assert smtp.has_extn("auth")
        assert smtp.login("alice", "alice-password")[0] == S235_AUTH_OK


def test_implicit_tls_port(lab: LabServer) -> None:
    context = lab.tls.client_context()
    with smtplib.SMTP_SSL(lab.endpoints.host, lab.endpoints.smtps, context=context) as smtp:
        smtp.ehlo("c")
        assert not smtp.has_extn("starttls")
        smtp.login("alice", "alice-password")
        assert smtp.sendmail("alice@lab.test", ["bob@lab.test"], b"Subject: s\r\n\r\n") == {}


def test_pipelined_commands_answered_in_order(lab: LabServer, wire: Wire) -> None:
    assert "250-PIPELINING" in wire.ask("EHLO c")
    wire.send(
        "MAIL FROM:<a@b.c>",
        "RCPT TO:<alice@lab.test>",
        "RCPT TO:<zed@lab.test>",
        "RCPT TO:<bob@lab.test>",
        "DATA",
    )
    codes = [wire.read()[0][:3] for _ in range(5)]
    assert codes == ["250", "250", "550", "250", "354"]
    assert wire.ask(b"Subject: p\r\n\r\nbody\r\n.")[0].startswith("250 2.6.0")
    assert len(lab.store.messages("alice")) == len(lab.store.messages("bob")) == 1


def test_smtputf8_address_and_8bit_body(lab: LabServer, client: smtplib.SMTP) -> None:
    body = "Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\r\nGrüße, 世界\r\n".encode()
    client.ehlo("c")
    refused = client.sendmail(
        "jürgen@example.de", ["alice@lab.test"], body, mail_options=["SMTPUTF8", "BODY=8BITMIME"]
    )
    assert refused == {}
    stored = lab.store.messages("alice")[0].path.read_bytes()
    assert stored.startswith("Return-Path: <jürgen@example.de>".encode())
    assert stored.endswith("Grüße, 世界\n".encode())


def test_greylisting_fault_then_retry(lab: LabServer) -> None:
    lab.faults.override("smtp", "RCPT", "451 4.7.1 Greylisted, try again later", times=1)
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        smtp.ehlo("c")
        smtp.mail("a@b.c")
        assert smtp.rcpt("alice@lab.test") == (
            S451_LOCAL_ERROR,
            b"4.7.1 Greylisted, try again later",
        )
        assert smtp.rcpt("alice@lab.test")[0] == S250_OK


def test_delay_fault_slows_the_reply(lab: LabServer, client: smtplib.SMTP) -> None:
    lab.faults.delay("smtp", 300, "NOOP")
    started = time.monotonic()
    assert client.noop()[0] == S250_OK
    assert time.monotonic() - started >= 0.3


def test_drop_fault_closes_after_the_reply(lab: LabServer, wire: Wire) -> None:
    lab.faults.drop_after("smtp", "MAIL")
    wire.send("HELO c")
    wire.read()
    assert wire.ask("MAIL FROM:<a@b.c>")[0].startswith("250 2.1.0")
    assert wire.file.readline() == b""


def test_idle_client_is_disconnected(lab_factory: Callable[..., LabServer]) -> None:
    lab = lab_factory(smtp_idle_timeout=0.3)
    w = Wire(lab.endpoints.host, lab.endpoints.smtp)  # type: ignore[arg-type]
    # readline waits for the idle timer, however late a loaded machine fires it
    assert w.file.readline() == b"421 4.4.2 mail.lab.test Error: timeout exceeded\r\n"
    assert w.file.readline() == b""
    w.close()


@pytest.mark.parametrize(
    ("stock", "rewritten"),
    [
        ("503 Error: need MAIL command", "503 5.5.1 Error: need MAIL command"),
        ("250 2.1.0 OK", "250 2.1.0 OK"),
        ("354 End data with <CR><LF>.<CR><LF>", "354 End data with <CR><LF>.<CR><LF>"),
        ("220 Ready to start TLS", "220 2.0.0 Ready to start TLS"),
        ("530 5.7.0 Authentication required", "530 5.7.0 Authentication required"),
        ("500-Error", "500-5.5.2 Error"),
    ],
)
def test_stock_replies_gain_enhanced_codes(stock: str, rewritten: str) -> None:
    assert with_enhanced_code(stock) == rewritten


# --- bounded memory: an endless line (RFC 5321 section 4.5.3.1.6) --------------------------------

STREAM_OCTETS = 300 * 1024 * 1024
STREAM_CHUNK = b"x" * (4 * 1024 * 1024)
MEMORY_BUDGET_KIB = 32 * 1024  # what the server may grow by while 300 MB go through it
BEFORE_STREAM = {
    "command": ([b"EHLO c"], "500 5.5.2 Command line too long"),
    "data": (
        [b"EHLO c", b"MAIL FROM:<a@b.c>", b"RCPT TO:<alice@lab.test>", b"DATA"],
        "500 5.5.2 Line too long: line 1",
    ),
    "auth": ([b"EHLO c", b"AUTH PLAIN"], "500 5.5.6 Authentication Exchange line is too long"),
}


@pytest.mark.parametrize("phase", sorted(BEFORE_STREAM))
def test_an_endless_line_keeps_memory_bounded_and_other_sessions_served(
    lab_process: LabProcess, phase: str
) -> None:
    port = lab_process.info["smtp_port"]
    commands, refusal = BEFORE_STREAM[phase]
    wire = Wire("127.0.0.1", port)
    wire.send(*commands)
    assert all(wire.read()[-1][:1] in "23" for _ in commands)
    peak_before = lab_process.memory_kib()
    for n in range(STREAM_OCTETS // len(STREAM_CHUNK)):
        wire.sock.sendall(STREAM_CHUNK)
        if n == 30:
            other = Wire("127.0.0.1", port)
            assert other.ask("NOOP") == ["250 2.0.0 OK"]  # served while the stream goes on
            other.close()
    wire.send(b"\r\n." if phase == "data" else b"")
    assert wire.read()[0].startswith(refusal)
    assert wire.ask("NOOP") == ["250 2.0.0 OK"]  # the session is in step
    wire.close()
    assert lab_process.memory_kib() - peak_before < MEMORY_BUDGET_KIB
    assert b"Traceback" not in lab_process.stop()[2]


# --- a refused command changes nothing, and says what was wrong ---------------------------------


def test_a_sender_with_a_non_utf8_byte_is_refused_and_not_kept(lab: LabServer, wire: Wire) -> None:
    assert wire.ask("EHLO c")[-1].startswith("250 ")
    refused = wire.ask(b"MAIL FROM:<caf\xe9@b.c>")
    assert refused == [
        "501 5.1.7 Bad sender address: it holds the octet 0xE9, which is not UTF-8; "
        "nothing was changed, send it as UTF-8 text"
    ]
    assert wire.ask("MAIL FROM:<ok@b.c>")[0].startswith("250 2.1.0")  # no "503 nested MAIL"
    assert wire.ask("RCPT TO:<alice@lab.test>")[0].startswith("250 ")
    assert wire.ask("DATA")[0].startswith(f"{S354_START_INPUT} ")
    assert wire.ask(b"Subject: x\r\n\r\nbody\r\n.")[0].startswith("250 2.6.0")
    (stored,) = lab.store.messages("alice")
    assert stored.path.read_bytes().startswith(b"Return-Path: <ok@b.c>\n")


def test_an_authenticated_recipient_with_a_bad_byte_is_refused_and_nothing_queued(
    lab: LabServer, wire: Wire
) -> None:
    plain = base64.b64encode(b"\0alice\0alice-password").decode()
    assert wire.ask("EHLO c")[-1].startswith("250 ")
    assert wire.ask(f"AUTH PLAIN {plain}")[0].startswith(f"{S235_AUTH_OK} ")
    assert wire.ask("MAIL FROM:<alice@lab.test>")[0].startswith("250 ")
    refused = wire.ask(b"RCPT TO:<carol\xff@elsewhere.org>")[0]
    assert refused.startswith("501 5.1.3 Bad recipient address: it holds the octet 0xFF")
    assert wire.ask("DATA")[0].startswith(f"{S503_BAD_SEQUENCE} 5.5.1")
    assert lab.store.messages(OUTBOX) == []


ARGUMENT_CASES = [
    # (command, expected start of the reply)
    (b"VRFY al\xffice", "501 5.5.4 Bad VRFY argument: it holds the octet 0xFF"),
    (b"EXPN te\xffam", "501 5.5.4 Bad EXPN argument: it holds the octet 0xFF"),
    (b"HELP DA\xffTA", "501 5.5.4 Bad HELP argument: it holds the octet 0xFF"),
    (b"AUTH PLAIN \xff", "501 5.5.4 Bad AUTH argument: it holds the octet 0xFF"),
    (b"HELO ho\xc3st", "501 5.5.4 Bad HELO argument: it holds the octet 0xC3"),
    (b"EHLO ho\x00st", "501 5.5.4 Bad EHLO argument: it holds the control character 0x00"),
    (b"MAIL FROM:<a\x1b@b.c>", "501 5.1.7 Bad sender address: it holds the control character"),
    (b"MAIL FROM:<a@b.c>\rRCPT TO:<x@y.z>", "501 5.1.7 Bad sender address: it holds the control"),
]


@pytest.mark.parametrize(("command", "expected"), ARGUMENT_CASES)
def test_bad_bytes_in_any_argument_get_501_and_change_nothing(
    wire: Wire, command: bytes, expected: str
) -> None:
    answer = wire.ask(command)
    assert len(answer) == 1 and answer[0].startswith(expected), answer
    assert "Error: (" not in answer[0]
    # Nothing changed: no HELO name was recorded, no sender kept.
    assert wire.ask("MAIL FROM:<a@b.c>")[0].startswith(
        f"{S503_BAD_SEQUENCE} 5.5.1 Error: send HELO"
    )
    assert wire.ask("HELO c")[0].startswith("250 ")
    assert wire.ask("MAIL FROM:<a@b.c>")[0].startswith("250 ")


def test_an_unexpected_error_resets_the_transaction_and_says_so(
    lab: LabServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr("mailmagic.lab.smtp.LabHandler.handle_RCPT", broken)
    wire = Wire(lab.endpoints.host, lab.endpoints.smtp)  # type: ignore[arg-type]
    wire.send("HELO c", "MAIL FROM:<a@b.c>")
    assert [wire.read()[0][:3] for _ in range(2)] == ["250", "250"]
    with caplog.at_level(logging.ERROR, logger="mailmagic.lab.smtp"):
        assert wire.ask("RCPT TO:<alice@lab.test>") == [INTERNAL_ERROR]
    assert any(record.exc_info for record in caplog.records)
    assert wire.ask("RCPT TO:<alice@lab.test>")[0].startswith(f"{S503_BAD_SEQUENCE} 5.5.1")
    assert wire.ask("MAIL FROM:<b@c.d>")[0].startswith("250 ")
    wire.close()


@pytest.mark.parametrize("limit", [0, 64])
@pytest.mark.parametrize(
    "arg",
    [
        "",
        "<alice@lab.test>",
        " <alice@lab.test> SIZE=100",
        "alice@lab.test",
        "<>",
        "<not an address",
        '<"quoted local"@lab.test>',
        "<" + "x" * 80 + "@lab.test>",
        "@@@",
    ],
)
def test_address_parsing_answers_as_aiosmtpd_does(arg: str, limit: int) -> None:
    class Parser:
        local_part_limit = limit

    assert LabSMTP._getaddr(Parser(), arg) == SMTP._getaddr(Parser(), arg)  # type: ignore[arg-type]


def test_a_failing_fsync_of_new_answers_451_to_every_message_waiting_for_it(
    lab: LabServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = 4  # the first delivery's fsync fails once the other three wait to share the next

    def failing_fsync(path: str) -> None:
        deadline = time.monotonic() + 60
        while COMMITTER.pending() < clients - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        raise OSError(errno.EIO, "fsync failed (test)", path)

    monkeypatch.setattr("mailmagic.lab.commit._fsync_dir", failing_fsync)
    codes: list[int] = []

    def send(number: int) -> None:
        with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp, timeout=120) as client:
            client.ehlo("c")
            client.mail("bob@lab.test")
            client.rcpt("alice@lab.test")
            codes.append(client.data(b"Subject: %d\r\n\r\nbody\r\n" % number)[0])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert codes == [S451_LOCAL_ERROR] * clients


def test_an_overlong_auth_answer_is_refused_and_the_session_stays_in_step(wire: Wire) -> None:
    assert wire.ask("EHLO c")[-1].startswith("250 ")
    assert wire.ask("AUTH LOGIN") == ["334 VXNlciBOYW1lAA=="]
    assert wire.ask(b"A" * 3000) == [
        "500 5.5.6 Authentication Exchange line is too long (RFC 4954 section 6)"
    ]
    assert wire.ask("NOOP") == ["250 2.0.0 OK"]


def test_repeated_ehlo_does_not_raise_the_mail_line_limit(wire: Wire) -> None:
    for _ in range(20):
        assert wire.ask("EHLO c")[-1] == "250 HELP"
    line = "MAIL FROM:<" + "a" * 580 + "@b.c>"  # 598 octets with CRLF: over 512 + 26 + 10
    assert wire.ask(line)[0].startswith("500 5.5.2 Command line too long")


def test_a_new_connection_does_not_change_another_session_s_limits(
    lab: LabServer, wire: Wire
) -> None:
    assert wire.ask("EHLO c")[-1] == "250 HELP"
    Wire(lab.endpoints.host, lab.endpoints.smtp).close()  # type: ignore[arg-type]
    line = "MAIL FROM:<" + "a" * 500 + "@b.c> SIZE=100"  # 530 octets: within MAIL's 548
    assert wire.ask(line)[0].startswith("250 2.1.0")


# --- STARTTLS inside TLS (RFC 3207 section 4) ---------------------------------------------------


def test_starttls_on_the_implicit_tls_port_gets_503_and_the_session_goes_on(
    lab: LabServer, capfd: pytest.CaptureFixture[str]
) -> None:
    context = lab.tls.client_context()
    with smtplib.SMTP_SSL(lab.endpoints.host, lab.endpoints.smtps, context=context) as smtp:
        smtp.ehlo("c")
        assert reply(smtp, "STARTTLS") == (S503_BAD_SEQUENCE, TLS_ACTIVE[4:])
        smtp.login("alice", "alice-password")
        assert smtp.sendmail("alice@lab.test", ["bob@lab.test"], b"Subject: s\r\n\r\n") == {}
    assert "Traceback" not in capfd.readouterr().err


def test_a_second_starttls_gets_503_and_the_session_goes_on(
    lab: LabServer, client: smtplib.SMTP, capfd: pytest.CaptureFixture[str]
) -> None:
    client.ehlo("c")
    client.starttls(context=lab.tls.client_context())
    client.ehlo("c")
    assert reply(client, "STARTTLS") == (S503_BAD_SEQUENCE, TLS_ACTIVE[4:])
    assert client.noop()[0] == S250_OK
    client.login("alice", "alice-password")
    assert client.sendmail("alice@lab.test", ["bob@lab.test"], b"Subject: s\r\n\r\n") == {}
    assert "Traceback" not in capfd.readouterr().err


# --- the mail data: bare LF, stray CR (RFC 5321 sections 2.3.8 and 4.5.2) ----------------------


@pytest.mark.parametrize("body_lines", [1, 200], ids=["short", "over-1000-octets"])
def test_bare_lf_line_ends_are_named_and_the_session_stays_in_step(
    lab: LabServer, client: smtplib.SMTP, body_lines: int
) -> None:
    message = b"Subject: unix\n\n" + b"a line of the body ends in LF\n" * body_lines
    with pytest.raises(smtplib.SMTPDataError) as refused:
        client.sendmail("a@b.c", ["alice@lab.test"], message)  # bytes go out as they are
    assert refused.value.smtp_code == S500_UNKNOWN
    assert refused.value.smtp_error.startswith(b"5.5.2 Bare LF: line 1 ends in LF without CR")
    assert lab.store.messages("alice") == []
    assert client.sendmail("a@b.c", ["alice@lab.test"], message.replace(b"\n", b"\r\n")) == {}
    assert len(lab.store.messages("alice")) == 1


def test_only_crlf_dot_crlf_ends_the_data(lab: LabServer, wire: Wire) -> None:
    wire.send("HELO c", "MAIL FROM:<a@b.c>", "RCPT TO:<alice@lab.test>", "DATA")
    assert [wire.read()[0][:3] for _ in range(4)] == ["250", "250", "250", "354"]
    wire.sock.sendall(b"Subject: smuggle\r\n\r\nx\n.\r\nMAIL FROM:<evil@b.c>\r\n")
    assert wire.ask(b".")[0].startswith("500 5.5.2 Bare LF: line 3")  # one reply, for all of it
    assert wire.ask("NOOP") == ["250 2.0.0 OK"]
    assert lab.store.messages("alice") == []


def test_a_stray_cr_is_stored_and_served_byte_for_byte(
    lab: LabServer, client: smtplib.SMTP
) -> None:
    message = b"Subject: cr\r\n\r\nline one\r\r\nmid\rline\r\n\r\r\n"
    assert client.sendmail("a@b.c", ["bob@lab.test"], message) == {}
    pop = poplib.POP3(lab.endpoints.host, lab.endpoints.pop3, timeout=10)
    pop.user("bob")
    pop.pass_("bob-password")
    size = pop.list(1).split()[2]
    _, lines, octets = pop.retr(1)
    pop.quit()
    assert b"\r\n".join(lines).endswith(message.removesuffix(b"\r\n"))
    assert int(size) == octets


# --- local parts are never paths -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../escaped-user", "../alice", "a/../../b", ".", ".."])
@pytest.mark.parametrize("login", [False, True], ids=["anonymous", "authenticated"])
def test_a_recipient_with_path_characters_is_unknown_and_nothing_is_written(
    lab: LabServer, client: smtplib.SMTP, tmp_path: Path, name: str, login: bool
) -> None:
    client.ehlo("c")
    if login:
        client.login("alice", "alice-password")
    client.mail("a@b.c")
    code, text = client.rcpt(f"<{name}@lab.test>")
    assert (code, text[:5]) == (S550_UNAVAILABLE, b"5.1.1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maildir"]
    assert sorted(p.name for p in (tmp_path / "maildir").iterdir()) == [
        ".tls",
        OUTBOX,
        "alice",
        "bob",
    ]
