# What this module does: fixtures of the magics' tests: a real shell with mailmagic loaded (ip),
# unloaded after the test, and the same with the lab server started in the test's folder (lab_ip).
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mailmagic import load_ipython_extension, unload_ipython_extension
from tests.magics.shell import Shell


@pytest.fixture
def ip(tmp_path: Path, ipython_shell: InteractiveShell) -> Iterator[Shell]:
    shell = ipython_shell
    load_ipython_extension(shell)
    yield Shell(shell, tmp_path / "maildir")
    unload_ipython_extension(shell)


@pytest.fixture
def lab_ip(ip: Shell) -> Shell:
    ip.line("maillab", f"start --maildir {ip.maildir}")
    return ip
