# What this module does: tests mailmagic/protocol/machine.py, the helpers both protocols share:
# reading a typed line (verb, arguments, the CR/LF refusal), reading a TRANSITIONS table (verbs,
# the target of an out-of-order command, shortest routes), SASL response advice, and that no
# module of the protocol layer imports anything that does I/O (DESIGN.md style rule 1).
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mailmagic.protocol import pop3, smtp
from mailmagic.protocol.errors import LocalProtocolError
from mailmagic.protocol.machine import (
    accepted_anyway,
    arguments_of,
    encode_line,
    route,
    sasl_warning,
    verb_of,
    verbs_of,
)

S, P = smtp.SmtpState, pop3.Pop3State


@pytest.mark.parametrize(
    ("line", "verb", "args"),
    [
        ("mail FROM:<a@b>", "MAIL", ["FROM:<a@b>"]),
        ("  noop  ", "NOOP", []),
        ("", "", []),
        ("TOP 1  10", "TOP", ["1", "10"]),
    ],
)
def test_verb_and_arguments(line: str, verb: str, args: list[str]) -> None:
    assert verb_of(line) == verb
    assert arguments_of(line) == args


def test_encode_line() -> None:
    assert encode_line("caf\u00e9", lambda: "x") == "caf\u00e9".encode() + b"\r\n"
    with pytest.raises(LocalProtocolError, match=r"NOOP in state READY: .* a CR at position 4"):
        encode_line("NOOP\rQUIT", lambda: "NOOP in state READY")
    with pytest.raises(LocalProtocolError, match="a LF at position 4"):
        encode_line("NOOP\nQUIT", lambda: "NOOP in state READY")


def test_verbs_of_skips_pseudo_commands_and_merges_bdat() -> None:
    assert verbs_of(smtp.TRANSITIONS[S.CONNECTED]) == ("QUIT",)
    assert verbs_of(smtp.TRANSITIONS[S.RCPT]).count("BDAT") == 1


@pytest.mark.parametrize(
    ("table", "verb", "target"),
    [
        (smtp.TRANSITIONS, "MAIL", S.MAIL),
        (smtp.TRANSITIONS, "DATA", S.DATA),
        (smtp.TRANSITIONS, "RSET", None),  # GREETED or READY: ambiguous
        (smtp.TRANSITIONS, "XYZZY", None),
        (pop3.TRANSITIONS, "STAT", P.TRANSACTION),
        (pop3.TRANSITIONS, "CAPA", None),
    ],
)
def test_accepted_anyway(table: object, verb: str, target: object) -> None:
    assert accepted_anyway(table, verb) is target  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "verb", "steps"),
    [
        (S.GREETED, "DATA", ["EHLO", "MAIL", "RCPT"]),
        (S.READY, "MAIL", []),
        (S.MAIL, "MAIL", ["RSET"]),
        (S.CLOSED, "MAIL", None),
        (S.CONNECTED, "EHLO", None),
    ],
)
def test_route(start: smtp.SmtpState, verb: str, steps: list[str] | None) -> None:
    assert route(smtp.TRANSITIONS, start, verb) == steps


def test_pop3_route() -> None:
    assert route(pop3.TRANSITIONS, P.AUTHORIZATION, "RETR") == ["PASS"]
    assert route(pop3.TRANSITIONS, P.TRANSACTION, "USER") is None


@pytest.mark.parametrize(("line", "warned"), [("*", False), ("", False), ("AGFi", False)])
def test_sasl_warning_accepts_base64_and_star(line: str, warned: bool) -> None:
    assert (sasl_warning(line, "RFC x", "501") is not None) == warned
    assert "RFC x" in (sasl_warning("no!", "RFC x", "501") or "")


FORBIDDEN = {"socket", "ssl", "asyncio", "threading", "IPython", "selectors", "subprocess"}


@pytest.mark.parametrize(
    "module", sorted(Path(smtp.__file__).parent.glob("*.py")), ids=lambda p: p.name
)
def test_no_io_imports(module: Path) -> None:
    tree = ast.parse(module.read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        assert not {name.split(".")[0] for name in names} & FORBIDDEN, (module, names)
