# What this module does: tests of live POP3 sessions (mailmagic/session/pop3.py) against the lab
# server: USER/PASS, APOP and AUTH PLAIN logins with masked transcripts, multi-line replies kept
# byte-exact, STLS and POP3S verified against the lab CA, and the session closing after QUIT.
from __future__ import annotations

import smtplib

import pytest

from mailmagic.lab import LabServer
from mailmagic.protocol.pop3 import Pop3State
from mailmagic.session.base import SessionError, Settings
from mailmagic.session.pop3 import Pop3Session

MESSAGE = b"Subject: hi\r\n\r\n.starts with a dot\r\nGr\xc3\xbc\xc3\x9fe\r\n"


def session(lab: LabServer, port_name: str = "pop3", **settings: object) -> Pop3Session:
    port = getattr(lab.endpoints, port_name)
    options = {"cafile": str(lab.endpoints.ca_file), "timeout": 5.0, **settings}
    return Pop3Session("p", Settings("127.0.0.1", port, **options))  # type: ignore[arg-type]


@pytest.fixture
def delivered(lab: LabServer) -> LabServer:
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        smtp.sendmail("me@lab.test", ["alice@lab.test"], MESSAGE)
    return lab


@pytest.mark.parametrize("method", ["user", "apop", "sasl"])
def test_every_login_method_with_masked_secrets(delivered: LabServer, method: str) -> None:
    s = session(delivered)
    greeting = s.connect()
    assert greeting.ok and greeting.timestamp is not None
    reply = s.login("alice", "alice-password", method)  # type: ignore[arg-type]
    assert reply.ok and s.conn.state is Pop3State.TRANSACTION
    text = s.transcript.text()
    assert "alice-password" not in text and "***" in text


def test_retr_is_byte_exact_and_dot_unstuffed(delivered: LabServer) -> None:
    s = session(delivered)
    s.connect()
    s.login("alice", "alice-password")
    reply = s.command("RETR 1")
    assert reply is not None and reply.ok
    assert reply.body.endswith(MESSAGE)
    assert reply.lines[-1] == "Grüße"


def test_wrong_password_gets_the_auth_response_code(delivered: LabServer) -> None:
    s = session(delivered)
    s.connect()
    reply = s.login("alice", "wrong")
    assert not reply.ok and reply.resp_code is not None and reply.resp_code.code == "AUTH"


def test_stls_upgrade_and_pop3s(delivered: LabServer) -> None:
    s = session(delivered)
    s.connect()
    reply = s.command("STLS")
    assert reply is not None and reply.ok and s.tls is not None and s.tls.verified
    capa = s.command("CAPA")
    assert capa is not None and "STLS" not in capa.lines
    implicit = session(delivered, "pop3s", tls="implicit")
    assert implicit.connect().ok and implicit.tls is not None


def test_quit_closes_the_session_and_commits_deletions(delivered: LabServer) -> None:
    s = session(delivered)
    s.connect()
    s.login("alice", "alice-password")
    s.command("DELE 1")
    bye = s.command("QUIT")
    assert bye is not None and bye.ok and s.status == "closed"
    assert delivered.store.messages("alice") == []


def test_user_is_remembered_for_a_pass_filled_in_later(delivered: LabServer) -> None:
    s = session(delivered)
    s.connect()
    s.command("USER alice")
    assert s.last_user == "alice"


def test_apop_needs_a_timestamp_in_the_greeting(delivered: LabServer) -> None:
    s = session(delivered)
    s.connect()
    s.conn = type(s.conn)()  # a connection that never saw the greeting has no timestamp
    with pytest.raises(SessionError, match="no APOP"):
        s.apop_digest("x")
