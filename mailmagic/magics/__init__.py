"""The IPython extension (`%load_ext mailmagic`): registers %smtp / %%smtp, %pop3 / %%pop3 (smtp.py,
pop3.py) and %maillab (lab.py) around one shared MailContext (context.py), their tab completion
(complete.py), and the pre_run_cell hook of display/live.py's CELLS, so a cell that runs again
closes the widgets it showed before. `%unload_ext mailmagic` undoes all of it: the magics are no
longer bound, every session is closed, the lab server stops, the completers and the hook are gone;
`%reload_ext` works. The layout: registry.py (each control word declared once: parser, help,
docstring, README table, completion), options.py (comments, options before a raw line, --expect,
secrets), base.py (what %smtp and %pop3 share, the session words)."""

from __future__ import annotations

import atexit
from types import SimpleNamespace
from typing import Any

from IPython.core.magic import Magics

from mailmagic.display.live import CELLS
from mailmagic.magics.base import ProtocolMagics
from mailmagic.magics.complete import hook_completers, unhook_completers
from mailmagic.magics.context import MailContext
from mailmagic.magics.lab import LabMagic
from mailmagic.magics.options import ExpectFailed, split_options, strip_comment
from mailmagic.magics.pop3 import POP3Magic
from mailmagic.magics.smtp import SMTPMagic

__all__ = [
    "ExpectFailed",
    "LabMagic",
    "MailContext",
    "POP3Magic",
    "SMTPMagic",
    "command_table",
    "load_ipython_extension",
    "split_options",
    "strip_comment",
    "unload_ipython_extension",
]

MAGICS: tuple[type[ProtocolMagics] | type[LabMagic], ...] = (SMTPMagic, POP3Magic, LabMagic)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext mailmagic``: register the magics and close everything at shutdown."""
    if _instances(ipython):  # loaded by hand again: start afresh, as %reload_ext does
        unload_ipython_extension(ipython)
    context = MailContext()
    magics = (SMTPMagic(ipython, context), POP3Magic(ipython, context), LabMagic(ipython, context))
    ipython.register_magics(*magics)  # Magics.__init__ put each in shell.configurables
    atexit.register(context.close_all)
    hook_completers(ipython, *magics)
    ipython.events.register("pre_run_cell", CELLS.start)  # a re-run cell's old widgets close
    CELLS.start(_running_cell(ipython))  # the cell loading us ran before its hook was there


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext mailmagic``: close every session, stop the lab server, and take back the
    magics, their completers and the pre_run_cell hook."""
    if CELLS.start in ipython.events.callbacks["pre_run_cell"]:
        ipython.events.unregister("pre_run_cell", CELLS.start)
    unhook_completers(ipython)
    for magic in _instances(ipython):
        if isinstance(magic, SMTPMagic):
            magic.context.close_all()
            atexit.unregister(magic.context.close_all)
        _unregister(ipython, magic)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, MAGICS)]


def _instances(ipython: Any) -> list[Magics]:
    registry = ipython.magics_manager.registry
    return [registry[m.__name__] for m in MAGICS if isinstance(registry.get(m.__name__), m)]


def _unregister(ipython: Any, magic: Magics) -> None:
    """Take ``magic``'s line and cell magics out of the shell, so `%smtp` is no longer bound."""
    manager = ipython.magics_manager
    for kind, names in magic.magics.items():
        for name in names:
            if getattr(manager.magics[kind].get(name), "__self__", None) is magic:
                del manager.magics[kind][name]
    manager.registry.pop(type(magic).__name__, None)


def _running_cell(ipython: Any) -> SimpleNamespace:
    """The cell running now, as a pre_run_cell hook would see it: its id from the request's
    metadata (JupyterLab and Notebook 7 send ``cellId``), None outside a kernel."""
    get_parent = getattr(getattr(ipython, "kernel", None), "get_parent", None)
    parent = get_parent() if callable(get_parent) else {}
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    return SimpleNamespace(cell_id=(metadata or {}).get("cellId"))


def command_table() -> str:
    """The README's Markdown table of every control word of %smtp, %pop3 and %maillab."""
    rows = ["| command | what it does |", "| --- | --- |"]
    for magic in MAGICS:
        rows += magic.words.markdown()
    return "\n".join(rows)
