# What this module does: tests mailmagic/protocol/pop3_rules.py without sockets, as tables of cases:
# reading a received command line (the 255-octet limit, empty lines, a leading space, non-ASCII and
# control characters, PASS keeping its spaces), checking a command against the state and its
# argument count, the commands an end does not offer, and that the table, the command
# descriptions and the usage strings agree. The lab server's replies built on these are tested on
# loopback in tests/lab/test_pop3.py.
from __future__ import annotations

import pytest

from mailmagic.protocol.codes import POP3_COMMANDS
from mailmagic.protocol.pop3_rules import (
    CONNECT,
    MAX_COMMAND_LINE,
    TRANSITIONS,
    CommandRefused,
    Pop3Command,
    Pop3State,
    argument_count_ok,
    check_command,
    command_of,
    read_command,
    typed_usage,
)

P = Pop3State

READ = [
    (b"stat\r\n", Pop3Command("STAT", ())),
    (b"TOP 1 10\r\n", Pop3Command("TOP", ("1", "10"))),
    (b"LIST  1\n", Pop3Command("LIST", ("1",))),  # bare LF, and several spaces between arguments
    (b"PASS my secret \r\n", Pop3Command("PASS", ("my secret ",))),  # RFC 1939 section 7
    (b"PASS\r\n", Pop3Command("PASS", ())),
    (b"XTND XMIT\r\n", Pop3Command("XTND", ("XMIT",))),  # unknown verbs are checked later
]

REFUSED_LINES = [
    (b"USER " + b"a" * MAX_COMMAND_LINE + b"\r\n", "RFC 2449 section 4"),
    (b"\r\n", "empty command line"),
    (b"   \r\n", "empty command line"),
    (b" STAT\r\n", "starts with a space"),
    ("USER jos\u00e9\r\n".encode(), "non-ASCII"),
    (b"USER a\tb\r\n", "control character 0x09"),
]

CHECKED = [
    (P.AUTHORIZATION, "USER alice", P.AUTHORIZATION),
    (P.AUTHORIZATION, "PASS s e c r e t", P.TRANSACTION),
    (P.AUTHORIZATION, "AUTH", P.TRANSACTION),
    (P.AUTHORIZATION, "QUIT", P.CLOSED),
    (P.TRANSACTION, "LIST", P.TRANSACTION),
    (P.TRANSACTION, "TOP 1 0", P.TRANSACTION),
    (P.TRANSACTION, "QUIT", P.UPDATE),
]

REFUSED_COMMANDS = [
    (P.AUTHORIZATION, "XTND", 'unknown command "XTND"'),
    (P.AUTHORIZATION, "STAT", "STAT is not valid in the AUTHORIZATION state; log in with USER"),
    (P.TRANSACTION, "USER bob", "USER is not valid in the TRANSACTION state"),
    (P.UPDATE, "NOOP", "the session is ending"),
    (P.AUTHORIZATION, "USER", "USER takes 1 argument, got 0; usage: USER name"),
    (P.AUTHORIZATION, "APOP alice", "APOP takes 2 arguments, got 1; usage: APOP name digest"),
    (P.TRANSACTION, "TOP 1", "TOP takes 2 arguments, got 1; usage: TOP msg lines"),
    (P.TRANSACTION, "LIST 1 2", "LIST takes 0 to 1 arguments, got 2; usage: LIST [msg]"),
    (P.TRANSACTION, "NOOP now", "NOOP takes no arguments, got 1; usage: NOOP"),
]


@pytest.mark.parametrize(("line", "command"), READ, ids=str)
def test_read_command(line: bytes, command: Pop3Command) -> None:
    assert read_command(line) == command


@pytest.mark.parametrize(("line", "words"), REFUSED_LINES, ids=str)
def test_read_command_refuses(line: bytes, words: str) -> None:
    with pytest.raises(CommandRefused, match=words):
        read_command(line)


def test_the_longest_command_line_is_read() -> None:
    line = b"USER " + b"a" * (MAX_COMMAND_LINE - 7) + b"\r\n"
    assert len(line) == MAX_COMMAND_LINE
    assert read_command(line).verb == "USER"


@pytest.mark.parametrize(("state", "text", "target"), CHECKED, ids=str)
def test_check_command(state: Pop3State, text: str, target: Pop3State) -> None:
    assert check_command(state, command_of(text)) is target


@pytest.mark.parametrize(("state", "text", "words"), REFUSED_COMMANDS, ids=str)
def test_check_command_refuses(state: Pop3State, text: str, words: str) -> None:
    with pytest.raises(CommandRefused, match=words.replace("[", r"\[").replace("]", r"\]")):
        check_command(state, command_of(text))


def test_a_command_the_end_does_not_offer_is_unknown() -> None:
    # The lab server offers no UTF8 (RFC 6856): to it, UTF8 is as unknown as XTND.
    assert check_command(P.AUTHORIZATION, command_of("UTF8")) is P.AUTHORIZATION
    with pytest.raises(CommandRefused, match='unknown command "UTF8"'):
        check_command(P.AUTHORIZATION, command_of("UTF8"), offered={"USER", "PASS"})


def test_every_table_verb_has_a_fixed_argument_count_and_usage() -> None:
    verbs = {verb for row in TRANSITIONS.values() for verb in row} - {CONNECT}
    for verb in verbs:
        assert POP3_COMMANDS[verb].args is not None, verb
        assert typed_usage(verb).split()[0] == verb
    assert typed_usage("XTND") == "XTND"
    assert argument_count_ok(Pop3Command("XTND", ("a", "b", "c")))
