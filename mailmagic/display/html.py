"""The small HTML vocabulary every view shares for its text/html fallback: escaping (everything that
came from a server goes through `esc`), badges coloured by reply class, preformatted blocks and
tables, all with inline styles and no scripts, so a saved notebook reads the same on GitHub, in
nbconvert and in VS Code."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

_FONT = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px"
COLOURS = {
    "2": "#1a7f37",  # success
    "3": "#0969da",  # intermediate: go on
    "4": "#9a6700",  # transient failure: try again later
    "5": "#cf222e",  # permanent failure
    "+OK": "#1a7f37",
    "-ERR": "#cf222e",
    "+": "#0969da",
    "note": "#57606a",
    "insecure": "#cf222e",  # certificate checks off (display/trust.py)
    "live": "#8250df",  # a panel that follows its session (display/session.py)
}


def esc(text: object) -> str:
    """HTML-escape anything (quotes included)."""
    return html.escape(str(text), quote=True)


def colour_of(status: str) -> str:
    """The badge colour of a status: an SMTP code's class digit, +OK, -ERR or '+'."""
    return COLOURS.get(status, COLOURS.get(status[:1], COLOURS["note"]))


def badge(status: str) -> str:
    """A coloured pill with the status in it."""
    return (
        f'<span style="display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;'
        f'background:{colour_of(status)};{_FONT};font-weight:bold">{esc(status)}</span>'
    )


def pre(text: str) -> str:
    """A preformatted block of escaped text."""
    return (
        f'<pre style="margin:4px 0;padding:6px;background:#f6f8fa;border-radius:4px;'
        f'white-space:pre-wrap;{_FONT}">{esc(text)}</pre>'
    )


def box(*parts: str) -> str:
    """The outer frame of a view."""
    body = "".join(parts)
    return (
        '<div style="border-left:3px solid #d0d7de;padding:2px 8px;margin:2px 0;'
        f'line-height:1.35">{body}</div>'
    )


def line(*parts: str) -> str:
    """One line of a view."""
    return f'<div style="margin:2px 0">{"".join(parts)}</div>'


def muted(text: str) -> str:
    """Secondary text, already escaped by the caller or plain."""
    return f'<span style="color:#57606a">{esc(text)}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain table; every cell is escaped."""
    cell = f'style="padding:2px 8px;border-bottom:1px solid #eaeef2;text-align:left;{_FONT}"'
    head = "".join(f"<th {cell}>{esc(h)}</th>" for h in headers)
    head = f"<tr>{head}</tr>" if any(headers) else ""  # a two-column key/value table has none
    body = "".join(
        "<tr>" + "".join(f"<td {cell}>{esc(v)}</td>" for v in row) + "</tr>" for row in rows
    )
    return f'<table style="border-collapse:collapse">{head}{body}</table>'
