# What this module does: the mailmagic package root: its version, and the IPython extension hooks
# (`%load_ext mailmagic`), imported lazily so the lab server runs without IPython installed.
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """Register %smtp, %%smtp, %pop3, %%pop3 and %maillab (see mailmagic.magics)."""
    from mailmagic.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Close every session and stop the lab server."""
    from mailmagic.magics import unload_ipython_extension as unload

    unload(ipython)
