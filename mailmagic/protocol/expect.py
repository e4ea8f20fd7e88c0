"""The patterns of `--expect`, which let lab exercises check themselves: an exact SMTP code ("250"),
a class or family with x wildcards ("2xx", "25x", "5"), or a POP3 status ("+OK", "-ERR", "+" for a
SASL continuation)."""

from __future__ import annotations

import re

from mailmagic.protocol.errors import LocalProtocolError

_CODE_PATTERN = re.compile(r"^[2-5](?:[0-9x]{2})?$")
_POP3_STATUSES = ("+OK", "-ERR", "+")


def check_pattern(pattern: str) -> str:
    """The normalised pattern, or LocalProtocolError saying what a pattern looks like."""
    normal = pattern.strip().upper().replace("X", "x")
    if normal in _POP3_STATUSES or _CODE_PATTERN.match(normal):
        return normal
    raise LocalProtocolError(
        f"--expect {pattern!r} is not a reply pattern: use a code such as 250, a class such as "
        "2xx or 5, or +OK / -ERR"
    )


def matches(status: str, pattern: str) -> bool:
    """Whether a reply status ("250", "+OK", "-ERR", "+") fits ``pattern``."""
    normal = check_pattern(pattern)
    if normal in _POP3_STATUSES or not status.isdigit():
        return status == normal
    if len(normal) == 1:
        return status[0] == normal
    return all(p in ("x", s) for p, s in zip(normal, status, strict=True))
