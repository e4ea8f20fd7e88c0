# What this module does: benchmark (b), downloading a whole maildrop (10,000 messages of about
# 10 KB; 1,000 with --quick) from a private Dovecot and from the lab server, on plain loopback and
# through the delay proxy (1 ms each way per chunk: a simulated 2 ms round trip). Contenders:
# mailmagic's `fetch()` (pipelined RETR, window 32, streamed into a Maildir) with the archive on
# tmpfs and on disk, and `Pop3Session.pipeline` alone (the same RETRs, bodies dropped); baselines:
# poplib (one RETR per round trip), curl (one process, the URL glob pop3://host:port/[1-N], one
# connection reused, one RETR per round trip) and the bare pipelined socket loop of common.py.
#
# How it works: the Maildir is filled once with the lab's MailStore and served in place by both
# servers. Every contender logs in afresh and is timed from connect to the last message; fetch's
# archive is removed after the clock stops. Contenders run interleaved, best of the rounds.
# Targets: on plain loopback fetch >= 3x poplib and >= 0.8x the bare loop; through the proxy
# fetch >= 10x poplib. poplib, curl and the bare loop keep nothing; fetch writes every message
# to a file and syncs them to disk before they count as archived (Archive._flush), so the tmpfs
# archive is the like-for-like comparison and the disk archive shows what durability costs here.
from __future__ import annotations

import mailbox
import poplib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import peers
from common import (
    ALICE,
    HOST,
    PASSWORD,
    Row,
    Samples,
    Section,
    bare_fetch,
    disk_parent,
    fill_maildir,
    interleaved,
    rate,
    raw_noop_connection,
    read_line,
    require,
    running_dovecot,
    running_lab,
    running_proxy,
    shared_folder,
)

from mailmagic.session.base import Settings
from mailmagic.session.fetch import fetch
from mailmagic.session.pop3 import Pop3Session

SIZE = 10 * 1024
WINDOW = 32
TMPFS = Path("/dev/shm")
DISK = disk_parent()  # on disk, each folder made in it in a block group of its own


def logged_in(port: int) -> Pop3Session:
    session = Pop3Session("bench-b", Settings(HOST, port, timeout=60))
    session.connect()
    session.login(ALICE, PASSWORD)
    return session


def fetch_into(port: int, count: int, where: Path, expected: int) -> Callable[[], float]:
    def run() -> float:
        target = Path(tempfile.mkdtemp(prefix="mailmagic-bench-b-", dir=where))
        try:
            started = time.perf_counter()
            session = logged_in(port)
            result = fetch(session, target / "archive", fmt="maildir", window=WINDOW)
            seconds = time.perf_counter() - started
            session.close()
        finally:
            shutil.rmtree(target, ignore_errors=True)
        check("fetch", len(result), count, result.octets, expected)
        return seconds

    return run


def pipeline_only(port: int, count: int, expected: int) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        session = logged_in(port)
        session.conn.lean = True
        lines = (f"RETR {n}" for n in range(1, count + 1))
        octets = got = 0
        for _, reply in session.pipeline(lines, WINDOW, keep=False):
            octets += len(getattr(reply, "body", b""))
            got += 1
        seconds = time.perf_counter() - started
        session.close()
        check("pipeline", got, count, octets, expected)
        return seconds

    return run


def with_poplib(port: int, count: int) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        client = poplib.POP3(HOST, port, timeout=60)
        client.user(ALICE)
        client.pass_(PASSWORD)
        for number in range(1, count + 1):
            client.retr(number)
        seconds = time.perf_counter() - started
        client.close()
        return seconds

    return run


def with_curl(port: int, count: int, expected: int) -> Callable[[], float]:
    curl = require("curl")
    command = [
        curl,
        "-s",
        "-S",
        "--user",
        f"{ALICE}:{PASSWORD}",
        f"pop3://{HOST}:{port}/[1-{count}]",
    ]

    def run() -> float:
        with tempfile.TemporaryFile(dir=TMPFS) as out:
            started = time.perf_counter()
            done = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, check=False)
            seconds = time.perf_counter() - started
            octets = out.seek(0, 2)
        if done.returncode != 0:
            raise RuntimeError(f"curl failed ({done.returncode}): {done.stderr[-300:]!r}")
        check("curl", count, count, octets, expected)
        return seconds

    return run


def bare(port: int, count: int, expected: int) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        octets = bare_fetch(port, ALICE, PASSWORD, count, WINDOW)
        seconds = time.perf_counter() - started
        check("bare loop", count, count, octets, expected)
        return seconds

    return run


def check(who: str, got: int, count: int, octets: int, expected: int) -> None:
    """Every contender must have fetched every message, every octet (curl counts CRLFs too)."""
    if got != count or octets != expected:
        raise RuntimeError(f"{who} got {got} messages, {octets} octets; expected {expected}")


def round_trip_ms(port: int, probes: int = 200) -> float:
    """The bare socket's NOOP round trip through `port`, in milliseconds (median-free: mean)."""
    sock = raw_noop_connection(port, ALICE, PASSWORD)
    try:
        started = time.perf_counter()
        for _ in range(probes):
            sock.sendall(b"NOOP\r\n")
            read_line(sock)
        return (time.perf_counter() - started) / probes * 1000
    finally:
        sock.close()


def contenders(
    port: int, count: int, expected: int, proxied: bool
) -> dict[str, Callable[[], float]]:
    found: dict[str, Callable[[], float]] = {
        "fetch() to tmpfs": fetch_into(port, count, TMPFS, expected),
    }
    if not proxied:
        found["fetch() to disk"] = fetch_into(port, count, DISK, expected)
    found["Pop3Session.pipeline"] = pipeline_only(port, count, expected)
    found["poplib"] = with_poplib(port, count)
    found["curl"] = with_curl(port, count, expected)
    found["bare pipelined loop"] = bare(port, count, expected)
    return found


def judge(server: str, link: str, count: int, runs: dict[str, Samples]) -> list[Row]:
    pop, loop = runs["poplib"].best, runs["bare pipelined loop"].best
    proxied = link != "plain loopback"
    rows = []
    for name in ("fetch() to tmpfs", "fetch() to disk", "Pop3Session.pipeline"):
        if name not in runs:
            continue
        mine = runs[name].best
        target = 10.0 if proxied else 3.0
        rows.append(
            Row(
                f"{name}, {server}, {link}",
                rate(count, mine),
                rate(count, pop) + " poplib",
                pop / mine,
                f">= {target:g}x",
                pop / mine >= target,
            )
        )
        if not proxied:
            rows.append(
                Row(
                    f"{name}, {server}, {link}",
                    rate(count, mine),
                    rate(count, loop) + " bare loop",
                    loop / mine,
                    ">= 0.8x",
                    loop / mine >= 0.8,
                )
            )
    return rows


def details(server: str, link: str, count: int, runs: dict[str, Samples]) -> str:
    cells = ", ".join(
        f"{name} {rate(count, s.best)} (median {rate(count, s.median)})" for name, s in runs.items()
    )
    return f"{server}, {link}: {cells}."


PEER_COUNT = 3000
DURABILITY = {
    "fetch() to disk": "each message written to tmp/, synced in batches of 200 and renamed into "
    "cur/ (Archive._flush) before fetch() returns",
    "mpop": "fsync of each message file, then a link into new/; new/ itself is not fsync'ed "
    "(strace: one fsync per message)",
    "getmail6": "fsync of each message file, then a link into new/ by a child process forked "
    "per message; new/ is not fsync'ed (getmailcore/utilities.py)",
    "poplib + mailbox.Maildir": "no fsync at all (mailbox.Maildir.add writes and renames)",
}


def peer_fetcher(
    make: Callable[[Path, int, str, str, Path], list[str]], port: int, count: int
) -> Callable[[], float]:
    """One mpop or getmail run into a fresh Maildir on disk (peers.py)."""

    def run() -> float:
        with shared_folder("b-peer", DISK) as work:
            maildir = peers.make_maildir(work / "Maildir")
            return peers.run_fetcher(make(work, port, ALICE, PASSWORD, maildir), maildir, count)

    return run


def poplib_maildir(port: int, count: int) -> Callable[[], float]:
    """poplib, each message added with the stdlib's mailbox.Maildir: the ten-line script."""

    def run() -> float:
        with shared_folder("b-poplib", DISK) as work:
            started = time.perf_counter()
            box = mailbox.Maildir(work / "Maildir", create=True)
            client = poplib.POP3(HOST, port, timeout=60)
            client.user(ALICE)
            client.pass_(PASSWORD)
            for number in range(1, count + 1):
                box.add(b"\n".join(client.retr(number)[1]) + b"\n")
            client.quit()
            seconds = time.perf_counter() - started
            if len(box) != count:
                raise RuntimeError(f"poplib + mailbox.Maildir kept {len(box)} of {count}")
        return seconds

    return run


def peer_contenders(
    port: int, count: int, expected: int
) -> tuple[dict[str, Callable[[], float]], list[str]]:
    found = {"fetch() to disk": fetch_into(port, count, DISK, expected)}
    missing = []
    for name, binary, package, make in (
        ("mpop", "mpop", "mpop", peers.mpop_command),
        ("getmail6", "getmail", "getmail6", peers.getmail_command),
    ):
        if peers.find(binary) is None:
            missing.append(peers.skipped(name, package))
            print(missing[-1], flush=True)
        else:
            found[name] = peer_fetcher(make, port, count)
    found["poplib + mailbox.Maildir"] = poplib_maildir(port, count)
    return found, missing


def measure_peers(quick: bool) -> tuple[list[Row], list[str]]:
    """fetch() into a Maildir on disk against the fetchers people use instead, from Dovecot."""
    count, rounds = (300, 2) if quick else (PEER_COUNT, 3)
    with shared_folder("b-peers") as root:
        expected = fill_maildir(root, ALICE, count, SIZE)
        with running_dovecot(root, {ALICE: PASSWORD}) as dovecot:
            bare_fetch(dovecot.port, ALICE, PASSWORD, count)  # warm-up: index, page cache
            contenders, missing = peer_contenders(dovecot.port, count, expected)
            runs = interleaved(contenders, rounds)
    mine = runs.pop("fetch() to disk")
    best_name = min(runs, key=lambda name: runs[name].best)
    best = runs[best_name]
    ratio = best.best / mine.best
    rows = [
        Row(
            f"fetch() to a Maildir on disk, Dovecot, {count:,} messages, vs the best peer",
            rate(count, mine.best) + f" (median {rate(count, mine.median)})",
            rate(count, best.best) + f" {best_name} (median {rate(count, best.median)})",
            ratio,
            ">= 3x",
            ratio >= 3.0,
        )
    ]
    for name, samples in runs.items():
        if name != best_name:
            ratio = samples.best / mine.best
            rows.append(
                Row(
                    f"fetch() to a Maildir on disk vs {name}",
                    rate(count, mine.best),
                    rate(count, samples.best) + f" {name}",
                    ratio,
                    "-",
                    None,
                )
            )
    notes = [
        f"Peers: {count:,} messages of about 10 KB from Dovecot into a fresh Maildir under "
        f"{DISK} (disk), best of {rounds} interleaved rounds, each from connect (process "
        f"start) to the last message. {peers.version(['mpop', '--version'])}; "
        f"{peers.version(['getmail', '--version'])}. mpop and getmail keep the messages on the "
        "server and fetch all of them every round. Durability: "
        + "; ".join(f"{name}: {DURABILITY[name]}" for name in ("fetch() to disk", *runs))
        + ". fetchmail is left out: it has no Maildir writer of its own and hands each message "
        "to an MTA over SMTP/LMTP or to an MDA process started per message (--mda).",
        *missing,
    ]
    return rows, notes


def run(quick: bool = False) -> Section:
    count = 1000 if quick else 10_000
    rounds, proxied_rounds = (2, 1) if quick else (3, 2)
    title = f"Fetching to a Maildir against the peers; downloading {count:,} messages of 10 KB"
    section = Section("b", title)
    section.rows, section.notes = measure_peers(quick)
    with shared_folder("b") as root:
        expected = fill_maildir(root, ALICE, count, SIZE)
        users = {ALICE: PASSWORD}
        with running_dovecot(root, users) as dovecot, running_lab(root, users) as lab:
            for server, port in (("Dovecot", dovecot.port), ("lab server", lab.pop3)):
                bare_fetch(port, ALICE, PASSWORD, count)  # warm-up: index, page cache
                runs = interleaved(contenders(port, count, expected, False), rounds)
                section.rows += judge(server, "plain loopback", count, runs)
                section.notes.append(details(server, "plain loopback", count, runs))
                with running_proxy(port) as proxy:
                    rtt = round_trip_ms(proxy)
                    runs = interleaved(contenders(proxy, count, expected, True), proxied_rounds)
                link = "2 ms proxy"
                section.rows += judge(server, link, count, runs)
                section.notes.append(
                    details(server, link, count, runs)
                    + f" NOOP round trip through the proxy: {rtt:.2f} ms."
                )
    section.notes += [
        f"{expected:,} octets in all as RETR sends them; every contender is checked to have "
        "received all of them. Timed from connect to the last message (curl: process start "
        f"to exit); best of {rounds} rounds on plain loopback, {proxied_rounds} through the proxy.",
        f"fetch() archives into a Maildir under {TMPFS} (tmpfs) or {DISK} (disk), one file "
        "per message, synced to disk in batches (Archive._flush). poplib, curl and the bare "
        "loop keep nothing.",
        "curl: one process, URL glob pop3://127.0.0.1:PORT/[1-N]; curl reuses its connection "
        "for every URL of the glob and sends one RETR per message, waiting for each.",
    ]
    return section
