# What this module does: tests of the socket layer (mailmagic/session/transport.py) against the
# lab server: implicit TLS verified with the lab CA, TLS facts (version, cipher, names, expiry),
# certificate refusal with advice, insecure mode, and read deadlines.
from __future__ import annotations

import time

import pytest

from mailmagic.lab import LabServer
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
    transport = Transport("127.0.0.1", lab.endpoints.pop3, 5)  # type: ignore[arg-type]
    transport.recv(time.monotonic() + 5)  # the greeting
    started = time.monotonic()
    with pytest.raises(ReadTimeout):
        transport.recv(time.monotonic() + 0.3)
    assert 0.25 < time.monotonic() - started < 1.5
    transport.close()
