# What this module does: fixtures shared by every test: a running lab server on free loopback
# ports with its store in the test's own temporary folder, so tests stay parallel-safe.
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from mailmagic.lab import LabConfig, LabServer

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
