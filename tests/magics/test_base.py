# What this module does: tests of what %smtp and %pop3 share (mailmagic/magics/base.py) through a
# real IPython shell and the real lab server: sessions kept from call to call, raw lines as typed,
# cells (DATA included) that stop at the first failure, control words never taken for verbs,
# named sessions, open/close/reconnect/status/transcript/timeline/diagram, STARTTLS and implicit
# TLS (the lab's smtps and pop3s without --tls, and a hint for other hosts), certificate errors,
# --insecure said on every display, traitlets settings, UsageError (one line, no traceback) for
# misuse, and lab sessions that follow a restarted lab server.
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from mailmagic.display.cell import CellView
from mailmagic.display.diagram import DiagramView
from mailmagic.display.reply import ReplyView
from mailmagic.display.timeline import TimelineView
from mailmagic.magics import ExpectFailed
from mailmagic.magics.base import tls_hint
from mailmagic.session.base import Settings
from tests.magics.shell import (
    S220_READY,
    S221_CLOSING,
    S250_OK,
    S354_START_INPUT,
    S500_UNKNOWN,
    SEED_SMTP_CELL,
    Shell,
    run,
)


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


@pytest.mark.parametrize(
    ("port", "hint"),
    [
        (995, "Port 995 is usually POP3 over implicit TLS: try --tls"),
        (465, "Port 465 is usually SMTP over implicit TLS: try --tls"),
        (2525, "If port 2525 expects TLS from the first octet (465, 995 do), try --tls"),
    ],
)
def test_a_missing_greeting_suggests_tls_on_implicit_tls_ports(port: int, hint: str) -> None:
    assert tls_hint(Settings("mail.example.com", port)) == f". {hint}"
    assert tls_hint(Settings("mail.example.com", port, tls="implicit")) == ""


def test_lab_implicit_tls_listeners_need_no_tls_flag(lab_ip: Shell) -> None:
    assert lab_ip.line("pop3", "open lab pop3s --timeout 5").ok
    assert "TLSv1" in lab_ip.line("pop3", "status").as_text()
    assert lab_ip.line("smtp", "open lab smtps --timeout 5").code == S220_READY
    port = lab_ip.line("maillab").endpoints.pop3s
    with pytest.raises(UsageError, match=rf"If port {port} expects TLS .*try --tls"):
        lab_ip.line("pop3", f"open 127.0.0.1 {port} --timeout 0.3 --name plain")


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


def test_timeline_draws_the_session_in_a_real_shell(
    lab_ip: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.cell("smtp", "", "EHLO me\nNOOP\n")
    result, printed = run(lab_ip.shell, "%smtp timeline", capsys)
    view = result.result
    assert isinstance(view, TimelineView) and result.success and "Error" not in printed
    assert "C: NOOP" in printed  # a terminal shell shows the text timeline
    bundle = view._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "image/svg+xml"}
    assert re.search(r"^\+\d\.\d{3} C: NOOP$", bundle["text/plain"], re.M)
    last = lab_ip.line("smtp", "timeline default --last 2")
    assert [e.direction for e in last.entries] == ["client", "server"]
    assert "the last 2 of" in last.as_text()
    with pytest.raises(UsageError, match=r"--last wants 1 or more"):
        lab_ip.line("smtp", "timeline --last 0")
    lab_ip.line("pop3", "open")
    lab_ip.cell("pop3", "", "USER alice\nPASS\n")
    pop3 = lab_ip.line("pop3", "timeline")
    assert "C: PASS ***" in pop3.as_text() and "alice-password" not in pop3.as_svg()


def test_diagram_lights_the_session_state_and_marks_the_next_commands(lab_ip: Shell) -> None:
    plain = lab_ip.line("pop3", "diagram")  # no session yet: the plain diagram
    assert isinstance(plain, DiagramView) and plain.diagram.current is None
    lab_ip.line("pop3", "open")
    lab_ip.line("pop3", "login alice")
    lit = lab_ip.line("pop3", "diagram")
    assert lit.diagram.current == "TRANSACTION"
    marked = {e.command for e in lit.diagram.edges if e.marked}
    assert {"STAT", "RETR", "QUIT"} <= marked and "USER" not in marked
    assert all(e.source == "TRANSACTION" for e in lit.diagram.edges if e.marked)
    assert "> TRANSACTION -> QUIT -> UPDATE" in lit.as_text()
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "EHLO me")
    smtp_lit = lab_ip.line("smtp", "diagram")
    assert smtp_lit.diagram.current == "READY"
    assert ("READY", "MAIL") in {(e.source, e.command) for e in smtp_lit.diagram.edges if e.marked}
    if smtp_lit.svg is not None:  # with Graphviz's dot installed
        assert "image/svg+xml" in smtp_lit._repr_mimebundle_() and "#ffd33d" in smtp_lit.svg
    with pytest.raises(UsageError, match="no SMTP session named 'nope'"):
        lab_ip.line("smtp", "diagram nope")


def test_open_under_a_live_sessions_name_says_it_drops_it(
    lab_ip: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.cell("smtp", "--expect 250", "HELO me\nMAIL FROM:<bob@lab.test>\n")
    capsys.readouterr()
    assert lab_ip.line("smtp", "open").code == S220_READY
    warned = capsys.readouterr().err
    assert "warning: the open SMTP session 'default' (state MAIL) is dropped without QUIT" in warned
    lab_ip.line("smtp", "QUIT")  # a session that ended is replaced without a word
    lab_ip.line("smtp", "open")
    assert "warning" not in capsys.readouterr().err
