"""The mailbox view of a POP3 session: one row per message the session knew of when the view was
built (from STAT, LIST, UIDL, TOP and RETR replies, session/pop3.py's Maildrop) with number, UID,
human-readable size, From, Subject and Date where a TOP or RETR showed them, and whether DELE marked
it ("deleted at QUIT", the row struck through). The view is a snapshot (DESIGN.md): it copies what
the maildrop knew, and nothing a later cell does changes it. The table reads well at any width:
fixed column widths, one line per row cut with an ellipsis (the full text on hover), UIDs in
monospace. A session already closed says so in a header. The widget is a handful of widgets, not one
per cell (the widget budget): the page as HTML in an Output (which also shows what the actions
return), a row selector, View (RETR), Headers (TOP n 0) and Delete (DELE) buttons and Previous /
Next; they share one Layout and one ButtonStyle, so a page costs 12 widget models whatever its rows.
Paging re-renders the page's HTML and builds no widget. Only the buttons talk to the server, and
only the page they belong to changes after them. An action on a closed session swaps the actions for
a Reconnect button, which calls the view's ``reconnect`` (the same path as `%pop3 reconnect`, handed
in by the magic); a widget replaced is closed. What a button's command returns is shown as an
exchange (display/exchange.py: the reply, and the message viewer after View), never as the magic's
reply view, so this module and display/reply.py (which puts a table under a listing) do not import
each other. A session that does not check certificates is flagged (display/trust.py)."""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import ipywidgets as widgets

from mailmagic.display import html as h
from mailmagic.display.base import View
from mailmagic.display.bundle import WIDGET_MIME, widget_view
from mailmagic.display.exchange import ExchangeView
from mailmagic.display.live import cascade, close_tree, when_closed
from mailmagic.display.trust import insecure_html, insecure_text, unverified
from mailmagic.protocol.codes import human_size
from mailmagic.protocol.listing import Maildrop
from mailmagic.session.base import SessionError
from mailmagic.session.pop3 import Pop3Session

COLUMNS = ("#", "UID", "size", "From", "Subject", "Date", "")
WIDTHS = ("3em", "7.5em", "6.5em", "12em", "auto", "10em", "9.5em")  # table-layout: fixed
DELETED = "deleted at QUIT"
# What the Reconnect button calls: connect the session again and return the greeting, or raise a
# SessionError that says why not. `%pop3 mailbox` hands in the magic's own reconnect, which follows
# a restarted lab server to its new port and CA (magics/); display/ never imports the magics.
Reconnect = Callable[[], Any]
_PARSER = email.parser.BytesHeaderParser(policy=email.policy.default)


class Drop(Protocol):
    """What a table reads of a maildrop: a live Maildrop or a DropSnapshot."""

    @property
    def numbers(self) -> Sequence[int]: ...
    @property
    def sizes(self) -> Mapping[int, int]: ...
    @property
    def uids(self) -> Mapping[int, str]: ...
    @property
    def headers(self) -> Mapping[int, bytes]: ...
    @property
    def deleted(self) -> frozenset[int] | set[int]: ...


@dataclass(frozen=True)
class DropSnapshot:
    """What a maildrop knew at one moment (copies: later replies do not change it)."""

    numbers: tuple[int, ...]
    sizes: Mapping[int, int]
    uids: Mapping[int, str]
    headers: Mapping[int, bytes]
    deleted: frozenset[int]

    @classmethod
    def of(cls, drop: Maildrop) -> DropSnapshot:
        """Copy ``drop`` as it is now."""
        return cls(
            _numbers(drop),
            dict(drop.sizes),
            dict(drop.uids),
            dict(drop.headers),
            frozenset(drop.deleted),
        )


def _numbers(drop: Maildrop) -> tuple[int, ...]:
    """drop.numbers, as a range rather than a sorted set when every number known is within
    1..count (the common case after STAT or LIST; bench/ d times it for 10,000 messages)."""
    count, known = drop.count, (drop.sizes, drop.uids, drop.headers)
    if count is not None and all(not d or (min(d) >= 1 and max(d) <= count) for d in known):
        return tuple(range(1, count + 1))
    return tuple(drop.numbers)


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
        mark = DELETED if self.deleted else ""
        return (str(self.number), self.uid, self.size, self.sender, self.subject, self.date, mark)


def _header(block: bytes | None, name: str) -> str:
    if not block:
        return ""
    try:
        return str(_PARSER.parsebytes(block).get(name, ""))
    except (ValueError, TypeError, IndexError):  # a broken header is shown as missing
        return ""


def rows(drop: Drop, start: int = 0, stop: int | None = None) -> list[Row]:
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


_CUT = "white-space:nowrap;overflow:hidden;text-overflow:ellipsis;padding:2px 6px;text-align:left"
_MONO = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"


def _td(text: str, column: int, deleted: bool) -> str:
    style = _CUT + ";border-bottom:1px solid #eaeef2"
    style += f";{_MONO};font-size:12px" if column in (0, 1, 2) else ""
    if deleted and column < len(COLUMNS) - 1:
        style += ";text-decoration:line-through;color:#57606a"
    elif deleted:
        style += ";color:#cf222e"
    return f'<td style="{style}" title="{h.esc(text)}">{h.esc(text)}</td>'


def table_html(page: list[Row]) -> str:
    """One page as a fixed-layout table: one line per row, cut with an ellipsis, full on hover."""
    cols = "".join(f'<col style="width:{w}">' for w in WIDTHS)
    head = "".join(f'<th style="{_CUT};border-bottom:1px solid #d0d7de">{c}</th>' for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(_td(c, i, r.deleted) for i, c in enumerate(r.cells())) + "</tr>"
        for r in page
    )
    return (
        '<table style="table-layout:fixed;width:100%;border-collapse:collapse;font-size:13px">'
        f"<colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


@dataclass(frozen=True, repr=False)
class MailboxView(View):
    """The mailbox table of one POP3 session, as it was when built; ``head``: HTML shown above
    it (the reply it belongs to); ``reconnect``: what the Reconnect button calls (by default the
    session's own ``reconnect``, with its old settings)."""

    session: Pop3Session
    displaylimit: int = 50
    head: str = field(default="", repr=False)
    reconnect: Reconnect | None = field(default=None, repr=False, compare=False)
    drop: DropSnapshot = field(init=False, repr=False, compare=False)
    closed: str = field(init=False, default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "drop", DropSnapshot.of(self.session.maildrop))
        object.__setattr__(self, "closed", closed_note(self.session))

    @property
    def interactive(self) -> bool:
        """A table has buttons."""
        return True

    @property
    def maildrop(self) -> DropSnapshot:
        """What the session knew of its maildrop when the view was built."""
        return self.drop

    @property
    def insecure(self) -> bool:
        """True when the session does not check certificates."""
        return unverified(self.session)

    def title(self, drop: Drop | None = None) -> str:
        """The name, how many messages, how many marked."""
        drop = self.drop if drop is None else drop
        gone = f", {len(drop.deleted)} {DELETED}" if drop.deleted else ""
        return f"{self.session.name}: {len(drop.numbers)} message(s){gone}"

    def as_text(self) -> str:
        """The first page as aligned text."""
        shown = rows(self.drop, 0, self.displaylimit)
        lines = [self.title(), *([self.closed] if self.closed else [])]
        lines += insecure_text(self.insecure, indent="")
        lines += ["  ".join(c for c in r.cells() if c) for r in shown]
        more = len(self.drop.numbers) - len(shown)
        return "\n".join(lines + ([f"... and {more} more"] if more > 0 else []))

    def page_html(self, drop: Drop, page: int, closed: str) -> str:
        """One page with its title, the closed-session header and the certificate flag."""
        limit = max(1, self.displaylimit)
        pages = max(1, -(-len(drop.numbers) // limit))
        title = f"{self.title(drop)} \u2014 page {page + 1} of {pages}"
        shut = h.line(h.badge("closed"), " ", h.esc(closed)) if closed else ""
        head = h.line(h.esc(title)) + shut + insecure_html(self.insecure)
        return h.box(head, table_html(rows(drop, page * limit, (page + 1) * limit)))

    def as_html(self) -> str:
        """The reply above it, then the first page as a table."""
        shown = min(len(self.drop.numbers), max(1, self.displaylimit))
        more = len(self.drop.numbers) - shown
        tail = h.line(h.muted(f"... and {more} more")) if more > 0 else ""
        return self.head + self.page_html(self.drop, 0, self.closed) + tail

    def widget(self) -> widgets.VBox:
        """The paged table with a row selector, actions and an Output for their results."""
        return MailboxWidget(self).box


def closed_note(session: Pop3Session) -> str:
    """'' while the session is open; else what happened and what to do."""
    if session.is_open:
        return ""
    why = f" ({session.reason})" if session.reason else ""
    return (
        f"session {session.name} is {session.status}{why}: this table shows what it knew. "
        "Reconnect, log in and list again for a live one."
    )


def _output(bundle: dict[str, Any]) -> dict[str, Any]:
    return {"output_type": "display_data", "data": bundle, "metadata": {}}


class MailboxWidget:
    """The table's widgets: one Output (the page, then the last action's result), a row selector,
    View / Headers / Delete and Previous / Next; the page changes only when a button is used."""

    ACTIONS = (("View", "RETR {}"), ("Headers", "TOP {} 0"), ("Delete", "DELE {}"))

    def __init__(self, view: MailboxView) -> None:
        self.view, self.page, self.drop, self.closed = view, 0, view.drop, view.closed
        self.layout, self.style = widgets.Layout(width="auto"), widgets.ButtonStyle()
        self.output = widgets.Output(layout=self.layout)
        self.results: list[dict[str, Any]] = []
        self.shown: list[Any] = []  # the widgets of the last result: closed when replaced
        self.prev = self._button("\u25c0 Previous", lambda: self._turn(-1))
        self.next = self._button("Next \u25b6", lambda: self._turn(+1))
        self.pick: widgets.Dropdown | None = None
        self.actions: list[widgets.Button] = []
        self.reconnect: widgets.Button | None = None
        self.controls = widgets.HBox(self._controls(), layout=self.layout)
        self.box = cascade(widgets.VBox([self.controls, self.output], layout=self.layout))
        when_closed(self.box, lambda: self._show_closed())
        self._render()

    def _show_closed(self) -> None:
        for widget in self.shown:
            close_tree(widget)

    def _button(self, label: str, then: Callable[[], None]) -> widgets.Button:
        button = widgets.Button(description=label, layout=self.layout, style=self.style)
        button.on_click(lambda _: then())
        return button

    def _controls(self) -> list[widgets.Widget]:
        if self.closed:
            self.reconnect = self._button("Reconnect", self._reconnect)
            return [self.reconnect, self.prev, self.next]
        self.pick = widgets.Dropdown(description="message", layout=self.layout)
        self.actions = [self._button(label, self._runner(line)) for label, line in self.ACTIONS]
        return [self.pick, *self.actions, self.prev, self.next]

    def _runner(self, line: str) -> Callable[[], None]:
        def run() -> None:
            if self.pick is not None and self.pick.value is not None:
                self.run(line.format(self.pick.value))

        return run

    @property
    def pages(self) -> int:
        """How many pages the known messages fill."""
        return max(1, -(-len(self.drop.numbers) // max(1, self.view.displaylimit)))

    def _turn(self, step: int) -> None:
        self.page = min(max(0, self.page + step), self.pages - 1)
        self._render()

    def _render(self) -> None:
        """Show the current page (HTML only: no widget is built) and set the controls."""
        limit = max(1, self.view.displaylimit)
        page_html = self.view.head + self.view.page_html(self.drop, self.page, self.closed)
        table = _output({"text/html": page_html, "text/plain": self.view.title(self.drop)})
        self.output.outputs = (table, *self.results)
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        if self.pick is not None:
            numbers = self.drop.numbers[self.page * limit : (self.page + 1) * limit]
            options = tuple((str(n), n) for n in numbers)
            if tuple(self.pick.options) != options:  # the selection stays if still on the page
                self.pick.options = options
            if self.pick.value is None and numbers:  # new options select nothing by themselves
                self.pick.value = numbers[0]
            for button in self.actions:
                button.disabled = not numbers

    def _show(self, bundle: dict[str, Any], shown: list[Any]) -> None:
        for widget in self.shown:
            close_tree(widget)
        self.results, self.shown = [_output(bundle)], shown
        self._render()

    def _say(self, text: str) -> None:
        self._show({"text/plain": text, "text/html": h.box(h.line(h.esc(text)))}, [])

    def run(self, line: str) -> None:
        """Send ``line`` on the session; show its result and the page as it is now."""
        session = self.view.session
        if not session.is_open:
            return self._went_closed(f"{line}: not sent")
        try:
            reply = session.command(line)
        except SessionError as error:
            return self._went_closed(str(error))
        self.drop = DropSnapshot.of(session.maildrop)
        view = ExchangeView(reply, line, session.name, "POP3", insecure=self.view.insecure)
        self._show_view(view)

    def _show_view(self, view: View) -> None:
        widget = view.widget()
        bundle: dict[str, Any] = {"text/plain": view.as_text(), "text/html": view.as_html()}
        bundle[WIDGET_MIME] = widget_view(widget)
        self._show(bundle, [widget])

    def _went_closed(self, what: str) -> None:
        """The session is closed: say so above the table and offer Reconnect instead of actions."""
        self.closed = closed_note(self.view.session) or what
        if self.reconnect is None:
            old = [*self.actions, *([self.pick] if self.pick else [])]
            if self.pick is not None:
                self.pick.style.close()  # its own; the Layout and ButtonStyle are shared
            self.pick, self.actions = None, []
            self.controls.children = self._controls()
            for widget in old:
                widget.close()
        self._say(what)

    def _reconnect(self) -> None:
        session = self.view.session
        try:
            greeting = (self.view.reconnect or session.reconnect)()
        except SessionError as error:
            return self._say(str(error))
        if self.reconnect is not None:
            self.reconnect.disabled = True
        self.closed = (
            f"session {session.name} reconnected: this table is from before. Log in "
            "(%pop3 login USER) and list again (%pop3 mailbox): numbers hold within one session."
        )
        self._show_view(ExchangeView(greeting, "reconnect", session.name, "POP3"))
