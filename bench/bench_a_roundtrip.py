# What this module does: benchmark (a), the cost of one command round trip (NOOP) through
# mailmagic's session layer (`Pop3Session.command("NOOP")`: sans-I/O protocol, transcript, the
# socket with its interruptible wait) against the same NOOP over a bare blocking socket, and
# poplib's `noop()` for reference, each on its own logged-in connection to the same server.
#
# How it works: a private Dovecot and the lab server (each in a process of its own) serve three
# users with one message each; three connections per server stay logged in while rounds of N NOOPs
# run on each in turn (interleaved, so drifting load hits all alike). The time per NOOP is the
# round's time over N; the best round counts. The bare socket sends b"NOOP\r\n" and reads until
# CRLF: a floor no Python client goes below. Target: the session's NOOP <= 1.2x the bare one.
from __future__ import annotations

import poplib
import socket
import time
from collections.abc import Callable

from common import (
    HOST,
    Row,
    Samples,
    Section,
    fill_maildir,
    interleaved,
    raw_noop_connection,
    running_dovecot,
    running_lab,
    shared_folder,
)

from mailmagic.session.base import Settings
from mailmagic.session.pop3 import Pop3Session

USERS = {"alice": "bench-a-alice", "bob": "bench-a-bob", "carol": "bench-a-carol"}
TARGET = 1.2


def raw_loop(sock: socket.socket, count: int) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        for _ in range(count):
            sock.sendall(b"NOOP\r\n")
            data = sock.recv(4096)
            while not data.endswith(b"\r\n"):
                data += sock.recv(4096)
        return (time.perf_counter() - started) / count

    return run


def session_loop(session: Pop3Session, count: int) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        for _ in range(count):
            session.command("NOOP")
        return (time.perf_counter() - started) / count

    return run


def poplib_loop(client: poplib.POP3, count: int) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        for _ in range(count):
            client.noop()
        return (time.perf_counter() - started) / count

    return run


def measure(port: int, count: int, rounds: int) -> dict[str, Samples]:
    """Rounds of `count` NOOPs on three connections to one server, interleaved."""
    (raw_user, raw_pw), (mm_user, mm_pw), (pl_user, pl_pw) = USERS.items()
    sock = raw_noop_connection(port, raw_user, raw_pw)
    session = Pop3Session("bench-a", Settings(HOST, port, timeout=30))
    session.connect()
    session.login(mm_user, mm_pw)
    client = poplib.POP3(HOST, port, timeout=30)
    client.user(pl_user)
    client.pass_(pl_pw)
    try:
        contenders = {
            "bare socket": raw_loop(sock, count),
            "mailmagic session": session_loop(session, count),
            "poplib": poplib_loop(client, count),
        }
        for run in contenders.values():  # warm-up: caches, branch predictors, the server
            run()
        return interleaved(contenders, rounds)
    finally:
        sock.close()
        session.close()
        client.close()


def rows_for(server: str, samples: dict[str, Samples]) -> list[Row]:
    raw, mm, pl = samples["bare socket"], samples["mailmagic session"], samples["poplib"]

    def us(value: float) -> str:
        return f"{value * 1e6:.1f} µs"

    mm_ratio, pl_ratio = mm.best / raw.best, pl.best / raw.best
    return [
        Row(
            f"NOOP via Pop3Session.command, {server}",
            us(mm.best) + f" (median {us(mm.median)})",
            us(raw.best) + f" bare socket (median {us(raw.median)})",
            mm_ratio,
            f"<= {TARGET}x",
            mm_ratio <= TARGET,
        ),
        Row(
            f"NOOP via poplib (reference), {server}",
            us(pl.best) + f" (median {us(pl.median)})",
            us(raw.best) + " bare socket",
            pl_ratio,
            "- (issue: about 1.4x)",
            None,
        ),
    ]


def run(quick: bool = False) -> Section:
    count, rounds = (300, 3) if quick else (2000, 7)
    section = Section("a", "Command round trip (NOOP): session layer vs a bare socket")
    with shared_folder("a") as root:
        for user in USERS:
            fill_maildir(root, user, 1, 1024)
        with running_dovecot(root, USERS) as dovecot:
            section.rows += rows_for("Dovecot", measure(dovecot.port, count, rounds))
        with running_lab(root, USERS) as lab:
            section.rows += rows_for("lab server", measure(lab.pop3, count, rounds))
    section.notes += [
        f"Each value is the time of one NOOP, the best of {rounds} interleaved rounds of "
        f"{count} NOOPs per client (median in brackets), on connections logged in beforehand.",
        "Bare socket: a blocking socket, sendall(b'NOOP\\r\\n'), recv until CRLF; no parsing.",
        "Session: Pop3Session.command('NOOP') with everything it does for a notebook user "
        "(state table, reply value, transcript entries, the refresh() look for a hung-up "
        "server, reads with a deadline).",
        "Servers run in processes of their own; the client is this process.",
    ]
    return section
