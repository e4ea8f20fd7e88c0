# What this module does: what the magics' tests share: a real IPython shell with mailmagic loaded
# and a lab server in the test's folder (Shell), running code as a notebook cell (run), the SMTP
# walkthrough of the seed lesson, and named reply codes.
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

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


def run(shell: InteractiveShell, code: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    """Run ``code`` as a notebook cell; its result and what it printed (stdout and stderr)."""
    result = shell.run_cell(code)
    captured = capsys.readouterr()
    return result, captured.out + captured.err
