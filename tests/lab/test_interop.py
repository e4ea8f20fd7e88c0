# What this module does: interoperability of the whole lab server with independent real clients
# that scripts and people use by hand: curl (smtp://, smtps://, pop3://, pop3s://, STARTTLS with
# --ssl-reqd), `openssl s_client -starttls smtp|pop3` and swaks, every TLS session verified
# against the lab CA (no -k, no verification turned off).
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mailmagic.lab import LabServer

MESSAGE = b"From: me@mydomain.com\r\nTo: alice@lab.test\r\nSubject: curl\r\n\r\nfrom curl\r\n"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/install-test-deps")
    return path


def run(*args: str | Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(a) for a in args], input=stdin, capture_output=True, timeout=30, check=False
    )


def curl(*args: str | Path, stdin: bytes = b"") -> bytes:
    done = run(tool("curl"), "--silent", "--show-error", "--max-time", "20", *args, stdin=stdin)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def curl_send(lab: LabServer, url: str, *extra: str | Path) -> None:
    curl(
        url,
        "--mail-from",
        "me@mydomain.com",
        "--mail-rcpt",
        "alice@lab.test",
        "--upload-file",
        "-",
        *extra,
        stdin=MESSAGE,
    )


def test_curl_smtp_then_pop3(lab: LabServer) -> None:
    ep = lab.endpoints
    curl_send(lab, f"smtp://{ep.host}:{ep.smtp}")
    listing = curl(f"pop3://{ep.host}:{ep.pop3}/", "--user", "alice:alice-password")
    assert listing.startswith(b"1 ")
    message = curl(f"pop3://{ep.host}:{ep.pop3}/1", "--user", "alice:alice-password")
    assert message.endswith(MESSAGE)


def test_curl_implicit_tls_both_ways(lab: LabServer) -> None:
    ep, ca = lab.endpoints, lab.endpoints.ca_file
    user = ("--user", "alice:alice-password", "--cacert", str(ca))
    curl_send(lab, f"smtps://{ep.host}:{ep.smtps}", *user)
    message = curl(f"pop3s://{ep.host}:{ep.pop3s}/1", *user)
    assert message.endswith(MESSAGE)
    uidl = curl(f"pop3s://{ep.host}:{ep.pop3s}/", *user, "--request", "UIDL")
    assert uidl.startswith(b"1 ")


def test_curl_starttls_and_stls_required(lab: LabServer) -> None:
    ep, ca = lab.endpoints, str(lab.endpoints.ca_file)
    curl_send(lab, f"smtp://{ep.host}:{ep.smtp}", "--ssl-reqd", "--cacert", ca)
    listing = curl(
        f"pop3://{ep.host}:{ep.pop3}/",
        "--ssl-reqd",
        "--cacert",
        ca,
        "--user",
        "alice:alice-password",
    )
    assert listing.startswith(b"1 ")
    assert b"with ESMTPS id" in lab.store.messages("alice")[0].path.read_bytes()


def test_curl_refuses_the_server_without_the_lab_ca(lab: LabServer) -> None:
    ep = lab.endpoints
    done = run(tool("curl"), "--silent", f"pop3s://{ep.host}:{ep.pop3s}/", "--user", "alice:x")
    assert done.returncode == 60  # CURLE_PEER_FAILED_VERIFICATION


@pytest.mark.parametrize(("protocol", "port_name"), [("smtp", "smtp"), ("pop3", "pop3")])
def test_openssl_s_client_starttls(lab: LabServer, protocol: str, port_name: str) -> None:
    ep = lab.endpoints
    port = getattr(ep, port_name)
    commands = b"EHLO client.example\nQUIT\n" if protocol == "smtp" else b"CAPA\nQUIT\n"
    done = run(
        tool("openssl"),
        "s_client",
        "-starttls",
        protocol,
        "-connect",
        f"{ep.host}:{port}",
        "-CAfile",
        ep.ca_file,
        "-verify_return_error",
        "-verify_hostname",
        "mail.lab.test",
        "-crlf",
        "-ign_eof",
        stdin=commands,
    )
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert "Verify return code: 0 (ok)" in out
    if protocol == "smtp":
        assert "250-mail.lab.test Hello client.example" in out
        assert "221 2.0.0" in out
    else:
        assert "+OK Capability list follows" in out and "STLS" not in out.split("CAPA")[-1]


def test_swaks_sends_with_starttls_and_auth(lab: LabServer) -> None:
    ep = lab.endpoints
    done = run(
        tool("swaks"),
        "--server",
        f"{ep.host}:{ep.submission}",
        "--from",
        "alice@lab.test",
        "--to",
        "bob@lab.test",
        "--tls",
        "--tls-verify",
        "--tls-ca-path",
        ep.ca_file,
        "--tls-sni",
        "mail.lab.test",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice",
        "--auth-password",
        "alice-password",
        "--header",
        "Subject: swaks",
    )
    assert done.returncode == 0, done.stdout.decode()
    assert "250 2.6.0" in done.stdout.decode()
    (kept,) = lab.store.messages("bob")
    assert b"Subject: swaks" in kept.path.read_bytes()
