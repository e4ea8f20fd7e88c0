"""The view of a %%smtp / %%pop3 cell: every line sent and every reply, in order, and where the cell
stopped at a failure. Indexing gives the single exchanges (`cell[-1].code`); `.replies` lists the
replies alone. Closing the widget closes every exchange's widget under it (display/live.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import ipywidgets as widgets

from mailmagic.display import html as h
from mailmagic.display.base import View
from mailmagic.display.exchange import AnyReply
from mailmagic.display.live import cascade, html_widget
from mailmagic.display.reply import ReplyView


@dataclass(frozen=True, repr=False)
class CellView(View):
    """The exchanges of one cell; ``stopped`` says why it ended early, if it did."""

    exchanges: tuple[ReplyView, ...] = field(default_factory=tuple)
    stopped: str | None = None
    note: str | None = None

    @property
    def replies(self) -> list[AnyReply]:
        """Every reply received, in order (message text lines have none)."""
        return [x.reply for x in self.exchanges if x.reply is not None]

    @property
    def last(self) -> ReplyView | None:
        """The last exchange that got a reply."""
        return next((x for x in reversed(self.exchanges) if x.reply is not None), None)

    def __getitem__(self, index: int) -> ReplyView:
        return self.exchanges[index]

    def __iter__(self) -> Iterator[ReplyView]:
        return iter(self.exchanges)

    def __len__(self) -> int:
        return len(self.exchanges)

    def as_text(self) -> str:
        """Every exchange's text, then why the cell stopped."""
        parts = [x.as_text() for x in self.exchanges]
        parts += [f"{k}: {v}" for k, v in self._notes()]
        return "\n".join(parts)

    def _notes(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in (("stopped", self.stopped), ("note", self.note)) if v]

    def as_html(self) -> str:
        """Every exchange's HTML, then why the cell stopped."""
        parts = [x.as_html() for x in self.exchanges]
        parts += [h.line(h.badge("note"), " ", h.esc(f"{k}: {v}")) for k, v in self._notes()]
        return "".join(parts)

    def widget(self) -> widgets.Widget:
        """One HTML widget, or a box when some exchanges have something to click."""
        if not any(x.interactive for x in self.exchanges):
            return html_widget(self.as_html())
        children: list[widgets.Widget] = []
        run: list[str] = []  # HTML of the exchanges since the last interactive one
        for x in self.exchanges:
            if not x.interactive:
                run.append(x.as_html())
                continue
            children += [html_widget("".join(run))] if run else []
            children.append(x.widget())
            run = []
        run += [h.line(h.badge("note"), " ", h.esc(f"{k}: {v}")) for k, v in self._notes()]
        children += [html_widget("".join(run))] if run else []
        return cascade(widgets.VBox(children))
