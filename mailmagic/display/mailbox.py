# What this module does: the mailbox view of a POP3 session: one row per message the session knows
# of (from STAT, LIST, UIDL, TOP and RETR replies, session/pop3.py's Maildrop) with number, UID,
# human-readable size, From, Subject and Date where a TOP or RETR showed them, and whether DELE
# marked it. The widget pages the rows (`displaylimit` a page, so 10,000 messages open as fast as
# ten) and gives each row View (RETR), Headers (TOP n 0) and Delete (DELE; marked until QUIT,
# undone by RSET) buttons whose results appear in an Output under the table. Nothing is fetched
# when the view is built: only the buttons talk to the server. The widget follows the maildrop
# through a weak subscription it holds (display/live.py) until it is closed; a refresh closes the
# cell widgets it replaces. A session that does not check certificates is flagged
# (display/trust.py).
from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from mailmagic.display import html as h
from mailmagic.display.bundle import mimebundle
from mailmagic.display.live import cascade, close_tree, hold
from mailmagic.display.trust import insecure_html, insecure_text, unverified
from mailmagic.protocol.codes import human_size
from mailmagic.protocol.listing import Maildrop
from mailmagic.session.base import SessionError
from mailmagic.session.pop3 import Pop3Session

COLUMNS = ("#", "UID", "size", "From", "Subject", "Date", "")
_PARSER = email.parser.BytesHeaderParser(policy=email.policy.default)


@dataclass(frozen=True)
class Row:
    """One message as the table shows it."""

    number: int
    uid: str
    size: str
    sender: str
    subject: str
    date: str
    deleted: bool

    def cells(self) -> tuple[str, ...]:
        """The row's cells as text, with the deletion mark last."""
        mark = "marked for deletion" if self.deleted else ""
        return (str(self.number), self.uid, self.size, self.sender, self.subject, self.date, mark)


def _header(block: bytes | None, name: str) -> str:
    if not block:
        return ""
    try:
        return str(_PARSER.parsebytes(block).get(name, ""))
    except (ValueError, TypeError, IndexError):  # a broken header is shown as missing
        return ""


def rows(drop: Maildrop, start: int = 0, stop: int | None = None) -> list[Row]:
    """The table rows for message numbers[start:stop]."""
    out = []
    for n in drop.numbers[start:stop]:
        head = drop.headers.get(n)
        size = human_size(drop.sizes[n]) if n in drop.sizes else ""
        out.append(
            Row(
                n,
                drop.uids.get(n, ""),
                size,
                _header(head, "From"),
                _header(head, "Subject"),
                _header(head, "Date"),
                n in drop.deleted,
            )
        )
    return out


@dataclass(frozen=True)
class MailboxView:
    """The mailbox table of one POP3 session."""

    session: Pop3Session
    displaylimit: int = 50

    @property
    def maildrop(self) -> Maildrop:
        """What the session knows of its maildrop."""
        return self.session.maildrop

    @property
    def insecure(self) -> bool:
        """True when the session does not check certificates."""
        return unverified(self.session)

    def _title(self) -> str:
        drop = self.maildrop
        known = len(drop.numbers)
        gone = f", {len(drop.deleted)} marked for deletion until QUIT" if drop.deleted else ""
        return f"{self.session.name}: {known} message(s){gone}"

    def as_text(self) -> str:
        """The first page as aligned text."""
        shown = rows(self.maildrop, 0, self.displaylimit)
        lines = [self._title(), *insecure_text(self.insecure, indent="")]
        lines += ["  ".join(c for c in r.cells() if c) for r in shown]
        more = len(self.maildrop.numbers) - len(shown)
        return "\n".join(lines + ([f"... and {more} more"] if more > 0 else []))

    def as_html(self) -> str:
        """The first page as a table."""
        shown = rows(self.maildrop, 0, self.displaylimit)
        more = len(self.maildrop.numbers) - len(shown)
        tail = [h.line(h.muted(f"... and {more} more"))] if more > 0 else []
        body = h.table(COLUMNS, [r.cells() for r in shown])
        return h.box(h.line(h.esc(self._title())), insecure_html(self.insecure), body, *tail)

    def widget(self) -> widgets.VBox:
        """The paginated table with per-row actions and an Output for their results."""
        return MailboxWidget(self).box

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return mimebundle(self.as_text(), self.as_html(), self.widget)


class MailboxWidget:
    """The live table: rebuilt when the page changes or the session learns something new."""

    def __init__(self, view: MailboxView) -> None:
        self.view = view
        self.page = 0
        self.title = widgets.HTML()
        self.grid = widgets.GridBox(
            layout=widgets.Layout(grid_template_columns="3em 14em 7em 14em 1fr 12em 19em")
        )
        self.output = widgets.Output()
        self.prev = widgets.Button(description="\u25c0 Previous", layout={"width": "9em"})
        self.next = widgets.Button(description="Next \u25b6", layout={"width": "9em"})
        self.prev.on_click(lambda _: self._turn(-1))
        self.next.on_click(lambda _: self._turn(+1))
        pager = widgets.HBox([self.prev, self.next])
        self.box = widgets.VBox([self.title, self.grid, pager, self.output])
        self._seen = -1
        hold(cascade(self.box), view.maildrop.listeners.subscribe(self.refresh))
        self.refresh()

    @property
    def pages(self) -> int:
        """How many pages the known messages fill."""
        limit = max(1, self.view.displaylimit)
        return max(1, -(-len(self.view.maildrop.numbers) // limit))

    def _turn(self, step: int) -> None:
        self.page = min(max(0, self.page + step), self.pages - 1)
        self._seen = -1
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the visible page if anything changed."""
        drop = self.view.maildrop
        if drop.version == self._seen and self.grid.children:
            return
        self._seen = drop.version
        limit = max(1, self.view.displaylimit)
        page_rows = rows(drop, self.page * limit, (self.page + 1) * limit)
        title = f"{self.view._title()} \u2014 page {self.page + 1} of {self.pages}"
        self.title.value = h.esc(title) + insecure_html(self.view.insecure)
        cells: list[widgets.Widget] = [widgets.HTML(f"<b>{h.esc(c)}</b>") for c in COLUMNS]
        for row in page_rows:
            cells += [widgets.HTML(_cell(c)) for c in row.cells()[:-1]]
            cells.append(self._actions(row))
        old, self.grid.children = self.grid.children, cells
        for widget in old:  # a comm and a model each: do not leave them behind
            close_tree(widget)
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1

    def _actions(self, row: Row) -> widgets.HBox:
        buttons = []
        for label, command in (("View", "RETR"), ("Headers", "TOP"), ("Delete", "DELE")):
            button = widgets.Button(description=label, layout={"width": "6.5em"})
            button.on_click(self._runner(row.number, command))
            buttons.append(button)
        if row.deleted:
            buttons[-1].disabled = True
            buttons[-1].tooltip = "marked: QUIT deletes it, RSET undoes"
        return widgets.HBox(buttons)

    def _runner(self, number: int, command: str) -> Callable[[Any], None]:
        line = f"TOP {number} 0" if command == "TOP" else f"{command} {number}"

        def run(_: Any) -> None:
            self.run(line)

        return run

    def run(self, line: str) -> None:
        """Send ``line`` on the session and show the result under the table."""
        from mailmagic.display.reply import ReplyView

        self.output.outputs = ()
        try:
            reply = self.view.session.command(line)
        except SessionError as error:
            self.output.append_stdout(f"{error}\n")
            return
        session = self.view.session
        view = ReplyView(reply, line, session.name, "POP3", live=session)
        self.output.append_display_data(view)


def _cell(text: str) -> str:
    # UIDs have no break points: let them wrap rather than spill into the next column.
    return f'<span style="overflow-wrap:anywhere;line-height:1.3">{h.esc(text)}</span>'
