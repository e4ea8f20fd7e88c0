# What this module does: tests of the magics (mailmagic/magics.py) through a real IPython
# InteractiveShell and the real lab server: sessions kept from call to call, raw lines as typed,
# cells (DATA included), control words never taken for verbs, --expect, named sessions, secrets
# never typed nor shown, traitlets settings, UsageError (one line, no traceback) for misuse (CR/LF
# in sendmail's options too), --insecure said on every display, lab sessions (and a mailbox
# table's Reconnect button) that follow a restarted lab server, and progress bars that say when
# fetch and bulk finished or stopped. And the traps of issue 11: comments never sent (a password
# least of all), --help, the lab's implicit-TLS listeners without --tls (and a hint for other
# hosts), a note on command-like lines inside DATA, %maillab start reusing (said) or --fresh,
# sendmail --attach, and the wording of close and of "no open session".
from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.interactiveshell import InteractiveShell

from mailmagic import load_ipython_extension, magics, unload_ipython_extension
from mailmagic.display.cell import CellView
from mailmagic.display.fetch import ProgressBar
from mailmagic.display.live import CELLS
from mailmagic.display.mailbox import MailboxWidget
from mailmagic.display.message import MessageView, payload_bytes
from mailmagic.display.reply import ReplyView
from mailmagic.magics import ExpectFailed, _running_cell, _tls_hint, split_options
from mailmagic.session.base import Settings

S220_READY = 220
S221_CLOSING = 221
S250_OK = 250
S354_START_INPUT = 354
S500_UNKNOWN = 500
S550_UNAVAILABLE = 550

SEED_SMTP_CELL = """\
HELO mycomputer.mydomain.com
MAIL FROM: me@mydomain.com
RCPT TO: alice@lab.test
DATA
From: Your Name
To: Their name
CC: Someone else
Subject: Your subject.

Message Body
.
QUIT
"""


class Shell:
    """A real InteractiveShell with mailmagic loaded and a lab server in the test's folder."""

    def __init__(self, shell: InteractiveShell, maildir: Path) -> None:
        self.shell = shell
        self.maildir = maildir

    def line(self, name: str, line: str = "") -> Any:
        return self.shell.run_line_magic(name, line)

    def cell(self, name: str, line: str, cell: str) -> Any:
        return self.shell.run_cell_magic(name, line, cell)


@pytest.fixture
def ip(tmp_path: Path, ipython_shell: InteractiveShell) -> Iterator[Shell]:
    shell = ipython_shell
    load_ipython_extension(shell)
    yield Shell(shell, tmp_path / "maildir")
    unload_ipython_extension(shell)


@pytest.fixture
def lab_ip(ip: Shell) -> Shell:
    ip.line("maillab", f"start --maildir {ip.maildir}")
    return ip


def test_the_extension_registers_every_magic(ip: Shell) -> None:
    for name in ("smtp", "pop3"):
        assert ip.shell.find_line_magic(name) and ip.shell.find_cell_magic(name)
    assert ip.shell.find_line_magic("maillab")


def test_the_extension_closes_a_re_run_cell_s_widgets_and_knows_the_loading_cell(
    ip: Shell,
) -> None:
    assert CELLS.start in ip.shell.events.callbacks["pre_run_cell"]
    parent = {"metadata": {"cellId": "cell-7"}}
    in_lab = SimpleNamespace(kernel=SimpleNamespace(get_parent=lambda: parent))
    assert _running_cell(in_lab).cell_id == "cell-7"  # JupyterLab sends the cell's id
    assert _running_cell(ip.shell).cell_id is None  # a terminal or a test shell: no kernel
    unload_ipython_extension(ip.shell)
    assert CELLS.start not in ip.shell.events.callbacks["pre_run_cell"]
    load_ipython_extension(ip.shell)  # as the fixture expects to find it


def test_open_without_a_lab_says_what_to_do(ip: Shell) -> None:
    with pytest.raises(UsageError, match=r"lab server is not running: %maillab start"):
        ip.line("smtp", "open")


def test_seed_walkthrough_in_one_cell_then_read_back(lab_ip: Shell) -> None:
    assert lab_ip.line("smtp", "open").code == S220_READY
    result = lab_ip.cell("smtp", "", SEED_SMTP_CELL)
    assert isinstance(result, CellView) and result.stopped is None
    codes = [r.code for r in result.replies]
    assert codes == [250, 250, 250, S354_START_INPUT, 250, S221_CLOSING]
    assert lab_ip.line("pop3", "open").ok
    lab_ip.line("pop3", "USER alice")
    assert lab_ip.line("pop3", "PASS").ok
    listing = lab_ip.line("pop3", "LIST")
    assert [e.number for e in listing.entries] == [1]
    retr = lab_ip.line("pop3", "RETR 1")
    assert retr.body.endswith(b"Subject: Your subject.\r\n\r\nMessage Body\r\n")


def test_line_by_line_session_persists_and_values_are_usable(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    assert lab_ip.line("smtp", "HELO me").code == S250_OK
    r = lab_ip.line("smtp", "noop")
    assert isinstance(r, ReplyView) and r.code == S250_OK and r.ok
    assert str(r.enhanced) == "2.0.0"
    bundle = r._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"} and "250 2.0.0 OK" in bundle["text/plain"]


def test_unknown_verbs_are_sent_and_control_words_can_be_forced_raw(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    frob = lab_ip.line("smtp", "FROB something")
    assert frob.code == S500_UNKNOWN and "not an SMTP command" in (frob.warning or "")
    forced = lab_ip.line("smtp", "-- open sesame")
    assert forced.code == S500_UNKNOWN and forced.command == "open sesame"
    sessions = lab_ip.line("smtp", "sessions")
    assert "default" in sessions.as_text()


def test_expect_passes_and_fails(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    assert lab_ip.line("smtp", "--expect 2xx NOOP").code == S250_OK
    with pytest.raises(ExpectFailed, match="expected 5xx, got 250"):
        lab_ip.line("smtp", "--expect 5xx NOOP")
    lab_ip.line("smtp", "HELO me")
    lab_ip.line("smtp", "MAIL FROM:<a@b.c>")
    assert lab_ip.line("smtp", "--expect 550 RCPT TO:<x@elsewhere.org>").code == S550_UNAVAILABLE
    with pytest.raises(UsageError, match="not a reply pattern"):
        lab_ip.line("smtp", "--expect 2yy NOOP")


def test_pop3_expect_and_cells_stop_at_the_first_failure(lab_ip: Shell) -> None:
    lab_ip.line("pop3", "open")
    stopped = lab_ip.cell("pop3", "", "USER alice\nSTAT\nNOOP\n")
    assert [r.ok for r in stopped.replies] == [True, False]
    assert stopped.stopped and "--continue" in stopped.stopped
    went_on = lab_ip.cell("pop3", "--continue", "STAT\nCAPA\n")
    assert [r.ok for r in went_on.replies] == [False, True]
    with pytest.raises(ExpectFailed):
        lab_ip.cell("pop3", "--expect +OK", "STAT\n")
    assert lab_ip.line("pop3", "--expect -ERR STAT").ok is False


def test_named_sessions(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "open lab submission --name sub")
    listing = lab_ip.line("smtp", "sessions").as_text()
    assert "* sub" in listing and "  default" in listing
    assert lab_ip.line("smtp", "--session default NOOP").code == S250_OK
    lab_ip.line("smtp", "use default")
    assert lab_ip.line("smtp", "status").session.name == "default"
    lab_ip.line("smtp", "close sub")
    assert "sub" not in lab_ip.line("smtp", "sessions").as_text()
    with pytest.raises(UsageError, match="no SMTP session named 'sub'"):
        lab_ip.line("smtp", "use sub")


def test_misuse_is_a_one_line_usage_error(lab_ip: Shell) -> None:
    with pytest.raises(UsageError, match="no open SMTP session: %smtp open first"):
        lab_ip.line("smtp", "NOOP")
    lab_ip.line("smtp", "open")
    with pytest.raises(UsageError, match="unknown option --frob"):
        lab_ip.line("smtp", "--frob NOOP")
    with pytest.raises(UsageError, match="512"):
        lab_ip.line("smtp", "NOOP " + "x" * 600)
    with pytest.raises(UsageError, match="--help"):
        lab_ip.line("smtp", "open lab --nonsense")
    lab_ip.line("smtp", "QUIT")
    with pytest.raises(UsageError, match=r"is closed .*reconnect"):
        lab_ip.line("smtp", "NOOP")
    assert lab_ip.line("smtp", "reconnect").code == S220_READY


def test_usage_errors_show_without_a_traceback(
    lab_ip: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = lab_ip.shell.run_cell("%smtp NOOP")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err + capsys.readouterr().out
    assert "Traceback" not in err


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


def test_password_from_the_environment(ip: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    ip.line("maillab", f"start --maildir {ip.maildir} --user carol:s3cret-from-env")
    monkeypatch.setenv("CAROL_PASSWORD", "s3cret-from-env")
    ip.line("pop3", "open")
    assert ip.line("pop3", "login carol --password-env CAROL_PASSWORD").ok


def test_prompt_when_the_server_is_not_the_lab(
    lab_ip: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = lab_ip.line("maillab").endpoints
    lab_ip.line("pop3", f"open 127.0.0.1 {endpoints.pop3}")
    monkeypatch.setattr(getpass, "getpass", lambda prompt: "alice-password")
    lab_ip.line("pop3", "USER alice")
    assert lab_ip.line("pop3", "PASS").ok

    def cannot_prompt(prompt: str) -> str:
        raise StdinNotImplementedError("no stdin")

    lab_ip.line("pop3", f"open 127.0.0.1 {endpoints.pop3} --name other")
    lab_ip.line("pop3", "USER bob")
    monkeypatch.setattr(getpass, "getpass", cannot_prompt)
    with pytest.raises(UsageError, match=r"cannot prompt.*--password-env"):
        lab_ip.line("pop3", "PASS")


def test_smtp_login_and_sendmail(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open lab submission")
    lab_ip.line("smtp", "EHLO me")
    assert lab_ip.line("smtp", "login alice").code == 235
    sent = lab_ip.cell(
        "smtp", "sendmail --from alice@lab.test --to bob@lab.test --subject Hi", "Hello Bob\n.\n"
    )
    assert [r.code for r in sent.replies] == [250, 250, 354, 250]
    assert "alice-password" not in lab_ip.line("smtp", "transcript").as_text()


def test_starttls_by_hand_and_at_open(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "EHLO me")
    assert lab_ip.line("smtp", "STARTTLS").code == S220_READY
    status = lab_ip.line("smtp", "status").as_text()
    assert "TLSv1" in status and "verified" in status
    assert lab_ip.line("smtp", "open --starttls --name s2").code == S220_READY
    assert lab_ip.line("pop3", "open --tls").ok
    assert "TLSv1" in lab_ip.line("pop3", "status").as_text()


def test_traitlets_configuration(lab_ip: Shell) -> None:
    lab_ip.shell.run_line_magic("config", "SMTPMagic.timeout = 3.5")
    lab_ip.line("smtp", "open")
    assert lab_ip.line("smtp", "status").session.settings.timeout == 3.5


def test_maillab_shows_state_and_gives_the_server(lab_ip: Shell) -> None:
    view = lab_ip.line("maillab")
    assert "alice (0)" in view.as_text() and "password" not in view.as_text()
    view.faults.override("smtp", "NOOP", "250 2.0.0 overridden")
    lab_ip.line("smtp", "open")
    assert lab_ip.line("smtp", "NOOP").text == "2.0.0 overridden"
    assert not lab_ip.line("maillab", "stop").server.running


@pytest.mark.parametrize(
    ("line", "options", "rest"),
    [
        ("NOOP", {}, "NOOP"),
        ("--expect 250 MAIL FROM:<a@b>", {"expect": "250"}, "MAIL FROM:<a@b>"),
        ("--session s2 --timeout 3 RSET", {"session": "s2", "timeout": "3"}, "RSET"),
        ("-- --expect", {"raw": "yes"}, "--expect"),
        ("--expect 2xx -- open", {"expect": "2xx", "raw": "yes"}, "open"),
        ("--continue", {"continue": "yes"}, ""),
    ],
)
def test_split_options(line: str, options: dict[str, str], rest: str) -> None:
    assert split_options(line) == (options, rest)


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


def test_status_sees_a_hang_up_and_expect_needs_a_reply(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "HELO me")
    lab_ip.line("maillab").faults.drop_after("smtp", "NOOP", times=1)
    lab_ip.line("smtp", "NOOP")
    deadline = time.monotonic() + 5
    while "closed" not in lab_ip.line("smtp", "status").as_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "closed" in lab_ip.line("smtp", "status").as_text()
    with pytest.raises(UsageError, match="--expect checks a server reply"):
        lab_ip.line("smtp", "--expect 250 sessions")


def test_status_is_a_snapshot_unless_asked_to_be_live(lab_ip: Shell) -> None:
    opened = lab_ip.line("pop3", "open")
    status, live = lab_ip.line("pop3", "status"), lab_ip.line("pop3", "status --live")
    shown = (opened.as_html(), status.as_html())
    lab_ip.line("pop3", "login alice")
    assert (opened.as_html(), status.as_html()) == shown and "TRANSACTION" not in shown[1]
    assert live.live and "this panel follows the session" in live.as_text()
    assert "TRANSACTION" in lab_ip.line("pop3", "status").as_text()
    with pytest.raises(UsageError, match="unrecognized arguments"):
        lab_ip.line("pop3", "status --lively")


def test_certificate_errors_name_the_magic_options(lab_ip: Shell) -> None:
    port = lab_ip.line("maillab").endpoints.pop3s
    with pytest.raises(UsageError, match=r"--cafile FILE.*--insecure.*open it again"):
        lab_ip.line("pop3", f"open 127.0.0.1 {port} --tls")
    insecure = lab_ip.line("pop3", f"open 127.0.0.1 {port} --tls --insecure --name i")
    assert insecure.insecure and "certificate checks are OFF" in insecure.as_text()
    status = lab_ip.line("pop3", "status i").as_text()
    assert "O=mailmagic lab, CN=mail.lab.test" in status
    assert lab_ip.line("pop3", "open --tls --name secure").command == "open lab pop3s"


def test_data_lines_one_by_one_including_the_blank_line(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    for line in ("HELO me", "MAIL FROM:<me@lab.test>", "RCPT TO:<bob@lab.test>", "DATA"):
        lab_ip.line("smtp", line)
    assert lab_ip.line("smtp", "Subject: one by one").reply is None
    assert lab_ip.line("smtp", "--").command == ""  # the blank line between headers and body
    stuffed = lab_ip.line("smtp", "..a line that starts with a dot")
    assert stuffed.warning is None and stuffed.reply is None
    assert lab_ip.line("smtp", ".").code == S250_OK
    lab_ip.line("pop3", "open")
    lab_ip.line("pop3", "login bob")
    body = lab_ip.line("pop3", "RETR 1").body
    assert body.endswith(b"Subject: one by one\r\n\r\n.a line that starts with a dot\r\n")


def test_unloading_closes_every_session_and_stops_the_lab(
    ipython_shell: InteractiveShell, tmp_path: Path
) -> None:
    load_ipython_extension(ipython_shell)
    lab = ipython_shell.run_line_magic("maillab", f"start --maildir {tmp_path}")
    ipython_shell.run_line_magic("smtp", "open")
    ipython_shell.run_line_magic("pop3", "open")
    smtp = ipython_shell.run_line_magic("smtp", "status").session
    unload_ipython_extension(ipython_shell)
    assert smtp.status == "closed" and not lab.server.running


def test_insecure_is_said_on_every_display(lab_ip: Shell, tmp_path: Path) -> None:
    lab_ip.line("smtp", "open lab smtps --tls --insecure --name i")
    lab_ip.line("pop3", "open lab pop3s --tls --insecure --name i")
    shown = [lab_ip.line("smtp", "EHLO me"), lab_ip.line("smtp", "NOOP")]
    shown += [lab_ip.cell("smtp", "", "NOOP\nRSET\n"), lab_ip.line("smtp", "reconnect")]
    shown += [lab_ip.line("pop3", "login alice"), lab_ip.line("pop3", "LIST")]
    shown += [lab_ip.line("pop3", "mailbox"), lab_ip.line("pop3", f"fetch --to {tmp_path}")]
    for word in ("sessions", "status", "transcript"):
        shown += [lab_ip.line("smtp", word), lab_ip.line("pop3", word)]
    for view in shown:
        assert "certificate checks are OFF" in view.as_text(), view.as_text()
        assert "certificate checks are OFF" in view.as_html(), view.as_text()
    lab_ip.line("smtp", "open --tls --name verified")
    verified = [lab_ip.line("smtp", "NOOP"), lab_ip.line("smtp", "status")]
    assert not any("certificate checks are OFF" in v.as_text() for v in verified)
    assert "certificate checks are OFF" in lab_ip.line("smtp", "sessions").as_text()  # i's row


@pytest.mark.parametrize("option", ["--subject", "--to", "--from", "--cc"])
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_sendmail_refuses_line_breaks_in_its_options(
    lab_ip: Shell, option: str, newline: str
) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "EHLO me")
    values = {"--from": "m@lab.test", "--to": "bob@lab.test", "--cc": "bob@lab.test"}
    values["--subject"] = "Hi"
    values[option] += f"{newline}Bcc: alice@lab.test"
    line = "sendmail " + " ".join(f'{name} "{value}"' for name, value in values.items())
    with pytest.raises(UsageError, match=rf"{option} contains a line break.*on one line"):
        lab_ip.cell("smtp", line, "Hello\n")
    assert "MAIL FROM" not in lab_ip.line("smtp", "transcript").as_text()  # nothing was sent


def test_lab_sessions_follow_a_restarted_lab_server(ip: Shell, tmp_path: Path) -> None:
    ip.line("maillab", f"start --maildir {tmp_path / 'first'}")
    first = ip.line("maillab").endpoints
    ip.line("smtp", "open lab submission")
    ip.line("smtp", f"open lab {first.smtps} --tls --name by-port")
    ip.line("pop3", "open --tls")
    ip.line("maillab", "stop")
    with pytest.raises(UsageError, match=r"not running: %maillab start, then %smtp reconnect"):
        ip.line("smtp", "reconnect")
    ip.line("maillab", f"start --maildir {tmp_path / 'second'}")  # new ports, a new CA
    second = ip.line("maillab").endpoints
    assert second.ca_file != first.ca_file
    assert ip.line("smtp", "reconnect default").code == S220_READY
    assert ip.line("smtp", "status default").session.settings.port == second.submission
    assert ip.line("smtp", "reconnect by-port").code == S220_READY
    assert ip.line("smtp", "status by-port").session.settings.port == second.smtps
    assert ip.line("pop3", "reconnect").ok  # over TLS: its certificate checked with the new CA
    settings = ip.line("pop3", "status").session.settings
    assert (settings.port, settings.cafile) == (second.pop3s, str(second.ca_file))


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

    monkeypatch.setattr(magics, "ProgressBar", Recorded)
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


# --- fewer traps for students (issue 11) ----------------------------------------------------------


def run(shell: InteractiveShell, code: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    """Run ``code`` as a notebook cell; its result and what it printed (stdout and stderr)."""
    result = shell.run_cell(code)
    captured = capsys.readouterr()
    return result, captured.out + captured.err


def test_comments_are_never_sent(lab_ip: Shell, capsys: pytest.CaptureFixture[str]) -> None:
    shell = lab_ip.shell
    run(shell, "%pop3 open  # the lab\n%pop3 USER alice   # a comment", capsys)
    result, _ = run(shell, "r = %pop3 PASS  # no secret here: the lab's user", capsys)
    assert result.success and shell.user_ns["r"].ok and shell.user_ns["r"].command == "PASS ***"
    run(shell, "%smtp open\n%smtp HELO me # who I am\n%smtp --expect 250 NOOP  # ok?", capsys)
    cell = "# a comment line\nMAIL FROM:<me@lab.test>  # sender\nRCPT TO:<bob@lab.test> # to\n"
    cell += "DATA  # the text follows\n"
    cell += "Subject: # kept\n\n# kept too\nnot #a note\n.\n"
    result, printed = run(shell, "%%smtp  # a cell\n" + cell, capsys)
    assert result.success and "UsageError" not in printed
    sent = lab_ip.line("smtp", "transcript").as_text() + lab_ip.line("pop3", "transcript").as_text()
    assert "comment" not in sent and "who I am" not in sent and "no secret" not in sent
    assert "C: HELO me\n" in sent + "\n" and "C: MAIL FROM:<me@lab.test>\n" in sent
    assert lab_ip.line("smtp", "-- NOOP # sent as typed").command == "NOOP # sent as typed"
    assert lab_ip.line("smtp", "NOOP issue #5  # a word with # in it stays").command == (
        "NOOP issue #5"
    )
    lab_ip.line("pop3", "open --name bob")
    lab_ip.line("pop3", "login bob")
    body = lab_ip.line("pop3", "RETR 1").body
    assert body.endswith(b"Subject: # kept\r\n\r\n# kept too\r\nnot #a note\r\n")


@pytest.mark.parametrize("name", ["smtp", "pop3"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_the_control_words(
    ip: Shell, capsys: pytest.CaptureFixture[str], name: str, flag: str
) -> None:
    result, printed = run(ip.shell, f"%{name} {flag}", capsys)
    assert result.success and "unknown option" not in printed
    assert f"%{name} open [HOST|lab]" in printed and "Comments:" in printed
    doc = ip.shell.find_line_magic(name).__doc__
    assert "control words" in doc and "# standing alone as a word" in doc


def test_maillab_help(ip: Shell, capsys: pytest.CaptureFixture[str]) -> None:
    assert ip.line("maillab", "--help") is None
    assert capsys.readouterr().out.startswith("%maillab [start [--fresh]")


@pytest.mark.parametrize(
    ("port", "hint"),
    [
        (995, "Port 995 is usually POP3 over implicit TLS: try --tls"),
        (465, "Port 465 is usually SMTP over implicit TLS: try --tls"),
        (2525, "If port 2525 expects TLS from the first octet (465, 995 do), try --tls"),
    ],
)
def test_a_missing_greeting_suggests_tls_on_implicit_tls_ports(port: int, hint: str) -> None:
    assert _tls_hint(Settings("mail.example.com", port)) == f". {hint}"
    assert _tls_hint(Settings("mail.example.com", port, tls="implicit")) == ""


def test_lab_implicit_tls_listeners_need_no_tls_flag(lab_ip: Shell) -> None:
    assert lab_ip.line("pop3", "open lab pop3s --timeout 5").ok
    assert "TLSv1" in lab_ip.line("pop3", "status").as_text()
    assert lab_ip.line("smtp", "open lab smtps --timeout 5").code == S220_READY
    port = lab_ip.line("maillab").endpoints.pop3s
    with pytest.raises(UsageError, match=rf"If port {port} expects TLS .*try --tls"):
        lab_ip.line("pop3", f"open 127.0.0.1 {port} --timeout 0.3 --name plain")


@pytest.mark.parametrize("line", ["QUIT", "rset", "MAIL FROM:<a@lab.test>", "EHLO me", "NOOP"])
def test_a_command_inside_message_text_gets_a_note(lab_ip: Shell, line: str) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.cell("smtp", "", "HELO me\nMAIL FROM:<a@lab.test>\nRCPT TO:<bob@lab.test>\nDATA\n")
    assert lab_ip.line("smtp", "Subject: hello").warning is None
    typed = lab_ip.line("smtp", line)
    assert typed.reply is None and "end the message with a line holding '.'" in (
        typed.warning or ""
    )
    assert lab_ip.line("smtp", "Quit smoking today, she said.").warning is None
    assert lab_ip.line("smtp", ".").code == S250_OK


def test_maillab_start_says_it_reuses_and_fresh_starts_empty(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.cell("smtp", "", "HELO me\nMAIL FROM:<a@lab.test>\nRCPT TO:<bob@lab.test>\nDATA\nx\n.\n")
    first = lab_ip.line("maillab")
    again = lab_ip.line("maillab", "start")
    assert again.server is first.server and "already running" in again.as_text()
    assert "1 message(s)" in again.as_text() and "--fresh" in again.as_text()
    fresh = lab_ip.line("maillab", "start --fresh")
    assert fresh.server is not first.server and not first.server.running
    assert "bob (0)" in fresh.as_text() and "stopped" in fresh.as_text()
    assert lab_ip.line("smtp", "reconnect").code == S220_READY  # follows the new lab
    with pytest.raises(UsageError, match="is not empty"):
        lab_ip.line("maillab", f"start --fresh --maildir {lab_ip.maildir}")


def test_sendmail_attaches_files(lab_ip: Shell, tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "EHLO me")
    line = f"sendmail --from a@lab.test --to bob@lab.test --attach {report} --attach {logo}"
    sent = lab_ip.cell("smtp", line, "See attached.\n")
    assert [r.code for r in sent.replies] == [250, 250, S354_START_INPUT, 250]
    assert sent.note == "attached: report.csv, logo.png"
    assert "Reply(" not in sent.as_text() and "report.csv" in sent.as_text()
    with pytest.raises(UsageError, match=r"--attach missing\.pdf: no such file"):
        lab_ip.cell("smtp", "sendmail --from a@lab.test --to b@lab.test --attach missing.pdf", "x")
    lab_ip.line("pop3", "open")
    lab_ip.line("pop3", "login bob")
    message = MessageView(lab_ip.line("pop3", "RETR 1").body)
    assert [(a.name, a.content_type) for a in message.attachments] == [
        ("report.csv", "text/csv"),
        ("logo.png", "image/png"),
    ]
    assert payload_of(message.attachments[1]) == logo.read_bytes()


def payload_of(attachment: Any) -> bytes:
    return payload_bytes(attachment.part)


def test_closing_says_which_session_and_none_open_is_no_session_yet(
    lab_ip: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    lab_ip.line("pop3", "open")
    lab_ip.line("pop3", "open --name second")
    capsys.readouterr()
    assert "no POP3 sessions" not in lab_ip.line("pop3", "close").as_text()
    assert "closed POP3 session 'second'" in capsys.readouterr().out
    lab_ip.line("pop3", "close --all")
    assert "closed POP3 session 'default'" in capsys.readouterr().out
    for line in ("NOOP", "status", "close", "reconnect"):
        with pytest.raises(UsageError, match=r"^no open POP3 session: %pop3 open first$"):
            lab_ip.line("pop3", line)


def test_every_helper_result_displays_as_a_view(lab_ip: Shell, tmp_path: Path) -> None:
    lab_ip.line("smtp", "open lab submission")
    lab_ip.line("smtp", "EHLO me")
    shown = [lab_ip.line("smtp", "login alice")]
    shown += [lab_ip.cell("smtp", "sendmail --from alice@lab.test --to bob@lab.test", "Hi\n")]
    shown += [lab_ip.line("smtp", "bulk --count 2 --from alice@lab.test --to bob@lab.test")]
    lab_ip.line("pop3", "open")
    shown += [lab_ip.line("pop3", "login bob"), lab_ip.line("pop3", "mailbox")]
    shown += [lab_ip.line("pop3", f"fetch --to {tmp_path / 'archive'}")]
    for view in shown:
        bundle = view._repr_mimebundle_()
        assert {"text/plain", "text/html"} <= set(bundle), type(view)
        assert "Reply(" not in bundle["text/plain"] and "Reply(" not in repr(view), type(view)
