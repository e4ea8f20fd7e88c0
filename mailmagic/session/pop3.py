"""A live POP3 session (RFC 1939) over session/base.py: raw lines as typed, an automatic TLS upgrade
after +OK to STLS (RFC 2595), and login helpers beside the raw commands: USER/PASS, APOP (MD5 of the
greeting's timestamp and the secret, RFC 1939 section 7) and AUTH PLAIN (RFC 5034 with RFC 4616);
every secret is masked in the transcript."""

from __future__ import annotations

import base64
import hashlib
from typing import Literal

from mailmagic.protocol.listing import Maildrop
from mailmagic.protocol.pop3 import Continuation, Pop3Connection, Pop3Reply, Pop3State
from mailmagic.session.base import Session, SessionError, Settings

LoginMethod = Literal["user", "apop", "sasl"]


class Pop3Session(Session[Pop3Connection, "Pop3Reply | Continuation"]):
    """One POP3 session; ``command("STAT")`` returns the server's Pop3Reply."""

    protocol = "POP3"
    tls_verbs = frozenset({"STLS"})

    last_user: str | None = None
    """The name of the last USER command, for a PASS whose secret is filled in later."""

    def __init__(self, name: str, settings: Settings) -> None:
        self.maildrop = Maildrop()
        super().__init__(name, settings)

    def _new_connection(self) -> Pop3Connection:
        self.maildrop.reset()  # message numbers hold within one connection only
        return Pop3Connection()

    def command(self, line: str, timeout: float | None = None) -> Pop3Reply | Continuation | None:
        """Send one raw line (see Session.command); remembers USER's name, learns the drop."""
        verb, _, rest = line.strip().partition(" ")
        if verb.upper() == "USER" and rest.strip():
            self.last_user = rest.strip()
        reply = super().command(line, timeout)
        if isinstance(reply, Pop3Reply):
            self.maildrop.learn(line, reply)
        return reply

    def apop_digest(self, secret: str) -> str:
        """MD5 of the greeting's timestamp and the secret (RFC 1939 section 7)."""
        stamp = self.conn.greeting_timestamp
        if stamp is None:
            raise SessionError("this server offers no APOP: its greeting has no <timestamp>")
        return hashlib.md5((stamp + secret).encode("utf-8")).hexdigest()

    def _is_positive(self, reply: Pop3Reply | Continuation) -> bool:
        return isinstance(reply, Pop3Reply) and reply.ok

    def _starttls_commands(self) -> list[str]:
        return ["STLS"]

    def _closes(self, event: object) -> bool:
        return self.conn.state is Pop3State.CLOSED

    def login(self, user: str, password: str, method: LoginMethod = "user") -> Pop3Reply:
        """Log in with USER/PASS, APOP or AUTH PLAIN; returns the final reply."""
        if method == "user":
            reply = self._final(self.command(f"USER {user}"))
            return self._final(self.command(f"PASS {password}")) if reply.ok else reply
        if method == "apop":
            return self._final(self.command(f"APOP {user} {self.apop_digest(password)}"))
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
        return self._final(self.command(f"AUTH PLAIN {token}"))

    @staticmethod
    def _final(reply: Pop3Reply | Continuation | None) -> Pop3Reply:
        if not isinstance(reply, Pop3Reply):
            raise SessionError(f"expected +OK or -ERR, got {reply!r}")
        return reply
