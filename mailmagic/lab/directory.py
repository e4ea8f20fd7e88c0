"""The lab server's runtime state: who its users and lists are right now, which users the `%maillab`
display hides, and how VRFY answers for a known user. `LabConfig` is frozen and says how the server
starts; a `Directory` is made from it at start and belongs to the running `LabServer`, which
changes it without a restart (`lab.add_user`, `lab.hide`, `lab.vrfy_disclosure = "252"`), and the
SMTP and POP3 servers read it on every command (DESIGN.md rule 9: LabConfig holds the settings,
the Directory holds what a running lab may change).

Thread-safe by copy-on-write: the kernel thread changes it under a lock by building new mappings,
and the server's event-loop thread reads whole mappings that never change once published.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from mailmagic.lab.config import LabConfig, check_name, local_part

VrfyDisclosure = Literal["250", "252"]
VRFY_CHOICES: tuple[VrfyDisclosure, ...] = ("250", "252")


class LabError(ValueError, KeyError):
    """A lab control or check was asked about something the lab does not have (an unknown user,
    a name already taken); the message says what is known and what to do."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class Directory:
    """Users, lists, hidden users and the VRFY answer of one running lab server."""

    def __init__(self, config: LabConfig) -> None:
        self._lock = threading.Lock()
        self._domains = config.local_domains
        self._users: Mapping[str, str] = MappingProxyType(dict(config.users))
        self._aliases: Mapping[str, tuple[str, ...]] = MappingProxyType(
            {name: self._members(members) for name, members in config.aliases.items()}
        )
        self._hidden: frozenset[str] = frozenset()
        self._vrfy: VrfyDisclosure = "250" if config.vrfy_discloses else "252"

    def _members(self, members: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(local_part(m, self._domains)) for m in members)

    @property
    def users(self) -> Mapping[str, str]:
        """User name -> password, as the server sees it now (a read-only snapshot)."""
        return self._users

    @property
    def aliases(self) -> Mapping[str, tuple[str, ...]]:
        """List name -> member user names (bare, lower case), a read-only snapshot."""
        return self._aliases

    @property
    def hidden(self) -> frozenset[str]:
        """Users the ``%maillab`` display leaves out (with their passwords)."""
        return self._hidden

    @property
    def vrfy(self) -> VrfyDisclosure:
        """``"250"``: VRFY of a known user says so (RFC 5321 section 3.5.3); ``"252"``: VRFY
        discloses nothing, for any name ("cannot VRFY user, but will accept message")."""
        return self._vrfy

    @vrfy.setter
    def vrfy(self, value: str) -> None:
        if value not in VRFY_CHOICES:
            raise LabError(
                f"vrfy_disclosure {value!r} is not one of {', '.join(VRFY_CHOICES)}: "
                "'250' confirms known users, '252' discloses nothing"
            )
        self._vrfy = "250" if value == "250" else "252"

    def resolve(self, user: str) -> str:
        """The bare lower-case name of a user or list (``bob`` or ``bob@lab.test``); LabError,
        listing the known users, when it is neither."""
        name = local_part(user, self._domains)
        if name is not None and (name in self._users or name in self._aliases):
            return name
        raise LabError(
            f"{user!r} is not a user or list of this lab server; its users are "
            f"{', '.join(self._users) or 'none'} and its lists {', '.join(self._aliases) or 'none'}"
        )

    def add_user(self, name: str, password: str) -> str:
        """Add a user (a new login and address); LabError if the name is taken or not allowed."""
        name = name.strip().lower()
        try:
            check_name("user", name)
        except ValueError as error:
            raise LabError(str(error)) from None
        if not password:
            raise LabError(f"user {name!r} needs a password that is not empty")
        with self._lock:
            if name in self._users or name in self._aliases:
                raise LabError(
                    f"{name!r} is already a user or list: remove it first, or pick another"
                )
            self._users = MappingProxyType({**self._users, name: password})
        return name

    def remove_user(self, user: str) -> str:
        """Remove a user: its login and address, and its place in every list (a list left with
        no members goes too). Returns its bare name."""
        with self._lock:
            name = self.resolve(user)
            if name not in self._users:
                raise LabError(f"{user!r} is a list, not a user: remove_user takes a user name")
            self._users = MappingProxyType({k: v for k, v in self._users.items() if k != name})
            aliases = {a: tuple(m for m in ms if m != name) for a, ms in self._aliases.items()}
            self._aliases = MappingProxyType({a: ms for a, ms in aliases.items() if ms})
            self._hidden = self._hidden - {name}
        return name

    def hide(self, *users: str) -> None:
        """Leave these users (and their passwords) out of the ``%maillab`` display."""
        names = {self.resolve(user) for user in users}
        with self._lock:
            self._hidden = self._hidden | names

    def show(self, *users: str) -> None:
        """Undo :meth:`hide` for these users (all hidden users when none is named)."""
        names = {self.resolve(user) for user in users} if users else set(self._hidden)
        with self._lock:
            self._hidden = self._hidden - names

    def mailboxes(self, user: str) -> tuple[str, ...]:
        """The Maildirs a user's or list's mail lands in (a list: its members)."""
        name = self.resolve(user)
        return self._aliases.get(name, (name,))
