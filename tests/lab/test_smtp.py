# What this module does: tests of the lab SMTP server (mailmagic/lab/smtp.py) through independent
# real clients on loopback: stdlib smtplib, and a raw socket where smtplib would hide the wire.
# One scenario per command of the seeds and of the issue, including the error replies.
from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator

import pytest

from mailmagic.lab import LabServer
from mailmagic.lab.smtp import with_enhanced_code
from mailmagic.lab.store import OUTBOX

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
    time.sleep(0.6)
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
