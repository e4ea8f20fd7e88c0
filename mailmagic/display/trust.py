"""How every view says that a result comes from a session that does not check the server's
certificate (`open --insecure`), as the README promises: one predicate on the session and the same
warning in text/plain and text/html (widgets show the HTML), so no display of such a result reads
like one from a verified session."""

from __future__ import annotations

from typing import Any

from mailmagic.display import html as h
from mailmagic.session.base import Session

INSECURE = "certificate checks are OFF (--insecure): use only with a throwaway test server"


def unverified(session: Session[Any, Any]) -> bool:
    """True when ``session`` does not verify the server's certificate."""
    tls = session.tls
    return session.settings.insecure or (tls is not None and not tls.verified)


def insecure_text(insecure: bool, indent: str = "   ") -> list[str]:
    """The warning as text/plain lines ([] for a verified session)."""
    return [f"{indent}note: {INSECURE}"] if insecure else []


def insecure_html(insecure: bool) -> str:
    """The warning as one HTML line with a red badge ('' for a verified session)."""
    return h.line(h.badge("insecure"), " ", h.esc(INSECURE)) if insecure else ""
