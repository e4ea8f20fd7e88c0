# What this module does: tests of mailmagic/display/live.py with widgets on a dummy comm: a
# widget holds its subscriptions and closes them when it closes, and closing a box closes every
# widget under it (Layout and Style models too), so a closed view is never called again and the
# listener lists stay bounded.
from __future__ import annotations

import ipywidgets as widgets

from mailmagic.display.live import cascade, close_tree, hold, when_closed
from mailmagic.session.transcript import Entry, Transcript
from tests.display.conftest import DummyComm


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
