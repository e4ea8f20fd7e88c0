# What this module does: benchmark (c), the lab server against real servers with the same client.
# POP3: RETR throughput of the lab server against a private Dovecot serving the same Maildir
# (10,000 messages of about 10 KB; 1,000 with --quick), both read by the bare pipelined socket
# loop of common.py, the fastest client there is, so the server is what is measured. SMTP: the
# lab server's accept rate (its MX listener, delivering to alice's Maildir) against aiosmtpd's
# Sink handler (accepts and drops everything), both fed by smtplib on one connection.
#
# How it works: every server runs in a process of its own; the rounds are interleaved and the best
# counts. The lab server fsyncs each message and its new/ folder before it answers 250 (store.py),
# so its SMTP rate is measured twice: with its Maildir on disk, and on tmpfs where fsync costs
# next to nothing, which isolates the server's own work from this machine's disk. Targets: lab
# POP3 >= 0.5x Dovecot; lab SMTP >= 0.9x the Sink.
from __future__ import annotations

import itertools
import smtplib
import time
from collections.abc import Callable
from pathlib import Path

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
    running_sink,
    shared_folder,
)

SIZE = 10 * 1024
WINDOW = 32
TMPFS = Path("/dev/shm")


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


def smtp_rows(count: int, runs: dict[str, Samples]) -> list[Row]:
    sink = runs["aiosmtpd Sink"]
    rows = []
    for name in ("lab server, Maildir on tmpfs", "lab server, Maildir on disk"):
        mine = runs[name]
        ratio = sink.best / mine.best
        rows.append(
            Row(
                f"SMTP accept rate, {name} vs aiosmtpd Sink (smtplib client)",
                rate(count, mine.best) + f" (median {rate(count, mine.median)})",
                rate(count, sink.best) + f" Sink (median {rate(count, sink.median)})",
                ratio,
                ">= 0.9x",
                ratio >= 0.9,
            )
        )
    return rows


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


def measure_smtp(count: int, rounds: int) -> tuple[list[Row], list[str]]:
    users = {ALICE: PASSWORD, "bob": PASSWORD}
    with (
        shared_folder("c-disk") as disk,
        shared_folder("c-tmpfs", TMPFS) as memory,
        running_lab(disk, users) as on_disk,
        running_lab(memory, users) as in_memory,
        running_sink() as sink,
    ):
        contenders = {
            "aiosmtpd Sink": smtp_sender(sink, count),
            "lab server, Maildir on tmpfs": smtp_sender(in_memory.smtp, count),
            "lab server, Maildir on disk": smtp_sender(on_disk.smtp, count),
        }
        for warm in contenders.values():
            warm()
        rows = smtp_rows(count, interleaved(contenders, rounds))
        ports = {"Sink": sink, "lab, tmpfs": in_memory.smtp, "lab, disk": on_disk.smtp}
        steps = {name: smtp_steps(port, count) for name, port in ports.items()}
    table = "; ".join(
        f"{name} " + ", ".join(f"{step} {t * 1e6:.0f}" for step, t in zip(STEPS, ts, strict=True))
        for name, ts in steps.items()
    )
    return rows, [
        f"SMTP per step, mean µs over one more round of {count:,} messages: {table}. "
        "MAIL, RCPT and DATA cost about the same everywhere (aiosmtpd's own work); the gap is "
        "the last step, where the lab server stores the message before its 250."
    ]


def run(quick: bool = False) -> Section:
    count, mails = (1000, 200) if quick else (10_000, 1000)
    rounds = 3 if quick else 5
    section = Section("c", "The lab server against Dovecot (POP3) and aiosmtpd's Sink (SMTP)")
    rows, octets = measure_pop3(count, rounds)
    section.rows += rows
    smtp_rows_, smtp_notes = measure_smtp(mails, rounds)
    section.rows += smtp_rows_
    section.notes += [
        f"POP3: {count:,} messages, {octets:,} octets, read whole by the bare pipelined loop "
        f"(window {WINDOW}) from connect to the last message; best of {rounds} rounds after a "
        "warm-up read (page cache, Dovecot's index).",
        f"SMTP: {mails:,} messages of about 10 KB per round on one smtplib connection "
        f"(MAIL, RCPT, DATA, one at a time); best of {rounds} rounds after a warm-up round. "
        "The lab server delivers each message to alice's Maildir with two fsyncs before its 250 "
        "(in a worker thread, so the event loop serves other sessions meanwhile); the Sink "
        "keeps nothing.",
        *smtp_notes,
    ]
    return section
