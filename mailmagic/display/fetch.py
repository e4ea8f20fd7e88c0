"""The views of a bulk transfer: a progress bar (tqdm's: its ipywidgets bar in a kernel, its text
bar elsewhere) fed while a fetch or a bulk send runs and marked when it ends ("fetched 12" in green,
or "stopped" in red when an error or Ctrl-C ended it), and the summary of a finished fetch: how many
messages, how fast, pipelined or not, what the archive repaired before it (its notes: a stale lock
removed, octets cut off at resume), what failed, the first rows, and whether the session checked the
server's certificate (display/trust.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from IPython.display import display as _display
from tqdm.notebook import tqdm as widget_bar
from tqdm.std import tqdm as text_bar

from mailmagic.display import html as h
from mailmagic.display.base import ValueView
from mailmagic.display.bundle import in_kernel
from mailmagic.display.live import CELLS
from mailmagic.display.trust import insecure_html, insecure_text
from mailmagic.protocol.codes import human_size
from mailmagic.session.fetch import FetchedMessage, FetchResult

_show: Callable[..., Any] = _display  # untyped in IPython 8 and 9: called by a typed name


class ProgressBar:
    """``update(done, total)`` moves a tqdm bar: in a kernel tqdm's ipywidgets bar, elsewhere its
    text bar on stderr, both with the rate and the time left. ``finish("fetched 12")`` marks it
    done. Used as a context manager, an exception (Ctrl-C included) leaving the block marks it
    stopped, so no bar says "fetching" once nothing is."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.bar: Any = None  # a tqdm.notebook.tqdm in a kernel, else a tqdm.std.tqdm
        self.handle: Any = None  # the output the widget bar is shown in

    def update(self, done: int, total: int) -> None:
        """Called after each item."""
        if self.bar is None:
            self._start(total)
        self.bar.total = max(total, 1)
        self.bar.update(done - self.bar.n)

    def _start(self, total: int) -> None:
        if not in_kernel():
            self.bar = text_bar(total=max(total, 1), desc=self.what, unit="msg", leave=True)
            return
        # Shown by us, with a display id, so that the end can update the output's text/plain too
        # (a saved notebook then reads "fetched 300: 100%", not the "0%" it started with).
        self.bar = widget_bar(total=max(total, 1), desc=self.what, unit="msg", display=False)
        self.handle = _show(CELLS.add(self.bar.container), display_id=True)

    def finish(self, description: str) -> None:
        """Mark the bar finished ("fetched 12", "sent 3"), in the success style."""
        self._end(description, "success")

    def stop(self) -> None:
        """Mark the bar stopped by an error, in the danger style."""
        self._end("stopped", "danger")

    def _end(self, description: str, style: str) -> None:
        if self.bar is None:
            return
        self.bar.set_description(description, refresh=False)
        self.bar.close()
        if hasattr(self.bar, "container"):  # tqdm calls a full bar a success, even a stopped one
            self.bar.container.children[1].bar_style = style
        if self.handle is not None:
            self.handle.update(self.bar.container)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is not None:
            self.stop()


@dataclass(frozen=True, repr=False)
class FetchView(ValueView):
    """A finished fetch; attributes and ``dir()`` fall through to the FetchResult. ``insecure``: the
    session did not check the server's certificate."""

    result: FetchResult
    target: str
    show: int = 10
    insecure: bool = False

    value_field = "result"

    def __len__(self) -> int:
        return len(self.result)

    def __iter__(self) -> Iterator[FetchedMessage]:
        return iter(self.result)

    def __getitem__(self, index: int) -> FetchedMessage:
        return self.result[index]

    def summary(self) -> str:
        """One line: counts, speed, mode."""
        r = self.result
        fetched = len(r) - r.skipped
        rate = f", {fetched / r.seconds:.0f} messages/s" if r.seconds > 0 and fetched else ""
        mode = "pipelined" if r.pipelined else "one at a time (no PIPELINING)"
        failed = f", {len(r.failed)} failed" if r.failed else ""
        return (
            f"{fetched} fetched ({human_size(r.octets)}) into {self.target}, {r.skipped} already "
            f"there, {mode}, {r.seconds:.2f} s{rate}{failed}"
        )

    def rows(self) -> list[tuple[str, ...]]:
        """The first messages: number, UID, size."""
        return [(str(m.number), m.uid, human_size(m.size)) for m in self.result[: self.show]]

    def as_text(self) -> str:
        """The summary, the archive's notes and the first rows."""
        notes = [f"note: {note}" for note in self.result.notes]
        lines = [self.summary(), *insecure_text(self.insecure, indent=""), *notes]
        lines += ["  ".join(row) for row in self.rows()]
        failures = [f"message {n}: {why}" for n, why in self.result.failed]
        return "\n".join(lines + failures)

    def as_html(self) -> str:
        """The summary, the archive's notes and the first rows as a table."""
        failures = [h.line(h.muted(f"message {n}: {why}")) for n, why in self.result.failed]
        table = h.table(("#", "UID", "size"), self.rows())
        head = h.line(h.esc(self.summary())) + insecure_html(self.insecure)
        notes = "".join(h.line(h.badge("note"), " ", h.esc(n)) for n in self.result.notes)
        return h.box(head, notes, table, *failures)
