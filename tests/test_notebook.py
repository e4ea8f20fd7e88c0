# What this module does: runs a notebook with nbclient on a real ipykernel, headless, that replays
# both seed walkthroughs (../shared/seeds/) end to end against the lab server: two messages sent
# over SMTP exactly as typed at a telnet prompt, then read back over POP3 with a PASS that has no
# secret in the notebook. Every step checks itself with --expect, so any wrong reply fails the run.
from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

CELLS = [
    "%load_ext mailmagic",
    "%maillab start",
    "%smtp --expect 220 open",
    # Seed 1: "How to Send Email With Telnet", line by line.
    "%smtp --expect 250 HELO mycomputer.mydomain.com",
    "%smtp --expect 250 MAIL FROM: me@mydomain.com",
    "%smtp --expect 250 RCPT TO: alice@lab.test",
    "%smtp --expect 354 DATA",
    "%%smtp --expect 250\nSubject: test\n\nMessage Body\n.",
    "%smtp --expect 221 QUIT",
    # Seed 2: the MDaemon walkthrough, in one cell, with the mandatory blank line.
    "%smtp --expect 220 reconnect",
    (
        "%%smtp --expect 221\nHELO local.domain.name\nMAIL FROM: mail@domain.ext\n"
        "RCPT TO: alice@lab.test\nDATA\nFrom: Your Name\nTo: Their name\nCC: Someone else\n"
        "Subject: Your subject.\n\nSecond message body\n.\nQUIT"
    ),
    # "How to Check Email With Telnet": USER, PASS, STAT, LIST, RETR, TOP, DELE, QUIT.
    "%pop3 --expect +OK open",
    "%pop3 --expect +OK USER alice@lab.test",
    "%pop3 --expect +OK PASS",
    "stat = %pop3 --expect +OK STAT\nassert (stat.stat.count, ) == (2, ), stat.stat",
    "listing = %pop3 --expect +OK LIST\nassert [e.number for e in listing.entries] == [1, 2]",
    (
        "first = %pop3 --expect +OK RETR 1\n"
        "assert first.body.endswith(b'Subject: test\\r\\n\\r\\nMessage Body\\r\\n'), first.body"
    ),
    "top = %pop3 --expect +OK TOP 2 0\nassert b'Subject: Your subject.' in top.body",
    "%pop3 --expect +OK DELE 1",
    "%pop3 --expect +OK QUIT",
    "%pop3 --expect +OK reconnect\n%pop3 --expect +OK login alice\n%pop3 --expect +OK STAT",
    "%pop3 transcript",
]


def test_seed_walkthroughs_replay_headless(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    client = NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = json.dumps([cell.get("outputs", []) for cell in nb.cells])
    assert "alice-password" not in outputs
    assert "PASS ***" in outputs
    last = nb.cells[-2].outputs[-1]["data"]["text/plain"]
    assert "+OK 1 " in last  # one message left after DELE 1 and QUIT
    assert "250 2.6.0" in json.dumps(nb.cells[7].outputs)
