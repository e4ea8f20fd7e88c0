"""The view of one exchange as a magic returns it, the result object users keep (`r = %smtp NOOP`,
`r.code`, `r.<Tab>`): an ExchangeView (display/exchange.py: the command, the reply, what it means,
the message of a RETR or TOP; attribute access and `dir()` fall through to the reply) that also
knows the live session it came from. Under the reply it shows, taken when the view is built (each
view is a snapshot), the session panel (after open), the mailbox table (after STAT, LIST, UIDL) or
the message viewer (after RETR, TOP). A reply from a session that does not check certificates
(--insecure) says so in every form (display/trust.py). Within the widget budget, a reply with
nothing to click is one HTML widget; the mailbox table takes the reply into its own Output, and the
message viewer into its HTML widget, rather than adding a box around them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets

from mailmagic.display import html as h
from mailmagic.display.base import View
from mailmagic.display.exchange import ExchangeView
from mailmagic.display.mailbox import MailboxView, Reconnect
from mailmagic.display.session import SessionView
from mailmagic.display.trust import unverified
from mailmagic.protocol.pop3 import Pop3Reply
from mailmagic.session.base import Session


@dataclass(frozen=True, repr=False)
class ReplyView(ExchangeView):
    """An exchange from a live session. ``insecure`` is always set from ``live`` when given;
    ``panel``: show the session panel under the reply (after open, reconnect); ``reconnect``:
    what the Reconnect button of a mailbox table under the reply calls."""

    live: Session[Any, Any] | None = field(default=None, compare=False, repr=False)
    panel: bool = False
    displaylimit: int = 50
    reconnect: Reconnect | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.live is not None and unverified(self.live):
            object.__setattr__(self, "insecure", True)
        super().__post_init__()

    def _below_now(self) -> View | None:
        """The view shown under the reply, if any: message, session panel or mailbox, as they
        are now."""
        message = super()._below_now()
        if message is not None or self.live is None:
            return message
        if self.panel:
            return SessionView(self.live)
        listed = self.verb in ("STAT", "LIST", "UIDL") and isinstance(self.reply, Pop3Reply)
        if listed and self.ok:
            head = h.box(*self.parts_html())
            live: Any = self.live  # a Pop3Session: STAT, LIST and UIDL are POP3's
            return MailboxView(live, self.displaylimit, head, self.reconnect)
        return None

    def as_html(self) -> str:
        """The reply and the view under it; a mailbox table holds the reply as its head."""
        if isinstance(self.below, MailboxView):
            return self.below.as_html()
        return super().as_html()

    def widget(self) -> widgets.Widget:
        """The mailbox table (with the reply in it) when there is one; else as ExchangeView."""
        if isinstance(self.below, MailboxView):
            return self.below.widget()
        return super().widget()
