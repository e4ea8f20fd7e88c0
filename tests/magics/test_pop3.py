# What this module does: tests of %pop3's own words (mailmagic/magics/pop3.py) through a real
# shell and the real lab server: login (USER/PASS, APOP, AUTH), PASS alone filling in a secret
# that is never shown, the mailbox table (and its Reconnect button following a restarted lab),
# displaylimit, and fetch with a progress bar that says when it finished or stopped.
from __future__ import annotations

import smtplib
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from mailmagic.display.fetch import ProgressBar
from mailmagic.display.mailbox import MailboxWidget
from mailmagic.magics import pop3, smtp
from tests.magics.shell import S250_OK, Shell


def test_passwords_never_typed_nor_shown(lab_ip: Shell) -> None:
    lab_ip.line("pop3", "open")
    lab_ip.line("pop3", "USER alice")
    reply = lab_ip.line("pop3", "PASS")
    assert reply.ok and reply.command == "PASS ***"
    transcript = lab_ip.line("pop3", "transcript")
    assert (
        "alice-password" not in transcript.as_text()
        and "alice-password" not in transcript.as_html()
    )


def test_pop3_login_helpers(lab_ip: Shell) -> None:
    lab_ip.line("pop3", "open")
    assert lab_ip.line("pop3", "login alice --apop").ok
    lab_ip.line("pop3", "open --name s")
    assert lab_ip.line("pop3", "login bob --sasl").ok
    lab_ip.line("pop3", "open --name apop")
    assert "[IN-USE]" in lab_ip.line("pop3", "APOP alice").text
    lab_ip.line("pop3", "close default")
    assert lab_ip.line("pop3", "--session apop APOP alice").ok


def test_mailbox_table_and_displaylimit(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "HELO me")
    for n in range(3):
        transaction = f"MAIL FROM:<m@lab.test>\nRCPT TO:<bob@lab.test>\nDATA\nSubject: n{n}\n\nx\n."
        lab_ip.cell("smtp", "", transaction)
    lab_ip.line("pop3", "open")
    lab_ip.line("pop3", "login bob")
    lab_ip.shell.run_line_magic("config", "POP3Magic.displaylimit = 2")
    table = lab_ip.line("pop3", "mailbox")
    assert [r.number for r in table_rows(table)] == [1, 2, 3]
    assert all(r.uid for r in table_rows(table))
    assert table.as_text().endswith("... and 1 more")
    listing = lab_ip.line("pop3", "LIST")
    assert listing.displaylimit == 2 and "<table" in listing.as_html()


def table_rows(view: Any) -> list[Any]:
    from mailmagic.display.mailbox import rows

    return rows(view.maildrop)


def test_fetch_and_bulk_magics(lab_ip: Shell, tmp_path: Path) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "EHLO me")
    sent = lab_ip.line("smtp", "bulk --count 12 --from load@lab.test --to alice@lab.test")
    assert sent.note == "12 of 12 messages accepted" and sent[-1].code == S250_OK
    lab_ip.line("pop3", "open")
    lab_ip.line("pop3", "login alice")
    fetched = lab_ip.line("pop3", f"fetch --to {tmp_path / 'archive'} --numbers 3-5")
    assert [m.number for m in fetched] == [3, 4, 5] and fetched.pipelined
    assert "3 fetched" in fetched.as_text()
    again = lab_ip.line("pop3", f"fetch --to {tmp_path / 'archive'} --format maildir")
    assert again.skipped == 3 and len(again) == 12
    with pytest.raises(UsageError, match="expected N or N-M"):
        lab_ip.line("pop3", f"fetch --to {tmp_path} --numbers x")


def test_the_mailbox_reconnect_button_follows_a_restarted_lab_server(
    ip: Shell, tmp_path: Path
) -> None:
    ip.line("maillab", f"start --maildir {tmp_path / 'first'}")
    ip.line("smtp", "open")
    ip.line("smtp", "EHLO me")
    ip.cell("smtp", "sendmail --from bob@lab.test --to alice@lab.test", "Hi\n")
    ip.line("pop3", "open --tls")
    ip.line("pop3", "login alice")
    table, listing = ip.line("pop3", "mailbox"), ip.line("pop3", "LIST")
    assert listing.below.reconnect is not None  # a table under a reply gets the same path
    ip.line("maillab", "stop")
    ip.line("maillab", f"start --maildir {tmp_path / 'second'}")  # new ports, a new CA
    second = ip.line("maillab").endpoints
    box = MailboxWidget(table)
    assert box.pick is not None and box.pick.value == 1
    next(b for b in box.actions if b.description == "View").click()  # the old server is gone
    assert box.reconnect is not None and box.pick is None
    box.reconnect.click()
    session = table.session
    assert session.is_open and "reconnected" in box.output.outputs[0]["data"]["text/html"]
    settings = session.settings
    assert (settings.port, settings.cafile) == (second.pop3s, str(second.ca_file))


def test_fetch_and_bulk_progress_bars_say_finished_or_stopped(
    lab_ip: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ends: list[tuple[str, str]] = []

    class Recorded(ProgressBar):
        def finish(self, description: str) -> None:
            ends.append((self.what, description))
            super().finish(description)

        def stop(self) -> None:
            ends.append((self.what, "stopped"))
            super().stop()

    monkeypatch.setattr(smtp, "ProgressBar", Recorded)
    monkeypatch.setattr(pop3, "ProgressBar", Recorded)
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "EHLO me")
    lab_ip.line("smtp", "bulk --count 3 --from load@lab.test --to alice@lab.test")
    lab_ip.line("pop3", "open")
    lab_ip.line("pop3", "login alice")
    lab_ip.line("pop3", f"fetch --to {tmp_path / 'archive'}")
    assert ends == [("sending", "sent 3"), ("fetching", "fetched 3")]
    ends.clear()
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(UsageError):
        lab_ip.line("pop3", f"fetch --to {tmp_path / 'a-file' / 'archive'}")
    lab_ip.line("maillab").faults.drop_after("smtp", "DATA")
    with pytest.raises(UsageError):
        lab_ip.line("smtp", "bulk --count 3 --from load@lab.test --to alice@lab.test")
    assert ends == [("fetching", "stopped"), ("sending", "stopped")]


def test_open_over_pending_deletions_says_they_are_lost(
    lab_ip: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoints = lab_ip.line("maillab").endpoints
    with smtplib.SMTP(endpoints.host, endpoints.smtp) as client:
        for _ in range(2):
            client.sendmail("bob@lab.test", ["alice@lab.test"], b"Subject: hi\r\n\r\nhello\r\n")
    lab_ip.line("pop3", "open")
    lab_ip.line("pop3", "login alice")
    lab_ip.cell("pop3", "--expect +OK", "DELE 2\nDELE 1\n")
    capsys.readouterr()
    lab_ip.line("pop3", "open")
    warned = capsys.readouterr().err
    assert "session 'default' (state TRANSACTION) is dropped without QUIT" in warned
    assert "marked deleted (1, 2) stay on the server" in warned and "RFC 1939 section 6" in warned
    lab_ip.line("pop3", "login alice")  # the lab released the maildrop: both messages are there
    assert len(lab_ip.line("pop3", "LIST").entries) == 2
