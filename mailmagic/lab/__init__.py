"""The public face of the embedded lab mail server (see controller.py): `LabServer(LabConfig(...))`
runs SMTP, submission, SMTPS, POP3 and POP3S on loopback over one Maildir store, with fault
injection for lab exercises."""

from mailmagic.lab.config import LabConfig
from mailmagic.lab.controller import Endpoints, LabServer
from mailmagic.lab.faults import Faults

__all__ = ["Endpoints", "Faults", "LabConfig", "LabServer"]
