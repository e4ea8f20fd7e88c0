"""`%maillab` starts, stops and shows the embedded lab server, the default target of `%smtp open` /
`%pop3 open`. `start` says when it reuses a running one, and `start --fresh` replaces it with one on
an empty store; `%maillab` alone shows it. Its words are declared once in LAB (registry.py), with
the options of `python -m mailmagic.lab`."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from IPython.core import magic as _magic
from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class

from mailmagic.display.lab import LabView
from mailmagic.lab import LabConfig, LabServer
from mailmagic.lab.__main__ import add_options, config_from, user_argument
from mailmagic.lab.directory import VRFY_CHOICES, LabError
from mailmagic.lab.log import LabLog
from mailmagic.magics.base import HELP_WORDS, init_magics
from mailmagic.magics.context import MailContext
from mailmagic.magics.options import strip_comment
from mailmagic.magics.registry import Commands, Help

_F = TypeVar("_F", bound=Callable[..., Any])
line_magic = cast(Callable[[_F], _F], _magic.line_magic)  # IPython's is untyped

LAB = Commands("maillab")
"""The words of %maillab: start, stop, status (also what `%maillab` alone does), log, and the
controls adduser, deluser, empty, hide and vrfy (LabControls, lab/controls.py)."""

REUSED_NOTE = (
    "already running: reused as it is, with the {n} message(s) it holds; "
    "%maillab start --fresh starts a new one with an empty store"
)


def _start_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fresh", action="store_true", help="stop a running lab server; start on an empty store"
    )
    add_options(p)


def _log_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clear", action="store_true", help="forget the sessions recorded so far")


def _adduser_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("user", type=user_argument, metavar="NAME:PASSWORD", help="the new user")


def _user_name(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="USER", help="a user (bob or bob@lab.test)")


def _deluser_arguments(p: argparse.ArgumentParser) -> None:
    _user_name(p)
    p.add_argument("--keep-mail", action="store_true", help="keep its Maildir on disk")


def _hide_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="USER", help="users to hide (or show)")
    p.add_argument("--show", action="store_true", help="show them again (all, if none named)")


def _vrfy_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "answer",
        choices=VRFY_CHOICES,
        metavar="250|252",
        help="250 or 252 (RFC 5321 section 3.5.3)",
    )


@magics_class
class LabMagic(Magics):
    """``%maillab``: start, stop and show the embedded lab mail server."""

    words: ClassVar[Commands] = LAB

    def __init__(self, shell: Any, context: MailContext) -> None:
        init_magics(self, shell)
        self.context = context

    @classmethod
    def usage(cls) -> str:
        """``%maillab --help``: every word, from the registry, and every option of start."""
        title = "%maillab words (%maillab WORD --help lists a word's options; alone: status):"
        start = cls.words["start"].parser(cls.words.magic).format_help()
        options = start.split("options:", 1)[-1].split("example:", 1)[0].rstrip()
        checks = "In Python, lab = %maillab: help(type(lab)) lists lab.mailbox, lab.log and more."
        return f"{cls.words.listing(title)}\n\n%maillab start options:{options}\n\n{checks}"

    @line_magic
    def maillab(self, line: str) -> LabView | LabLog | None:
        """Replaced below by the help generated from the registry (``LabMagic.usage()``)."""
        line = strip_comment(line, "\"'")
        if line.strip() in HELP_WORDS:
            print(self.usage())
            return None
        word, _, args = line.strip().partition(" ")
        if (word or "status") not in self.words:
            raise UsageError(f"%maillab {word}: use {', '.join(self.words.names())}")
        try:
            ns = self.words.parse(word or "status", shlex.split(args))
            result: LabView | LabLog = self.words[word or "status"].handler(self, ns, None)
        except Help:
            return None
        except LabError as error:
            raise UsageError(f"%maillab {word}: {error}") from None
        return result

    @LAB.word(
        "start",
        "start the lab server (a running one is reused, and says so)",
        "%maillab start --fresh --user carol:secret",
        _start_arguments,
    )
    def _start(self, ns: argparse.Namespace, cell: str | None) -> LabView:
        """Start the lab server; one already running is reused (said so) or, with ``--fresh``,
        stopped and replaced by one with an empty store."""
        running = self.context.lab if self.context.lab and self.context.lab.running else None
        if running is not None and not ns.fresh:
            return LabView(running, note=REUSED_NOTE.format(n=_message_count(running)))
        if ns.fresh:
            _check_empty(ns.maildir)
        if running is not None:
            running.stop()
        try:
            config: LabConfig = config_from(ns)
            self.context.lab = LabServer(config)
            self.context.lab.start()
        except (ValueError, OSError) as error:
            raise UsageError(f"the lab server did not start: {error}") from None
        note = "the lab server that was running is stopped; this one starts empty"
        return LabView(self.context.lab, note=note if running is not None else "")

    @LAB.word(
        "stop", "stop the lab server (its sessions can reconnect after start)", "%maillab stop"
    )
    def _stop(self, ns: argparse.Namespace, cell: str | None) -> LabView:
        if self.context.lab is None:
            raise UsageError("the lab server is not started")
        self.context.lab.stop()
        return LabView(self.context.lab)

    @LAB.word(
        "status", "where it listens, its users and their messages; its value is the server",
        "lab = %maillab",
    )  # fmt: skip
    def _status(self, ns: argparse.Namespace, cell: str | None) -> LabView:
        if self.context.lab is None:
            raise UsageError("the lab server is not started: %maillab start")
        return LabView(self.context.lab)

    def _lab(self) -> LabServer:
        return self.context.running_lab("try again")

    @LAB.word(
        "log", "what the server saw: every session, command (secrets masked) and reply",
        "%maillab log", _log_arguments,
    )  # fmt: skip
    def _log(self, ns: argparse.Namespace, cell: str | None) -> LabLog:
        log = self._lab().log
        if ns.clear:
            log.clear()
        return log

    @LAB.word(
        "adduser", "add a user now (no restart: ports and sessions stay)",
        "%maillab adduser carol:secret", _adduser_arguments,
    )  # fmt: skip
    def _adduser(self, ns: argparse.Namespace, cell: str | None) -> LabView:
        name, password = ns.user
        lab = self._lab()
        return LabView(lab, note=f"added {lab.add_user(name, password)}")

    @LAB.word(
        "deluser", "remove a user now, and its mail unless --keep-mail",
        "%maillab deluser carol", _deluser_arguments,
    )  # fmt: skip
    def _deluser(self, ns: argparse.Namespace, cell: str | None) -> LabView:
        lab = self._lab()
        lab.remove_user(ns.name, keep_mail=ns.keep_mail)
        return LabView(lab, note=f"removed {ns.name}" + (", mail kept" if ns.keep_mail else ""))

    @LAB.word("empty", "delete every message of a user or list", "%maillab empty bob", _user_name)
    def _empty(self, ns: argparse.Namespace, cell: str | None) -> LabView:
        lab = self._lab()
        return LabView(lab, note=f"emptied {ns.name}: {lab.empty(ns.name)} message(s) deleted")

    @LAB.word(
        "hide", "leave users out of this display (--show: show them again)",
        "%maillab hide carol", _hide_arguments,
    )  # fmt: skip
    def _hide(self, ns: argparse.Namespace, cell: str | None) -> LabView:
        lab = self._lab()
        if ns.show:
            lab.show(*ns.names)
        else:
            lab.hide(*ns.names)
        return LabView(lab)

    @LAB.word(
        "vrfy", "how VRFY answers for a known user: 250 (it exists) or 252 (cannot VRFY)",
        "%maillab vrfy 252", _vrfy_arguments,
    )  # fmt: skip
    def _vrfy(self, ns: argparse.Namespace, cell: str | None) -> LabView:
        lab = self._lab()
        lab.vrfy_disclosure = ns.answer
        return LabView(lab, note=f"VRFY of a known user now answers {ns.answer}")


LabMagic.maillab.__doc__ = LabMagic.usage()


def _message_count(lab: LabServer) -> int:
    return sum(len(lab.store.messages(user)) for user in lab.directory.users)


def _check_empty(maildir: Path | None) -> None:
    """``--fresh`` promises an empty store: refuse a ``--maildir`` that holds anything."""
    if maildir is not None and Path(maildir).is_dir() and any(Path(maildir).iterdir()):
        raise UsageError(
            f"%maillab start --fresh: {maildir} is not empty; give an empty folder "
            "or leave out --maildir (a new temporary one is made)"
        )
