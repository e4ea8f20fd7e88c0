"""The sans-I/O protocol layer of mailmagic (DESIGN.md, "The layers"): SmtpConnection and
Pop3Connection turn typed lines into bytes and server bytes into Reply / Pop3Reply values, with one
transition table per protocol, and `codes` says what every code means. POP3's table and command
rules (`pop3_rules`) serve the lab server as well. Nothing here opens a socket: the session layer
moves the bytes."""

from __future__ import annotations

from . import codes
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .events import NEED_DATA, ConnectionClosed, NeedData, NeedDataType
from .pop3 import Continuation, Pop3Connection, Pop3Reply, Pop3State, RespCode
from .smtp import EnhancedCode, Reply, SmtpConnection, SmtpState

__all__ = [
    "NEED_DATA",
    "ConnectionClosed",
    "Continuation",
    "EnhancedCode",
    "LocalProtocolError",
    "NeedData",
    "NeedDataType",
    "Pop3Connection",
    "Pop3Reply",
    "Pop3State",
    "ProtocolError",
    "RemoteProtocolError",
    "Reply",
    "RespCode",
    "SmtpConnection",
    "SmtpState",
    "codes",
]
