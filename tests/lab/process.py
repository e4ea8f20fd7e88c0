# What this module does: the lab server as a subprocess for tests, `python -m mailmagic.lab --json`
# in the background: where it listens (from its one JSON line), how much memory it uses (from
# /proc/PID/status, with none of the test's own allocations in the figures), and a stop by signal.
from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any


class LabProcess:
    """``python -m mailmagic.lab --json *args`` running in the background."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailmagic.lab", "--json", *args],
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

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, bytes, bytes]:
        """Send ``signum``; return the exit code and what it printed after its JSON line."""
        self.proc.send_signal(signum)
        out, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        """Make sure it is gone (a fixture's clean-up)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=20)
