"""The named sessions of one protocol, as jupysql's connection manager keeps its connections: open
under a name (reusing a name closes the old session), list, switch the current one, close one or all
(at kernel shutdown). Asked for the current session when none is open, it says so in the words the
magics show (NO_OPEN_SESSION)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from mailmagic.session.base import Session, SessionError

S = TypeVar("S", bound=Session)  # type: ignore[type-arg]
# When no session is current: none was opened yet, or every one was closed. The one wording, which
# the magics show as it is (closed sessions leave the registry, so "yet" would not be true).
NO_OPEN_SESSION = "no open {0} session: %{1} open first"


class NoSession(SessionError):
    """No session of that name, or none open at all."""


class Registry(Generic[S]):
    """Named sessions of one protocol and which one is current."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self._sessions: dict[str, S] = {}
        self.current_name: str | None = None

    def add(self, session: S) -> S:
        """Keep ``session`` under its name and make it current (closing any it replaces)."""
        old = self._sessions.pop(session.name, None)
        if old is not None and old is not session:
            old.close(note="replaced by a new session of the same name")
        self._sessions[session.name] = session
        self.current_name = session.name
        return session

    def get(self, name: str | None = None) -> S:
        """The named session, or the current one."""
        key = name or self.current_name
        if key is None:
            raise NoSession(NO_OPEN_SESSION.format(self.protocol, self.protocol.lower()))
        if key not in self._sessions:
            known = ", ".join(self._sessions) or "none"
            raise NoSession(f"no {self.protocol} session named {key!r} (open ones: {known})")
        return self._sessions[key]

    def use(self, name: str) -> S:
        """Make ``name`` the current session."""
        session = self.get(name)
        self.current_name = name
        return session

    def close(self, name: str | None = None) -> S:
        """Close one session (the current one by default) and forget it."""
        session = self.get(name)
        session.close()
        del self._sessions[session.name]
        if self.current_name == session.name:
            self.current_name = next(reversed(self._sessions), None)
        return session

    def close_all(self) -> None:
        """Close every session (kernel shutdown)."""
        for session in list(self._sessions.values()):
            session.close(note="closed at shutdown")
        self._sessions.clear()
        self.current_name = None

    def __iter__(self) -> Iterator[S]:
        return iter(self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)
