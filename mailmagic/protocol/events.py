"""Holds the events both protocols share, so `smtp.NEED_DATA is pop3.NEED_DATA`: NEED_DATA, the
answer of `next_event()` when the bytes received so far do not complete a reply (as in h11), and
ConnectionClosed, the event for the server's end of the stream (`receive_data(b"")`). NEED_DATA is
the only member of a one-member enum so that mypy narrows `event is NEED_DATA` exactly."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["NEED_DATA", "ConnectionClosed", "NeedData", "NeedDataType"]


class NeedData(enum.Enum):
    """The type of NEED_DATA: feed more bytes with `receive_data`, then ask `next_event` again."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA
NeedDataType = Literal[NeedData.NEED_DATA]


@dataclass(frozen=True)
class ConnectionClosed:
    """The server closed the connection; `reason` says after what, and what was left unanswered."""

    reason: str
