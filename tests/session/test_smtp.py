# What this module does: tests of live SMTP sessions (mailmagic/session/smtp.py) against the lab
# server: raw lines as typed, DATA text, STARTTLS (raw and at open) and implicit TLS verified
# against the lab CA, AUTH helpers with the secrets masked in the transcript, and sending a proper
# message with dot-stuffing, and Ctrl-C at every point of a send (one or many messages) leaving
# the session broken or as it was, never open halfway through.
from __future__ import annotations

import contextlib
import email
import ssl
from collections.abc import Callable

import pytest

from mailmagic.lab import LabServer
from mailmagic.protocol.smtp import Reply, SmtpState
from mailmagic.session.base import SessionClosed, Settings
from mailmagic.session.smtp import SmtpSession, build_message
from tests.protocol.interrupts import Interrupter, every_point

S220_READY = 220
S235_AUTH_OK = 235
S250_OK = 250
S354_START_INPUT = 354
S535_AUTH_FAILED = 535


def session(lab: LabServer, port_name: str = "smtp", **settings: object) -> SmtpSession:
    port = getattr(lab.endpoints, port_name)
    options = {"cafile": str(lab.endpoints.ca_file), "timeout": 5.0, **settings}
    s = SmtpSession("s", Settings("127.0.0.1", port, **options))  # type: ignore[arg-type]
    return s


def test_seed_walkthrough_line_by_line(lab: LabServer) -> None:
    s = session(lab)
    assert s.connect().code == S220_READY
    steps = [
        ("HELO mycomputer.mydomain.com", S250_OK, SmtpState.READY),
        ("MAIL FROM: me@mydomain.com", S250_OK, SmtpState.MAIL),
        ("RCPT TO: alice@lab.test", S250_OK, SmtpState.RCPT),
        ("DATA", S354_START_INPUT, SmtpState.DATA),
    ]
    for line, code, state in steps:
        reply = s.command(line)
        assert reply is not None and reply.code == code, line
        assert s.conn.state is state
    for text in ("Subject: test", "", "Message Body"):
        assert s.command(text) is None
    end = s.command(".")
    assert end is not None and end.code == S250_OK and str(end.enhanced) == "2.6.0"
    bye = s.command("QUIT")
    assert bye is not None and bye.code == 221 and s.status == "closed"
    (stored,) = lab.store.messages("alice")
    assert stored.path.read_bytes().endswith(b"Subject: test\n\nMessage Body\n")


def test_transcript_tells_client_and_server_apart_with_round_trip_times(lab: LabServer) -> None:
    s = session(lab)
    s.connect()
    s.command("NOOP")
    kinds = [e.direction for e in s.transcript.entries]
    assert kinds == ["note", "server", "client", "server"]
    assert all(
        e.rtt is not None and e.rtt >= 0 for e in s.transcript.entries if e.direction == "server"
    )
    assert s.transcript.text().splitlines()[-2:] == ["C: NOOP", "S: 250 2.0.0 OK"]


def test_raw_starttls_upgrades_and_is_verified(lab: LabServer) -> None:
    s = session(lab)
    s.connect()
    s.command("EHLO me")
    reply = s.command("STARTTLS")
    assert reply is not None and reply.code == S220_READY
    assert s.tls is not None and s.tls.verified and s.tls.version.startswith("TLS")
    assert "mail.lab.test" in s.tls.subject and "mailmagic lab CA" in s.tls.issuer
    assert s.conn.state is SmtpState.GREETED
    ehlo = s.command("EHLO me")
    assert ehlo is not None and "STARTTLS" not in ehlo.text
    assert s.transcript.entries[-1].tls


def test_open_with_starttls_and_with_implicit_tls(lab: LabServer) -> None:
    upgraded = session(lab, tls="starttls")
    upgraded.connect()
    assert upgraded.tls is not None and upgraded.conn.state is SmtpState.GREETED
    implicit = session(lab, "smtps", tls="implicit")
    assert implicit.connect().code == S220_READY
    assert implicit.tls is not None and implicit.tls.verified


def test_an_untrusted_certificate_is_refused_unless_insecure(lab: LabServer) -> None:
    strict = session(lab, "smtps", tls="implicit", cafile=None)
    with pytest.raises(SessionClosed, match="certificate was refused"):
        strict.connect()
    loose = session(lab, "smtps", tls="implicit", cafile=None, insecure=True)
    loose.connect()
    assert loose.tls is not None and not loose.tls.verified
    assert "certificate NOT verified" in loose.transcript.text()
    assert "mail.lab.test" in loose.tls.subject


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_login_masks_every_secret(lab: LabServer, mechanism: str) -> None:
    s = session(lab)
    s.connect()
    s.command("EHLO me")
    reply = s.login("alice", "alice-password", mechanism)
    assert reply.code == S235_AUTH_OK
    text = s.transcript.text()
    assert "alice-password" not in text
    assert "YWxpY2UtcGFzc3dvcmQ" not in text  # base64 of the password
    assert "AGFsaWNlAGFsaWNlLXBhc3N3b3Jk" not in text  # the PLAIN token
    assert "***" in text


def test_login_with_a_wrong_password(lab: LabServer) -> None:
    s = session(lab)
    s.connect()
    s.command("EHLO me")
    assert s.login("alice", "nope").code == S535_AUTH_FAILED
    assert s.is_open


def test_send_message_builds_headers_and_dot_stuffs(lab: LabServer) -> None:
    s = session(lab)
    s.connect()
    s.command("EHLO me")
    body = "first line\n.a line that starts with a dot\n.\nlast line\n"
    message = build_message("me@lab.test", ["alice@lab.test"], "Hello", body, cc=["bob@lab.test"])
    steps = s.send_message("me@lab.test", ["alice@lab.test", "bob@lab.test"], message)
    assert [r.code for _, r in steps] == [250, 250, 250, 354, 250]
    assert steps[0][0] == "MAIL FROM:<me@lab.test>"
    (stored,) = lab.store.messages("bob")
    parsed = email.message_from_bytes(stored.path.read_bytes())
    assert parsed["Subject"] == "Hello" and parsed["Cc"] == "bob@lab.test"
    assert parsed["Message-ID"].endswith("@lab.test>") and parsed["Date"]
    assert parsed.get_payload() == body


def test_send_message_stops_when_no_recipient_is_accepted(lab: LabServer) -> None:
    s = session(lab)
    s.connect()
    s.command("EHLO me")
    steps = s.send_message("me@lab.test", ["nobody@lab.test"], b"Subject: x\r\n\r\n")
    assert [(c.split(" ")[0], r.code) for c, r in steps] == [
        ("MAIL", 250),
        ("RCPT", 550),
        ("RSET", 250),
    ]
    assert lab.store.messages("alice") == []


def test_ssl_module_default_context_is_not_weakened() -> None:
    from mailmagic.session.transport import tls_context

    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


# --- Ctrl-C at every point of a send --------------------------------------------------------------

SWEEP = b"Subject: sweep\r\n\r\n.a dotted line\r\nbody\r\n"


def _send_interrupted_at(lab: LabServer, n: int, send: Callable[[SmtpSession], Reply]) -> bool:
    """Send with Ctrl-C at point ``n``; check the session is broken or as it was (in step: NOOP
    gets its own reply). False when the send ran to the end without an interrupt."""
    s = session(lab)
    s.connect()
    s.command("EHLO sweeper")
    finals: list[Reply] = []
    with Interrupter(n) as interrupter, contextlib.suppress(KeyboardInterrupt):
        finals.append(send(s))
    if not interrupter.fired:
        assert finals[0].code == S250_OK
        return False
    if s.status == "open":  # stopped before anything was sent
        assert s.conn.pending == () and s.conn.state is SmtpState.READY
        noop = s.command("NOOP")
        assert noop is not None and noop.code == S250_OK and noop.command == "NOOP"
    else:
        assert s.status == "broken" and s.reason.startswith("interrupted while")
        with pytest.raises(SessionClosed, match=r"is broken \(interrupted while .*reconnect"):
            s.command("NOOP")
    s.close()
    return True


def _one_message(s: SmtpSession) -> Reply:
    return s.send_message("a@lab.test", ["alice@lab.test", "bob@lab.test"], SWEEP)[-1][1]


def _two_messages(s: SmtpSession) -> Reply:
    return s.send_many([("a@lab.test", ["alice@lab.test"], SWEEP)] * 2)[-1]


@pytest.mark.parametrize(
    ("send", "step"), [(_one_message, 1), (_two_messages, 2)], ids=["send_message", "send_many"]
)
def test_ctrl_c_at_any_point_of_a_send_leaves_the_session_broken_or_as_it_was(
    lab: LabServer, send: Callable[[SmtpSession], Reply], step: int
) -> None:
    # Every point of the path in session/ and protocol/ in turn (every other one for two
    # messages), not a timer racing the code: the commands, the dot-stuffing, the transcript,
    # the socket calls and the replies.
    assert every_point(lambda n: _send_interrupted_at(lab, n, send), step=step) > 300
