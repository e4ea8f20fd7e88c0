# What this module does: the view of a session's transcript: client and server lines told apart,
# notes (connected, TLS started, closed) in brackets, the round-trip time of each reply. Secrets
# were masked when recorded (session/transcript.py), so nothing here needs to hide anything.
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mailmagic.display import html as h
from mailmagic.session.transcript import Entry, Transcript


def _stamp(entry: Entry) -> str:
    return time.strftime("%H:%M:%S", time.localtime(entry.time))


def _rtt(entry: Entry) -> str:
    return f" ({entry.rtt * 1000:.1f} ms)" if entry.rtt is not None else ""


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
        rows = []
        for entry in self.transcript.entries:
            who = {"client": "C:", "server": "S:", "note": "--"}[entry.direction]
            lock = "\U0001f512 " if entry.tls else ""
            colour = {"client": "#0969da", "server": "#1f2328", "note": "#57606a"}[entry.direction]
            body = h.esc(entry.text.rstrip("\r\n"))
            rows.append(
                f'<div style="color:{colour};white-space:pre-wrap;font-family:monospace">'
                f"{h.esc(_stamp(entry))} {lock}{who} {body}{h.esc(_rtt(entry))}</div>"
            )
        return h.box(h.line(h.muted(f"transcript of {self.name}")), *rows)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.as_text(), "text/html": self.as_html()}

    def __repr__(self) -> str:
        return self.as_text()
