# What this module does: tests of mailmagic/display/live.py with widgets on a dummy comm: a
# widget holds its subscriptions and closes them when it closes, and closing a box closes every
# widget under it (Layout and Style models too), so a closed view is never called again and the
# listener lists stay bounded; and a cell that runs again closes the widgets it showed last time.
# Read-only HTML widgets share one Layout and one HTMLStyle, which no closing of a widget or a
# cell closes, and which are made again once something (Widget.close_all) has closed them.
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import ipywidgets as widgets

from mailmagic.display.bundle import WIDGET_MIME, mimebundle
from mailmagic.display.live import (
    CELLS,
    CellWidgets,
    cascade,
    close_tree,
    hold,
    html_widget,
    is_shared,
    when_closed,
)
from mailmagic.session.transcript import Entry, Transcript
from tests.display.conftest import SHARED, DummyComm, values_sent


def test_when_closed_runs_once_when_the_widget_closes(dummy_comm: list[DummyComm]) -> None:
    closed: list[str] = []
    widget = widgets.HTML("x")
    when_closed(widget, lambda: closed.append("closed"))
    widget.value = "y"
    assert closed == []
    widget.close()
    widget.close()
    assert closed == ["closed"]


def test_a_held_subscription_ends_with_its_widget(dummy_comm: list[DummyComm]) -> None:
    transcript, heard = Transcript(), list[Entry]()
    widget = hold(widgets.HTML(), transcript.listeners.subscribe(heard.append))
    transcript.note("one", tls=False)
    assert len(heard) == 1 and len(transcript.listeners) == 1
    widget.close()
    transcript.note("two", tls=False)
    assert len(heard) == 1 and len(transcript.listeners) == 0


def test_closing_a_box_closes_every_widget_under_it(dummy_comm: list[DummyComm]) -> None:
    leaf, inner = widgets.HTML(), widgets.Button()
    box = cascade(widgets.VBox([widgets.HBox([leaf, inner]), widgets.HTML()]))
    box.close()
    assert leaf.comm is None and inner.comm is None
    other = widgets.VBox([widgets.HTML()])
    close_tree(other)
    assert other.comm is None and other.children[0].comm is None
    assert other.layout.comm is None and other.children[0].style.comm is None  # models too


def run_cell(cells: CellWidgets, cell_id: str | None) -> widgets.VBox:
    """What IPython's pre_run_cell hook and a cell showing one view do."""
    cells.start(SimpleNamespace(cell_id=cell_id))
    return cells.add(widgets.VBox([widgets.HTML("x"), widgets.Button()]))


def test_a_cell_that_runs_again_closes_what_it_showed(dummy_comm: list[DummyComm]) -> None:
    cells = CellWidgets()
    first_a, first_b = run_cell(cells, "a"), run_cell(cells, "b")
    second_a = run_cell(cells, "a")
    assert all(w.comm is None for w in (first_a, *first_a.children, first_a.layout))
    assert first_b.comm is not None and second_a.comm is not None
    untracked = run_cell(cells, None)  # a terminal or a test shell: cells have no id
    cells.start(SimpleNamespace(cell_id=None))
    assert untracked.comm is not None


def test_a_shown_view_is_closed_when_its_cell_runs_again(
    dummy_comm: list[DummyComm], in_a_kernel: Any
) -> None:
    shown: list[widgets.VBox] = []

    def view() -> widgets.VBox:
        shown.append(cascade(widgets.VBox([widgets.HTML("x")])))
        return shown[-1]

    def run() -> None:
        CELLS.start(SimpleNamespace(cell_id="cell-1"))
        assert WIDGET_MIME in mimebundle("t", "h", view)

    run()
    run()
    first, second = shown
    assert first.comm is None and first.children[0].comm is None and second.comm is not None
    CELLS.start(SimpleNamespace(cell_id="cell-1"))  # leave nothing open for other tests


def test_read_only_html_widgets_share_one_layout_and_one_style(dummy_comm: list[DummyComm]) -> None:
    first, second = html_widget("a"), html_widget("b")
    assert len(dummy_comm) == 2 + SHARED  # two HTML models, one Layout, one HTMLStyle
    assert first.layout is second.layout and first.style is second.style
    assert is_shared(first.layout) and is_shared(first.style)
    own = widgets.HTML("c")  # a widget made the usual way has its own
    assert own.layout is not first.layout and not is_shared(own.layout)
    assert not is_shared(own.style) and own.style is not first.style


def test_closing_a_cells_widgets_leaves_the_shared_ones_open(dummy_comm: list[DummyComm]) -> None:
    cells = CellWidgets()
    cells.start(SimpleNamespace(cell_id="a"))
    first = cells.add(cascade(widgets.VBox([html_widget("a")])))
    cells.start(SimpleNamespace(cell_id="b"))
    other = cells.add(html_widget("b"))
    cells.start(SimpleNamespace(cell_id="a"))  # cell a runs again: what it showed is closed
    assert first.comm is None and first.children[0].comm is None and first.layout.comm is None
    assert other.comm is not None and other.layout.comm is not None and other.style.comm is not None
    other.value = "still shown"  # the other cell's widget is still usable
    assert values_sent([other.comm]) == ["still shown"]
    close_tree(other)
    assert other.comm is None and other.layout.comm is not None and other.style.comm is not None


def test_a_closed_shared_model_is_made_again(dummy_comm: list[DummyComm]) -> None:
    before = html_widget("a")
    before.layout.close()
    after = html_widget("b")
    assert after.layout is not before.layout and after.layout.comm is not None
    assert after.style is before.style  # still open: kept
    widgets.Widget.close_all()
    again = html_widget("c")
    assert again.layout.comm is not None and again.style.comm is not None
    assert again.layout is not after.layout and again.style is not after.style
