"""The mailmagic package root: its version, and the IPython extension hooks (`%load_ext mailmagic`).
The hooks import the magics only when called, so `import mailmagic.lab` and `python -m
mailmagic.lab` never import IPython, ipywidgets or traitlets: the lab server runs in a process that
cannot import them (tests/lab/test_main.py checks it)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """Register %smtp, %%smtp, %pop3, %%pop3 and %maillab (see mailmagic.magics)."""
    from mailmagic.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Close every session, stop the lab server, and take back the magics, their completers and
    the pre_run_cell hook (see mailmagic.magics)."""
    from mailmagic.magics import unload_ipython_extension as unload

    unload(ipython)
