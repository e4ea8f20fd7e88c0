# What this module does: tests mailmagic/protocol/errors.py and events.py: the error hierarchy
# (both kinds are ProtocolErrors, neither is the other), that refusals name the command, the state
# and what to do, and that the shared events are the same objects in both protocols.
from __future__ import annotations

import pytest

from mailmagic.protocol import (
    NEED_DATA,
    ConnectionClosed,
    LocalProtocolError,
    Pop3Connection,
    ProtocolError,
    RemoteProtocolError,
    SmtpConnection,
)
from mailmagic.protocol.events import NeedData


def test_hierarchy() -> None:
    assert issubclass(LocalProtocolError, ProtocolError)
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    assert not issubclass(RemoteProtocolError, LocalProtocolError)
    assert issubclass(ProtocolError, Exception)


def test_need_data_is_a_unique_sentinel() -> None:
    assert NEED_DATA is NeedData.NEED_DATA
    assert list(NeedData) == [NEED_DATA]
    assert SmtpConnection().next_event() is NEED_DATA
    assert Pop3Connection().next_event() is NEED_DATA


def test_connection_closed_is_a_frozen_value() -> None:
    closed = ConnectionClosed("bye")
    assert closed == ConnectionClosed("bye")
    with pytest.raises(AttributeError):
        closed.reason = "other"  # type: ignore[misc]


@pytest.mark.parametrize("connection", [SmtpConnection, Pop3Connection])
def test_refusals_name_the_command_the_state_and_what_to_do(
    connection: type[SmtpConnection] | type[Pop3Connection],
) -> None:
    conn = connection()
    with pytest.raises(LocalProtocolError) as raised:
        conn.send("NOOP\r\nQUIT")
    message = str(raised.value)
    assert "NOOP" in message and "CONNECTED" in message and "Send each line" in message
    conn.receive_data(b"")
    conn.next_event()
    with pytest.raises(LocalProtocolError) as raised:
        conn.send("QUIT")
    message = str(raised.value)
    assert "QUIT" in message and "CLOSED" in message and "connect again" in message
