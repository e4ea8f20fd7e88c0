"""What graded notebooks (nbgrader) need from %smtp and %pop3, so that a cell fails when, and only
when, the exercise is not done.

- **Solution markers and stubs.** nbgrader replaces the region between `### BEGIN SOLUTION` and
  `### END SOLUTION` with its code stub, `# YOUR CODE HERE` then `raise NotImplementedError()`.
  In a `%%smtp` / `%%pop3` cell that stub is not Python: sent as a protocol line it would only get
  a `500`. So a cell holding a stub line (`unanswered_lines`, a setting of the magics) is not sent
  at all: it fails with a UsageError that says which line to replace. The marker lines themselves
  (`### BEGIN SOLUTION`, any number of `#`) are dropped from the teacher's cell before it is sent.
- **Failing on any error reply.** Without `--expect`, a reply of 4xx/5xx or -ERR stops a cell
  but does not fail it, so Run All (and nbgrader) goes on. With `fail_on_error` set (`%config
  ProtocolMagics.fail_on_error = True`), such a reply shows the result and raises `ReplyFailed`:
  an error output, which stops Run All and makes nbgrader's test cell score 0. `--expect` on the
  line or cell still decides alone, so `--expect 550` remains a passing check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from IPython.core.error import UsageError

from mailmagic.display.cell import CellView
from mailmagic.display.exchange import is_failure, status_of
from mailmagic.display.reply import ReplyView
from mailmagic.magics.options import display, split_options

NBGRADER_STUB = ("raise NotImplementedError()",)
"""The line of nbgrader's default code stub (ClearSolutions.code_stub) that is not a comment."""

_MARKER = re.compile(r"^\s*#+\s*(BEGIN|END) SOLUTION\s*$")


class ReplyFailed(AssertionError):
    """A reply was 4xx/5xx or -ERR while ``fail_on_error`` is on: the cell fails."""

    def _render_traceback_(self) -> list[str]:
        return [f"ReplyFailed: {self}"]


def without_markers(cell: str) -> str:
    """``cell`` without nbgrader's solution marker lines (``### BEGIN SOLUTION``...)."""
    return "\n".join(line for line in cell.splitlines() if not _MARKER.match(line))


def check_answered(cell: str, magic: str, stubs: Iterable[str]) -> None:
    """Raise a UsageError, before anything is sent, if ``cell`` holds a stub line (numbered as
    the notebook shows the cell, the ``%%smtp`` line first)."""
    wanted = {stub.strip() for stub in stubs if stub.strip()}
    for number, line in enumerate(cell.splitlines(), start=2):  # line 1 holds %%smtp
        if line.strip() in wanted:
            raise UsageError(
                f"this exercise is not answered yet: replace line {number} of the %%{magic} "
                f"cell, {line.strip()!r}, with your protocol lines (nothing was sent)"
            )


def check_replies(result: Any, line: str) -> None:
    """Show ``result`` and raise ReplyFailed if it holds a 4xx/5xx or -ERR reply, unless the
    line gave ``--expect`` (which has checked the reply already)."""
    if "expect" in split_options(line)[0]:
        return
    if isinstance(result, ReplyView):
        failed = [result] if is_failure(result.reply) else []
    elif isinstance(result, CellView):
        failed = [x for x in result.exchanges if is_failure(x.reply)]
    else:
        return
    if failed:
        display(result)
        raise ReplyFailed(_failure_text(failed))


def _failure_text(failed: list[ReplyView]) -> str:
    first = failed[0]
    assert first.reply is not None
    text = first.reply.raw.decode("utf-8", "replace").strip().splitlines()[0]
    more = f" (and {len(failed) - 1} more failure(s))" if len(failed) > 1 else ""
    return (
        f"{first.command!r} got {status_of(first.reply)}: {text}{more}. fail_on_error is on: "
        "every 4xx/5xx or -ERR fails the cell; put --expect before a line that should fail"
    )
