# What this module does: tests of the lab's round-trip latency (mailmagic/lab/latency.py): the delay
# line on its own (order kept, many chunks in flight, a lowered delay never reorders), then real lab
# servers with `faults.latency(ms)` set: one command waits at least a round trip, a sequence of
# them at least one round trip each, a pipelined batch is all sent before its first reply and comes
# back in order; over STARTTLS, STLS and implicit TLS too. Only lower bounds on time are asserted.
from __future__ import annotations

import asyncio
import poplib
import smtplib
import socket
import time
from collections.abc import Callable

from mailmagic.lab import LabServer
from mailmagic.lab.faults import Faults
from mailmagic.lab.latency import DelayLine, LatencyProtocol, with_latency
from mailmagic.session.base import Settings
from mailmagic.session.pop3 import Pop3Session
from mailmagic.session.smtp import SmtpSession

RTT_MS = 60
RTT = RTT_MS / 1000
# asyncio's timers may fire up to the clock's resolution early; a millisecond covers that.
SLACK = 0.001
TIMEOUT = 60.0


async def _through_line(delays: list[float], items: list[int]) -> tuple[list[int], int]:
    """Put ``items`` with the given delays, one after the other; return what came out, in the
    order it came out, and how many were in flight at once after the last put."""
    loop = asyncio.get_running_loop()
    out: list[int] = []
    current = iter(delays)
    line = DelayLine(loop, lambda: next(current), out.append)
    for item in items:
        line.put(item)
    in_flight = line.in_flight
    deadline = loop.time() + TIMEOUT
    while len(out) < len(items) and loop.time() < deadline:
        await asyncio.sleep(0.01)
    return out, in_flight


def test_delay_line_keeps_order_with_every_chunk_in_flight() -> None:
    out, in_flight = asyncio.run(_through_line([0.05] * 20, list(range(20))))
    assert in_flight == 20
    assert out == list(range(20))


def test_a_lowered_delay_never_lets_a_chunk_overtake() -> None:
    out, in_flight = asyncio.run(_through_line([0.1, 0.1, 0.0, 0.0], [1, 2, 3, 4]))
    assert in_flight == 4  # the 0-delay chunks wait behind the ones sent before them
    assert out == [1, 2, 3, 4]


def test_no_delay_and_nothing_in_flight_delivers_at_once() -> None:
    async def run() -> list[int]:
        out: list[int] = []
        DelayLine(asyncio.get_running_loop(), lambda: 0.0, out.append).put(7)
        return out

    assert asyncio.run(run()) == [7]


def test_only_connections_made_while_a_latency_is_set_are_delayed() -> None:
    faults = Faults()
    inner = asyncio.Protocol()
    make = with_latency(lambda: inner, faults)
    assert make() is inner
    faults.latency(40)
    wrapped = make()
    assert isinstance(wrapped, LatencyProtocol) and wrapped.inner is inner
    faults.latency(0)
    assert make() is inner


def _smtp(lab: LabServer) -> smtplib.SMTP:
    return smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp, timeout=TIMEOUT)


def _round_trip(command: Callable[[], object]) -> float:
    started = time.monotonic()
    command()
    return time.monotonic() - started


def test_one_command_waits_at_least_a_round_trip(lab: LabServer) -> None:
    lab.faults.latency(RTT_MS)
    with _smtp(lab) as client:
        assert _round_trip(client.noop) >= RTT - SLACK
        assert client.noop()[0] == 250


def test_sequential_commands_wait_a_round_trip_each(lab: LabServer) -> None:
    lab.faults.latency(RTT_MS)
    with _smtp(lab) as client:
        client.ehlo()
        started = time.monotonic()
        for _ in range(5):
            assert client.noop()[0] == 250
        assert time.monotonic() - started >= 5 * RTT - SLACK


def _sent_before_first_reply(session: SmtpSession | Pop3Session, commands: int) -> int:
    """How many of the last ``commands`` client lines come before the first reply to them."""
    entries = [e for e in session.transcript.entries if e.direction != "note"]
    batch = entries[-2 * commands :]
    first_reply = next(i for i, e in enumerate(batch) if e.direction == "server")
    return sum(e.direction == "client" for e in batch[:first_reply])


def test_pipelined_smtp_commands_travel_together_and_in_order(lab: LabServer) -> None:
    lab.faults.latency(RTT_MS)
    settings = Settings(lab.endpoints.host, lab.endpoints.smtp, timeout=TIMEOUT)
    session = SmtpSession("piped", settings)
    session.connect()
    session.command("EHLO client.test")
    lines = ["MAIL FROM:<a@lab.test>", *(f"RCPT TO:<u{n}@lab.test>" for n in range(20))]
    replies = list(session.pipeline(lines, window=len(lines)))
    assert _sent_before_first_reply(session, len(lines)) == len(lines)
    assert replies[0][1].code == 250
    assert [f"<u{n}@lab.test>" in r.text for n, (_, r) in enumerate(replies[1:])] == [True] * 20
    session.command("QUIT")


def test_pipelined_pop3_commands_come_back_in_order(lab: LabServer) -> None:
    for n in range(1, 11):
        lab.store.deliver(["alice"], b"Subject: %d\r\n\r\n" % n + b"x" * n + b"\r\n")
    lab.faults.latency(RTT_MS)
    settings = Settings(lab.endpoints.host, lab.endpoints.pop3, timeout=TIMEOUT)
    session = Pop3Session("piped", settings)
    session.connect()
    session.login("alice", "alice-password")
    lines = [f"LIST {n}" for n in range(1, 11)]
    replies = [r for _, r in session.pipeline(lines, window=len(lines))]
    assert _sent_before_first_reply(session, len(lines)) == len(lines)
    assert [r.text.split()[0] for r in replies] == [str(n) for n in range(1, 11)]
    session.command("QUIT")


def test_starttls_runs_over_the_delay_line(lab: LabServer) -> None:
    lab.faults.latency(RTT_MS)
    with _smtp(lab) as client:
        client.starttls(context=lab.tls.client_context())
        client.ehlo()
        assert _round_trip(client.noop) >= RTT - SLACK
        assert client.sock is not None and client.sock.version() is not None  # type: ignore[attr-defined]


def test_stls_and_implicit_tls_are_delayed_too(lab: LabServer) -> None:
    lab.faults.latency(RTT_MS)
    ep, context = lab.endpoints, lab.tls.client_context()
    plain = poplib.POP3(ep.host, ep.pop3, timeout=TIMEOUT)
    plain.stls(context)
    implicit = poplib.POP3_SSL(ep.host, ep.pop3s, context=context, timeout=TIMEOUT)
    for client in (plain, implicit):
        client.user("alice")
        client.pass_("alice-password")
        assert _round_trip(client.stat) >= RTT - SLACK
        client.quit()


def test_the_server_closing_reaches_the_client_after_its_last_reply(lab: LabServer) -> None:
    lab.faults.latency(RTT_MS)
    with socket.create_connection((lab.endpoints.host, lab.endpoints.smtp), TIMEOUT) as sock:
        sock.sendall(b"QUIT\r\n")
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    assert received.startswith(b"220 ") and b"\r\n221 " in received


def test_a_new_latency_applies_to_open_delayed_connections(lab: LabServer) -> None:
    lab.faults.latency(RTT_MS)
    with _smtp(lab) as client:
        lab.faults.latency(4 * RTT_MS)
        assert _round_trip(client.noop) >= 4 * RTT - SLACK
        lab.faults.latency(0)
        assert client.noop()[0] == 250
