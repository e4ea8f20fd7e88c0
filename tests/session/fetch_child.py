# What this module does: a fetch run in a child process, for the tests that kill one at chosen
# moments (tests/session/test_fetch.py):
#   python -m tests.session.fetch_child PORT TARGET FORMAT [--pause-at K | --die-at N
#       [--within FUNCTION] | --count]
# logs in to the lab server's POP3 port as alice (waiting while the maildrop is still locked by
# a session killed before) and fetches everything into TARGET, printing "done K" after each
# message. --pause-at K then waits for the test, which kills it with SIGKILL; --die-at N kills
# itself with SIGKILL at the N-th point (tests/protocol/interrupts.py) of the archive code,
# mailbox's and files.py's included, so the kill lands inside a write or a commit (--within:
# counting only the points while FUNCTION runs, such as _commit); --count prints how many such
# points the whole run had.
from __future__ import annotations

import argparse
import mailbox
import os
import signal
import sys
import time
from pathlib import Path
from typing import NoReturn

from mailmagic.session.base import Settings
from mailmagic.session.fetch import fetch
from mailmagic.session.pop3 import Pop3Session
from tests.protocol.interrupts import PACKAGE, Interrupter

ARCHIVE_CODE = (
    str(PACKAGE / "session" / "archive.py"),
    str(PACKAGE / "files.py"),
    str(Path(mailbox.__file__).resolve()),
)


def logged_in(port: int, deadline: float = 60.0) -> Pop3Session:
    """A session logged in as alice, once a session killed before has let go of the maildrop."""
    session = Pop3Session("child", Settings("127.0.0.1", port, timeout=30))
    session.connect()
    give_up = time.monotonic() + deadline
    while not (reply := session.login("alice", "alice-password")).ok:
        assert "IN-USE" in reply.text and time.monotonic() < give_up, reply.text
        time.sleep(0.02)
        session.reconnect()
    return session


def die() -> NoReturn:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("still alive after SIGKILL")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("target")
    parser.add_argument("format", choices=["maildir", "mbox"])
    parser.add_argument("--pause-at", type=int, default=0)
    parser.add_argument("--die-at", type=int, default=0)
    parser.add_argument("--within", help="count only the points while this function runs")
    parser.add_argument("--count", action="store_true")
    args = parser.parse_args()
    session = logged_in(args.port)

    def progress(done: int, total: int) -> None:
        print("done", done, flush=True)
        if done == args.pause_at:
            sys.stdin.read()  # until the test kills this process

    points = Interrupter(args.die_at or sys.maxsize, ARCHIVE_CODE, error=die, within=args.within)
    with points:
        fetch(session, args.target, fmt=args.format, progress=progress)
    print("finished", points.count if args.count else "", flush=True)


if __name__ == "__main__":
    main()
