# What this module does: tests of %maillab (mailmagic/magics/lab.py) in a real shell: it shows
# the lab server and gives it as its value, start reuses a running one (and says so) or --fresh
# starts one on an empty store, stop, and its --help (every start option, with its help); the
# control words adduser, deluser, empty, hide, vrfy and log on a running lab.
from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from tests.magics.shell import S220_READY, Shell


def test_maillab_shows_state_and_gives_the_server(lab_ip: Shell) -> None:
    view = lab_ip.line("maillab")
    assert "alice (0)" in view.as_text() and "password" not in view.as_text()
    view.faults.override("smtp", "NOOP", "250 2.0.0 overridden")
    lab_ip.line("smtp", "open")
    assert lab_ip.line("smtp", "NOOP").text == "2.0.0 overridden"
    assert not lab_ip.line("maillab", "stop").server.running


def test_maillab_help(ip: Shell, capsys: pytest.CaptureFixture[str]) -> None:
    assert ip.line("maillab", "--help") is None
    printed = capsys.readouterr().out
    assert printed.startswith("%maillab words") and "%maillab start [--fresh]" in printed


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


def test_maillab_help_lists_every_start_option_and_the_controls(ip: Shell) -> None:
    docstring = str(ip.shell.find_line_magic("maillab").__doc__)
    for option in ("--alias", "--max-message-size", "--max-recipients", "--maildir", "--user"):
        assert f"  {option} " in docstring, option  # with its help, not only in the synopsis
    for word in ("log", "adduser", "deluser", "empty", "hide", "vrfy"):
        assert f"%maillab {word}" in docstring


def test_maillab_controls_change_the_running_lab(lab_ip: Shell) -> None:
    server = lab_ip.line("maillab").server
    added = lab_ip.line("maillab", "adduser carol:carol-secret")
    assert "added carol" in added.as_text() and "carol (0)" in added.as_text()
    assert "carol-secret" not in added.as_text() and server.directory.users["carol"]
    server.seed("carol", "Subject: hi\n\nx\n")
    assert "1 message(s) deleted" in lab_ip.line("maillab", "empty carol").as_text()
    hidden = lab_ip.line("maillab", "hide carol")
    assert "carol" not in hidden.as_text()
    assert "carol (0)" in lab_ip.line("maillab", "hide --show").as_text()
    assert "252" in lab_ip.line("maillab", "vrfy 252").as_text()
    assert server.vrfy_disclosure == "252"
    assert "removed carol" in lab_ip.line("maillab", "deluser carol").as_text()
    assert "carol" not in server.directory.users
    with pytest.raises(UsageError, match=r"carol.*is not a user or list"):
        lab_ip.line("maillab", "empty carol")
    with pytest.raises(UsageError, match="invalid choice"):
        lab_ip.line("maillab", "vrfy 251")


def test_maillab_log_shows_the_server_s_record(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "VRFY bob")
    lab_ip.line("smtp", "close")
    log = lab_ip.line("maillab", "log")
    assert log.used("VRFY") and "VRFY bob" in log.as_text()
    assert len(lab_ip.line("maillab", "log --clear")) == 0


def test_maillab_controls_need_a_running_lab(ip: Shell) -> None:
    with pytest.raises(UsageError, match="not running"):
        ip.line("maillab", "log")
