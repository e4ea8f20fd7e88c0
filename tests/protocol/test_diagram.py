# What this module does: tests mailmagic/protocol/diagram.py, the state diagram as data: for both
# protocols every transition of the table is on an edge of the DOT source and nothing else is, every
# state and edge carries an RFC section, the current state is lit and only the expected commands
# leaving it are marked, and the text rendering has one `state -> command -> state` line per edge.
from __future__ import annotations

import html
import re
from typing import Any

import pytest

from mailmagic.protocol import pop3_rules, smtp
from mailmagic.protocol.diagram import diagram, dot_source, text_lines

TABLES: dict[str, Any] = {"SMTP": smtp.TRANSITIONS, "POP3": pop3_rules.TRANSITIONS}
EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label=<(.*)>(.*)\];$', re.M)
ROW_END = '<br align="left"/>'

NODE = re.compile(r'^\s*"([^"]+)" \[label="((?:[^"\\]|\\.)*)", (.*)\];', re.M)
SECTION = re.compile(r"RFC \d+( \d+(\.\d+)*)?")


def table_entries(protocol: str) -> list[tuple[str, str, str]]:
    return [
        (state.name, command, target.name)
        for state, row in TABLES[protocol].items()
        for command, target in row.items()
    ]


def rows(label: str) -> list[tuple[str, bool]]:
    """(command, marked) of each line of an edge's HTML-like label."""
    found = []
    for row in label.split(ROW_END)[:-1]:
        command = row.split(' <font point-size="8">')[0]
        found.append((html.unescape(re.sub(r"<[^>]+>", "", command)), "<b>" in command))
    return found


def dot_edges(dot: str) -> list[tuple[str, str, str]]:
    """(source, command, target) of every command on every edge of a DOT source."""
    return [(a, cmd, b) for a, b, label, _ in EDGE.findall(dot) for cmd, _ in rows(label)]


@pytest.mark.parametrize("protocol", ["SMTP", "POP3"])
def test_every_transition_is_an_edge_and_nothing_else_is(protocol: str) -> None:
    dot = dot_source(diagram(protocol))
    assert sorted(dot_edges(dot)) == sorted(table_entries(protocol))
    assert len(EDGE.findall(dot)) == dot.count(" -> ")  # no edge the pattern missed


@pytest.mark.parametrize("protocol", ["SMTP", "POP3"])
def test_every_state_is_a_node_and_everything_carries_an_rfc_section(protocol: str) -> None:
    d = diagram(protocol)
    nodes = NODE.findall(dot_source(d))
    assert [name for name, _, _ in nodes] == [s.name for s in TABLES[protocol]]
    assert all(SECTION.search(label) for _, label, _ in nodes)
    assert all(SECTION.fullmatch(e.ref) for e in d.edges)
    assert all(SECTION.search(label) for _, _, label, _ in EDGE.findall(dot_source(d)))


def test_rfc_sections_come_from_the_commands_and_the_pseudo_commands() -> None:
    refs = {(e.source, e.command): e.ref for e in diagram("SMTP").edges}
    assert refs["READY", "MAIL"] == "RFC 5321 4.1.1.2"
    assert refs["READY", "STARTTLS"] == "RFC 3207 4"
    assert refs["RCPT", "BDAT LAST"] == "RFC 3030 2"
    assert refs["CONNECTED", "<connect>"] == "RFC 5321 3.1"
    assert refs["DATA", "."] == "RFC 5321 4.1.1.4"
    pop = {(e.source, e.command): e.ref for e in diagram("POP3").edges}
    assert pop["CONNECTED", "<connect>"] == "RFC 1939 4"
    assert pop["AUTHORIZATION", "STLS"] == "RFC 2595 4"


def test_the_current_state_is_lit_and_the_expected_commands_marked() -> None:
    d = diagram("SMTP", smtp.SmtpState.RCPT, ("RCPT", "DATA", "BDAT", "QUIT"))
    marked = {(e.source, e.command) for e in d.edges if e.marked}
    assert marked == {("RCPT", c) for c in ("RCPT", "DATA", "BDAT", "BDAT LAST", "QUIT")}
    dot = dot_source(d)
    lit = [name for name, _, style in NODE.findall(dot) if "filled" in style]
    assert lit == ["RCPT"] and "now RCPT" in dot
    styled = [(a, cmd) for a, _, label, _ in EDGE.findall(dot) for cmd, bold in rows(label) if bold]
    assert sorted(styled) == sorted(marked)
    blue = [(a, b) for a, b, _, look in EDGE.findall(dot) if look]
    assert sorted(blue) == [("RCPT", s) for s in ("CLOSED", "DATA", "RCPT", "READY")]  # BDAT LAST


def test_without_a_session_nothing_is_lit_or_marked() -> None:
    d = diagram("POP3", None, ("USER",))
    assert d.current is None and not any(e.marked for e in d.edges)
    assert "filled" not in dot_source(d)
    assert not any(line.startswith(("*", ">")) for line in text_lines(d))


def test_the_text_rendering_has_a_line_per_edge_with_marks() -> None:
    d = diagram("POP3", pop3_rules.Pop3State.TRANSACTION, ("STAT", "QUIT"))
    lines = text_lines(d)
    arrows = [line for line in lines if line.count(" -> ") == 2]
    assert len(arrows) == len(table_entries("POP3"))
    assert "> TRANSACTION -> QUIT -> UPDATE  (RFC 1939 6)" in lines
    assert "  TRANSACTION -> RETR -> TRANSACTION  (RFC 1939 5)" in lines
    assert any(line.startswith("* TRANSACTION:") for line in lines)


def test_dot_strings_are_quoted() -> None:
    d = diagram("SMTP")
    quoted = dot_source(type(d)('A"B\\', (('x"y', "RFC 1", "m"),), (), None))
    assert '"A\\"B\\\\"' in quoted and '"x\\"y"' in quoted
