"""The view of the embedded lab server as `%maillab` shows it: where each listener is, the users
(never their passwords), the lists, the CA file and the message count of every mailbox, and a note
(e.g. that `start` reused a running server). The view is a snapshot (DESIGN.md): it copies what it
shows when it is built, so a later `stop`, restart or delivery changes no output already shown
(`%maillab` again shows the lab as it is then). Attribute access falls through to the LabServer
(`lab.faults.override(...)`), which is live."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailmagic.display import html as h
from mailmagic.display.base import ValueView
from mailmagic.lab import LabServer


@dataclass(frozen=True, repr=False)
class LabView(ValueView):
    """A running (or stopped) lab server, as it was when the view was built."""

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
        boxes = ", ".join(f"{u} ({len(lab.store.messages(u))})" for u in cfg.users)
        lists = ", ".join(f"{a}: {' '.join(m)}" for a, m in cfg.aliases.items()) or "none"
        rows += [("users (messages)", boxes), ("lists", lists), ("CA file", str(ep.ca_file))]
        rows.append(("maildir", str(ep.maildir)))
        return [*rows, ("note", self.note)] if self.note else rows

    def as_text(self) -> str:
        """Aligned field: value lines."""
        return "\n".join(f"{k:>16}: {v}" for k, v in self.rows())

    def as_html(self) -> str:
        """A two-column table."""
        return h.box(h.table(("", ""), self.rows()))
