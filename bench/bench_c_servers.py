# What this module does: benchmark (c), the lab server against real servers with the same client.
# POP3: RETR throughput of the lab server against a private Dovecot serving the same Maildir
# (10,000 messages of about 10 KB; 1,000 with --quick), both read by the bare pipelined socket
# loop of common.py, the fastest client there is, so the server is what is measured. SMTP: the
# lab server's accept rate (its MX listener, delivering to alice's Maildir) against a private
# Postfix 3.7 on loopback (bench/peers.py), both fed by smtplib, on one connection and on 20.
#
# How it works: every server runs in a process of its own; the rounds are interleaved and the best
# counts. Both SMTP servers keep their files on the same disk (common.disk_parent) and both make
# every message durable before its 250: the lab server syncs the message in tmp/ and, after the
# rename, its new/ folder (lab/commit.py, both syncs shared by concurrent deliveries), Postfix's
# cleanup(8) fsyncs the queue file.
# Targets: lab POP3 >= 0.5x Dovecot; lab SMTP >= 1.0x Postfix with 1 and with 20 connections.
from __future__ import annotations

import itertools
import smtplib
import threading
import time
from collections.abc import Callable

import peers
from common import (
    ALICE,
    HOST,
    PASSWORD,
    Row,
    Samples,
    Section,
    bare_fetch,
    fill_maildir,
    interleaved,
    message,
    rate,
    running_dovecot,
    running_lab,
    shared_folder,
)

SIZE = 10 * 1024
WINDOW = 32
CONNECTIONS = 20


def pop3_reader(port: int, count: int) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        bare_fetch(port, ALICE, PASSWORD, count, WINDOW)
        return time.perf_counter() - started

    return run


def smtp_sender(port: int, count: int) -> Callable[[], float]:
    messages = [message(n, SIZE) for n in range(1, count + 1)]

    def run() -> float:
        started = time.perf_counter()
        with smtplib.SMTP(HOST, port, timeout=60) as client:
            client.ehlo("bench.lab.test")
            for data in messages:
                client.sendmail("bob@lab.test", ["alice@lab.test"], data)
        return time.perf_counter() - started

    return run


STEPS = ("MAIL", "RCPT", "DATA", "message and '.'")


def smtp_steps(port: int, count: int) -> list[float]:
    """Mean seconds each step of a transaction takes (one round of `count` messages): where a
    server spends its time, to be compared step by step with another."""
    messages = [message(n, SIZE) for n in range(1, count + 1)]
    totals = [0.0] * len(STEPS)
    with smtplib.SMTP(HOST, port, timeout=60) as client:
        client.ehlo("bench.lab.test")
        for data in messages:
            stamps = [time.perf_counter()]
            client.mail("bob@lab.test")
            stamps.append(time.perf_counter())
            client.rcpt("alice@lab.test")
            stamps.append(time.perf_counter())
            client.putcmd("data")
            client.getreply()
            stamps.append(time.perf_counter())
            client.send(data + b".\r\n")
            client.getreply()
            stamps.append(time.perf_counter())
            for index, (before, after) in enumerate(itertools.pairwise(stamps)):
                totals[index] += after - before
    return [total / count for total in totals]


def pop3_rows(count: int, runs: dict[str, Samples]) -> list[Row]:
    lab, dovecot = runs["lab server"], runs["Dovecot"]
    ratio = dovecot.best / lab.best
    return [
        Row(
            "POP3 RETR throughput, lab server vs Dovecot (same Maildir, bare pipelined client)",
            rate(count, lab.best) + f" (median {rate(count, lab.median)})",
            rate(count, dovecot.best) + f" Dovecot (median {rate(count, dovecot.median)})",
            ratio,
            ">= 0.5x",
            ratio >= 0.5,
        )
    ]


def smtp_rows(count: int, runs: dict[str, Samples], connections: int) -> list[Row]:
    postfix, lab = runs["Postfix"], runs["lab server"]
    ratio = postfix.best / lab.best
    plural = "s" if connections > 1 else ""
    return [
        Row(
            f"SMTP accept rate, {connections} connection{plural}, lab server vs Postfix "
            "(both on disk, both durable before 250)",
            rate(count, lab.best) + f" (median {rate(count, lab.median)})",
            rate(count, postfix.best) + f" Postfix (median {rate(count, postfix.median)})",
            ratio,
            ">= 1.0x",
            ratio >= 1.0,
        )
    ]


def measure_pop3(count: int, rounds: int) -> tuple[list[Row], int]:
    users = {ALICE: PASSWORD}
    with shared_folder("c") as root:
        octets = fill_maildir(root, ALICE, count, SIZE)
        with running_dovecot(root, users) as dovecot, running_lab(root, users) as lab:
            contenders = {
                "Dovecot": pop3_reader(dovecot.port, count),
                "lab server": pop3_reader(lab.pop3, count),
            }
            for warm in contenders.values():
                warm()
            return pop3_rows(count, interleaved(contenders, rounds)), octets


def concurrent_sender(port: int, count: int, connections: int) -> Callable[[], float]:
    """`connections` smtplib clients in threads, each on its own connection, sharing `count`
    messages; seconds until the last one has its 250."""
    senders = [smtp_sender(port, count // connections) for _ in range(connections)]

    def run() -> float:
        errors: list[BaseException] = []

        def send(sender: Callable[[], float]) -> None:
            try:
                sender()
            except BaseException as error:  # counted below: a failed round must not pass
                errors.append(error)

        threads = [threading.Thread(target=send, args=(s,)) for s in senders]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        if errors:
            raise RuntimeError(f"{len(errors)} of {connections} connections failed: {errors[0]!r}")
        return seconds

    return run


def measure_smtp(count: int, rounds: int) -> tuple[list[Row], list[str]]:
    if peers.find("postfix") is None:
        line = peers.skipped("Postfix", "postfix")
        print(line, flush=True)
        return [], [line]
    users = {ALICE: PASSWORD, "bob": PASSWORD}
    rows = []
    with (
        shared_folder("c-disk") as disk,
        running_lab(disk, users) as lab,
        peers.running_postfix() as postfix,
    ):
        for connections in (1, CONNECTIONS):
            contenders = {
                "Postfix": concurrent_sender(postfix.port, count, connections),
                "lab server": concurrent_sender(lab.smtp, count, connections),
            }
            for warm in contenders.values():
                warm()
            rows += smtp_rows(count, interleaved(contenders, rounds), connections)
        ports = {"Postfix": postfix.port, "lab": lab.smtp}
        steps = {name: smtp_steps(port, count) for name, port in ports.items()}
    table = "; ".join(
        f"{name} " + ", ".join(f"{step} {t * 1e6:.0f}" for step, t in zip(STEPS, ts, strict=True))
        for name, ts in steps.items()
    )
    return rows, [
        f"SMTP per step, one connection, mean µs over one more round of {count:,} messages: "
        f"{table}. The last step is where each server makes the message durable before its 250."
    ]


def run(quick: bool = False) -> Section:
    count, mails = (1000, 200) if quick else (10_000, 1000)
    rounds = 3 if quick else 5
    section = Section("c", "The lab server against Dovecot (POP3) and Postfix (SMTP)")
    rows, octets = measure_pop3(count, rounds)
    section.rows += rows
    smtp_rows_, smtp_notes = measure_smtp(mails, rounds)
    section.rows += smtp_rows_
    section.notes += [
        f"POP3: {count:,} messages, {octets:,} octets, read whole by the bare pipelined loop "
        f"(window {WINDOW}) from connect to the last message; best of {rounds} rounds after a "
        "warm-up read (page cache, Dovecot's index).",
        f"SMTP: {mails:,} messages of about 10 KB per round (MAIL, RCPT, DATA, one at a time), "
        f"on one smtplib connection and shared by {CONNECTIONS} connections (a thread each); best "
        f"of {rounds} rounds after a warm-up round. Both servers keep their files on disk, each "
        "in a block group of its own (bench/README.md). The lab server delivers each message to "
        "alice's Maildir before its 250: written to tmp/ and synced, renamed into new/, and new/ "
        "fsync'ed; one thread commits the deliveries waiting in batches, one syncfs and one "
        "fsync of new/ for all of them (group commit, lab/commit.py). Postfix "
        f"{peers.postfix_version()} (private instance, in_flow_delay = 0) answers 250 once "
        "cleanup(8) has written and fsync'ed the queue file; it delivers to the Maildir later.",
        *smtp_notes,
    ]
    return section
