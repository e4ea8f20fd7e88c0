# What this module does: tests of the lab PKI (mailmagic/lab/certs.py): a CA and a server
# certificate that stdlib ssl verifies for the lab's names, reused across restarts, renewed when
# the host name changes.
from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from mailmagic.lab.certs import ensure_tls_files


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, name: str) -> str:
    left, right = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server.wrap_socket(left, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError) as error:
            errors.append(error)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(right, server_hostname=name) as tls:
            version = str(tls.version())
            tls.sendall(b"x")
    finally:
        thread.join(5)
    return version


@pytest.mark.parametrize("name", ["mail.lab.test", "localhost", "127.0.0.1", "::1"])
def test_server_certificate_verifies_for_every_lab_name(tmp_path: Path, name: str) -> None:
    files = ensure_tls_files(tmp_path, "mail.lab.test")
    version = handshake(files.server_context(), files.client_context(), name)
    assert version in ("TLSv1.2", "TLSv1.3")


def test_wrong_name_is_refused(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, "mail.lab.test")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(files.server_context(), files.client_context(), "mail.example.com")


def test_files_are_reused_and_the_key_is_private(tmp_path: Path) -> None:
    first = ensure_tls_files(tmp_path, "mail.lab.test")
    pem = first.cert_file.read_bytes()
    second = ensure_tls_files(tmp_path, "mail.lab.test")
    assert second.cert_file.read_bytes() == pem
    assert first.key_file.stat().st_mode & 0o077 == 0


def test_a_new_host_name_renews_the_server_certificate_under_the_same_ca(tmp_path: Path) -> None:
    first = ensure_tls_files(tmp_path, "mail.lab.test")
    ca = first.ca_file.read_bytes()
    second = ensure_tls_files(tmp_path, "mx.other.test")
    assert second.ca_file.read_bytes() == ca
    cert = x509.load_pem_x509_certificate(second.cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "mx.other.test" in names.get_values_for_type(x509.DNSName)
