# What this module does: tests of the teacher's checks and controls on a running lab server
# (mailmagic/lab/controls.py), driven by smtplib and poplib over real sockets: lab.mailbox and its
# filters, the unknown-user error, expect_delivered / expect_no_mail passing and failing with a
# message a student can act on, add_user / remove_user / empty / seed while sessions stay open, and
# the VRFY answer changed without a restart.
from __future__ import annotations

import email.policy
import poplib
import smtplib
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from mailmagic.lab import LabServer
from mailmagic.lab.directory import LabError
from mailmagic.lab.messages import LabMessage


def message(subject: str, body: str, sender: str = "alice@lab.test", **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "bob@lab.test", subject
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail.as_bytes(policy=email.policy.SMTP)  # CRLF: the lab refuses bare LF


def send(lab: LabServer, to: str, data: bytes, sender: str = "alice@lab.test") -> None:
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp, timeout=60) as smtp:
        smtp.sendmail(sender, [to], data)


@pytest.fixture
def filled(lab: LabServer) -> LabServer:
    """bob holds a report from alice (sent with swaks) and a note from carol@example.org."""
    send(lab, "bob@lab.test", message("Weekly Report", "All green.\n", X_Mailer="swaks 20240103"))
    send(lab, "bob@lab.test", message("note", "see you", "carol@example.org"), "carol@example.org")
    return lab


def test_mailbox_parses_and_filters_case_insensitively(filled: LabServer) -> None:
    every = filled.mailbox("bob")
    assert [m["Subject"] for m in every] == ["Weekly Report", "note"]
    first = every[0]
    assert isinstance(first, LabMessage) and first.mailbox == "bob"
    assert (first.uid, first.size) == (filled.store.messages("bob")[0].uid, first.size)
    assert first.size == filled.store.messages("bob")[0].size
    assert filled.mailbox("bob@LAB.test", subject="report") == [first]
    assert filled.mailbox("bob", sender="CAROL")[0]["Subject"] == "note"
    assert filled.mailbox("bob", recipient="bob@lab.test", text="all GREEN") == [first]
    assert filled.mailbox("bob", header=("x-mailer", "SWAKS")) == [first]
    assert filled.mailbox("bob", subject="report", sender="carol") == []
    assert filled.mailbox("team") == filled.mailbox("alice") + every  # a list: its members'


def test_an_unknown_user_is_an_error_that_lists_the_users(lab: LabServer) -> None:
    with pytest.raises(LabError, match=r"'bobb' is not a user.*alice, bob") as caught:
        lab.mailbox("bobb")
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)
    with pytest.raises(LabError):
        lab.expect_no_mail("nobody@lab.test")


def test_expect_delivered_returns_the_match(filled: LabServer) -> None:
    found = filled.expect_delivered(to="bob@lab.test", subject="report", sender="alice")
    assert isinstance(found, LabMessage) and found["Subject"] == "Weekly Report"
    assert len(filled.expect_delivered(to="bob", count=2)) == 2  # type: ignore[arg-type]


def test_expect_delivered_says_what_to_check(filled: LabServer) -> None:
    with pytest.raises(AssertionError) as caught:
        filled.expect_delivered(to="bob@lab.test", subject="Weekly Reprot")
    text = str(caught.value)
    assert "subject containing 'Weekly Reprot'" in text and "holds 2 messages" in text
    assert text.index("Weekly Report") < text.index("'note'")  # the closest first
    assert "RCPT TO:<bob@lab.test> -> 250" in text and "RCPT TO address" in text
    with pytest.raises(AssertionError, match=r"no RCPT TO naming alice@lab\.test"):
        filled.expect_delivered(to="alice")
    with pytest.raises(AssertionError, match="exactly 3 messages"):
        filled.expect_delivered(to="bob", count=3)


def test_expect_no_mail_lists_what_is_there(filled: LabServer) -> None:
    filled.expect_no_mail("alice@lab.test")
    with pytest.raises(AssertionError, match=r"(?s)no mail for bob@lab.test.*holds 2.*Weekly"):
        filled.expect_no_mail("bob")


def test_expect_delivered_to_a_list_wants_every_member(lab: LabServer) -> None:
    lab.seed("bob", message("team news", "hi"))
    with pytest.raises(AssertionError, match=r"for alice@lab\.test"):
        lab.expect_delivered(to="team@lab.test", subject="team news")
    send(lab, "team@lab.test", message("team news", "hi"))
    assert len(lab.expect_delivered(to="team", subject="team news")) == 3  # type: ignore[arg-type]


def test_controls_change_the_lab_while_sessions_stay_open(lab: LabServer) -> None:
    ep = lab.endpoints
    with smtplib.SMTP(ep.host, ep.smtp, timeout=60) as smtp:
        smtp.ehlo()
        assert smtp.rcpt("carol@lab.test")[0] == 503  # no MAIL yet: check the user below
        smtp.mail("alice@lab.test")
        assert smtp.rcpt("carol@lab.test")[0] == 550
        lab.add_user("Carol", "carol-password")
        assert smtp.rcpt("carol@lab.test")[0] == 250  # the same session sees carol now
        assert smtp.data(message("hello carol", "hi"))[0] == 250
        lab.expect_delivered(to="carol", subject="hello carol")
        pop = poplib.POP3(ep.host, ep.pop3, timeout=60)
        pop.user("carol")
        pop.pass_("carol-password")
        assert pop.stat()[0] == 1
        pop.quit()
        lab.remove_user("carol")
        smtp.rset()
        smtp.mail("alice@lab.test")
        assert smtp.rcpt("carol@lab.test")[0] == 550
        assert smtp.noop()[0] == 250
    with pytest.raises(LabError):
        lab.mailbox("carol")
    assert not lab.store.maildir("carol").exists()


def test_remove_user_can_keep_the_mail_and_leaves_the_lists(lab: LabServer) -> None:
    lab.seed("bob", [message("one", "1"), b"Subject: two\r\n\r\n2\r\n", "Subject: three\n\n3\n"])
    lab.remove_user("bob@lab.test", keep_mail=True)
    assert lab.directory.aliases["team"] == ("alice",)
    assert len(lab.store.messages("bob")) == 3
    lab.add_user("bob", "new-password")
    assert [m["Subject"] for m in lab.mailbox("bob")] == ["one", "two", "three"]
    with pytest.raises(LabError, match="already a user"):
        lab.add_user("bob", "again")
    with pytest.raises(LabError, match="not allowed"):
        lab.add_user("../etc", "x")


def test_seed_and_empty(lab: LabServer) -> None:
    uids = lab.seed("alice", [message("seeded", "first"), message("seeded", "second")])
    assert [m.uid for m in lab.mailbox("alice")] == uids
    pop = poplib.POP3(lab.endpoints.host, lab.endpoints.pop3, timeout=60)
    pop.user("alice")
    pop.pass_("alice-password")
    assert [line.split()[1].decode() for line in pop.uidl()[1]] == uids
    assert lab.empty("alice") == 2  # while the POP3 session holds the maildrop
    assert lab.mailbox("alice") == []
    with pytest.raises(poplib.error_proto, match="SYS/TEMP"):
        pop.retr(1)
    assert pop.noop().startswith(b"+OK")
    pop.quit()
    lab.expect_no_mail("alice")


@pytest.mark.parametrize(("setting", "known"), [("250", 250), ("252", 252)])
def test_vrfy_disclosure_changes_without_a_restart(
    lab_factory: Callable[..., LabServer], setting: str, known: int
) -> None:
    lab = lab_factory()
    assert lab.vrfy_disclosure == "250"  # today's default: VRFY confirms a known user
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp, timeout=60) as smtp:
        lab.vrfy_disclosure = setting
        assert smtp.verify("alice")[0] == known
        assert smtp.verify("zed")[0] == (550 if setting == "250" else 252)
    with pytest.raises(LabError, match="'250' confirms"):
        lab.vrfy_disclosure = "251"


def test_vrfy_discloses_false_starts_at_252(lab_factory: Callable[..., LabServer]) -> None:
    assert lab_factory(vrfy_discloses=False).vrfy_disclosure == "252"


def test_outbox_holds_what_was_relayed_after_auth(lab: LabServer) -> None:
    ep = lab.endpoints
    with smtplib.SMTP(ep.host, ep.smtp, timeout=60) as smtp:
        smtp.login("alice", "alice-password")
        smtp.sendmail("alice@lab.test", ["x@example.org"], message("away", "out there"))
    (sent,) = lab.outbox(recipient="bob@lab.test", text="OUT THERE")
    assert sent["Subject"] == "away" and sent.mailbox == "_outbox"
    assert lab.outbox(subject="nothing like it") == []
