# What this module does: a fixture for the lab tests that need the server in a process of its own,
# `python -m mailmagic.lab --json` in the background, so that a test can read the server's memory
# from /proc/PID/status with none of the test's own allocations in the figures.
from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


class LabProcess:
    """The lab server as a subprocess: where it listens (``info``) and how much memory it uses."""

    def __init__(self, maildir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailmagic.lab", "--json", "--maildir", str(maildir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read().decode() if self.proc.stderr else ""
        self.info: dict[str, Any] = json.loads(line)

    def memory_kib(self, field: str = "VmHWM") -> int:
        """A figure of /proc/PID/status in KiB: VmHWM is the peak resident size, VmRSS the now."""
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.proc.pid}/status")

    def stop(self) -> bytes:
        """Stop it with SIGTERM; return what it wrote to stderr."""
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=20)
        return err


@pytest.fixture
def lab_process(tmp_path: Path) -> Iterator[LabProcess]:
    """A lab server running in a subprocess with its store in the test's tmp_path."""
    server = LabProcess(tmp_path / "store")
    yield server
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.communicate(timeout=20)
