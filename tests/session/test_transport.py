# What this module does: tests of the socket layer (mailmagic/session/transport.py) against the
# lab server: implicit TLS verified with the lab CA, TLS facts (version, cipher, names, expiry),
# certificate refusal with advice, insecure mode, read deadlines, and sends that wait for a slow
# reader but not for one that never reads.
from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mailmagic.lab import LabServer
from mailmagic.lab.certs import ensure_tls_files
from mailmagic.session.transport import ReadTimeout, Transport, TransportError, tls_context


def test_implicit_tls_facts(lab: LabServer) -> None:
    transport = Transport("127.0.0.1", lab.endpoints.pop3s, 5)  # type: ignore[arg-type]
    info = transport.start_tls(tls_context(str(lab.endpoints.ca_file)), "127.0.0.1")
    assert transport.is_tls and info.verified
    assert info.version in ("TLSv1.2", "TLSv1.3") and info.cipher
    assert info.subject == "O=mailmagic lab, CN=mail.lab.test"
    assert info.not_after is not None and info.not_after.year >= 2026
    assert transport.recv(time.monotonic() + 5).startswith(b"+OK")
    transport.close()
    transport.close()


def test_refused_certificate_gives_advice(lab: LabServer) -> None:
    transport = Transport("127.0.0.1", lab.endpoints.pop3s, 5)  # type: ignore[arg-type]
    with pytest.raises(TransportError, match=r"certificate was refused.*--cafile FILE"):
        transport.start_tls(tls_context(), "127.0.0.1")


def test_insecure_mode_still_reads_the_certificate(lab: LabServer) -> None:
    transport = Transport("127.0.0.1", lab.endpoints.smtps, 5)  # type: ignore[arg-type]
    info = transport.start_tls(tls_context(insecure=True), "127.0.0.1")
    assert not info.verified and info.subject == "O=mailmagic lab, CN=mail.lab.test"
    transport.close()


def test_read_deadline(lab: LabServer) -> None:
    transport = Transport("127.0.0.1", lab.endpoints.pop3, 30)  # type: ignore[arg-type]
    transport.recv(time.monotonic() + 30)  # the greeting
    started = time.monotonic()
    with pytest.raises(ReadTimeout):
        transport.recv(time.monotonic() + 0.3)
    assert 0.25 < time.monotonic() - started < 15  # the deadline ended it, not the 30 s timeout
    transport.close()


@contextmanager
def slow_reader(
    wait: float, pace: float = 0.0, tls: ssl.SSLContext | None = None
) -> Iterator[tuple[int, list[int]]]:
    """A loopback server that reads nothing for ``wait`` seconds (or until the test is done),
    then everything, with ``pace`` seconds between reads, over ``tls`` if given; yields its port
    and a list that gets the number of octets it read by the end of the stream."""
    listener = socket.create_server(("127.0.0.1", 0))
    got: list[int] = []
    done = threading.Event()

    def serve() -> None:
        raw, _ = listener.accept()
        with tls.wrap_socket(raw, server_side=True) if tls else raw as conn:
            done.wait(wait)
            total = 0
            while data := conn.recv(1 << 20):
                total += len(data)
                time.sleep(pace)
            got.append(total)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], got
    finally:
        done.set()
        listener.close()
        thread.join(30)


def test_a_big_send_to_a_slow_reader_is_not_cut() -> None:
    data = b"x" * (32 << 20)  # more than the socket buffers hold
    with slow_reader(1.0) as (port, got):
        transport = Transport("127.0.0.1", port, 5)
        started = time.monotonic()
        transport.send(data)
        assert time.monotonic() - started > 0.5  # it really waited for the reader
        transport.close()
    assert got == [len(data)]


def test_a_send_the_server_never_takes_times_out() -> None:
    with slow_reader(60.0) as (port, _):  # reads nothing until the test is done
        transport = Transport("127.0.0.1", port, 0.5)
        with pytest.raises(TransportError, match=r"the server took no data for 0.5 s"):
            transport.send(b"x" * (64 << 20))
        transport.close()


def test_a_tls_send_that_keeps_moving_is_not_cut(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, "localhost")
    # 1,024 TLS records, one read each: at least 4 s at this pace, longer than the 3 s timeout,
    # and no gap between reads comes near it, even with a loaded machine waking the reader late.
    data = b"x" * (16 << 20)
    with slow_reader(0.0, pace=0.004, tls=files.server_context()) as (port, got):
        transport = Transport("127.0.0.1", port, 3.0)
        transport.start_tls(files.client_context(), "localhost")
        started = time.monotonic()
        transport.send(data)  # longer than the timeout, never stalled that long
        assert time.monotonic() - started > 3.0
        transport.poll()  # read what the server sent after the handshake (a session ticket)
        transport.close()
    assert got == [len(data)]
