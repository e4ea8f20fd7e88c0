"""Ties a live widget to what it watches without either keeping the other alive for the kernel's
life (DESIGN.md: views never subscribe strongly). A live widget holds its subscriptions, and the
transcript's or maildrop's listener list holds them only weakly (protocol/listeners.py), so a
dropped widget stops being called; closing a widget (ipywidgets sets its comm to None) closes its
subscriptions and every widget under it, with their Layout and Style models (ipywidgets leaves those
open: each is a model the front end keeps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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


def close_tree(widget: Any) -> None:
    """Close ``widget`` and every widget under it, their Layout and Style models included."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if part is not None and hasattr(part, "close"):
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
