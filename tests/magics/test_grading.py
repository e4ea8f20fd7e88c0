# What this module does: tests of what graded notebooks need (mailmagic/magics/grading.py) through a
# real shell and the real lab server: nbgrader's stub in a %%smtp or %%pop3 cell fails it with a
# UsageError before anything is sent, nbgrader's solution markers are never sent, and
# fail_on_error (set once for both magics with %config ProtocolMagics...) makes every 4xx/5xx or
# -ERR fail its line or cell unless --expect checks it; on a kernel (nbclient) the failure is an
# error output that stops Run All.
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from IPython.core.error import UsageError
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mailmagic.magics.grading import ReplyFailed, without_markers
from tests.magics.shell import S250_OK, S354_START_INPUT, Shell

STUDENT_CELL = "EHLO student.lab.test\n# YOUR CODE HERE\nraise NotImplementedError()\n"
TEACHER_CELL = """\
EHLO teacher.lab.test
### BEGIN SOLUTION
MAIL FROM:<bob@lab.test>
RCPT TO:<alice@lab.test>
DATA
Subject: marked

### END SOLUTION is message text here, not a marker
.
### END SOLUTION
"""


@pytest.fixture
def strict(lab_ip: Shell) -> Iterator[Shell]:
    """The lab shell with fail_on_error on for both magics (set back off after the test)."""
    lab_ip.shell.run_line_magic("config", "ProtocolMagics.fail_on_error = True")
    yield lab_ip
    lab_ip.shell.run_line_magic("config", "ProtocolMagics.fail_on_error = False")


def test_a_stub_fails_the_cell_and_nothing_is_sent(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    with pytest.raises(UsageError, match=r"not answered yet: replace line 4 of the %%smtp cell"):
        lab_ip.cell("smtp", "--expect 250", STUDENT_CELL)
    assert "EHLO" not in lab_ip.line("smtp", "transcript").as_text()
    lab_ip.line("pop3", "open")
    with pytest.raises(UsageError, match="%%pop3 cell, 'raise NotImplementedError"):
        lab_ip.cell("pop3", "", "USER alice\n    raise NotImplementedError()\n")


def test_solution_markers_are_never_sent(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    result = lab_ip.cell("smtp", "--expect 250", TEACHER_CELL)
    assert [r.code for r in result.replies] == [S250_OK, S250_OK, S250_OK, S354_START_INPUT, 250]
    assert "BEGIN SOLUTION" not in lab_ip.line("smtp", "transcript").as_text()
    assert without_markers("a\n  #BEGIN SOLUTION\nb\n# END SOLUTION  ") == "a\nb"


def test_without_fail_on_error_a_failure_stops_the_cell_but_does_not_fail_it(
    lab_ip: Shell,
) -> None:
    lab_ip.line("smtp", "open")
    assert lab_ip.cell("smtp", "", "RCPT TO:<alice@lab.test>\nNOOP\n").stopped is not None
    assert lab_ip.line("smtp", "RCPT TO:<alice@lab.test>").code == 503


def test_fail_on_error_fails_lines_cells_and_control_words(strict: Shell) -> None:
    strict.line("smtp", "open")
    with pytest.raises(ReplyFailed, match=r"'RCPT TO:<alice@lab.test>' got 503: 503 5.5.1"):
        strict.line("smtp", "RCPT TO:<alice@lab.test>")
    with pytest.raises(ReplyFailed, match="got 500"):
        strict.cell("smtp", "--continue", "NOOP\nFROB\nNOOP\n")
    assert strict.line("smtp", "--expect 503 RCPT TO:<alice@lab.test>").code == 503
    assert strict.cell("smtp", "--expect 5", "HELO me\nFROB\n").last is not None
    strict.line("pop3", "open")
    with pytest.raises(ReplyFailed, match="got -ERR"):
        strict.line("pop3", "STAT")
    with pytest.raises(ReplyFailed, match=r"login nobody \(USER/PASS\)' got -ERR"):
        strict.line("pop3", "login nobody --password-env HOME")


def test_on_a_kernel_fail_on_error_stops_run_all(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"%load_ext mailmagic\n%maillab start --maildir {tmp_path / 'maildir'}\n"
            "%config ProtocolMagics.fail_on_error = True\n%smtp open"
        ),
        nbformat.v4.new_code_cell("%smtp RCPT TO:<alice@lab.test>"),
        nbformat.v4.new_code_cell("reached = True"),
    ]
    client = NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False)
    with pytest.raises(CellExecutionError, match="ReplyFailed"):
        client.execute(cwd=str(tmp_path))
    error = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert error and error[0].ename == "ReplyFailed"
    shown = "".join(o.get("data", {}).get("text/html", "") for o in nb.cells[1].outputs)
    assert "503" in shown  # the reply is shown before the cell fails
    assert nb.cells[2].execution_count is None
