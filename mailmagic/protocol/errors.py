"""Defines the two error types of the protocol layer (DESIGN.md, "Two error types").
LocalProtocolError: the user asked for something the connection refuses before a single byte is sent
(a CR or LF inside a line, a line over the RFC limit, sending after the connection closed).
RemoteProtocolError: the server's bytes break the protocol (garbage where a reply code belongs, a
reply line without end, continuation lines with different codes). Every message names the command,
the state and what to do next (DESIGN.md style rule 10)."""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """A protocol rule was broken; ``str(error)`` says which rule, where, and what to do."""


class LocalProtocolError(ProtocolError):
    """The user asked for something invalid; nothing was sent and the state did not change."""


class RemoteProtocolError(ProtocolError):
    """The server broke the protocol; the connection is CLOSED from then on: reconnect."""
