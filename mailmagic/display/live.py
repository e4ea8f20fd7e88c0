"""Ties a live widget to what it watches without either keeping the other alive for the kernel's
life (DESIGN.md: views never subscribe strongly). A live widget holds its subscriptions, and the
transcript's or maildrop's listener list holds them only weakly (protocol/listeners.py), so a
dropped widget stops being called; closing a widget (ipywidgets sets its comm to None) closes its
subscriptions and every widget under it, with their Layout and Style models (ipywidgets leaves those
open: each is a model the front end keeps), except the one Layout and HTMLStyle that every read-only
HTML widget shares (`html_widget`): those stay open for the kernel's life, and are made again if
something closed them (`Widget.close_all()`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import HTMLStyle  # not exported by ipywidgets' __init__

from mailmagic.protocol.listeners import Subscription

W = TypeVar("W")


def when_closed(widget: Any, callback: Callable[[], None]) -> None:
    """Call ``callback`` once, when ``widget`` is closed."""

    def changed(change: dict[str, Any]) -> None:
        if change["new"] is None:
            widget.unobserve(changed, names="comm")
            callback()

    widget.observe(changed, names="comm")


def hold(widget: W, *subscriptions: Subscription[Any]) -> W:
    """``widget`` keeps ``subscriptions`` as long as it lives, and closes them when it closes."""

    def release() -> None:
        for subscription in subscriptions:
            subscription.close()

    when_closed(widget, release)
    return widget


# The Layout and HTMLStyle every read-only HTML widget of this kernel shows with. Sharing them is
# safe for snapshots because nothing ever changes them: mailmagic never sets a trait of either (a
# widget that needs its own look makes its own Layout), so every output that refers to them shows
# exactly what it showed when its cell ran. One Layout and one Style for all, instead of two new
# models (about 40 traits each sent in full) for every reply shown.
_SHARED: dict[str, widgets.Widget] = {}


def _shared(kind: type[widgets.Widget]) -> Any:
    """The kernel's one open ``kind`` model, made now if there is none or it was closed."""
    model = _SHARED.get(kind.__name__)
    if model is None or model.comm is None:  # closed: ipywidgets sets comm to None
        model = _SHARED[kind.__name__] = kind()
    return model


def html_widget(value: str = "") -> widgets.HTML:
    """A read-only HTML widget of ``value``, with the shared Layout and HTMLStyle: one new model.
    Set its ``value`` freely; never its ``layout`` or ``style`` (they are every widget's)."""
    return widgets.HTML(value, layout=_shared(widgets.Layout), style=_shared(HTMLStyle))


def is_shared(model: Any) -> bool:
    """True for the shared Layout and HTMLStyle, which no closing of a widget closes."""
    return any(model is shared for shared in _SHARED.values())


def close_tree(widget: Any) -> None:
    """Close ``widget`` and every widget under it, their Layout and Style models included (but
    not the shared ones: other cells' widgets show with them)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if part is not None and hasattr(part, "close") and not is_shared(part):
            part.close()
    widget.close()


def cascade(box: W) -> W:
    """Closing ``box`` closes every widget under it too (and so their subscriptions)."""

    def close_children() -> None:
        for child in getattr(box, "children", ()):
            close_tree(child)

    when_closed(box, close_children)
    return box


class CellWidgets:
    """The widgets shown by each notebook cell, by the cell's id; ``start`` is IPython's
    ``pre_run_cell`` hook (``shell.events``): it closes what the same cell showed last time."""

    def __init__(self) -> None:
        self._shown: dict[str, list[Any]] = {}
        self._cell: str | None = None

    def start(self, info: Any) -> None:
        """A cell is about to run: close the widgets its last run showed."""
        self._cell = getattr(info, "cell_id", None)
        for widget in self._shown.pop(self._cell or "", []):
            close_tree(widget)

    def add(self, widget: W) -> W:
        """``widget`` is shown by the running cell (outside a cell with an id: not tracked)."""
        if self._cell is not None:
            self._shown.setdefault(self._cell, []).append(widget)
        return widget


CELLS = CellWidgets()
