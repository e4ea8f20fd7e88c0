# What this module does: tests of mailmagic/protocol/listing.py, fed by a real (sans-I/O) POP3
# connection: STAT, LIST and UIDL read into values, single-line and multi-line, an empty maildrop
# included, and the Maildrop a session builds from them (RFC 1939 sections 5 and 7).
from __future__ import annotations

import pytest

from mailmagic.protocol.events import NEED_DATA
from mailmagic.protocol.listing import Maildrop, parse_scan, parse_stat, parse_uidl
from mailmagic.protocol.pop3 import Pop3Connection, Pop3Reply

GREETING = b"+OK POP3 server ready\r\n"
LOGIN = [("USER alice", b"+OK\r\n"), ("PASS secret", b"+OK logged in\r\n")]
LIST_TWO = b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"
LIST_EMPTY = b"+OK 0 messages (0 octets)\r\n.\r\n"
UIDL_TWO = b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n"
UIDL_EMPTY = b"+OK 0 messages (0 octets)\r\n.\r\n"


def replies(*exchanges: tuple[str, bytes], lean: bool = False) -> list[Pop3Reply]:
    """The replies a logged-in connection parses for each (command, server bytes)."""
    conn, got = Pop3Connection(lean=lean), []
    for line, data in [("", GREETING), *LOGIN, *exchanges]:
        if line:
            conn.send(line)
        conn.receive_data(data)
        event = conn.next_event()
        assert isinstance(event, Pop3Reply) and conn.next_event() is NEED_DATA
        got.append(event)
    return got[1 + len(LOGIN) :]


@pytest.mark.parametrize(
    ("command", "data", "expected"),
    [
        ("LIST", LIST_TWO, [(1, 120), (2, 200)]),
        ("LIST 2", b"+OK 2 200\r\n", [(2, 200)]),
        ("LIST", LIST_EMPTY, []),
        ("LIST 9", b"-ERR no such message\r\n", []),
    ],
)
def test_scan_listings(command: str, data: bytes, expected: list[tuple[int, int]]) -> None:
    (reply,) = replies((command, data))
    assert [(e.number, e.octets) for e in parse_scan(reply)] == expected


@pytest.mark.parametrize(
    ("command", "data", "expected"),
    [
        ("UIDL", UIDL_TWO, [(1, "whqtswO00WBw418f9t5JxYwZ"), (2, "QhdPYR:00WBw1Ph7x7")]),
        ("UIDL 1", b"+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n", [(1, "whqtswO00WBw418f9t5JxYwZ")]),
        ("UIDL", UIDL_EMPTY, []),  # the status text is no listing: no message 0 "messages"
        ("UIDL 3", b"-ERR no such message\r\n", []),
    ],
)
def test_unique_id_listings(command: str, data: bytes, expected: list[tuple[int, str]]) -> None:
    (reply,) = replies((command, data))
    assert [(e.number, e.uid) for e in parse_uidl(reply)] == expected


def learned(*exchanges: tuple[str, bytes]) -> Maildrop:
    """A Maildrop fed each command with the reply the connection parsed for it."""
    drop = Maildrop()
    for (command, _), reply in zip(exchanges, replies(*exchanges), strict=True):
        drop.learn(command, reply)
    return drop


def test_stat_reads_count_and_octets_and_nothing_else() -> None:
    stat, listing = replies(("STAT", b"+OK 2 320\r\n"), ("LIST", LIST_TWO))
    found = parse_stat(stat)
    assert found is not None and (found.count, found.octets) == (2, 320)
    assert parse_stat(listing) is None


def test_an_empty_maildrop_has_no_messages() -> None:
    drop = learned(("LIST", LIST_EMPTY), ("UIDL", UIDL_EMPTY))
    assert drop.numbers == [] and drop.uids == {} and drop.count == 0


def test_the_maildrop_learns_sizes_uids_and_deletions() -> None:
    drop = learned(("LIST", LIST_TWO), ("UIDL", UIDL_TWO), ("DELE 1", b"+OK marked\r\n"))
    assert drop.numbers == [1, 2] and drop.sizes == {1: 120, 2: 200}
    assert drop.uids[2] == "QhdPYR:00WBw1Ph7x7" and drop.deleted == {1}
    drop.learn("RSET", Pop3Reply(True, ""))
    assert drop.deleted == set()


def test_a_lean_reply_is_still_read_as_a_listing() -> None:
    # A lean connection (a bulk fetch's) keeps only the status line in raw: the body tells.
    (listing,) = replies(("LIST", LIST_TWO), lean=True)
    assert listing.raw == b"+OK 2 messages (320 octets)\r\n" and listing.multiline
    assert [(e.number, e.octets) for e in parse_scan(listing)] == [(1, 120), (2, 200)]
