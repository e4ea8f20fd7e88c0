# What this module does: tests mailmagic/display/diagram.py, the state diagram view, with the real
# Graphviz `dot` (scripts/install-test-deps installs it): the SVG has one edge per pair of states a
# table entry joins (read from its <title> elements) and the lit
# state, it is inert (no script, no on* attribute, no external reference, no DOCTYPE), the bundle
# carries image/svg+xml, the same SVG inline as text/html and a text/plain rendering; `inert`
# refuses hostile SVG; and without `dot` (PATH emptied) the view gives a one-line note and the text
# rendering, never a traceback; in a kernel the base adds its one HTML widget, nothing more.
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mailmagic.display import diagram as view_module
from mailmagic.display.bundle import WIDGET_MIME
from mailmagic.display.diagram import NO_DOT, DiagramView, inert
from mailmagic.protocol import pop3_rules, smtp
from mailmagic.protocol.diagram import diagram
from tests.display.conftest import DummyComm

SVG_NS = "{http://www.w3.org/2000/svg}"


def titles(svg: str, kind: str) -> list[str]:
    """The <title> of every graph element of one class ("node" or "edge") in Graphviz's SVG."""
    root = ET.fromstring(svg)
    return [
        g.findtext(f"{SVG_NS}title") or ""
        for g in root.iter(f"{SVG_NS}g")
        if g.get("class") == kind
    ]


def assert_inert(svg: str) -> None:
    assert not re.search(r"<script|<!DOCTYPE|<\?xml|<foreignObject", svg, re.I)
    assert not re.search(r"\son\w+\s*=", svg, re.I)
    assert not re.search(r"href\s*=\s*\"(?!#)", svg, re.I)


@pytest.mark.parametrize("protocol", ["SMTP", "POP3"])
def test_the_svg_has_one_edge_per_transition(protocol: str) -> None:
    table = smtp.TRANSITIONS if protocol == "SMTP" else pop3_rules.TRANSITIONS
    view = DiagramView(diagram(protocol))
    assert view.svg is not None and view.note == ""
    pairs = {f"{s.name}->{t.name}" for s, row in table.items() for t in row.values()}
    assert sorted(titles(view.svg, "edge")) == sorted(pairs)  # an edge a pair, a line a command
    assert sorted(titles(view.svg, "node")) == sorted(s.name for s in table)
    assert_inert(view.svg)


def test_the_bundle_has_the_svg_inline_and_a_text_fallback() -> None:
    view = DiagramView(diagram("SMTP", smtp.SmtpState.READY, ("MAIL", "QUIT")))
    bundle = view._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/html", "text/plain"}
    assert bundle["image/svg+xml"] == view.svg and view.svg in bundle["text/html"]
    assert "> READY -> MAIL -> MAIL  (RFC 5321 4.1.1.2)" in bundle["text/plain"]
    assert "#ffd33d" in view.svg  # the lit state
    assert "RFC 5321 4.1.1.2" in view.svg
    assert repr(view) == bundle["text/plain"] and view._repr_html_() == bundle["text/html"]


@pytest.mark.parametrize(
    "hostile",
    [
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink">'
        '<a x:href="https://example.org/">x</a></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><image href="http://example.org/i.png"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>',
        "<svg",
    ],
)
def test_inert_refuses_what_could_run_or_fetch(hostile: str) -> None:
    with pytest.raises(ValueError, match="SVG"):
        inert(hostile)


def test_inert_cuts_the_prolog_and_keeps_local_references() -> None:
    svg = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        '<svg xmlns="http://www.w3.org/2000/svg"><use href="#a"/></svg>'
    )
    assert inert(svg) == '<svg xmlns="http://www.w3.org/2000/svg"><use href="#a"/></svg>'


def test_a_refused_svg_falls_back_to_text(monkeypatch: pytest.MonkeyPatch) -> None:
    class Hostile:
        def __init__(self, dot: str) -> None:
            pass

        def pipe(self, **kwargs: object) -> str:
            return '<svg xmlns="http://www.w3.org/2000/svg" onclick="x()"/>'

    monkeypatch.setattr(view_module.graphviz, "Source", Hostile)
    view = DiagramView(diagram("POP3"))
    assert view.svg is None and "refused" in view.note and "onclick" in view.note
    assert "image/svg+xml" not in view._repr_mimebundle_()


def test_without_dot_a_note_and_the_text_rendering(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot to find
    view = DiagramView(diagram("POP3", pop3_rules.Pop3State.AUTHORIZATION, ("USER", "QUIT")))
    assert view.svg is None and view.note == NO_DOT and "\n" not in NO_DOT
    bundle = view._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    text = bundle["text/plain"]
    assert text.startswith(NO_DOT + "\n") and "Traceback" not in text
    assert "> AUTHORIZATION -> USER -> AUTHORIZATION  (RFC 1939 7)" in text
    assert "AUTHORIZATION -&gt; USER" in bundle["text/html"] and "<svg" not in bundle["text/html"]


@pytest.mark.usefixtures("in_a_kernel")
def test_in_a_kernel_it_is_one_html_widget_of_the_same_svg(dummy_comm: list[DummyComm]) -> None:
    view = DiagramView(diagram("SMTP"))
    before = len(dummy_comm)
    bundle = view._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/html", "text/plain", WIDGET_MIME}
    assert len(dummy_comm) - before <= 3  # one HTML widget (and the shared Layout and Style)
