"""`%pop3` / `%%pop3`: a POP3 session from notebook cells, with the helper words login (USER/PASS,
APOP or AUTH), mailbox (LIST and UIDL, then the mailbox table) and fetch (the maildrop to disk,
pipelined and resumable, with a progress bar that says when it finished or stopped). `PASS` alone,
or `APOP user` alone, fills in the secret, which is never typed."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar, TypeVar, cast

from IPython.core import magic as _magic
from IPython.core.error import UsageError
from IPython.core.magic import magics_class
from traitlets import Int

from mailmagic.display.fetch import FetchView, ProgressBar
from mailmagic.display.mailbox import MailboxView
from mailmagic.display.reply import ReplyView
from mailmagic.display.trust import unverified
from mailmagic.magics.base import COMMON, ProtocolMagics
from mailmagic.magics.options import number_range
from mailmagic.magics.pipeline import declare_pipeline
from mailmagic.magics.registry import Commands
from mailmagic.protocol.pop3_rules import Pop3State
from mailmagic.session.base import Session, Settings
from mailmagic.session.fetch import fetch
from mailmagic.session.pop3 import Pop3Session
from mailmagic.session.registry import Registry

_F = TypeVar("_F", bound=Callable[..., Any])
line_cell_magic = cast(Callable[[_F], _F], _magic.line_cell_magic)  # IPython's is untyped

POP3 = Commands("pop3", COMMON)
"""The control words of %pop3: the session words, pipeline, then login, mailbox and fetch."""
declare_pipeline(POP3)


def _login_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("user", metavar="USER", help="the user name to log in as")
    method = p.add_mutually_exclusive_group()
    method.add_argument(
        "--apop", action="store_const", const="apop", dest="method",
        help="APOP: a digest of the greeting's timestamp, no password on the wire",
    )  # fmt: skip
    method.add_argument(
        "--sasl", action="store_const", const="sasl", dest="method",
        help="AUTH PLAIN (RFC 5034) instead of USER/PASS",
    )  # fmt: skip
    p.add_argument(
        "--password-env", metavar="VAR",
        help="read the password from this environment variable (else the lab's, or a prompt)",
    )  # fmt: skip


def _mailbox_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME", help="the session (the current one)")


def _fetch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", required=True, metavar="PATH", help="the folder or mbox file to fill")
    p.add_argument(
        "--format", choices=["maildir", "mbox"], default="maildir", metavar="maildir|mbox",
        help="how to store the messages (default maildir)",
    )  # fmt: skip
    p.add_argument(
        "--numbers", type=number_range, metavar="1-100", help="only these message numbers"
    )
    p.add_argument(
        "--uid", action="append", dest="uids", metavar="U", help="only this UIDL (repeatable)"
    )
    p.add_argument(
        "--window", type=int, default=32, metavar="N", help="RETRs in flight at once (default 32)"
    )


@magics_class
class POP3Magic(ProtocolMagics):
    """``%pop3`` / ``%%pop3``: a POP3 session from notebook cells."""

    protocol = "POP3"
    words: ClassVar[Commands] = POP3
    ports: ClassVar[dict[str, int]] = {"plain": 110, "implicit": 995}
    lab_listeners: ClassVar[dict[str, str]] = {"plain": "pop3", "implicit": "pop3s"}

    displaylimit = Int(50, help="Rows per page of a mailbox table.").tag(config=True)

    @property
    def registry(self) -> Registry[Pop3Session]:
        return self.context.pop3

    def _new_session(self, name: str, settings: Settings) -> Pop3Session:
        return Pop3Session(name, settings)

    @line_cell_magic
    def pop3(self, line: str, cell: str | None = None) -> Any:
        """Replaced below by the help generated from the registry (``POP3Magic.usage()``)."""
        return self.run(line, cell)

    @POP3.word(
        "login",
        "USER/PASS, APOP or AUTH; the password is never typed (the lab's user, "
        "--password-env, a prompt)",
        "%pop3 login alice --apop",
        _login_arguments,
    )
    def _login(self, ns: argparse.Namespace, cell: str | None) -> ReplyView:
        session = self._session()
        secret = self._password(session, ns.user, ns.password_env)
        reply = session.login(ns.user, secret, ns.method or "user")
        return self._view(reply, f"login {ns.user} ({ns.method or 'USER/PASS'})", session)

    @POP3.word(
        "mailbox", "LIST and UIDL, then the mailbox table", "%pop3 mailbox", _mailbox_arguments
    )
    def _mailbox(self, ns: argparse.Namespace, cell: str | None) -> MailboxView:
        """LIST and UIDL, then the mailbox table (a logged-in session is needed)."""
        session = self._session(ns.name)
        for line in ("LIST", "UIDL"):
            session.command(line)
        return MailboxView(session, self.displaylimit, reconnect=self._reconnector(session))

    @POP3.word(
        "fetch",
        "fetch the maildrop to disk, pipelined and resumable",
        "%pop3 fetch --to archive --numbers 1-100",
        _fetch_arguments,
    )
    def _fetch(self, ns: argparse.Namespace, cell: str | None) -> FetchView:
        """Fetch the maildrop (or part of it) to disk, pipelined, resumable."""
        session = self._session()
        with ProgressBar("fetching") as bar:
            result = fetch(
                session,
                ns.to,
                fmt=ns.format,
                numbers=ns.numbers,
                uids=ns.uids,
                window=ns.window,
                progress=bar.update,
            )
            bar.finish(f"fetched {len(result) - result.skipped}")
        return FetchView(result, ns.to, insecure=unverified(session))

    def _view(
        self, reply: Any, command: str, session: Session[Any, Any], warning: str | None = None
    ) -> ReplyView:
        view = super()._view(reply, command, session, warning)
        return replace(view, displaylimit=self.displaylimit, reconnect=self._reconnector(session))

    def _replacing(self, old: Session[Any, Any]) -> str:
        """A POP3 session replaced in TRANSACTION loses its DELEs: the server removes messages
        only in the UPDATE state, after QUIT (RFC 1939 section 6)."""
        said = super()._replacing(old)
        deleted = sorted(old.maildrop.deleted) if isinstance(old, Pop3Session) else []
        if not deleted or old.conn.state is not Pop3State.TRANSACTION:
            return said
        numbers = ", ".join(map(str, deleted))
        return (
            f"{said}. The messages marked deleted ({numbers}) stay on the server: deletions "
            "take effect only at QUIT (RFC 1939 section 6)"
        )

    def _complete_secret(self, session: Session[Any, Any], line: str) -> str:
        """``PASS`` alone, or ``APOP user`` alone: fill in the secret (never typed)."""
        words = line.split()
        if not words or not isinstance(session, Pop3Session):
            return line
        verb = words[0].upper()
        if verb == "PASS" and len(words) == 1:
            user = session.last_user
            if user is None:
                raise UsageError("PASS alone needs a USER first: %pop3 USER name")
            return f"{words[0]} {self._password(session, user, None)}"
        if verb == "APOP" and len(words) == 2:
            secret = self._password(session, words[1], None)
            return f"{words[0]} {words[1]} {session.apop_digest(secret)}"
        return line


POP3Magic.pop3.__doc__ = POP3Magic.usage() + "\nPASS alone (or APOP user) fills in the secret."
