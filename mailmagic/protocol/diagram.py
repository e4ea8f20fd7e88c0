"""The state diagram of SMTP or POP3, built from the protocol's own TRANSITIONS table (never a
hand-drawn copy), as data: one edge per table entry (state, command, next state), each state and
edge with the RFC section that defines it, the session's current state (if any) and the commands
that make sense next. From that data come a Graphviz DOT source (`dot_source`) and a text
rendering (`text_lines`: ``READY -> MAIL -> MAIL  (RFC 5321 4.1.1.2)``). No I/O: rendering the
DOT to SVG is display/diagram.py's job.

The sections of the states are data here (STATE_REFS, next to the tables they describe); the
section of an edge is its command's `CommandInfo.ref` in codes.py, or PSEUDO_REFS for the table's
pseudo-commands (the greeting, the end of the message text).
"""

from __future__ import annotations

import enum
import html
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from . import pop3_rules, smtp
from .codes import POP3_COMMANDS, SMTP_COMMANDS, CommandInfo

__all__ = [
    "PSEUDO_REFS",
    "STATE_REFS",
    "Diagram",
    "Edge",
    "diagram",
    "dot_source",
    "text_lines",
]

_S = smtp.SmtpState
_P = pop3_rules.Pop3State

STATE_REFS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "SMTP": MappingProxyType(
            {
                _S.CONNECTED.name: "RFC 5321 3.1",
                _S.GREETED.name: "RFC 5321 4.1.4",
                _S.READY.name: "RFC 5321 4.1.1.1",
                _S.MAIL.name: "RFC 5321 4.1.1.2",
                _S.RCPT.name: "RFC 5321 4.1.1.3",
                _S.DATA.name: "RFC 5321 4.1.1.4",
                _S.CLOSED.name: "RFC 5321 4.1.1.10",
            }
        ),
        "POP3": MappingProxyType(
            {
                _P.CONNECTED.name: "RFC 1939 4",
                _P.AUTHORIZATION.name: "RFC 1939 4",
                _P.TRANSACTION.name: "RFC 1939 5",
                _P.UPDATE.name: "RFC 1939 6",
                _P.CLOSED.name: "RFC 1939 6",
            }
        ),
    }
)
"""The RFC section that defines each state, per protocol."""

PSEUDO_REFS: Mapping[str, str] = MappingProxyType(
    {
        smtp.CONNECT: "RFC 5321 3.1",  # the same key in both tables: "<connect>"
        smtp.END_OF_DATA: "RFC 5321 4.1.1.4",
    }
)
"""Sections of the table keys that are not typed commands (POP3's greeting: RFC 1939 4)."""

_Table = Mapping[Any, Mapping[str, Any]]  # state -> command -> state, of either protocol
_TABLES: Mapping[str, tuple[_Table, Mapping[str, CommandInfo], Mapping[Any, str]]]
_TABLES = MappingProxyType(
    {
        "SMTP": (smtp.TRANSITIONS, SMTP_COMMANDS, smtp.STATE_MEANINGS),
        "POP3": (pop3_rules.TRANSITIONS, POP3_COMMANDS, pop3_rules.STATE_MEANINGS),
    }
)
_POP3_GREETING = "RFC 1939 4"


@dataclass(frozen=True)
class Edge:
    """One table entry: `command` in state `source` leads to `target`; `ref` defines it."""

    source: str
    command: str
    target: str
    ref: str
    marked: bool = False  # a command that makes sense next, from the current state


@dataclass(frozen=True)
class Diagram:
    """A protocol's states and edges, with the current state (None: no session) lit."""

    protocol: str
    states: tuple[tuple[str, str, str], ...]  # (name, RFC section, meaning)
    edges: tuple[Edge, ...]
    current: str | None = None
    expected: tuple[str, ...] = ()


def _edge_ref(protocol: str, command: str, commands: Mapping[str, CommandInfo]) -> str:
    if protocol == "POP3" and command == pop3_rules.CONNECT:
        return _POP3_GREETING
    if command in PSEUDO_REFS:
        return PSEUDO_REFS[command]
    return commands[command.split()[0]].ref  # "BDAT LAST" is BDAT's


def diagram(
    protocol: str, current: enum.Enum | None = None, expected: tuple[str, ...] = ()
) -> Diagram:
    """The diagram of `protocol` ("SMTP" or "POP3") from its table; `current` lit and the
    `expected` verbs (a connection's ``expected()``) marked on the edges leaving it."""
    table, commands, meanings = _TABLES[protocol]
    refs = STATE_REFS[protocol]
    states = tuple((s.name, refs[s.name], meanings[s]) for s in table)
    here = current.name if current is not None else None
    edges = tuple(
        Edge(
            state.name,
            command,
            target.name,
            _edge_ref(protocol, command, commands),
            state.name == here and command.split()[0] in expected,
        )
        for state, row in table.items()
        for command, target in row.items()
    )
    return Diagram(protocol, states, edges, here, tuple(expected) if here else ())


def _quoted(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _node(name: str, ref: str, meaning: str, lit: bool) -> str:
    style = (
        'style="rounded,filled,bold", fillcolor="#ffd33d", penwidth=2' if lit else 'style="rounded"'
    )
    label = _quoted(f"{name}\n{ref}")
    return f"  {_quoted(name)} [label={label}, {style}];  // {meaning}"


def _edges(edges: tuple[Edge, ...]) -> list[str]:
    """One DOT edge per pair of states, labelled with every command that leads from one to the
    other, a line each (Graphviz stacks parallel edges and self-loops into an unreadable heap);
    the commands that make sense next, and their arrow, in blue."""
    pairs: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        pairs.setdefault((edge.source, edge.target), []).append(edge)
    return [_edge(source, target, group) for (source, target), group in pairs.items()]


def _edge(source: str, target: str, group: list[Edge]) -> str:
    rows = "".join(_row(edge) for edge in group)
    look = ', color="#0969da", penwidth=2.5' if any(e.marked for e in group) else ""
    return f"  {_quoted(source)} -> {_quoted(target)} [label=<{rows}>{look}];"


def _row(edge: Edge) -> str:
    """One command of an edge label: ``COMMAND  RFC section``, in Graphviz's HTML-like labels."""
    command, ref = html.escape(edge.command), html.escape(edge.ref)
    if edge.marked:
        command = f'<font color="#0969da"><b>{command}</b></font>'
    return f'{command} <font point-size="8">{ref}</font><br align="left"/>'


def dot_source(d: Diagram) -> str:
    """The diagram in the DOT language: one node per state, one edge per pair of states that a
    table entry joins, its label a line per entry."""
    title = f"{d.protocol} states" + (f": now {d.current}" if d.current else "")
    head = [
        f"digraph {_quoted(d.protocol)} {{",
        f"  label={_quoted(title)}; labelloc=t; rankdir=TB;",
        '  node [shape=box, fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    nodes = [_node(name, ref, meaning, name == d.current) for name, ref, meaning in d.states]
    return "\n".join([*head, *nodes, *_edges(d.edges), "}"]) + "\n"


def text_lines(d: Diagram) -> list[str]:
    """The diagram as text: a line per state, then ``state -> command -> state`` lines; the
    current state starred, the commands that make sense next marked with ``>``."""
    now = f" (now {d.current}; > marks what makes sense next)" if d.current else ""
    lines = [f"{d.protocol} states{now}:"]
    for name, ref, meaning in d.states:
        lines.append(f"{'*' if name == d.current else ' '} {name}: {meaning} ({ref})")
    lines.append("transitions:")
    for e in d.edges:
        mark = ">" if e.marked else " "
        lines.append(f"{mark} {e.source} -> {e.command} -> {e.target}  ({e.ref})")
    return lines
