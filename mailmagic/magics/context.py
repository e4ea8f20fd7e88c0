"""What the magics of one IPython shell share (jupysql's connection manager is the model): the named
SMTP and POP3 sessions, the lab server `%maillab` started, and which lab listener (by name: "smtp",
"pop3s"...) each session opened on the lab talks to, so that `reconnect` finds it again on a
restarted lab, and the replay server or recording each session has (magics/cassettes.py)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError

from mailmagic.lab import LabServer
from mailmagic.lab.replay import ReplayServer
from mailmagic.session.base import Session
from mailmagic.session.pop3 import Pop3Session
from mailmagic.session.record import Recorder
from mailmagic.session.registry import Registry
from mailmagic.session.smtp import SmtpSession

LAB_LISTENERS = ("smtp", "submission", "smtps", "pop3", "pop3s")
LISTENERS = {"SMTP": ("smtp", "submission", "smtps"), "POP3": ("pop3", "pop3s")}
"""The lab listeners each protocol's sessions can open."""


@dataclass
class MailContext:
    """The sessions and the lab server of one shell (see the module docstring)."""

    smtp: Registry[SmtpSession] = field(default_factory=lambda: Registry("SMTP"))
    pop3: Registry[Pop3Session] = field(default_factory=lambda: Registry("POP3"))
    lab: LabServer | None = None
    lab_listener: weakref.WeakKeyDictionary[Session[Any, Any], str] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    replays: weakref.WeakKeyDictionary[Session[Any, Any], ReplayServer] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    recorders: weakref.WeakKeyDictionary[Session[Any, Any], Recorder] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    def running_lab(self, then: str) -> LabServer:
        """The running lab server; a UsageError that says to start it (then ``then``) if none."""
        if self.lab is None or not self.lab.running:
            raise UsageError(f"the lab server is not running: %maillab start, then {then}")
        return self.lab

    def lab_users(self, session: Session[Any, Any]) -> dict[str, str] | None:
        """The lab's users and passwords when ``session`` talks to the lab, else None."""
        lab = self.lab
        return dict(lab.directory.users) if session.settings.lab and lab is not None else None

    def release(self, session: Session[Any, Any]) -> None:
        """What a closed session leaves: its replay server stopped, its recording ended."""
        replay, recorder = self.replays.pop(session, None), self.recorders.pop(session, None)
        if replay is not None:
            replay.stop()
        if recorder is not None:
            recorder.stop()

    def close_all(self) -> None:
        """Close every session and stop the lab server (kernel shutdown, %unload_ext)."""
        self.smtp.close_all()
        self.pop3.close_all()
        for session in [*self.replays, *self.recorders]:
            self.release(session)
        if self.lab is not None:
            self.lab.stop()
