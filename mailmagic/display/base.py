"""The one base every view shares, so a result shows the same way everywhere. A view says what it is
as text (`as_text`) and as self-contained HTML (`as_html`), and may offer a `widget()` (by default
one HTML widget of its text/html: what is only read costs one widget, DESIGN.md's budget). From
those three the base makes `_repr_mimebundle_` (through bundle.py: the widget only in a kernel),
`_repr_html_` and `__repr__`; a view that is also a picture adds it through `extra_mime` (the
timeline's `image/svg+xml`), never by a bundle of its own. A view that stands for a value
(`r = %smtp NOOP` is a reply) is a `ValueView`: reading an attribute it lacks reads the value's,
and `dir()` lists the value's fields and methods too, so `r.code` works and `r.<Tab>` offers it.
Views that are dataclasses are declared
with `repr=False`, so they keep this `__repr__` rather than the dataclass's own."""

from __future__ import annotations

from typing import Any, ClassVar

import ipywidgets as widgets

from mailmagic.display.bundle import mimebundle
from mailmagic.display.live import html_widget


class View:
    """What every view has: text/plain, text/html and, in a kernel, a widget."""

    @property
    def interactive(self) -> bool:
        """True when its widget has something to click (a mailbox table, a message viewer)."""
        return False

    def as_text(self) -> str:
        """The concise text/plain form."""
        raise NotImplementedError

    def as_html(self) -> str:
        """The self-contained, escaped text/html form."""
        raise NotImplementedError

    def widget(self) -> widgets.Widget:
        """The view in a kernel: one HTML widget of exactly the text/html (a snapshot)."""
        return html_widget(self.as_html())

    def extra_mime(self) -> dict[str, str]:
        """More forms for the bundle, by MIME type (a picture's ``image/svg+xml``); none here."""
        return {}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {**self.extra_mime(), **mimebundle(self.as_text(), self.as_html(), self.widget)}

    def _repr_html_(self) -> str:
        return self.as_html()

    def __repr__(self) -> str:
        return self.as_text()


class ValueView(View):
    """A view of one value, named by ``value_field``; it reads as that value where it lacks an
    attribute, and ``dir()`` (so tab completion) lists the value's attributes with its own."""

    value_field: ClassVar[str]

    def _value(self) -> Any:
        return self.__dict__.get(self.value_field)

    def __getattr__(self, name: str) -> Any:
        value = self._value()
        if name.startswith("_") or value is None:
            raise AttributeError(name)
        return getattr(value, name)

    def __dir__(self) -> list[str]:
        value = self._value()
        shown = [n for n in dir(value) if not n.startswith("_")] if value is not None else []
        return sorted({*super().__dir__(), *shown})
