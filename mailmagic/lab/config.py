"""The one home of the lab server's settings (DESIGN.md rule 9), a frozen dataclass with the
defaults a lab exercise expects: loopback only, the `lab.test` domain, two users, one list, limits
with the reply codes of RFC 5321 section 4.5.3.1. Settings are checked when the dataclass is made,
so a bad one fails at start with a ValueError that says what to do; user and alias names in
particular, which also name Maildir folders and must never be paths."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_USERS: dict[str, str] = {"alice": "alice-password", "bob": "bob-password"}
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {"team": ("alice", "bob")}
MAX_NAME = 64
"""Octets in a user or alias name: a local part has at most 64 (RFC 5321 section 4.5.3.1.1)."""
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+)*")


@dataclass(frozen=True)
class LabConfig:
    """Settings of the embedded lab mail server.

    Ports of 0 mean "pick a free one"; ``None`` turns that listener off. ``maildir`` of ``None``
    means a fresh temporary directory, removed when the server stops.
    """

    host: str = "127.0.0.1"
    smtp_port: int | None = 0
    submission_port: int | None = 0
    smtps_port: int | None = 0
    pop3_port: int | None = 0
    pop3s_port: int | None = 0
    domain: str = "lab.test"
    hostname: str = "mail.lab.test"
    users: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_USERS))
    aliases: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    extra_domains: tuple[str, ...] = ()
    maildir: Path | None = None
    allow_non_loopback: bool = False
    auth_require_tls: bool = False
    vrfy_discloses: bool = True
    max_message_size: int = 10 * 1024 * 1024
    max_recipients: int = 100
    pop3_idle_timeout: float = 600.0
    smtp_idle_timeout: float = 300.0
    log_sessions: int = 200
    """Sessions `lab.log` keeps (the latest; 0 keeps none), so a load test cannot fill memory."""

    def __post_init__(self) -> None:
        if not self.allow_non_loopback and not is_loopback(self.host):
            raise ValueError(
                f"refusing to bind {self.host!r}: the lab server listens on loopback only "
                "(127.0.0.1); pass allow_non_loopback=True to expose it on purpose"
            )
        for name in self.users:
            check_name("user", name)
        self._check_aliases()

    def _check_aliases(self) -> None:
        for name in self.aliases:
            check_name("alias", name)
            if name in self.users:
                raise ValueError(f"{name!r} is both a user and an alias: rename one of them")
        for name, members in self.aliases.items():
            for member in members:
                if local_part(member, self.local_domains) not in self.users:
                    raise ValueError(f"alias {name!r} names {member!r}, which is not a lab user")

    @property
    def local_domains(self) -> tuple[str, ...]:
        """Domains whose mail the lab server delivers itself (case-insensitive)."""
        return (self.domain.lower(), *(d.lower() for d in self.extra_domains))

    def address(self, user: str) -> str:
        """The full address of a lab user or alias, e.g. ``alice@lab.test``."""
        return f"{user}@{self.domain}"


def check_name(kind: str, name: str) -> None:
    """Raise ValueError unless ``name`` may name a user or alias (``kind``) of the lab server.

    A name is the local part of its address and the name of its Maildir folder, so it is kept to
    what is safe as both: no "/", no "..", no leading dot, lower case (addresses are matched
    lower-cased).
    """
    if len(name) <= MAX_NAME and _NAME.fullmatch(name):
        return
    raise ValueError(
        f"{kind} name {name!r} is not allowed: use 1 to {MAX_NAME} lower-case letters, digits, "
        "'_' and '-', starting with a letter or digit, with single dots between parts (it also "
        "names a folder in the maildir); choose another name"
    )


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the name ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_part(address: str, local_domains: tuple[str, ...]) -> str | None:
    """The lower-cased local part of ``address`` if it belongs to a local domain, else None.

    A bare name (no ``@``) is taken as local, as VRFY and EXPN allow (RFC 5321 section 3.5.3).
    """
    address = address.strip().strip("<>")
    name, at, domain = address.rpartition("@")
    if not at:
        return address.lower()
    if domain.lower() in local_domains:
        return name.lower()
    return None
