# What this module does: a dummy comm for widget tests without a browser, as ipywidgets' own tests
# do (ipywidgets/widgets/tests/utils.py): widgets are created for real, and every message they would
# send to a front end is recorded instead.
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import comm
import pytest


class DummyComm:
    """Records what a widget sends; opens and closes nothing."""

    comm_id = "dummy"
    kernel = "Truthy"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.messages: list[tuple[Any, Any]] = []

    def open(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send(self, *args: Any, **kwargs: Any) -> None:
        self.messages.append((args, kwargs))

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def dummy_comm(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[DummyComm]]:
    """Every comm created during the test, in order."""
    made: list[DummyComm] = []

    def create(**kwargs: Any) -> DummyComm:
        made.append(DummyComm())
        return made[-1]

    monkeypatch.setattr(comm, "create_comm", create)
    monkeypatch.setattr(comm, "get_comm_manager", lambda *args, **kwargs: {})
    yield made
