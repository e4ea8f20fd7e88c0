# What this module does: tests of lab.log (mailmagic/lab/log.py), the lab server's own record of
# its sessions, against a real lab server driven by smtplib and poplib: per-session protocol,
# listener, TLS, user and every command with its reply code; secrets (AUTH, PASS, APOP, SASL
# continuation lines) masked everywhere the log shows up; the helpers; the bound on sessions
# kept; and the masking rules themselves as a table.
from __future__ import annotations

import base64
import poplib
import smtplib
import time
from collections.abc import Callable

import pytest

from mailmagic.lab import LabServer
from mailmagic.lab.log import (
    MAX_EXCHANGES,
    LabLog,
    LoggedExchange,
    LoggedSession,
    mask_command,
    mask_continuation,
)

SECRET = "alice-password"


def ended(lab: LabServer, count: int) -> list[LoggedSession]:
    """The log once ``count`` sessions have ended (the server notes an end a moment after the
    client closes: poll, never sleep-then-assert)."""
    for _ in range(6000):
        sessions = list(lab.log)
        if len(sessions) >= count and all(s.ended for s in sessions[:count]):
            return sessions
        time.sleep(0.01)
    raise AssertionError(f"only {list(lab.log)} ended")


def test_an_smtp_session_is_logged_with_secrets_masked(lab: LabServer) -> None:
    ep = lab.endpoints
    with smtplib.SMTP(ep.host, ep.submission, timeout=60) as smtp:
        smtp.starttls(context=lab.tls.client_context())
        smtp.login("alice", SECRET)  # AUTH PLAIN with the secret in base64
        smtp.verify("bob")
        smtp.docmd("BOGUS")
        smtp.sendmail("alice@lab.test", ["bob@lab.test"], b"Subject: x\r\n\r\nhi\r\n")
    (session,) = ended(lab, 1)
    assert (session.protocol, session.listener, session.tls, session.user) == (
        "smtp",
        "submission",
        True,
        "alice",
    )
    assert session.exchanges[0].command == "" and session.exchanges[0].code == "220"
    codes = {e.verb: e.code for e in session.exchanges}
    assert codes["STARTTLS"] == "220" and codes["VRFY"] == "250" and codes["BOGUS"] == "500"
    assert codes["DATA"] == "354" and codes["."] == "250" and codes["QUIT"] == "221"
    assert "AUTH PLAIN ***" in session.commands()
    assert session.ended is not None and session.started <= session.ended
    assert (
        lab.log.used("vrfy") and lab.log.used("VRFY", "smtp") and not lab.log.used("VRFY", "pop3")
    )
    assert_no_secret(lab.log)


def test_auth_login_continuations_are_masked(lab: LabServer) -> None:
    ep = lab.endpoints
    with smtplib.SMTP(ep.host, ep.smtp, timeout=60) as smtp:
        smtp.ehlo()
        smtp.docmd("AUTH", "LOGIN")
        smtp.docmd(base64.b64encode(b"alice").decode())
        assert smtp.docmd(base64.b64encode(SECRET.encode()).decode())[0] == 235
    (session,) = ended(lab, 1)
    assert session.commands()[-4:] == ["AUTH LOGIN", "***", "***", "QUIT"]
    assert [e.code for e in session.exchanges][-4:] == ["334", "334", "235", "221"]
    assert_no_secret(lab.log)


def test_a_pop3_session_is_logged(lab: LabServer) -> None:
    lab.seed("alice", b"Subject: one\r\n\r\n1\r\n")
    ep = lab.endpoints
    first = poplib.POP3(ep.host, ep.pop3, timeout=60)
    first.user("alice")
    first.pass_(SECRET)
    first.dele(1)
    first.quit()
    second = poplib.POP3_SSL(ep.host, ep.pop3s, context=lab.tls.client_context(), timeout=60)
    timestamp = second.getwelcome().decode().split()[-1]
    assert second.apop("alice", SECRET).startswith(b"+OK")
    second.quit()
    plain, tls = ended(lab, 2)
    assert (plain.listener, plain.tls, plain.user) == ("pop3", False, "alice")
    assert plain.commands() == ["USER alice", "PASS ***", "DELE 1", "QUIT"]
    assert [e.code for e in plain.exchanges] == ["+OK"] * 5
    assert (tls.listener, tls.tls, tls.commands()[0]) == ("pop3s", True, "APOP alice ***")
    assert lab.log.commands("pop3").index("DELE 1") < lab.log.commands("pop3").index("QUIT")
    assert timestamp.startswith("<")
    assert_no_secret(lab.log)


def test_a_wrong_password_and_sasl_are_masked_too(lab: LabServer) -> None:
    pop = poplib.POP3(lab.endpoints.host, lab.endpoints.pop3, timeout=60)
    pop.user("alice")
    with pytest.raises(poplib.error_proto):
        pop.pass_("wrong-" + SECRET)
    plain = base64.b64encode(f"\0alice\0{SECRET}".encode()).decode()
    pop._putcmd("AUTH PLAIN")  # the response on a line of its own (RFC 5034 section 4)
    assert pop._getresp().startswith(b"+")
    pop._putcmd(plain)
    assert pop._getresp().startswith(b"+OK")
    pop.quit()
    (session,) = ended(lab, 1)
    assert session.commands() == ["USER alice", "PASS ***", "AUTH PLAIN", "***", "QUIT"]
    assert [e.code for e in session.exchanges][1:] == ["+OK", "-ERR", "+", "+OK", "+OK"]
    assert session.user == "alice"
    assert_no_secret(lab.log)


def assert_no_secret(log: LabLog) -> None:
    encoded = base64.b64encode(f"\0alice\0{SECRET}".encode()).decode()
    for shown in (repr(log), log.as_text(), log.as_html(), repr(list(log))):
        assert SECRET not in shown and encoded not in shown
        assert base64.b64encode(SECRET.encode()).decode() not in shown


def test_the_log_keeps_the_last_sessions_and_clears(lab_factory: Callable[..., LabServer]) -> None:
    lab = lab_factory(log_sessions=3)
    for n in range(5):
        with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp, timeout=60) as smtp:
            smtp.docmd("NOOP", str(n))
    sessions = ended(lab, 3)
    assert len(lab.log) == 3 and [s.commands()[0] for s in sessions] == [
        "NOOP 2",
        "NOOP 3",
        "NOOP 4",
    ]
    assert lab.log[-1].commands() == ["NOOP 4", "QUIT"]
    assert "NOOP 4" in lab.log.as_text() and "<table" in lab.log._repr_html_()
    lab.log.clear()
    assert len(lab.log) == 0 and lab.log.commands() == [] and "no sessions" in repr(lab.log)


def test_a_log_of_zero_sessions_keeps_none(lab_factory: Callable[..., LabServer]) -> None:
    lab = lab_factory(log_sessions=0)
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp, timeout=60) as smtp:
        assert smtp.noop()[0] == 250
    assert len(lab.log) == 0


def test_html_escapes_what_clients_send(lab: LabServer) -> None:
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp, timeout=60) as smtp:
        smtp.docmd("NOOP", "<script>alert(1)</script>")
    ended(lab, 1)
    assert "<script>" not in lab.log.as_html() and "&lt;script&gt;" in lab.log.as_html()


@pytest.mark.parametrize(
    ("protocol", "line", "masked"),
    [
        ("smtp", "AUTH PLAIN AGFsaWNlAHM=", "AUTH PLAIN ***"),
        ("smtp", "AUTH LOGIN", "AUTH LOGIN"),
        ("smtp", "MAIL FROM:<a@b>", "MAIL FROM:<a@b>"),
        ("pop3", "PASS my secret words", "PASS ***"),
        ("pop3", "APOP alice 0123abcd", "APOP alice ***"),
        ("pop3", "AUTH PLAIN AGFsaWNlAHM=", "AUTH PLAIN ***"),
        ("pop3", "USER alice", "USER alice"),
        ("pop3", "", ""),
    ],
)
def test_masking_matches_the_client_transcript(protocol: str, line: str, masked: str) -> None:
    assert mask_command(protocol, line) == masked  # type: ignore[arg-type]


def test_continuation_lines_are_masked_unless_cancelled() -> None:
    assert mask_continuation("YWxpY2U=") == "***" and mask_continuation("*\r\n") == "*"


def test_a_long_session_keeps_its_first_and_last_exchanges() -> None:
    log = LabLog(limit=2)
    recorder = log.open("smtp", "smtp", ("127.0.0.1", 2525), tls=False)
    recorder.reply("220 ready")
    for n in range(MAX_EXCHANGES + 198):  # with the greeting and QUIT: 200 too many
        recorder.command(f"NOOP {n}")
        recorder.reply("250 2.0.0 OK")
    recorder.command("QUIT")
    recorder.end(tls=False)
    (session,) = log
    assert len(session.exchanges) == MAX_EXCHANGES and session.dropped == 200
    assert session.exchanges[0].code == "220" and session.commands()[-1] == "QUIT"
    assert session.exchanges[-1] == LoggedExchange("QUIT", "", "")  # no reply came
    assert session.peer == "127.0.0.1:2525" and session.ended is not None
