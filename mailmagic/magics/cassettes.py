"""The cassette options of `open` (docs/cassettes.md), shared by %smtp and %pop3: ``--record PATH``
writes the session to a new cassette as it goes (session/record.py); ``--replay PATH|NAME`` starts
a replay server for a cassette (lab/replay.py) on loopback, in this process, and opens the session
on it, ``--timing`` keeping its recorded delays. A replay server lives as long as its session: it
stops when the session is closed, replaced or collected, or the extension is unloaded."""

from __future__ import annotations

import argparse
import weakref
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from mailmagic.lab.replay import ReplayServer, load, shipped
from mailmagic.protocol.cassette import CassetteError
from mailmagic.session.base import Session, SessionError, Settings
from mailmagic.session.record import Recorder


def add_options(p: argparse.ArgumentParser) -> None:
    """``--record``, ``--replay`` and ``--timing`` on `open`'s parser."""
    names = sorted({n.rsplit("-", 1)[0] for n in shipped()})
    p.add_argument(
        "--record", metavar="PATH",
        help="write the session to a new cassette file as it goes (secrets masked)",
    )  # fmt: skip
    replay = p.add_argument(
        "--replay", metavar="PATH|NAME",
        help=f"serve a cassette on loopback and open it (shipped: {', '.join(names)})",
    )  # fmt: skip
    replay.offers = names  # type: ignore[attr-defined]  # what tab completion offers (complete.py)
    p.add_argument("--timing", action="store_true", help="with --replay: keep the recorded delays")


def start_replay(protocol: str, ns: argparse.Namespace) -> ReplayServer:
    """Load the cassette of ``--replay`` and start its server; a UsageError if it cannot be."""
    magic = f"%{protocol.lower()} open --replay"
    if ns.host != "lab" or ns.port or ns.mode:
        raise UsageError(
            f"{magic} serves the cassette itself: give no host, port, --tls or --starttls"
        )
    try:
        cassette = load(ns.replay, protocol.lower())
    except CassetteError as error:
        raise UsageError(f"{magic}: {error}") from None
    server = ReplayServer(cassette, timing=ns.timing)
    try:
        server.start()
    except OSError as error:
        raise UsageError(f"{magic}: cannot listen on loopback: {error}") from None
    return server


def settings(replay: ReplayServer, ns: argparse.Namespace, timeout: float) -> Settings:
    """How a session reaches its replay server: in clear, on loopback, named after the cassette."""
    name = Path(replay.cassette.where).stem
    return Settings(replay.host, replay.port, timeout=ns.timeout or timeout, replay=name)


def keep_replay(
    replays: weakref.WeakKeyDictionary[Session[Any, Any], ReplayServer],
    session: Session[Any, Any],
    replay: ReplayServer,
) -> None:
    """Tie ``replay`` to ``session``: stopped when the session is collected at the latest."""
    replays[session] = replay
    weakref.finalize(session, replay.stop)


def start_recording(
    recorders: weakref.WeakKeyDictionary[Session[Any, Any], Recorder],
    session: Session[Any, Any],
    path: str,
    server: str,
) -> None:
    """Record ``session`` to the new file ``path``; a UsageError if it cannot be made."""
    try:
        recorders[session] = Recorder.start(session, path, server)
    except SessionError as error:
        raise UsageError(f"%{session.protocol.lower()} open --record: {error}") from None
