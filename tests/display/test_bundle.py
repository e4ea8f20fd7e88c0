# What this module does: tests of mailmagic/display/bundle.py, the one recipe for a view's bundle:
# text/plain and text/html everywhere, and in a kernel the widget view too, whose entry is exactly
# what ipywidgets' own `_repr_mimebundle_` gives (built without that method's repr of every trait).
from __future__ import annotations

from typing import Any

import ipywidgets  # type: ignore[import-untyped, unused-ignore]
import pytest

from mailmagic.display.bundle import WIDGET_MIME, mimebundle, widget_view
from mailmagic.display.live import close_tree, html_widget


def test_the_widget_view_entry_is_what_ipywidgets_gives() -> None:
    widget = ipywidgets.HTML("x")  # on the comm package's own comm: a real, unique model id
    try:
        assert widget_view(widget) == widget._repr_mimebundle_()[WIDGET_MIME]
        assert widget_view(widget)["model_id"] == widget.model_id
    finally:
        close_tree(widget)


@pytest.mark.usefixtures("dummy_comm", "in_a_kernel")
def test_in_a_kernel_the_bundle_shows_the_widget_it_is_given() -> None:
    made: list[Any] = []

    def widget() -> Any:
        made.append(html_widget("<b>h</b>"))
        return made[-1]

    bundle = mimebundle("t", "<b>h</b>", widget)
    assert bundle["text/plain"] == "t" and bundle["text/html"] == "<b>h</b>"
    assert len(made) == 1 and bundle[WIDGET_MIME] == made[0]._repr_mimebundle_()[WIDGET_MIME]
    close_tree(made[0])


def test_outside_a_kernel_there_is_no_widget() -> None:
    def widget() -> Any:
        raise AssertionError("no widget is made outside a kernel")

    assert mimebundle("t", "h", widget) == {"text/plain": "t", "text/html": "h"}
