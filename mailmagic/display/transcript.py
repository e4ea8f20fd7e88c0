"""The view of a session's transcript: client and server lines told apart, notes (connected, TLS
started, closed) in brackets, the round-trip time of each reply. Secrets were masked when recorded
(session/transcript.py), so nothing here needs to hide anything. A transcript of a session that does
not check certificates says so (display/trust.py). A view is a snapshot (DESIGN.md): it copies the
entries when it is built, and its widget is one HTML widget of exactly what its text/html shows;
later cells never change it. With ``tail`` it shows only the last entries and how many came before
(the status panel's short form; `%smtp transcript` shows all). `LiveTranscript` is the one view that
follows a transcript, only for a panel the user asked to be live (display/session.py): it subscribes
weakly (display/live.py) and appends: rows sit in HTML blocks of ROWS_PER_BLOCK, and a new entry
renders one row and re-sends only the last block, so an update costs the same however long the
history is."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import ipywidgets as widgets

from mailmagic.display import html as h
from mailmagic.display.base import View
from mailmagic.display.live import cascade, hold, html_widget
from mailmagic.display.trust import insecure_html, insecure_text
from mailmagic.session.transcript import Entry, Transcript

ROWS_PER_BLOCK = 100
TAIL = 10  # entries a status panel shows


def _stamp(entry: Entry) -> str:
    return time.strftime("%H:%M:%S", time.localtime(entry.time))


def _rtt(entry: Entry) -> str:
    return f" ({entry.rtt * 1000:.1f} ms)" if entry.rtt is not None else ""


_COLOURS = {"client": "#0969da", "server": "#1f2328", "note": "#57606a"}
_WHO = {"client": "C:", "server": "S:", "note": "--"}


def _row(entry: Entry) -> str:
    lock = "\U0001f512 " if entry.tls else ""
    body = h.esc(entry.text.rstrip("\r\n"))
    return (
        f'<div style="color:{_COLOURS[entry.direction]};white-space:pre-wrap;'
        f'font-family:monospace">{h.esc(_stamp(entry))} {lock}{_WHO[entry.direction]} '
        f"{body}{h.esc(_rtt(entry))}</div>"
    )


def entries_text(entries: tuple[Entry, ...]) -> str:
    """Telnet-style C: / S: lines and [notes] (as Transcript.text, for a snapshot)."""
    copy = Transcript()
    copy.entries.extend(entries)
    return copy.text()


class LiveTranscript:
    """The live rows: HTML blocks in a VBox; ``add`` renders one row into the last block."""

    def __init__(self, head: str, entries: list[Entry]) -> None:
        frame = widgets.Layout(border_left="3px solid #d0d7de", padding="2px 8px")
        self.box = widgets.VBox([html_widget(head)], layout=frame)
        self._rows: list[str] = []  # the last block's rows
        for start in range(0, len(entries), ROWS_PER_BLOCK):
            self._rows = [_row(e) for e in entries[start : start + ROWS_PER_BLOCK]]
            self.box.children = (*self.box.children, html_widget("".join(self._rows)))

    def add(self, entry: Entry) -> None:
        """Append one entry's row, starting a new block when the last one is full."""
        if not self._rows or len(self._rows) >= ROWS_PER_BLOCK:
            self._rows = []
            self.box.children = (*self.box.children, html_widget())
        self._rows.append(_row(entry))
        self.box.children[-1].value = "".join(self._rows)

    @classmethod
    def following(cls, head: str, transcript: Transcript) -> widgets.VBox:
        """A box that grows with ``transcript`` until it is closed."""
        rows = cls(head, transcript.entries)
        return hold(cascade(rows.box), transcript.listeners.subscribe(rows.add))


@dataclass(frozen=True, repr=False)
class TranscriptView(View):
    """A snapshot of one session's transcript; ``insecure`` when its certificate is unchecked;
    ``tail``: show only the last entries (None: all); ``protocol`` names the magic that shows all.
    """

    name: str
    transcript: Transcript
    insecure: bool = False
    tail: int | None = None
    protocol: str = "SMTP"
    entries: tuple[Entry, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.transcript.entries))

    @property
    def shown(self) -> tuple[Entry, ...]:
        """The entries this view shows (the last ``tail`` ones, or all)."""
        if self.tail is None or len(self.entries) <= self.tail:
            return self.entries
        return self.entries[len(self.entries) - self.tail :]

    @property
    def earlier(self) -> int:
        """How many entries are left out before the shown ones."""
        return len(self.entries) - len(self.shown)

    def _more(self) -> str:
        magic = f"%{self.protocol.lower()} transcript {self.name}"
        return f"\u2026 {self.earlier} earlier entries; `{magic}` shows all"

    def as_text(self) -> str:
        """Telnet-style: C: / S: lines, [notes]."""
        head = [f"transcript of {self.name}:", *insecure_text(self.insecure, indent="")]
        head += [self._more()] if self.earlier else []
        return "\n".join([*head, entries_text(self.shown)])

    def _head_html(self) -> str:
        more = h.line(h.muted(self._more())) if self.earlier else ""
        return h.line(h.muted(f"transcript of {self.name}")) + insecure_html(self.insecure) + more

    def as_html(self) -> str:
        """One row per entry, coloured by direction, TLS entries marked with a lock."""
        return h.box(self._head_html(), *(_row(entry) for entry in self.shown))

    def widget(self) -> widgets.HTML:
        """The snapshot as one HTML widget: what text/html shows."""
        return html_widget(self.as_html())

    def live_widget(self) -> widgets.VBox:
        """A transcript that grows as later cells talk to the server, until it is closed."""
        return LiveTranscript.following(self._head_html(), self.transcript)
