"""The view of `%smtp diagram` / `%pop3 diagram`: the protocol's state diagram (built as data from
its transition table by protocol/diagram.py) rendered to SVG by Graphviz's ``dot`` program, through
the `graphviz` package's pipe (a subprocess; nothing here opens a socket).

The SVG is made once, when the view is built, so the output is a snapshot of the moment it ran.
It is checked before it is shown (`inert`): the XML prolog and DOCTYPE (which names a remote DTD)
are cut, and an SVG holding a <script> or <foreignObject>, an on* attribute, or an href that is not
a same-document "#" reference is refused. Without ``dot`` (or if it fails, or its SVG is refused)
the view says so in one line and shows the text rendering instead, never a traceback. The bundle
holds the SVG as `image/svg+xml` (View's `extra_mime`) and the same SVG inline as text/html, with
the text rendering as text/plain; in a kernel the base adds its one HTML widget of that HTML, as for
every view that is only read (DESIGN.md's budget).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import graphviz

from mailmagic.display import html as h
from mailmagic.display.base import View
from mailmagic.protocol.diagram import Diagram, dot_source, text_lines

__all__ = ["NO_DOT", "DiagramView", "inert", "render"]

NO_DOT = (
    "Graphviz's dot program was not found, so the diagram is shown as text "
    "(install it: apt-get install graphviz, brew install graphviz, or conda install graphviz)."
)
_PROLOG = re.compile(r"\A.*?(?=<svg[\s>])", re.S)
_FORBIDDEN_TAGS = {"script", "foreignObject", "iframe", "object", "embed"}


def _local(name: str) -> str:
    """An XML name without its {namespace}."""
    return name.rsplit("}", 1)[-1]


def _unsafe(element: ET.Element) -> str | None:
    """Why one element is not inert, or None."""
    if _local(element.tag) in _FORBIDDEN_TAGS:
        return f"a <{_local(element.tag)}> element"
    for name, value in element.attrib.items():
        local = _local(name).lower()
        if local.startswith("on"):
            return f"an {local} attribute"
        if local == "href" and not value.startswith("#"):
            return f"a link to {value!r}"
    return None


def inert(svg: str) -> str:
    """`svg` without its XML prolog and DOCTYPE; ValueError if it could run or fetch anything."""
    body = _PROLOG.sub("", svg, count=1)
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        raise ValueError(f"the SVG does not parse: {error}") from None
    for element in root.iter():
        why = _unsafe(element)
        if why is not None:
            raise ValueError(f"the SVG holds {why}")
    return body


def render(dot: str) -> tuple[str | None, str]:
    """(the inert SVG, "") from a DOT source, or (None, a one-line note saying why not)."""
    try:
        raw = graphviz.Source(dot).pipe(format="svg", engine="dot", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        return None, NO_DOT
    except (graphviz.CalledProcessError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, f"Graphviz's dot failed ({first}), so the diagram is shown as text."
    try:
        return inert(raw), ""
    except ValueError as error:
        return None, f"Graphviz's SVG was refused ({error}), so the diagram is shown as text."


@dataclass(frozen=True, repr=False)
class DiagramView(View):
    """A snapshot of a protocol's state diagram; `svg` is None when only text could be made."""

    diagram: Diagram
    svg: str | None = field(init=False, compare=False)
    note: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        svg, note = render(dot_source(self.diagram))
        object.__setattr__(self, "svg", svg)
        object.__setattr__(self, "note", note)

    def as_text(self) -> str:
        """The text rendering (``state -> command -> state`` lines), after the note if any."""
        lines = text_lines(self.diagram)
        return "\n".join([self.note, *lines] if self.note else lines)

    def as_html(self) -> str:
        """The SVG inline, in a box that scrolls sideways; or the note and the text rendering."""
        if self.svg is None:
            text = "\n".join(text_lines(self.diagram))
            return f"<p>{h.esc(self.note)}</p><pre>{h.esc(text)}</pre>"
        return f'<div style="overflow-x:auto;max-width:100%">{self.svg}</div>'

    def extra_mime(self) -> dict[str, str]:
        """The SVG as ``image/svg+xml``, when there is one (so it shows on GitHub, in nbconvert)."""
        return {"image/svg+xml": self.svg} if self.svg is not None else {}
