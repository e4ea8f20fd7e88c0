"""Where everything of a session's sequence diagram goes, computed from its transcript entries and
nothing else: no I/O, no markup (display/timeline.py draws it). Time runs down to scale (SCALE
pixels a second) from the first entry shown; a gap longer than MAX_GAP seconds is drawn as a short
break that says how long it was, so a cell run minutes later does not leave a page of blank lines.
A command leaves the client lane at the time it was recorded and a reply reaches the client lane at
the time it was received. The server's side is not measured, only the round trip (``Entry.rtt``),
so both arrows meet the server lane halfway through it: a reply starts at ``time - rtt / 2``, and a
command ends where the reply with that round trip starts. Pipelined commands (RFC 2920, RFC 2449
section 6.6) therefore fan out as several arrows in flight before the first reply comes back.
Labels sit beside their lane (commands left of the client, replies and notes right of the server),
pushed down just enough not to overlap, with a leader line back to their arrow when moved."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from mailmagic.session.transcript import Entry

SCALE = 1000.0  # pixels a second: one pixel a millisecond
MAX_GAP = 0.2  # seconds: a longer gap between entries is drawn as a break
BREAK = 26.0  # pixels a break takes
LINE = 15.0  # pixels between two labels of one column
TOP = 58.0  # where time starts (below the lane heads)
CLIENT_X, SERVER_X = 330.0, 490.0
WIDTH = 860.0
LABEL_CHARS = 48  # longer labels are cut (the text/plain form has them whole)


@dataclass(frozen=True)
class Arrow:
    """One line on the wire: from (x1, y1) to (x2, y2), "client" (a command) or "server"."""

    direction: str
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Label:
    """A line of text at (x, y) (y is its baseline); ``anchor`` "end" or "start"; ``leader`` is
    the point of its arrow it is tied to when it was pushed down from it."""

    kind: str  # "client", "server" or "note"
    x: float
    y: float
    anchor: str
    text: str
    leader: tuple[float, float] | None = None


@dataclass(frozen=True)
class Band:
    """A stretch of the session over TLS, from y1 to y2."""

    y1: float
    y2: float


@dataclass(frozen=True)
class Gap:
    """A break in the time scale: ``seconds`` of nothing drawn between y1 and y2."""

    y1: float
    y2: float
    seconds: float

    @property
    def text(self) -> str:
        return f"\u2026 {self.seconds:.1f} s \u2026"


@dataclass(frozen=True)
class Layout:
    """Everything the renderer draws, in pixels."""

    width: float
    height: float
    bottom: float  # where the lanes end
    arrows: tuple[Arrow, ...]
    labels: tuple[Label, ...]
    notes: tuple[float, ...]  # the y of each note's dashed line across the lanes
    bands: tuple[Band, ...]
    gaps: tuple[Gap, ...]


class TimeScale:
    """Seconds to pixels: linear, except that each gap over MAX_GAP takes BREAK pixels."""

    def __init__(self, times: list[float]) -> None:
        self.knots_t: list[float] = []
        self.knots_y: list[float] = []
        self.gaps: list[Gap] = []
        y = TOP
        for t in sorted(set(times)):
            if self.knots_t:
                dt = t - self.knots_t[-1]
                step = BREAK if dt > MAX_GAP else dt * SCALE
                if dt > MAX_GAP:
                    self.gaps.append(Gap(y, y + BREAK, dt))
                y += step
            self.knots_t.append(t)
            self.knots_y.append(y)

    def y(self, t: float) -> float:
        """The y of time ``t`` (clamped to the first and last entry)."""
        if not self.knots_t:
            return TOP
        i = bisect.bisect_right(self.knots_t, t)
        if i == 0:
            return self.knots_y[0]
        if i == len(self.knots_t):
            return self.knots_y[-1]
        t0, t1 = self.knots_t[i - 1], self.knots_t[i]
        y0, y1 = self.knots_y[i - 1], self.knots_y[i]
        return y0 + (y1 - y0) * (t - t0) / (t1 - t0)


def first_line(entry: Entry) -> str:
    """The entry's first line, and how many more there are (``+N lines``)."""
    lines = entry.text.rstrip("\r\n").split("\r\n")
    more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
    return lines[0] + more


def offset(entry: Entry, start: float) -> str:
    """The entry's time after the first shown, in seconds: ``+0.012``."""
    return f"+{max(0.0, entry.time - start):.3f}"


def text_lines(entries: tuple[Entry, ...]) -> list[str]:
    """The text timeline: ``+0.000 C: EHLO me``, ``+0.012 S: 250-... (+8 lines)``, ``[notes]``,
    and the same breaks the picture has."""
    if not entries:
        return []
    start, out, last = entries[0].time, [], entries[0].time
    for entry in entries:
        if entry.time - last > MAX_GAP:
            out.append(f"       \u2026 {entry.time - last:.1f} s \u2026")
        last = max(last, entry.time)
        who = {"client": "C: ", "server": "S: "}.get(entry.direction)
        body = first_line(entry) if who else f"[{entry.text}]"
        out.append(f"{offset(entry, start)} {who or ''}{body}")
    return out


def _halves(entries: tuple[Entry, ...]) -> dict[int, float]:
    """Half the round trip of the reply each command (by index) got: the reply's command is the
    client entry sent nearest to ``time - rtt``."""
    sent = sorted((e.time, i) for i, e in enumerate(entries) if e.direction == "client")
    times = [t for t, _ in sent]
    halves: dict[int, float] = {}
    for entry in entries:
        if entry.direction != "server" or entry.rtt is None or not sent:
            continue
        rtt = entry.rtt
        at = bisect.bisect_left(times, entry.time - rtt)
        near = [j for j in (at - 1, at) if 0 <= j < len(sent)]
        j = min(near, key=lambda k: abs(times[k] - (entry.time - rtt)))
        halves.setdefault(sent[j][1], rtt / 2)
    return halves


def _arrow(entry: Entry, scale: TimeScale, half: float) -> Arrow:
    y = scale.y(entry.time)
    if entry.direction == "client":
        return Arrow("client", CLIENT_X, y, SERVER_X, scale.y(entry.time + half))
    return Arrow("server", SERVER_X, scale.y(entry.time - half), CLIENT_X, y)


class _Column:
    """One column of labels, each pushed down below the one before it."""

    def __init__(self, x: float, anchor: str) -> None:
        self.x, self.anchor, self.last = x, anchor, -LINE

    def place(self, kind: str, text: str, at: tuple[float, float]) -> Label:
        y = max(at[1] + 4, self.last + LINE)
        self.last = y
        leader = at if y - (at[1] + 4) > 2 else None
        return Label(kind, self.x, y, self.anchor, text, leader)


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "\u2026"


def _bands(entries: tuple[Entry, ...], scale: TimeScale, bottom: float) -> list[Band]:
    """One band for each run of entries over TLS, to the next entry without it (or the end)."""
    bands, start = [], None
    for entry in entries:
        if entry.tls and start is None:
            start = scale.y(entry.time)
        elif not entry.tls and start is not None:
            bands.append(Band(start, scale.y(entry.time)))
            start = None
    if start is not None:
        bands.append(Band(start, bottom))
    return bands


def layout(entries: tuple[Entry, ...]) -> Layout:
    """Where every arrow, label, note, TLS band and break goes for ``entries``."""
    scale = TimeScale([e.time for e in entries])
    halves, start = _halves(entries), entries[0].time if entries else 0.0
    left, right = _Column(CLIENT_X - 10, "end"), _Column(SERVER_X + 10, "start")
    arrows: list[Arrow] = []
    labels: list[Label] = []
    notes: list[float] = []
    for i, entry in enumerate(entries):
        stamp = offset(entry, start)
        if entry.direction == "note":
            notes.append(scale.y(entry.time))
            labels.append(
                right.place("note", _cut(f"{stamp} [{entry.text}]"), (SERVER_X, notes[-1]))
            )
            continue
        half = halves.get(i, 0.0) if entry.direction == "client" else (entry.rtt or 0.0) / 2
        arrows.append(_arrow(entry, scale, half))
        column = left if entry.direction == "client" else right
        text = _cut(f"{stamp} {first_line(entry)}")
        labels.append(column.place(entry.direction, text, (arrows[-1].x1, arrows[-1].y1)))
    bottom = max([scale.y(entries[-1].time) if entries else TOP, left.last, right.last]) + 20
    bands = _bands(entries, scale, bottom)
    return Layout(
        WIDTH,
        bottom + 30,
        bottom,
        tuple(arrows),
        tuple(labels),
        tuple(notes),
        tuple(bands),
        tuple(scale.gaps),
    )
