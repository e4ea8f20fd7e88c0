"""The lab server's command line, `python -m mailmagic.lab`, for scripts, other tools and CI. It
runs until Ctrl-C or SIGTERM and then shuts down cleanly. With --json it prints exactly one JSON
line once every listener answers (host, ports, CA file, maildir), so a script can start it in the
background and read where it listens. With --replay PATH it serves that cassette instead
(lab/replay.py; --json prints its host, port and protocol)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from mailmagic.lab.config import DEFAULT_ALIASES, DEFAULT_USERS, LabConfig
from mailmagic.lab.controller import Endpoints, LabServer
from mailmagic.lab.replay import ReplayServer, load, shipped
from mailmagic.protocol.cassette import CassetteError

_PORTS = ("smtp", "submission", "smtps", "pop3", "pop3s")


def user_argument(text: str) -> tuple[str, str]:
    """argparse type of NAME:PASSWORD (--user, `%maillab adduser`): (lowercased name, password)."""
    name, colon, password = text.partition(":")
    if not colon or not name or not password:
        raise argparse.ArgumentTypeError(f"expected NAME:PASSWORD, got {text!r}")
    return name.lower(), password


def _alias(text: str) -> tuple[str, tuple[str, ...]]:
    name, colon, members = text.partition(":")
    listed = tuple(m.strip() for m in members.split(",") if m.strip())
    if not colon or not name or not listed:
        raise argparse.ArgumentTypeError(f"expected NAME:MEMBER[,MEMBER...], got {text!r}")
    return name.lower(), listed


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, not {text!r}")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    """The command-line parser (also used to document the options)."""
    p = argparse.ArgumentParser(
        prog="python -m mailmagic.lab",
        description="Run the mailmagic lab mail server (SMTP + POP3 on one Maildir) on loopback.",
        epilog="A port of 0, or left out, means: pick a free one.",
    )
    add_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON line once listening")
    replay = p.add_argument_group("replay a cassette instead (docs/cassettes.md)")
    replay.add_argument(
        "--replay", metavar="PATH|NAME",
        help=f"serve this cassette file, or a shipped one ({', '.join(sorted(shipped()))})",
    )  # fmt: skip
    replay.add_argument("--replay-port", type=_port, default=0, metavar="N", help="its port")
    replay.add_argument("--timing", action="store_true", help="keep the recorded delays")
    return p


def add_options(p: argparse.ArgumentParser) -> None:
    """The server's settings, each with its help; `%maillab start` takes the same ones."""
    p.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on (loopback only)",
    )
    p.add_argument("--allow-non-loopback", action="store_true", help=argparse.SUPPRESS)
    for name in _PORTS:
        p.add_argument(
            f"--{name}-port", type=_port, default=0, metavar="N",
            help=f"port of the {name} listener (0: a free one)",
        )  # fmt: skip
    p.add_argument(
        "--domain", default="lab.test", metavar="D", help="local mail domain (default lab.test)"
    )
    p.add_argument(
        "--user", type=user_argument, action="append", metavar="NAME:PASSWORD", default=[],
        help="a user (repeatable; replaces the default users alice and bob)",
    )  # fmt: skip
    p.add_argument(
        "--alias", type=_alias, action="append", metavar="NAME:M1,M2", default=[],
        help="a mailing list and its members (repeatable; the default list is team)",
    )  # fmt: skip
    p.add_argument(
        "--maildir", type=Path, metavar="PATH", help="store folder (default: a temporary one)"
    )
    p.add_argument(
        "--max-message-size", type=_positive, default=10 * 1024 * 1024, metavar="OCTETS",
        help="the largest message accepted (SIZE, RFC 1870)",
    )  # fmt: skip
    p.add_argument(
        "--max-recipients", type=_positive, default=100, metavar="N",
        help="recipients per message before 452 (RFC 5321 4.5.3.1.8)",
    )  # fmt: skip


def config_from(args: argparse.Namespace) -> LabConfig:
    """A LabConfig from parsed arguments; raises ValueError for inconsistent settings."""
    users = dict(args.user) if args.user else dict(DEFAULT_USERS)
    aliases = dict(args.alias) if args.alias or args.user else dict(DEFAULT_ALIASES)
    return LabConfig(
        host=args.host,
        allow_non_loopback=args.allow_non_loopback,
        domain=args.domain.lower(),
        hostname=f"mail.{args.domain.lower()}",
        users=users,
        aliases=aliases,
        maildir=args.maildir,
        max_message_size=args.max_message_size,
        max_recipients=args.max_recipients,
        **{f"{name}_port": getattr(args, f"{name}_port") for name in _PORTS},
    )


def describe(endpoints: Endpoints, config: LabConfig) -> str:
    """The human-readable start-up summary."""
    ep = endpoints.as_dict()
    lines = [f"mailmagic lab server for {config.domain} on {endpoints.host}:"]
    lines += [f"  {name:<11} port {ep[f'{name}_port']}" for name in _PORTS]
    lines += [f"  users       {', '.join(config.users)}", f"  CA file     {endpoints.ca_file}"]
    lines += [f"  maildir     {endpoints.maildir}", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def _stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def replay_main(args: argparse.Namespace, stop: threading.Event) -> int:
    """Serve the cassette of ``--replay`` until ``stop``; 0 on a clean stop, 2 on a bad one."""
    try:
        cassette = load(args.replay)
        server = ReplayServer(cassette, args.host, args.replay_port, args.timing)
        host, port = server.start()
    except (CassetteError, ValueError) as error:
        print(f"mailmagic lab: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"mailmagic lab: {error}", file=sys.stderr)
        return 1
    try:
        info = {"host": host, "port": port, "protocol": cassette.protocol}
        info |= {"cassette": cassette.where, "server": cassette.header.server}
        info |= {"timing": args.timing}
        text = f"replaying {cassette.where} ({cassette.protocol.upper()}) on {host}:{port}"
        print(json.dumps(info) if args.json else f"{text}\nPress Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until Ctrl-C or SIGTERM; 0 on a clean stop, 2 on bad settings."""
    p = parser()
    args = p.parse_args(argv)
    try:
        config = config_from(args)
    except ValueError as error:
        p.error(str(error))
    stop = _stop_on_signals()
    if args.replay:
        return replay_main(args, stop)
    server = LabServer(config)
    try:
        endpoints = server.start()
    except OSError as error:
        print(f"mailmagic lab: {error}", file=sys.stderr)
        return 1
    try:
        text = json.dumps(endpoints.as_dict()) if args.json else describe(endpoints, config)
        print(text, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
