"""The public face of the embedded lab mail server (see controller.py): `LabServer(LabConfig(...))`
runs SMTP, submission, SMTPS, POP3 and POP3S on loopback over one Maildir store, with fault
injection for lab exercises, and the teacher's checks and controls (controls.py): `LabMessage`s
from `lab.mailbox(user)`, `LabError` for an unknown user, `LabLog` of what clients did."""

from mailmagic.lab.config import LabConfig
from mailmagic.lab.controller import Endpoints, LabServer
from mailmagic.lab.directory import LabError
from mailmagic.lab.faults import Faults
from mailmagic.lab.log import LabLog, LoggedExchange, LoggedSession
from mailmagic.lab.messages import LabMessage

__all__ = [
    "Endpoints",
    "Faults",
    "LabConfig",
    "LabError",
    "LabLog",
    "LabMessage",
    "LabServer",
    "LoggedExchange",
    "LoggedSession",
]
