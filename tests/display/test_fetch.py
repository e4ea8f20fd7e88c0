# What this module does: tests of the bulk-transfer views (mailmagic/display/fetch.py) on a dummy
# comm: the progress bar moves, then says it finished ("fetched N", success style) or stopped (an
# error or Ctrl-C leaving its block: "stopped", danger style) instead of staying at "fetching";
# nothing is shown outside a kernel; and a fetch's result shows the archive's notes (a stale lock
# removed, octets cut off at resume) in its widget, text/html and text/plain.
from __future__ import annotations

from typing import Any

import IPython.display
import pytest

from mailmagic.display.fetch import FetchView, ProgressBar
from mailmagic.session.fetch import FetchResult
from tests.display.conftest import BUDGET, DummyComm, html_of

STALE = "removed a stale lock left by process 4242 on otherhost: it no longer runs"
CUT = "cut the last 17 octets off /tmp/a.mbox: a fetch that did not finish wrote them"


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch, in_a_kernel: None) -> list[Any]:
    """What ``display`` was given, in a kernel on a dummy comm."""
    displayed: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: displayed.extend(objs))
    return displayed


def test_the_bar_moves_then_says_it_finished(shown: list[Any], dummy_comm: list[DummyComm]) -> None:
    with ProgressBar("fetching") as bar:
        bar.update(1, 3)
        assert [bar.bar] == shown and bar.bar is not None
        assert (bar.bar.value, bar.bar.max, bar.bar.description) == (1, 3, "fetching")
        bar.update(3, 3)
        bar.finish("fetched 3")
    assert (bar.bar.value, bar.bar.description, bar.bar.bar_style) == (3, "fetched 3", "success")
    assert len(dummy_comm) <= BUDGET


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
@pytest.mark.usefixtures("dummy_comm")
def test_an_error_leaving_the_block_marks_the_bar_stopped(
    shown: list[Any], error: BaseException
) -> None:
    with pytest.raises(type(error)), ProgressBar("sending") as bar:
        bar.update(1, 10)
        raise error
    assert bar.bar is not None
    assert (bar.bar.description, bar.bar.bar_style, bar.bar.value) == ("stopped", "danger", 1)


def test_outside_a_kernel_nothing_is_shown_and_finishing_is_harmless() -> None:
    with ProgressBar("fetching") as bar:
        bar.update(1, 2)
        bar.finish("fetched 2")
    assert bar.bar is None


@pytest.mark.usefixtures("dummy_comm")
def test_a_fetch_shows_what_the_archive_repaired() -> None:
    view = FetchView(FetchResult(notes=[STALE, CUT]), "/tmp/a.mbox")
    text, page, widget = view.as_text(), view.as_html(), html_of(view.widget())
    assert f"note: {STALE}" in text and f"note: {CUT}" in text
    for form in (page, widget):
        assert STALE in form and CUT in form and form.index(STALE) < form.index("<table")
    assert view.notes == [STALE, CUT]  # still the result's own list
    assert "note" not in FetchView(FetchResult(), "/tmp/b").as_text()
