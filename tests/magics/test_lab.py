# What this module does: tests of %maillab (mailmagic/magics/lab.py) in a real shell: it shows
# the lab server and gives it as its value, start reuses a running one (and says so) or --fresh
# starts one on an empty store, stop, and its --help.
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
