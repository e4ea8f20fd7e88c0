# What this module does: tests of mailmagic/display/trust.py through every view on real lab
# sessions: a result from a session that does not check certificates (`--insecure`) says so in
# text/plain, text/html and the widget (reply views such as EHLO and NOOP, cells, the session panel
# and list, the transcript, the mailbox table, a fetch), and one from a verified session does not.
from __future__ import annotations

from typing import Any

import pytest

from mailmagic.display.cell import CellView
from mailmagic.display.fetch import FetchView
from mailmagic.display.mailbox import MailboxView
from mailmagic.display.reply import ReplyView
from mailmagic.display.session import SessionsView, SessionView
from mailmagic.display.transcript import TranscriptView
from mailmagic.display.trust import INSECURE, unverified
from mailmagic.lab import LabServer
from mailmagic.session.base import Session, Settings
from mailmagic.session.fetch import FetchResult
from mailmagic.session.pop3 import Pop3Session
from mailmagic.session.smtp import SmtpSession
from tests.display.conftest import DummyComm, html_of

WARNING = "certificate checks are OFF"


def over_tls(lab: LabServer, insecure: bool) -> tuple[SmtpSession, Pop3Session]:
    ep = lab.endpoints
    trust = {"insecure": True} if insecure else {"cafile": str(ep.ca_file)}
    smtp = SmtpSession("s", Settings(ep.host, ep.smtps, tls="implicit", **trust))  # type: ignore[arg-type]
    pop3 = Pop3Session("p", Settings(ep.host, ep.pop3s, tls="implicit", **trust))  # type: ignore[arg-type]
    smtp.connect()
    pop3.connect()
    assert pop3.login("alice", "alice-password").ok
    return smtp, pop3


def views(smtp: SmtpSession, pop3: Pop3Session) -> list[Any]:
    ehlo = ReplyView(smtp.command("EHLO me"), "EHLO me", "s", "SMTP", live=smtp)
    noop = ReplyView(smtp.command("NOOP"), "NOOP", "s", "SMTP", live=smtp)
    listing = ReplyView(pop3.command("LIST"), "LIST", "p", "POP3", live=pop3)
    return [
        ehlo,
        noop,
        listing,
        CellView((noop,)),
        SessionView(smtp),
        SessionsView("SMTP", [smtp], "s"),
        SessionsView("POP3", [pop3], "p"),
        TranscriptView("s", smtp.transcript, unverified(smtp)),
        MailboxView(pop3),
        FetchView(FetchResult(), "archive", insecure=unverified(pop3)),
    ]


def forms(view: Any) -> dict[str, str]:
    return {"text": view.as_text(), "html": view.as_html(), "widget": html_of(view.widget())}


def test_every_display_of_an_unverified_session_says_so(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    smtp, pop3 = over_tls(lab, insecure=True)
    assert unverified(smtp) and unverified(pop3)
    for view in views(smtp, pop3):
        for form, shown in forms(view).items():
            assert WARNING in shown, (type(view).__name__, form, shown)


def test_a_verified_session_shows_no_warning(lab: LabServer, dummy_comm: list[DummyComm]) -> None:
    smtp, pop3 = over_tls(lab, insecure=False)
    assert not unverified(smtp) and not unverified(pop3)
    for view in views(smtp, pop3):
        for form, shown in forms(view).items():
            assert WARNING not in shown, (type(view).__name__, form)


@pytest.mark.parametrize("tls", ["plain", "starttls"])
def test_insecure_counts_before_tls_starts_too(lab: LabServer, tls: str) -> None:
    session: Session[Any, Any] = SmtpSession(
        "x",
        Settings(lab.endpoints.host, lab.endpoints.smtp, tls=tls, insecure=True),  # type: ignore[arg-type]
    )
    assert unverified(session) and INSECURE.startswith(WARNING)
    reply = ReplyView(None, "NOOP", "x", "SMTP", live=session)
    assert reply.insecure and WARNING in reply.as_text() and WARNING in reply.as_html()
