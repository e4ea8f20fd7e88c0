# What this module does: tests of the lab controller (mailmagic/lab/controller.py) as a whole
# server: every listener answers, SMTP to POP3 round trips byte for byte (any CRLF message, stray
# CRs included), STLS inside TLS gets -ERR on both POP3 listeners, UIDs survive a restart, DELE is
# honoured only at QUIT, a mailbox is locked while in use, and 50 SMTP + 50 POP3 sessions at once
# lose and duplicate nothing.
from __future__ import annotations

import poplib
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailmagic.lab import LabConfig, LabServer

MESSAGE = (
    b"From: Me <me@mydomain.com>\r\n"
    b"To: Alice <alice@lab.test>\r\n"
    b"CC: Bob <bob@lab.test>\r\n"
    b"Subject: Your subject.\r\n"
    b"Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
    b"\r\n"
    b"Message Body\r\n"
    b".leading dot\r\n"
    b"\r\n"
    b"last line\r\n"
)


def send(lab: LabServer, body: bytes = MESSAGE, to: str = "alice@lab.test") -> None:
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp, timeout=20) as smtp:
        assert smtp.sendmail("me@mydomain.com", [to], body) == {}


def pop3(lab: LabServer, user: str = "alice") -> poplib.POP3:
    client = poplib.POP3(lab.endpoints.host, lab.endpoints.pop3, timeout=20)
    client.user(user)
    client.pass_(f"{user}-password")
    return client


def without_trace_headers(lines: list[bytes]) -> bytes:
    assert lines[0].startswith(b"Return-Path: ")
    assert lines[1].startswith(b"Received: ")
    rest = lines[2:]
    while rest[0].startswith(b"\t"):
        rest = rest[1:]
    return b"".join(line + b"\r\n" for line in rest)


def test_every_listener_answers(lab: LabServer) -> None:
    ep = lab.endpoints
    ports = [ep.smtp, ep.submission, ep.smtps, ep.pop3, ep.pop3s]
    assert len(set(ports)) == 5
    for port in (ep.smtp, ep.submission, ep.pop3):
        with socket.create_connection((ep.host, port), timeout=5) as sock:
            assert sock.recv(100)[:3] in (b"220", b"+OK")
    assert ep.ca_file.exists() and ep.maildir.is_dir()


def test_round_trip_is_byte_exact_apart_from_trace_headers(lab: LabServer) -> None:
    send(lab)
    client = pop3(lab)
    _, lines, octets = client.retr(1)
    client.quit()
    assert without_trace_headers(lines) == MESSAGE
    assert octets == sum(len(line) + 2 for line in lines)


SMTP_LINE_PIECES = [b"\r", b".", b"..", b"x", b" ", b"\x00", b"\xff", b"\xc3\xa9", b"From "]
SMTP_MESSAGES = st.lists(
    st.lists(st.sampled_from(SMTP_LINE_PIECES), max_size=30).map(b"".join), min_size=1, max_size=20
).map(lambda lines: b"".join(line + b"\r\n" for line in lines))


def test_any_message_smtp_takes_comes_back_byte_for_byte(lab: LabServer) -> None:
    """CRLF lines with stray CRs, dots, NULs and 8-bit octets: what DATA took, RETR gives."""

    @settings(max_examples=60, deadline=None)
    @given(message=SMTP_MESSAGES)
    def check(message: bytes) -> None:
        send(lab, message)
        client = pop3(lab)
        listed = int(client.list(1).split()[2])
        _, lines, octets = client.retr(1)
        client.dele(1)
        client.quit()
        assert without_trace_headers(lines) == message
        assert listed == octets == sum(len(line) + 2 for line in lines)

    check()


def test_stls_inside_tls_gets_err_on_both_pop3_listeners(lab: LabServer) -> None:
    """RFC 2595 section 4: -ERR when TLS is active already, and the session goes on."""
    ep, context = lab.endpoints, lab.tls.client_context()
    implicit = poplib.POP3_SSL(ep.host, ep.pop3s, context=context, timeout=20)
    upgraded = poplib.POP3(ep.host, ep.pop3, timeout=20)
    upgraded.stls(context)
    for client in (implicit, upgraded):
        with pytest.raises(poplib.error_proto, match="STLS is not available"):
            client._shortcmd("STLS")  # type: ignore[attr-defined]
        client.user("alice")
        assert client.pass_("alice-password").startswith(b"+OK")
        client.quit()


def test_uids_are_stable_across_a_restart(lab_factory: Callable[..., LabServer]) -> None:
    lab = lab_factory()
    send(lab)
    send(lab, to="team@lab.test")
    client = pop3(lab)
    before = client.uidl()[1]
    client.quit()
    lab.stop()
    lab.start()
    client = pop3(lab)
    assert client.uidl()[1] == before
    client.quit()


def pop3_when_released(lab: LabServer, user: str = "alice") -> poplib.POP3:
    """Log in once the server has noticed that the previous session's connection dropped."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return pop3(lab, user)
        except poplib.error_proto as error:
            if b"[IN-USE]" not in error.args[0] or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_dele_then_dropped_connection_keeps_the_message(lab: LabServer) -> None:
    send(lab)
    client = pop3(lab)
    client.dele(1)
    client.file.close()
    client.sock.close()
    client = pop3_when_released(lab)
    assert client.stat()[0] == 1
    client.quit()


def test_dele_then_quit_removes_it(lab: LabServer) -> None:
    send(lab)
    send(lab)
    client = pop3(lab)
    client.dele(1)
    client.quit()
    assert len(lab.store.messages("alice")) == 1


def test_second_concurrent_login_is_refused_in_use(lab: LabServer) -> None:
    first = pop3(lab)
    second = poplib.POP3(lab.endpoints.host, lab.endpoints.pop3, timeout=10)
    second.user("alice")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        second.pass_("alice-password")
    first.quit()
    third = pop3(lab)
    third.quit()


def test_stop_is_idempotent_and_frees_the_temporary_store() -> None:
    lab = LabServer(LabConfig())
    root = lab.start().maildir
    assert lab.running
    lab.stop()
    lab.stop()
    assert not lab.running and not root.exists()
    with pytest.raises(RuntimeError, match="not running"):
        _ = lab.endpoints


def test_context_manager_and_fixed_ports(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = LabConfig(smtp_port=port, pop3s_port=None, maildir=tmp_path)
    with LabServer(config) as lab:
        assert lab.endpoints.smtp == port
        assert lab.endpoints.pop3s is None
    assert not lab.running


def test_a_busy_port_is_reported_and_nothing_keeps_running(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        lab = LabServer(LabConfig(pop3_port=port, maildir=tmp_path))
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            lab.start()
    assert not lab.running
    assert not any(t.name == "mailmagic-lab" and t.is_alive() for t in threading.enumerate())


def test_fifty_smtp_and_fifty_pop3_sessions_at_once(
    lab_factory: Callable[..., LabServer],
) -> None:
    users = [f"user{i}" for i in range(50)]
    lab = lab_factory(users={u: f"{u}-password" for u in users}, aliases={})
    bodies = {u: f"Subject: load {u}\r\n\r\nbody of {u}\r\n".encode() for u in users}
    with ThreadPoolExecutor(max_workers=100) as pool:
        sends = [pool.submit(send, lab, bodies[u], f"{u}@lab.test") for u in users]
        reads = [pool.submit(_read_all, lab, u) for u in users]
        for future in sends + reads:
            future.result(timeout=60)
    with ThreadPoolExecutor(max_workers=50) as pool:
        fetched = dict(zip(users, pool.map(lambda u: _read_all(lab, u), users), strict=True))
    for user in users:
        (only,) = fetched[user]
        assert only.endswith(f"body of {user}\r\n".encode())


def _read_all(lab: LabServer, user: str) -> list[bytes]:
    client = pop3(lab, user)
    count = client.stat()[0]
    messages = [b"".join(x + b"\r\n" for x in client.retr(n + 1)[1]) for n in range(count)]
    client.quit()
    return messages


def test_listeners_are_tcp_sockets_so_replies_go_out_without_nagle_delay() -> None:
    from mailmagic.lab.controller import _bound_socket

    sock = _bound_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY only for these
    finally:
        sock.close()
