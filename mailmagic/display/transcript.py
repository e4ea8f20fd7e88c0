# What this module does: the view of a session's transcript: client and server lines told apart,
# notes (connected, TLS started, closed) in brackets, the round-trip time of each reply. Secrets
# were masked when recorded (session/transcript.py), so nothing here needs to hide anything.
# The widget is live: it listens to the transcript and grows as later cells run.
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from mailmagic.display import html as h
from mailmagic.display.bundle import mimebundle
from mailmagic.session.transcript import Entry, Transcript


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


@dataclass(frozen=True)
class TranscriptView:
    """A snapshot of one session's transcript."""

    name: str
    transcript: Transcript

    def as_text(self) -> str:
        """Telnet-style: C: / S: lines, [notes]."""
        return f"transcript of {self.name}:\n{self.transcript.text()}"

    def as_html(self) -> str:
        """One row per entry, coloured by direction, TLS entries marked with a lock."""
        rows = [_row(entry) for entry in self.transcript.entries]
        return h.box(h.line(h.muted(f"transcript of {self.name}")), *rows)

    def widget(self) -> widgets.HTML:
        """A live transcript: it grows as later cells talk to the server."""
        view = widgets.HTML(self.as_html())

        def grow(entry: Entry) -> None:
            view.value = self.as_html()

        self.transcript.listeners.append(grow)
        return view

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return mimebundle(self.as_text(), self.as_html(), self.widget)

    def __repr__(self) -> str:
        return self.as_text()
