"""Fault injection for lab exercises. Rules are set from Python (any thread) while the servers run,
and looked up by the SMTP and POP3 servers before each command: override the reply (e.g. greylist
the first RCPT with 451 4.7.1), delay the reply by N ms, or drop the connection after the command. A
rule may apply a limited number of times, counted across all connections, which is how greylisting
behaves: the first attempt fails, the retry succeeds."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Literal

Protocol = Literal["smtp", "pop3"]
ANY_COMMAND = "*"


@dataclass(frozen=True)
class Fault:
    """One rule. ``times`` of None means "every time"."""

    protocol: Protocol
    command: str
    reply: str | None = None
    delay_ms: int = 0
    drop: bool = False
    times: int | None = None


@dataclass(frozen=True)
class Action:
    """What a server does for one command: the combination of every matching rule."""

    reply: str | None = None
    delay_ms: int = 0
    drop: bool = False


NO_FAULT = Action()


class Faults:
    """The fault rules of one lab server. Thread-safe."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def override(
        self, protocol: Protocol, command: str, reply: str, *, times: int | None = None
    ) -> None:
        """Answer ``command`` with ``reply`` instead of running it (``times`` times, or always).

        Example: ``faults.override("smtp", "RCPT", "451 4.7.1 Greylisted, try again", times=1)``.
        """
        self._add(Fault(protocol, command, reply=reply, times=times))

    def delay(
        self, protocol: Protocol, ms: int, command: str = ANY_COMMAND, *, times: int | None = None
    ) -> None:
        """Wait ``ms`` milliseconds before answering ``command`` (or every command)."""
        if ms < 0:
            raise ValueError(f"delay must be 0 ms or more, not {ms}")
        self._add(Fault(protocol, command, delay_ms=ms, times=times))

    def drop_after(self, protocol: Protocol, command: str, *, times: int | None = None) -> None:
        """Close the connection right after answering ``command``, as a crashing server would."""
        self._add(Fault(protocol, command, drop=True, times=times))

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> tuple[Fault, ...]:
        """The rules in force, oldest first."""
        with self._lock:
            return tuple(self._rules)

    def _add(self, fault: Fault) -> None:
        if fault.times is not None and fault.times < 1:
            raise ValueError(f"times must be 1 or more (or None for always), not {fault.times}")
        with self._lock:
            self._rules.append(replace(fault, command=fault.command.upper()))

    def take(self, protocol: Protocol, command: str) -> Action:
        """The action for one ``command``; counts it against each matching rule's ``times``."""
        command = command.upper()
        action = NO_FAULT
        with self._lock:
            kept: list[Fault] = []
            for rule in self._rules:
                if rule.protocol == protocol and rule.command in (command, ANY_COMMAND):
                    action = Action(
                        reply=rule.reply if rule.reply is not None else action.reply,
                        delay_ms=action.delay_ms + rule.delay_ms,
                        drop=action.drop or rule.drop,
                    )
                    if rule.times is not None:
                        rule = replace(rule, times=rule.times - 1)
                if rule.times is None or rule.times > 0:
                    kept.append(rule)
            self._rules = kept
        return action
