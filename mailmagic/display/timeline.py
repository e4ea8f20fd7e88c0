"""The view of `%smtp timeline` / `%pop3 timeline`: a session's transcript drawn as a sequence
diagram, a client lane and a server lane with time running down to scale, each command an arrow
to the server and each reply an arrow back, TLS stretches shaded, notes (connected, TLS started,
closed) as dashed lines, and long idle gaps drawn as breaks that say how long they were (where
things go is display/timeline_layout.py). Secrets were masked when they were recorded
(session/transcript.py), so the diagram shows ``PASS ***`` as the transcript does.

The SVG is made here, by a small renderer of our own, rather than by Graphviz or a plotting library:
a sequence diagram is a few dozen lines, rectangles and text, nothing needs installing, and we
control every byte, so the picture is static-safe: no <script>, no on* attributes, no links or
external references (fonts are generic families), and every piece of text, which may come from a
hostile server, is XML-escaped, with control characters (not allowed in XML) shown as U+FFFD.
The bundle holds the SVG as `image/svg+xml` (through the base's `extra_mime`), the same inline SVG
as text/html (and, in a kernel, the base's one HTML widget of it), and a text timeline
(``+0.000 C: EHLO me``) as text/plain. It is a snapshot: the entries are copied when the view is
built, and later cells never change it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailmagic.display import html as h
from mailmagic.display.base import View
from mailmagic.display.timeline_layout import (
    CLIENT_X,
    SERVER_X,
    TOP,
    Arrow,
    Label,
    Layout,
    layout,
    text_lines,
)
from mailmagic.session.transcript import Entry, Transcript

_COLOURS = {"client": "#0969da", "server": "#1f2328", "note": "#57606a"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_FONT = 'font-family="ui-monospace,Menlo,Consolas,monospace" font-size="11"'


def xml_text(text: str) -> str:
    """Text escaped for XML, with characters XML does not allow replaced by U+FFFD."""
    return h.esc(_CONTROL.sub("\ufffd", text))


def _arrow(a: Arrow) -> str:
    colour = _COLOURS[a.direction]
    return (
        f'<line x1="{a.x1:.1f}" y1="{a.y1:.1f}" x2="{a.x2:.1f}" y2="{a.y2:.1f}" '
        f'stroke="{colour}" stroke-width="1.4" marker-end="url(#{a.direction}-head)"/>'
    )


def _label(label: Label) -> str:
    out = ""
    if label.leader is not None:
        edge = label.x + (6 if label.anchor == "end" else -6)
        out = (
            f'<line x1="{edge:.1f}" y1="{label.y - 4:.1f}" x2="{label.leader[0]:.1f}" '
            f'y2="{label.leader[1]:.1f}" stroke="#afb8c1" stroke-width="0.6" '
            'stroke-dasharray="2 2"/>'
        )
    style = ' font-style="italic"' if label.kind == "note" else ""
    return out + (
        f'<text x="{label.x:.1f}" y="{label.y:.1f}" text-anchor="{label.anchor}" '
        f'fill="{_COLOURS[label.kind]}"{style}>{xml_text(label.text)}</text>'
    )


def _heads() -> str:
    """Arrowheads, one per direction (defined in the picture itself: no external reference)."""
    marks = "".join(
        f'<marker id="{d}-head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
        for d, c in _COLOURS.items()
        if d != "note"
    )
    return f"<defs>{marks}</defs>"


def _lanes(lay: Layout, server: str) -> str:
    parts = []
    for x, name in ((CLIENT_X, "client"), (SERVER_X, server)):
        parts.append(
            f'<rect x="{x - 60:.1f}" y="{TOP - 40:.1f}" width="120" height="22" rx="4" '
            f'fill="#f6f8fa" stroke="#d0d7de"/><text x="{x:.1f}" y="{TOP - 25:.1f}" '
            f'text-anchor="middle" fill="#1f2328">{xml_text(name)}</text>'
            f'<line x1="{x:.1f}" y1="{TOP - 18:.1f}" x2="{x:.1f}" y2="{lay.bottom:.1f}" '
            'stroke="#d0d7de" stroke-width="2"/>'
        )
    return "".join(parts)


def _bands(lay: Layout) -> str:
    left, width = CLIENT_X - 14, SERVER_X - CLIENT_X + 28
    return "".join(
        f'<rect x="{left:.1f}" y="{b.y1:.1f}" width="{width:.1f}" height="{b.y2 - b.y1:.1f}" '
        f'fill="#dafbe1" opacity="0.7"/><text x="{left + width / 2:.1f}" y="{b.y1 + 11:.1f}" '
        'text-anchor="middle" fill="#1a7f37" font-weight="bold">TLS</text>'
        for b in lay.bands
    )


def _gaps(lay: Layout) -> str:
    left, right = CLIENT_X - 40, SERVER_X + 40
    return "".join(
        f'<rect x="{left:.1f}" y="{g.y1 + 3:.1f}" width="{right - left:.1f}" '
        f'height="{g.y2 - g.y1 - 6:.1f}" fill="#ffffff" stroke="#d0d7de" '
        f'stroke-dasharray="4 3"/><text x="{(left + right) / 2:.1f}" '
        f'y="{(g.y1 + g.y2) / 2 + 4:.1f}" text-anchor="middle" fill="#57606a">'
        f"{xml_text(g.text)}</text>"
        for g in lay.gaps
    )


def _notes(lay: Layout) -> str:
    return "".join(
        f'<line x1="{CLIENT_X - 20:.1f}" y1="{y:.1f}" x2="{SERVER_X + 6:.1f}" y2="{y:.1f}" '
        'stroke="#57606a" stroke-dasharray="5 3"/>'
        for y in lay.notes
    )


def svg(entries: tuple[Entry, ...], title: str, server: str = "server") -> str:
    """The sequence diagram of ``entries`` as one self-contained, inert SVG document."""
    lay = layout(entries)
    body = "".join(
        [
            _heads(),
            f'<rect width="{lay.width:.0f}" height="{lay.height:.0f}" fill="#ffffff"/>',
            f'<text x="8" y="16" fill="#1f2328" font-weight="bold">{xml_text(title)}</text>',
            _bands(lay),
            _lanes(lay, server),
            _notes(lay),
            "".join(_arrow(a) for a in lay.arrows),
            _gaps(lay),
            "".join(_label(label) for label in lay.labels),
        ]
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lay.width:.0f}" '
        f'height="{lay.height:.0f}" viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" '
        f'role="img" {_FONT}><title>{xml_text(title)}</title>{body}</svg>'
    )


@dataclass(frozen=True, repr=False)
class TimelineView(View):
    """A snapshot of one session's transcript as a sequence diagram; ``last``: only the last
    entries (None: all)."""

    name: str
    transcript: Transcript
    protocol: str = "SMTP"
    last: int | None = None
    entries: tuple[Entry, ...] = field(init=False, repr=False, compare=False)
    total: int = field(init=False, repr=False, compare=False)
    svg: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        every = tuple(self.transcript.entries)
        shown = every if self.last is None else every[max(0, len(every) - self.last) :]
        object.__setattr__(self, "entries", shown)
        object.__setattr__(self, "total", len(every))
        object.__setattr__(self, "svg", svg(shown, self.title, f"{self.protocol} server"))

    @property
    def title(self) -> str:
        """What the diagram shows: the session, and how many entries of how many."""
        some = f"the last {len(self.entries)} of {self.total}" if self.last else "all"
        return f"{self.protocol} session {self.name}: timeline of {some} entries"

    def as_text(self) -> str:
        """The text timeline: ``+0.000 C: EHLO me`` lines, notes in brackets, breaks."""
        lines = text_lines(self.entries) or ["(nothing recorded yet)"]
        return "\n".join([f"{self.title}:", *lines])

    def as_svg(self) -> str:
        """The diagram as a self-contained SVG document."""
        return self.svg

    def as_html(self) -> str:
        """The same SVG, inline, in a box that scrolls sideways on a narrow page."""
        return f'<div style="overflow-x:auto;max-width:100%">{self.svg}</div>'

    def extra_mime(self) -> dict[str, str]:
        """The picture itself, for front ends that show ``image/svg+xml`` (GitHub, nbconvert)."""
        return {"image/svg+xml": self.svg}
