# What this module does: a fixture for the lab tests that need the server in a process of its own
# (tests/lab/process.py), so that a test can read the server's memory from /proc/PID/status with
# none of the test's own allocations in the figures.
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.process import LabProcess


@pytest.fixture
def lab_process(tmp_path: Path) -> Iterator[LabProcess]:
    """A lab server running in a subprocess with its store in the test's tmp_path."""
    server = LabProcess("--maildir", str(tmp_path / "store"))
    yield server
    server.kill()
