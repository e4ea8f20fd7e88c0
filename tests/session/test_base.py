# What this module does: tests of what every session does (mailmagic/session/base.py): faults of
# the server — it never answers, closes mid-reply, sends a 10 MB line, sends garbage instead of a
# reply code, says 421 — give a clear error within the timeout (counted from the last octet, so a
# long reply that keeps coming is not cut) and leave the session closed or
# broken, never hung; reconnect reopens with the same settings; a closed session refuses clearly.
# Ctrl-C is sent once the client is seen stuck in its wait or its send (never on a timer), so the
# tests hold on a loaded machine.
from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from types import FrameType

import pytest

from mailmagic.lab import LabServer
from mailmagic.protocol.errors import LocalProtocolError
from mailmagic.session.base import SessionBroken, SessionClosed, Settings
from mailmagic.session.pop3 import Pop3Session
from mailmagic.session.smtp import SmtpSession
from tests.session.fake_server import Step, big_line, fake_server

S220_READY = b"220 fake.test ESMTP ready\r\n"


def smtp(port: int, timeout: float = 1.0) -> SmtpSession:
    return SmtpSession("t", Settings("127.0.0.1", port, timeout=timeout))


def test_a_server_that_never_answers_breaks_the_session_within_the_timeout() -> None:
    with fake_server(("sleep", 30)) as port:
        session = smtp(port, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(SessionBroken, match=r"nothing arrived for 0.5 s"):
            session.connect()
        assert time.monotonic() - started < 15  # the timeout, not the server's 30 s, ended it
    assert session.status == "broken"


def test_the_timeout_counts_from_the_last_octet_so_a_long_reply_is_not_cut() -> None:
    # 8 x 0.4 s: the reply takes longer than the 2 s timeout, and no gap comes near it, even with
    # a loaded machine waking the server late.
    trickle: list[Step] = [("sleep", 0.4), ("send", b"a line of the message\r\n")] * 8
    script = [("send", b"+OK ready\r\n"), ("readline", None), ("send", b"+OK 200 octets\r\n")]
    with fake_server(*script, *trickle, ("send", b".\r\n")) as port:
        session = Pop3Session("t", Settings("127.0.0.1", port, timeout=2.0))
        session.connect()
        started = time.monotonic()
        reply = session.command("RETR 1")
        assert time.monotonic() - started > 3.0  # longer than the timeout, and not cut
        assert reply is not None and reply.lines == ("a line of the message",) * 8
        assert session.is_open


def test_a_reply_cut_in_the_middle_closes_the_session_and_says_so() -> None:
    with fake_server(
        ("send", S220_READY), ("readline", None), ("send", b"250-half"), ("close", None)
    ) as port:
        session = smtp(port)
        session.connect()
        with pytest.raises(SessionClosed, match="closed the connection"):
            session.command("EHLO me")
    assert session.status == "closed"
    assert "closed the connection" in session.reason


def test_a_ten_megabyte_line_fails_on_the_line_limit_with_bounded_memory() -> None:
    with fake_server(("send", big_line(10))) as port:
        session = smtp(port, timeout=10)
        tracemalloc.start()
        try:
            with pytest.raises(SessionBroken, match="broke the protocol"):  # not the timeout
                session.connect()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 4 * 1024 * 1024
    assert session.status == "broken"


@pytest.mark.parametrize(
    "garbage",
    [b"HTTP/1.1 400 Bad Request\r\n", b"SSH-2.0-OpenSSH_9.2\r\n", b"\x16\x03\x01\x00\xa5\r\n"],
)
def test_garbage_instead_of_a_reply_code(garbage: bytes) -> None:
    with fake_server(("send", garbage)) as port:
        session = smtp(port)
        with pytest.raises(SessionBroken, match="broke the protocol") as failed:
            session.connect()
    assert "check the host, port and TLS settings" in str(failed.value)


def test_a_421_closes_the_session(lab: LabServer) -> None:
    lab.faults.override("smtp", "NOOP", "421 4.3.2 System shutting down")
    session = smtp(lab.endpoints.smtp)  # type: ignore[arg-type]
    session.connect()
    reply = session.command("NOOP")
    assert reply is not None and reply.code == 421
    assert session.status == "closed"
    with pytest.raises(SessionClosed, match=r"is closed .*421 4.3.2"):
        session.command("NOOP")


def test_a_dropped_connection_then_reconnect(lab: LabServer) -> None:
    lab.faults.drop_after("pop3", "NOOP", times=1)
    session = Pop3Session("p", Settings("127.0.0.1", lab.endpoints.pop3, timeout=5))  # type: ignore[arg-type]
    session.connect()
    session.command("NOOP")
    # Depending on timing the client sees the close (EOF) or a reset when it sends.
    with pytest.raises(SessionClosed, match=r"closed the connection|connection was lost"):
        session.command("CAPA")
    greeting = session.reconnect()
    assert greeting.ok and session.is_open
    assert "[closed to reconnect]" not in session.transcript.text()  # nothing left to close
    assert session.transcript.text().count("connected to") == 2


def test_connection_refused_is_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        session = smtp(port)
        with pytest.raises(SessionClosed, match=f"could not connect to 127.0.0.1:{port}"):
            session.connect()


def test_a_closed_session_refuses_and_says_how_to_go_on(
    lab_factory: Callable[..., LabServer],
) -> None:
    lab = lab_factory()
    session = smtp(lab.endpoints.smtp)  # type: ignore[arg-type]
    session.connect()
    session.close()
    with pytest.raises(SessionClosed, match=r"'t' is closed .*reconnect it or open a new one"):
        session.command("NOOP")
    assert session.status == "closed"


def test_an_injected_line_is_refused_before_anything_is_sent(lab: LabServer) -> None:
    session = smtp(lab.endpoints.smtp)  # type: ignore[arg-type]
    session.connect()
    entries = len(session.transcript.entries)
    with pytest.raises(LocalProtocolError):
        session.command("NOOP\r\nRSET")
    assert len(session.transcript.entries) == entries
    reply = session.command("NOOP")
    assert reply is not None and reply.code == 250


def _ctrl_c_inside(
    function: str, when: Callable[[FrameType], bool] = lambda _: True
) -> threading.Event:
    """Send SIGINT to this process, from another thread, once this thread is inside
    transport.py's ``function`` (and ``when`` holds for its frame). The interrupt lands right
    there however loaded the machine is, as the tests below wait where the client stays stuck:
    no timer racing the code. Set the event returned to stop watching (in a ``finally``)."""
    me, stop = threading.get_ident(), threading.Event()

    def inside() -> bool:
        frame = sys._current_frames().get(me)
        while frame is not None:
            code = frame.f_code
            if code.co_name == function and code.co_filename.endswith("transport.py"):
                return when(frame)
            frame = frame.f_back
        return False

    def watch() -> None:
        while not stop.wait(0.005):
            if inside():
                os.kill(os.getpid(), signal.SIGINT)
                return

    threading.Thread(target=watch, daemon=True).start()
    return stop


def test_ctrl_c_stops_a_wait_at_once_and_marks_the_session_broken(lab: LabServer) -> None:
    session = smtp(lab.endpoints.smtp, timeout=120)  # type: ignore[arg-type]
    session.connect()
    lab.faults.delay("smtp", 100_000, "NOOP")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    watching = _ctrl_c_inside("recv")
    try:
        with pytest.raises(KeyboardInterrupt):
            session.command("NOOP")  # the reply would take 100 s: the interrupt ends the wait
    finally:
        watching.set()
        signal.signal(signal.SIGINT, previous)
    assert session.status == "broken"
    assert session.reason == "interrupted while waiting for a reply"


SMTP_UNTIL_354: list[Step] = [
    ("send", S220_READY),
    *[("readline", None), ("send", b"250 ok\r\n")] * 3,  # HELO, MAIL, RCPT
    ("readline", None),
    ("send", b"354 go ahead\r\n"),
    ("sleep", 30),  # and never read the message
]
BIG_MESSAGE = b"Subject: big\r\n\r\n" + (b"x" * 76 + b"\r\n") * 400_000  # 31 MB
WIRE = BIG_MESSAGE + b".\r\n"


def test_a_server_that_takes_no_message_data_breaks_the_session_after_the_timeout() -> None:
    # The server stays silent for 120 s: a session still waiting then would see it close instead.
    with fake_server(*SMTP_UNTIL_354[:-1], ("sleep", 120)) as port:
        session = smtp(port, timeout=2)
        session.connect()
        session.command("HELO me")
        with pytest.raises(SessionBroken, match=r"the server took no data for 2 s"):
            session.send_message("a@x.test", ["b@x.test"], BIG_MESSAGE)
    assert session.status == "broken"


def test_ctrl_c_stops_a_stuck_send_and_marks_the_session_broken() -> None:
    # The server never reads the message text: the 31 MB cannot all go out, so once the client
    # is sending it, it is stuck there for good, and that is where the interrupt comes.
    with fake_server(*SMTP_UNTIL_354[:-1], ("sleep", 120)) as port:
        session = smtp(port, timeout=120)
        session.connect()
        session.command("HELO me")
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        watching = _ctrl_c_inside("send", lambda frame: len(frame.f_locals["data"]) == len(WIRE))
        try:
            with pytest.raises(KeyboardInterrupt):
                session.send_message("a@x.test", ["b@x.test"], BIG_MESSAGE)
        finally:
            watching.set()
            signal.signal(signal.SIGINT, previous)
    assert session.status == "broken" and session.reason == "interrupted while sending"
    assert any(entry.data.startswith(b"Subject: big") for entry in session.transcript.entries)


def test_refresh_notices_a_server_that_hung_up(lab: LabServer) -> None:
    lab.faults.drop_after("smtp", "MAIL", times=1)
    session = smtp(lab.endpoints.smtp, timeout=5)  # type: ignore[arg-type]
    session.connect()
    session.command("HELO me")
    session.command("MAIL FROM:<a@lab.test>")
    deadline = time.monotonic() + 5
    while session.status == "open" and time.monotonic() < deadline:
        session.refresh()
        time.sleep(0.02)
    assert session.status == "closed" and "closed the connection" in session.reason


def test_refresh_records_an_unsolicited_421(lab_factory: Callable[..., LabServer]) -> None:
    lab = lab_factory(smtp_idle_timeout=0.3)
    session = smtp(lab.endpoints.smtp, timeout=5)  # type: ignore[arg-type]
    session.connect()
    deadline = time.monotonic() + 10  # the server's idle timer fires after 0.3 s, or later
    while session.status == "open" and time.monotonic() < deadline:
        session.refresh()
        time.sleep(0.02)
    assert session.status == "closed"
    assert "421 4.4.2" in session.transcript.text()
