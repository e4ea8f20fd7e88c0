# What this module does: tests of the view base (mailmagic/display/base.py): every view in
# display/ inherits its `_repr_mimebundle_`, `_repr_html_` and `__repr__` rather than defining its
# own (and dataclass views keep the base's `__repr__`, not the generated one); the bundle is
# text/plain and text/html (and a picture's own type, from `extra_mime`), with the widget only
# in a kernel; a ValueView reads as its value for attributes and `dir()`, and hides nothing when
# there is no value.
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from typing import Any

import ipywidgets  # type: ignore[import-untyped, unused-ignore]
import pytest
from ipywidgets.widgets.widget import _instances as instances  # type: ignore[import-untyped, unused-ignore]

import mailmagic.display
from mailmagic.display.base import ValueView, View
from mailmagic.display.live import is_shared

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SHOWN_BY_THE_BASE = ("_repr_mimebundle_", "_repr_html_", "__repr__")


def views() -> list[type[View]]:
    """Every view class defined in a display/ module."""
    found: list[type[View]] = []
    for info in pkgutil.iter_modules(mailmagic.display.__path__):
        module = importlib.import_module(f"mailmagic.display.{info.name}")
        found += [
            cls
            for cls in vars(module).values()
            if inspect.isclass(cls)
            and cls.__module__ == module.__name__
            and cls.__name__.endswith("View")
        ]
    return found


@dataclass(frozen=True)
class Value:
    code: int

    def explain(self) -> str:
        return f"code {self.code}"


@dataclass(frozen=True, repr=False)
class Shown(ValueView):
    value_field = "value"

    value: Value | None
    label: str = "x"

    def as_text(self) -> str:
        return f"text {self.label}"

    def as_html(self) -> str:
        return f"<b>{self.label}</b>"


def test_there_are_the_views_the_design_names() -> None:
    names = {cls.__name__ for cls in views()}
    assert {"ReplyView", "CellView", "MailboxView", "MessageView", "TranscriptView"} <= names
    assert {"SessionView", "SessionsView", "FetchView", "LabView", "ExchangeView"} <= names


@pytest.mark.parametrize("cls", views(), ids=lambda cls: cls.__name__)
def test_every_view_shows_itself_through_the_base(cls: type[Any]) -> None:
    assert issubclass(cls, View)
    for name in SHOWN_BY_THE_BASE:
        assert getattr(cls, name) is getattr(View, name), f"{cls.__name__} defines {name}"


def test_the_bundle_repr_and_html_come_from_as_text_and_as_html() -> None:
    view = Shown(Value(250))
    assert repr(view) == "text x" and view._repr_html_() == "<b>x</b>"
    assert view._repr_mimebundle_() == {"text/plain": "text x", "text/html": "<b>x</b>"}


@dataclass(frozen=True, repr=False)
class Picture(Shown):
    def extra_mime(self) -> dict[str, str]:
        return {"image/svg+xml": "<svg/>", "text/plain": "not this"}


def test_a_picture_adds_its_own_type_but_never_replaces_text_or_html() -> None:
    bundle = Picture(Value(250))._repr_mimebundle_()
    assert bundle == {"text/plain": "text x", "text/html": "<b>x</b>", "image/svg+xml": "<svg/>"}


@pytest.mark.usefixtures("dummy_comm", "in_a_kernel")
def test_in_a_kernel_the_bundle_adds_one_html_widget() -> None:
    before = set(instances)
    bundle = Shown(Value(250))._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", WIDGET_MIME}
    shown = Shown(Value(250)).widget()
    assert isinstance(shown, ipywidgets.HTML) and shown.value == "<b>x</b>"
    assert is_shared(shown.layout) and is_shared(shown.style)  # one new model: the HTML
    for model_id in set(instances) - before:  # while the dummy comm is in place
        instances[model_id].close()


def test_a_value_view_reads_and_lists_its_value() -> None:
    view = Shown(Value(250))
    assert view.code == 250 and view.explain() == "code 250"
    assert {"code", "explain", "label", "as_text"} <= set(dir(view))
    assert set(dir(view)) - set(dir(Shown)) == {"code", "explain", "value"}


def test_without_a_value_nothing_falls_through() -> None:
    view = Shown(None)
    with pytest.raises(AttributeError):
        _ = view.code
    assert "code" not in dir(view) and not view.interactive
