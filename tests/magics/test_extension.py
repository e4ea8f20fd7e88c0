# What this module does: tests of the extension hooks (mailmagic/magics/__init__.py) in a real
# shell, through `%load_ext`, `%unload_ext` and `%reload_ext`: each magics class joins the
# shell's configurables once; unloading unbinds %smtp, %pop3 and %maillab, closes every session,
# stops the lab server, and takes out the completers and the pre_run_cell hook; reloading gives a
# working extension again.
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mailmagic import load_ipython_extension, unload_ipython_extension
from mailmagic.display.live import CELLS
from mailmagic.magics import MAGICS, SMTPMagic, _running_cell, command_table
from mailmagic.magics.complete import HOOK, LabCompleter, MagicCompleter, unwrapped
from tests.magics.shell import Shell

pytestmark = pytest.mark.filterwarnings("ignore:`Completer.complete`:PendingDeprecationWarning")


@pytest.fixture
def shell(ipython_shell: InteractiveShell) -> Iterator[InteractiveShell]:
    yield ipython_shell
    if "mailmagic" in ipython_shell.extension_manager.loaded:
        ipython_shell.run_line_magic("unload_ext", "mailmagic")


def ours(shell: InteractiveShell) -> list[Any]:
    return [c for c in shell.configurables if isinstance(c, MAGICS)]


def hooked(shell: InteractiveShell, key: str) -> list[Any]:
    chain = shell.strdispatchers[HOOK].strs.get(key)
    hooks = [unwrapped(f) for _, f in (chain.chain if chain else [])]
    return [f for f in hooks if isinstance(f, (MagicCompleter, LabCompleter))]


def test_each_magics_class_is_a_configurable_once(shell: InteractiveShell) -> None:
    shell.run_line_magic("load_ext", "mailmagic")
    assert sorted(type(c).__name__ for c in ours(shell)) == ["LabMagic", "POP3Magic", "SMTPMagic"]
    shell.run_line_magic("config", "SMTPMagic.timeout = 4.5")
    assert shell.magics_manager.registry["SMTPMagic"].timeout == 4.5


def test_unload_takes_back_everything(shell: InteractiveShell, tmp_path: Path) -> None:
    shell.run_line_magic("load_ext", "mailmagic")
    lab = shell.run_line_magic("maillab", f"start --maildir {tmp_path}")
    shell.run_line_magic("smtp", "open")
    shell.run_line_magic("pop3", "open")
    session = shell.run_line_magic("smtp", "status").session
    assert hooked(shell, "%smtp") and CELLS.start in shell.events.callbacks["pre_run_cell"]
    shell.run_line_magic("unload_ext", "mailmagic")
    for name in ("smtp", "pop3", "maillab"):
        assert shell.find_line_magic(name) is None, name
    assert shell.find_cell_magic("smtp") is None and shell.find_cell_magic("pop3") is None
    assert session.status == "closed" and not lab.server.running
    assert not ours(shell) and "SMTPMagic" not in shell.magics_manager.registry
    for key in ("%smtp", "%%smtp", "%pop3", "%%pop3", "%maillab"):
        assert not hooked(shell, key), key
    assert CELLS.start not in shell.events.callbacks["pre_run_cell"]


def test_reload_gives_a_working_extension(shell: InteractiveShell, tmp_path: Path) -> None:
    shell.run_line_magic("load_ext", "mailmagic")
    shell.run_line_magic("maillab", f"start --maildir {tmp_path}")
    shell.run_line_magic("smtp", "open")
    old = shell.run_line_magic("smtp", "status").session
    shell.run_line_magic("reload_ext", "mailmagic")
    assert old.status == "closed"
    assert len(ours(shell)) == len(MAGICS) and len(hooked(shell, "%smtp")) == 1
    assert shell.run_cell("%smtp sessions").success
    assert isinstance(shell.magics_manager.registry["SMTPMagic"], SMTPMagic)
    _, matches = shell.Completer.complete(line_buffer="%smtp op", cursor_pos=8)
    assert list(matches) == ["open"]
    assert shell.events.callbacks["pre_run_cell"].count(CELLS.start) == 1


def test_the_command_table_lists_every_word_of_every_magic() -> None:
    table = command_table()
    for magic in MAGICS:
        for word in magic.words:
            assert f"| `{word.synopsis(magic.words.magic)}".replace("|", "\\|")[2:] in table


def test_the_extension_registers_every_magic(ip: Shell) -> None:
    for name in ("smtp", "pop3"):
        assert ip.shell.find_line_magic(name) and ip.shell.find_cell_magic(name)
    assert ip.shell.find_line_magic("maillab")


def test_the_extension_closes_a_re_run_cell_s_widgets_and_knows_the_loading_cell(
    ip: Shell,
) -> None:
    assert CELLS.start in ip.shell.events.callbacks["pre_run_cell"]
    parent = {"metadata": {"cellId": "cell-7"}}
    in_lab = SimpleNamespace(kernel=SimpleNamespace(get_parent=lambda: parent))
    assert _running_cell(in_lab).cell_id == "cell-7"  # JupyterLab sends the cell's id
    assert _running_cell(ip.shell).cell_id is None  # a terminal or a test shell: no kernel
    unload_ipython_extension(ip.shell)
    assert CELLS.start not in ip.shell.events.callbacks["pre_run_cell"]
    load_ipython_extension(ip.shell)  # as the fixture expects to find it


def test_unloading_closes_every_session_and_stops_the_lab(
    ipython_shell: InteractiveShell, tmp_path: Path
) -> None:
    load_ipython_extension(ipython_shell)
    lab = ipython_shell.run_line_magic("maillab", f"start --maildir {tmp_path}")
    ipython_shell.run_line_magic("smtp", "open")
    ipython_shell.run_line_magic("pop3", "open")
    smtp = ipython_shell.run_line_magic("smtp", "status").session
    unload_ipython_extension(ipython_shell)
    assert smtp.status == "closed" and not lab.server.running
