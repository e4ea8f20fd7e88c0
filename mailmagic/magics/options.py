"""What the magics read around a protocol line, shared by %smtp and %pop3: comments, the options
before a raw line (--expect, --session, --timeout, --continue, and `--` that forces a raw line),
--expect's check of a reply, and where a secret comes from.

Comments: outside message text, an unquoted `#` that stands alone as a word (at the start of a
line or after a space, and before a space or the end) starts a comment that runs to the end of
the line and is never sent (so `%pop3 PASS  # note` sends no note as the password, while
`--subject "Issue #5"` and `Issue #5` keep their `#5`). Message text after DATA is sent
exactly as typed, `#` included, and so is a raw line after `--`.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable, Mapping
from typing import Any, cast

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.display import display as _display

from mailmagic.display.cell import CellView
from mailmagic.display.exchange import status_of
from mailmagic.display.reply import ReplyView
from mailmagic.protocol.expect import check_pattern, matches
from mailmagic.session.secrets import find_password

display = cast(Callable[..., None], _display)  # IPython's display() is not typed

# The options a raw line (or a cell's first line) may start with, with their help.
LINE_OPTIONS: Mapping[str, str] = {
    "--expect": "PATTERN: fail unless the reply matches (250, 2xx, 5, +OK, -ERR)",
    "--session": "NAME: send to that session instead of the current one",
    "--timeout": "S: seconds to wait for this reply",
    "--continue": "(cells) go on after a failure",
}
VALUE_OPTIONS = frozenset({"expect", "session", "timeout"})  # each takes a value
_FLAG_OPTIONS = {"continue"}

LINE_RULES = """\
Any other line is sent to the server exactly as typed (unknown verbs too), e.g. %{p} NOOP;
a %%{p} cell sends each line in turn and stops at the first failure unless --continue.
Before a line: --expect PATTERN, --session NAME, --timeout S; -- LINE forces a raw line.
Comments: outside message text, an unquoted # standing alone as a word (a space or the line's
start before it, a space or the line's end after it) starts a comment to the end of the line,
which is not sent. Message text after DATA is sent as typed,
and so is a raw line after --."""


class ExpectFailed(AssertionError):
    """A reply did not match ``--expect``: the lab exercise is not solved yet."""

    def _render_traceback_(self) -> list[str]:
        return [f"ExpectFailed: {self}"]


def strip_comment(line: str, quotes: str = '"') -> str:
    """``line`` without its comment: from an unquoted ``#`` that stands alone as a word to the
    end (see the module docstring). ``quotes`` are the characters that quote."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in quotes:
            quote = char
        elif char == "#" and line[i - 1 : i].strip() == line[i + 1 : i + 2].strip() == "":
            return line[:i].rstrip()
    return line


def split_options(line: str) -> tuple[dict[str, str], str]:
    """Leading ``--option`` words of a raw line, and the rest exactly as typed.

    ``--`` ends the options and marks the rest as a raw line even if it starts with a control
    word (``options["raw"]``).
    """
    options: dict[str, str] = {}
    rest = line.lstrip()
    while rest.startswith("--"):
        token, _, after = rest.partition(" ")
        if token == "--":
            options["raw"] = "yes"
            return options, after
        name = token[2:]
        if name in _FLAG_OPTIONS:
            options[name] = "yes"
        elif name in VALUE_OPTIONS:
            value, _, after = after.lstrip().partition(" ")
            if not value:
                raise UsageError(f"--{name} needs a value")
            options[name] = value
        else:
            known = ", ".join(f"--{o}" for o in sorted(VALUE_OPTIONS | _FLAG_OPTIONS))
            raise UsageError(f"unknown option {token} (known before a raw line: {known}, --)")
        rest = after.lstrip()
    return options, rest


def timeout_of(options: dict[str, str]) -> float | None:
    """The ``--timeout`` of a raw line in seconds, or None if not given."""
    if "timeout" not in options:
        return None
    try:
        value = float(options["timeout"])
    except ValueError:
        raise UsageError(f"--timeout takes seconds, not {options['timeout']!r}") from None
    if value <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    return value


def expected(options: dict[str, str]) -> str | None:
    """The checked ``--expect`` pattern, or None."""
    return check_pattern(options["expect"]) if "expect" in options else None


def check(view: ReplyView, pattern: str) -> None:
    """Show ``view`` and raise ExpectFailed unless its reply matches ``pattern``."""
    reply = view.reply
    if reply is None:
        raise UsageError(f"--expect {pattern}: {view.command!r} gets no reply of its own")
    if not matches(status_of(reply), pattern):
        display(view)
        raise ExpectFailed(
            f"expected {pattern}, got {status_of(reply)}: "
            f"{reply.raw.decode('utf-8', 'replace').strip()}"
        )


def check_cell(result: CellView, pattern: str) -> None:
    """Show ``result`` and raise ExpectFailed unless its last reply matches ``pattern``."""
    last = result.last
    assert last is not None and last.reply is not None
    if not matches(status_of(last.reply), pattern):
        display(result)
        raise ExpectFailed(f"expected {pattern}, the last reply was {status_of(last.reply)}")


def check_result(result: Any, options: dict[str, str]) -> Any:
    """Apply ``--expect`` to what a control word returned (open, reconnect, login...)."""
    if set(options) - {"expect"}:
        raise UsageError("before a control word only --expect applies; use -- for a raw line")
    pattern = expected(options)
    if pattern is None:
        return result
    if isinstance(result, ReplyView):
        check(result, pattern)
    elif isinstance(result, CellView):
        check_cell(result, pattern)
    else:
        raise UsageError("--expect checks a server reply; this control word gets none")
    return result


def password(user: str, env_var: str | None, lab_users: Mapping[str, str] | None) -> str:
    """The secret for ``user``: the lab's user, ``$env_var``, or a prompt (session/secrets.py)."""
    try:
        return find_password(user, env_var, lab_users, getpass.getpass)
    except StdinNotImplementedError:
        raise UsageError(
            f"no password for {user}: this kernel cannot prompt; set an environment "
            "variable and pass --password-env NAME"
        ) from None


def number_range(text: str) -> range:
    """``--numbers 3`` or ``--numbers 1-100``."""
    first, _, last = text.partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        raise argparse.ArgumentTypeError(f"expected N or N-M, not {text!r}")
    return range(int(first), int(last or first) + 1)


def port(text: str) -> int:
    """A TCP port given after a host; UsageError unless 1 to 65535."""
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"a port is a number from 1 to 65535, not {text!r}")
    return int(text)
