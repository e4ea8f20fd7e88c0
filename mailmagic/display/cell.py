# What this module does: the view of a %%smtp / %%pop3 cell: every line sent and every reply, in
# order, and where the cell stopped at a failure. Indexing gives the single exchanges
# (`cell[-1].code`); `.replies` lists the replies alone.
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets

from mailmagic.display import html as h
from mailmagic.display.bundle import mimebundle
from mailmagic.display.reply import AnyReply, ReplyView


@dataclass(frozen=True)
class CellView:
    """The exchanges of one cell; ``stopped`` says why it ended early, if it did."""

    exchanges: tuple[ReplyView, ...] = field(default_factory=tuple)
    stopped: str | None = None

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
        if self.stopped:
            parts.append(f"stopped: {self.stopped}")
        return "\n".join(parts)

    def as_html(self) -> str:
        """Every exchange's HTML, then why the cell stopped."""
        parts = [x.as_html() for x in self.exchanges]
        if self.stopped:
            parts.append(h.line(h.badge("note"), " ", h.esc(f"stopped: {self.stopped}")))
        return "".join(parts)

    def widget(self) -> widgets.VBox:
        """Each exchange's widget in turn, then why the cell stopped."""
        children: list[widgets.Widget] = [x.widget() for x in self.exchanges]
        if self.stopped:
            children.append(widgets.HTML(h.line(h.badge("note"), " ", h.esc(self.stopped))))
        return widgets.VBox(children)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return mimebundle(self.as_text(), self.as_html(), self.widget)

    def __repr__(self) -> str:
        return self.as_text()
