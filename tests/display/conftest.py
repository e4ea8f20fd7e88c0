# What this module does: a dummy comm for widget tests without a browser, as ipywidgets' own tests
# do (ipywidgets/widgets/tests/utils.py): widgets are created for real, and every message they would
# send to a front end is recorded instead; `in_a_kernel`, which makes the shell look like a
# kernel's, so that bundles carry the widget view; and helpers that read what widgets show and send.
# Each widget model (Layouts and Styles included) opens one comm, so `len(dummy_comm)` counts the
# comm_open messages a front end would get: the widget budget. Each test with the dummy comm starts
# as a fresh kernel does, with no widget open, so the first read-only HTML widget it makes also
# opens the Layout and HTMLStyle they all share (SHARED, display/live.py) and later ones do not.
from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import comm
import IPython
import IPython.core.getipython
import ipywidgets  # type: ignore[import-untyped, unused-ignore]
import pytest

BUDGET = 12  # widget models (comm_open messages) one displayed result may cost (docs/design.md)
SHARED = 2  # the Layout and HTMLStyle all read-only HTML widgets share, opened once per kernel


class DummyComm:
    """Records what a widget sends; opens and closes nothing. Each has its own id (a widget's
    model id), as a kernel's comms have: ipywidgets keeps its open widgets by it."""

    kernel = "Truthy"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.comm_id = f"dummy-{uuid.uuid4().hex}"
        self.messages: list[tuple[Any, Any]] = []

    def open(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send(self, *args: Any, **kwargs: Any) -> None:
        self.messages.append((args, kwargs))

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass


def html_of(widget: Any) -> str:
    """Every HTML value in a widget tree, in order (what the front end would show as text),
    with the text/html of what an Output widget shows."""
    outputs = getattr(widget, "outputs", None)
    if outputs is not None:
        return "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    children = getattr(widget, "children", None)
    if children is None:
        return str(getattr(widget, "value", ""))
    return "".join(html_of(child) for child in children)


def values_sent(comms: list[DummyComm]) -> list[str]:
    """Every ``value`` the widgets sent to the front end (state updates), in order per comm."""
    states = [kwargs.get("data", {}).get("state", {}) for c in comms for _, kwargs in c.messages]
    return [str(state["value"]) for state in states if "value" in state]


@pytest.fixture
def dummy_comm(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[DummyComm]]:
    """Every comm created during the test, in order."""
    made: list[DummyComm] = []

    def create(**kwargs: Any) -> DummyComm:
        made.append(DummyComm())
        return made[-1]

    ipywidgets.Widget.close_all()  # a fresh kernel: no widget (no shared model) open yet
    monkeypatch.setattr(comm, "create_comm", create)
    monkeypatch.setattr(comm, "get_comm_manager", lambda *args, **kwargs: {})
    yield made


@pytest.fixture
def in_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """``get_ipython()`` returns a shell with a kernel, by either of its public names."""

    def kernel_shell() -> SimpleNamespace:
        return SimpleNamespace(kernel=object())

    monkeypatch.setattr(IPython, "get_ipython", kernel_shell)
    monkeypatch.setattr(IPython.core.getipython, "get_ipython", kernel_shell)
