"""The one recipe for a view's bundle, which every view's `_repr_mimebundle_` uses (through
display/base.py): text/plain and text/html always, and the ipywidgets view on top only inside a
kernel (a terminal IPython or a test shell gets no widgets it cannot show). A saved notebook keeps
text/html, so it still reads on GitHub and in nbconvert once widget state is stripped. Every widget
view shown is handed to live.CELLS, which closes it when its cell runs again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mailmagic.display.live import CELLS

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def in_kernel() -> bool:
    """True when running inside a Jupyter kernel (where widgets can be shown)."""
    try:
        from IPython.core.getipython import get_ipython
    except ImportError:
        return False
    current_shell: Callable[[], Any] = get_ipython  # typed in IPython 9, untyped in 8: both check
    shell = current_shell()
    return getattr(shell, "kernel", None) is not None


def widget_view(widget: Any) -> dict[str, Any]:
    """The widget-view entry that shows ``widget``: what ipywidgets 8's own
    ``Widget._repr_mimebundle_`` puts under WIDGET_MIME, without the ``repr()`` of every trait it
    also makes for a text/plain we never use."""
    return {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}


def mimebundle(text: str, html: str, widget: Callable[[], Any] | None = None) -> dict[str, Any]:
    """The bundle: text/plain, text/html, and the widget view when in a kernel."""
    bundle: dict[str, Any] = {"text/plain": text, "text/html": html}
    if widget is not None and in_kernel():
        bundle[WIDGET_MIME] = widget_view(CELLS.add(widget()))
    return bundle
