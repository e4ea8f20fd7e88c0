"""The view of the embedded lab server as `%maillab` shows it: where each listener is, the users
(never their passwords, and none hidden with `lab.hide`), the lists, the CA file, the message
count of every mailbox, the faults in force (`lab.faults.describe()`, latency first), and a note
(e.g. that `start` reused a running server). The view is a snapshot (DESIGN.md): it copies what
it shows when it is built, so a later `stop`, restart or delivery changes no output already shown
(`%maillab` again shows the lab as it is then).
Attribute access falls through to the LabServer (`lab.faults.override(...)`, `lab.mailbox("bob")`,
`lab.log`), which is live."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailmagic.display import html as h
from mailmagic.display.base import ValueView
from mailmagic.lab import LabServer


@dataclass(frozen=True, repr=False)
class LabView(ValueView):
    """A running (or stopped) lab server, as it was when the view was built; its attributes are
    the live server's (``lab = %maillab``):

    - ``lab.mailbox(user, sender=, recipient=, subject=, header=(name, value), text=)``: what a
      user (``bob`` or ``bob@lab.test``) holds, parsed (EmailMessage with ``uid`` and ``size``);
      filters are case-insensitive substrings; an unknown user raises LabError.
    - ``lab.expect_delivered(to=, subject=, sender=, text=, count=)`` and
      ``lab.expect_no_mail(user)``: AssertionError a student can act on.
    - ``lab.log``: every session the server saw (protocol, listener, TLS, user, each command with
      secrets masked and its reply); ``lab.log.used("VRFY")``, ``lab.log.commands("pop3")``.
    - ``lab.add_user(name, password)``, ``lab.remove_user(name, keep_mail=False)``,
      ``lab.empty(user)``, ``lab.seed(user, messages)``, ``lab.hide(*users)``/``lab.show()``,
      ``lab.vrfy_disclosure = "252"`` (or ``"250"``): without a restart.
    """

    server: LabServer
    note: str = ""
    snapshot: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    value_field = "server"

    def __post_init__(self) -> None:
        object.__setattr__(self, "snapshot", tuple(self._rows_now()))

    def rows(self) -> list[tuple[str, str]]:
        """(field, value) pairs, as they were when the view was built."""
        return list(self.snapshot)

    def _rows_now(self) -> list[tuple[str, str]]:
        lab = self.server
        if not lab.running:
            return [("lab server", "stopped: %maillab start runs it")]
        ep, cfg = lab.endpoints, lab.config
        rows = [("lab server", f"running on {ep.host} for {cfg.domain}")]
        for name in ("smtp", "submission", "smtps", "pop3", "pop3s"):
            rows.append((name, str(getattr(ep, name))))
        boxes, lists = _users_and_lists(lab)
        rows += [("users (messages)", boxes), ("lists", lists), ("CA file", str(ep.ca_file))]
        rows.append(("maildir", str(ep.maildir)))
        rows.append(("faults", "; ".join(lab.faults.describe()) or "none"))
        return [*rows, ("note", self.note)] if self.note else rows

    def as_text(self) -> str:
        """Aligned field: value lines."""
        return "\n".join(f"{k:>16}: {v}" for k, v in self.rows())

    def as_html(self) -> str:
        """A two-column table."""
        return h.box(h.table(("", ""), self.rows()))


def _users_and_lists(lab: LabServer) -> tuple[str, str]:
    """The users with their message counts, and the lists, leaving out hidden users."""
    directory = lab.directory
    hidden = directory.hidden
    shown = [u for u in directory.users if u not in hidden]
    boxes = ", ".join(f"{u} ({len(lab.store.messages(u))})" for u in shown) or "none shown"
    lists = [
        f"{a}: {' '.join(m for m in members if m not in hidden)}"
        for a, members in directory.aliases.items()
        if a not in hidden
    ]
    return boxes, ", ".join(lists) or "none"


LIVE_SETTINGS = frozenset({"vrfy_disclosure"})
"""Settings of the live server that ``lab.NAME = value`` changes through the (frozen) view."""
_frozen_setattr = LabView.__setattr__


def _setattr(self: LabView, name: str, value: object) -> None:
    """``lab.vrfy_disclosure = "252"`` sets the server's; any other attribute stays frozen.
    (A frozen dataclass may not define __setattr__ itself, so it is wrapped here.)"""
    if name in LIVE_SETTINGS:
        setattr(self.server, name, value)
    else:
        _frozen_setattr(self, name, value)


LabView.__setattr__ = _setattr  # type: ignore[method-assign,assignment]
