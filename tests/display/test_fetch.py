# What this module does: tests of the bulk-transfer views (mailmagic/display/fetch.py) on a dummy
# comm: the progress bar (tqdm's) moves, then says it finished ("fetched N", success style) or
# stopped (an error or Ctrl-C leaving its block: "stopped", danger style) instead of staying at
# "fetching"; outside a kernel it is tqdm's text bar; and a fetch's result shows the archive's
# notes (a stale lock removed, octets cut off at resume) in its widget, text/html and text/plain.
from __future__ import annotations

import pytest

from mailmagic.display.fetch import FetchView, ProgressBar
from mailmagic.session.fetch import FetchResult
from tests.display.conftest import BUDGET, DummyComm, html_of

STALE = "removed a stale lock left by process 4242 on otherhost: it no longer runs"
CUT = "cut the last 17 octets off /tmp/a.mbox: a fetch that did not finish wrote them"


def state(bar: ProgressBar) -> tuple[int, int, str, str]:
    """What tqdm's widget bar shows: its value, maximum, description text and style."""
    label, progress, _ = bar.bar.container.children
    text = label.value.replace("\u2007", " ")  # newer tqdm pads with figure spaces
    return progress.value, progress.max, text, progress.bar_style


@pytest.mark.usefixtures("in_a_kernel")
def test_the_bar_moves_then_says_it_finished(dummy_comm: list[DummyComm]) -> None:
    with ProgressBar("fetching") as bar:
        bar.update(1, 3)  # tqdm redraws at most every 0.1 s: its count is what moved
        assert (bar.bar.n, bar.bar.total) == (1, 3) and state(bar)[2].startswith("fetching")
        bar.update(3, 3)
        bar.finish("fetched 3")
    value, _, label, style = state(bar)
    assert (value, style) == (3, "success") and label.startswith("fetched 3")
    assert len(dummy_comm) <= BUDGET


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
@pytest.mark.parametrize("done", [1, 10])  # a full bar that then failed is no success either
@pytest.mark.usefixtures("dummy_comm", "in_a_kernel")
def test_an_error_leaving_the_block_marks_the_bar_stopped(error: BaseException, done: int) -> None:
    with pytest.raises(type(error)), ProgressBar("sending") as bar:
        bar.update(done, 10)
        raise error
    value, _, label, style = state(bar)
    assert (value, style) == (done, "danger") and label.startswith("stopped")


def test_outside_a_kernel_the_bar_is_text(capsys: pytest.CaptureFixture[str]) -> None:
    with ProgressBar("fetching") as bar:
        bar.update(1, 2)
        bar.update(2, 2)
        bar.finish("fetched 2")
    assert not hasattr(bar.bar, "container")
    assert "fetched 2: 100%" in capsys.readouterr().err


@pytest.mark.usefixtures("dummy_comm")
def test_a_fetch_shows_what_the_archive_repaired() -> None:
    view = FetchView(FetchResult(notes=[STALE, CUT]), "/tmp/a.mbox")
    text, page, widget = view.as_text(), view.as_html(), html_of(view.widget())
    assert f"note: {STALE}" in text and f"note: {CUT}" in text
    for form in (page, widget):
        assert STALE in form and CUT in form and form.index(STALE) < form.index("<table")
    assert view.notes == [STALE, CUT]  # still the result's own list
    assert "note" not in FetchView(FetchResult(), "/tmp/b").as_text()
