"""Fault injection for lab exercises. Rules are set from Python (any thread) while the servers run,
and looked up by the SMTP and POP3 servers before each command: override the reply (e.g. greylist
the first RCPT with 451 4.7.1), delay the reply by N ms, or drop the connection after the command. A
rule may apply a limited number of times, counted across all connections, which is how greylisting
behaves: the first attempt fails, the retry succeeds.

Apart from the rules, a round-trip latency (`latency(ms)`) puts a delay line on the wire of every
connection opened while it is set (latency.py): unlike `delay`, which makes the server think before
each reply, it lets pipelined commands travel together."""

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
        self._latency_ms = 0.0

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

    def latency(self, ms: float) -> None:
        """Make the wire take ``ms`` milliseconds for a round trip (0 turns it off): octets take
        ms/2 to reach the server and its replies ms/2 to come back, many chunks in flight at once.
        It applies to connections opened from now on, and on those to every later change."""
        if ms < 0:
            raise ValueError(f"latency must be 0 ms or more (a round trip), not {ms}")
        with self._lock:
            self._latency_ms = float(ms)

    @property
    def latency_ms(self) -> float:
        """The round trip in force, in milliseconds (0: none)."""
        return self._latency_ms

    def clear(self) -> None:
        """Remove every rule, and the latency."""
        with self._lock:
            self._rules.clear()
            self._latency_ms = 0.0

    def describe(self) -> list[str]:
        """One line per fault in force, the latency first: what ``%maillab`` lists."""
        lines = [f"latency: {self._latency_ms:g} ms round trip"] if self._latency_ms else []
        return lines + [_described(rule) for rule in self.rules]

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


def _described(rule: Fault) -> str:
    """``smtp RCPT: reply "451 4.7.1 ..." (1 more time)``."""
    what = [f"reply {rule.reply!r}"] if rule.reply is not None else []
    what += [f"delay {rule.delay_ms} ms"] if rule.delay_ms else []
    what += ["drop after"] if rule.drop else []
    times = "always" if rule.times is None else f"{rule.times} more time(s)"
    return f"{rule.protocol} {rule.command}: {', '.join(what)} ({times})"
