# What this module does: fixtures shared by every test: a running lab server on free loopback
# ports with its store in the test's own temporary folder, so tests stay parallel-safe; the one
# IPython shell; and a partial (TOP) message read back from the lab server.
from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from mailmagic.lab import LabConfig, LabServer
from mailmagic.protocol.pop3 import Pop3Reply
from mailmagic.session.base import Settings
from mailmagic.session.pop3 import Pop3Session
from tests.mail.samples import mixed

# Tests assert behaviour, never speed: no property test fails because a loaded machine ran one
# example slowly (Hypothesis' default deadline is 200 ms an example).
settings.register_profile("mailmagic", deadline=None)
settings.load_profile("mailmagic")


@pytest.fixture
def lab_factory(tmp_path: Path) -> Iterator[Callable[..., LabServer]]:
    """Start lab servers with LabConfig overrides; every one is stopped after the test."""
    started: list[LabServer] = []

    def start(**overrides: Any) -> LabServer:
        overrides.setdefault("maildir", tmp_path / "maildir")
        server = LabServer(LabConfig(**overrides))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def ipython_shell() -> Any:
    """The process's one IPython shell, made the way IPython's own test suite makes it.

    Every test module that needs a shell uses this, so they share one singleton whatever order
    pytest runs them in.
    """
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    if not InteractiveShell.initialized():  # ipywidgets' Output may have made a plain one
        start_ipython()
    return InteractiveShell.instance()


@pytest.fixture
def lab(lab_factory: Callable[..., LabServer]) -> LabServer:
    """A running lab server with the default users (alice, bob) and list (team)."""
    return lab_factory()


@pytest.fixture
def top_of(lab: LabServer) -> Callable[[int], bytes]:
    """TOP 1 n of a multipart message (tests/mail/samples.py's mixed()) delivered to alice over
    SMTP and read back over POP3 with real sockets: what a partial message looks like."""
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        smtp.send_message(mixed(), "bob@lab.test", ["alice@lab.test"])
    session = Pop3Session("top", Settings(lab.endpoints.host, lab.endpoints.pop3))
    session.connect()
    assert session.login("alice", "alice-password", "user").ok

    def top(lines: int) -> bytes:
        reply = session.command(f"TOP 1 {lines}")
        assert isinstance(reply, Pop3Reply) and reply.ok
        return reply.body

    return top
