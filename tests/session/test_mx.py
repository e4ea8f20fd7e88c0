# What this module does: tests of the MX lookup and the try-each-host loop (mailmagic/session/mx.py)
# against a real DNS server on loopback (tests/session/dns_server.py, dnslib) and the real lab
# server: hosts ordered by preference, the implicit MX, a null MX, NXDOMAIN, SERVFAIL, a timeout,
# hosts without addresses, the nameserver setting's forms, and opening the first host that answers
# when the first is down (127.0.0.2 on the lab's port: refused) or none answers. No test touches
# the internet.
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mailmagic.lab import LabServer
from mailmagic.protocol.smtp import Reply
from mailmagic.session import mx
from mailmagic.session.base import Settings
from mailmagic.session.smtp import SmtpSession
from tests.session.dns_server import dns_server, silent_port

ZONE = """
example.test.      60 IN MX 20 mx2.example.test.
example.test.      60 IN MX 10 mx1.example.test.
example.test.      60 IN MX 20 a-mx.example.test.
mx1.example.test.  60 IN AAAA ::1
mx1.example.test.  60 IN A 127.0.0.2
mx2.example.test.  60 IN A 127.0.0.1
a-mx.example.test. 60 IN A 127.0.0.3
plain.test.        60 IN A 127.0.0.1
plain.test.        60 IN TXT "no MX here"
txt-only.test.     60 IN TXT "no MX, no address"
nomail.test.       60 IN MX 0 .
lame.test.         60 IN MX 10 gone.lame.test.
lame.test.         60 IN MX 20 broken.lame.test.
half.test.         60 IN MX 10 gone.half.test.
half.test.         60 IN MX 20 mx2.example.test.
"""
SERVFAIL = frozenset({"broken.test", "broken.lame.test"})


@pytest.fixture
def nameserver() -> Iterator[str]:
    """The zone above served on a free loopback port: "127.0.0.1:PORT"."""
    with dns_server(ZONE, SERVFAIL) as where:
        yield where


def test_hosts_come_by_preference_then_name_with_ipv4_first(nameserver: str) -> None:
    found = mx.lookup("example.test", [nameserver], timeout=10)
    assert [(h.preference, h.host) for h in found.hosts] == [
        (10, "mx1.example.test"),
        (20, "a-mx.example.test"),  # equal preferences: in name order, not shuffled
        (20, "mx2.example.test"),
    ]
    assert found.hosts[0].addresses == ("127.0.0.2", "::1")
    assert not found.implicit and found.nameservers == (nameserver,)
    assert [a for _, a in found.candidates()] == ["127.0.0.2", "::1", "127.0.0.3", "127.0.0.1"]


def test_no_mx_records_make_the_domain_its_own_implicit_mx(nameserver: str) -> None:
    found = mx.lookup("plain.test", [nameserver], timeout=10)
    assert found.implicit
    assert found.hosts == (mx.MxHost(0, "plain.test", ("127.0.0.1",)),)


def test_no_mx_and_no_address_is_an_error(nameserver: str) -> None:
    with pytest.raises(mx.MxError, match=r"txt-only.test has no MX records and no address"):
        mx.lookup("txt-only.test", [nameserver], timeout=10)


def test_a_null_mx_says_the_domain_accepts_no_mail(nameserver: str) -> None:
    with pytest.raises(mx.MxError, match=r"nomail.test accepts no mail.*null MX.*RFC 7505"):
        mx.lookup("nomail.test", [nameserver], timeout=10)


def test_nxdomain_says_check_the_spelling(nameserver: str) -> None:
    with pytest.raises(mx.MxError, match=r"nothere.test does not exist \(NXDOMAIN\).*spelling"):
        mx.lookup("nothere.test", [nameserver], timeout=10)


def test_servfail_says_what_to_do(nameserver: str) -> None:
    with pytest.raises(mx.MxError, match=r"SERVFAIL.*try again later or another nameserver"):
        mx.lookup("broken.test", [nameserver], timeout=10)


def test_a_nameserver_that_never_answers_times_out() -> None:
    with silent_port() as where, pytest.raises(mx.MxError, match=r"no DNS answer.*in time"):
        mx.lookup("example.test", [where], timeout=0.5)


def test_hosts_without_addresses_say_why_and_none_at_all_is_an_error(nameserver: str) -> None:
    found = mx.lookup("half.test", [nameserver], timeout=10)
    assert found.hosts[0] == mx.MxHost(10, "gone.half.test", (), "no such host (NXDOMAIN)")
    assert [a for _, a in found.candidates()] == ["127.0.0.1"]
    with pytest.raises(mx.MxError, match=r"no MX host of lame.test has an address.*SERVFAIL"):
        mx.lookup("lame.test", [nameserver], timeout=10)


@pytest.mark.parametrize(
    ("spec", "address", "port"),
    [
        ("192.0.2.53", "192.0.2.53", 53),
        (" 127.0.0.1:5353 ", "127.0.0.1", 5353),
        ("::1", "::1", 53),
        ("[::1]:5353", "::1", 5353),
        ("[2001:db8::1]", "2001:db8::1", 53),
    ],
)
def test_a_nameserver_is_an_address_with_an_optional_port(
    spec: str, address: str, port: int
) -> None:
    made = mx.nameserver(spec)
    assert (made.address, made.port) == (address, port)


@pytest.mark.parametrize("spec", ["ns.example.org", "127.0.0.1:", "127.0.0.1:99999", "[::1]:x"])
def test_a_bad_nameserver_says_how_to_write_one(spec: str) -> None:
    with pytest.raises(mx.MxError, match=r"SMTPMagic.nameservers"):
        mx.nameserver(spec)


def _connector(lab: LabServer) -> tuple[list[SmtpSession], Callable[[mx.MxHost, str], Reply]]:
    """A connect callable for first_answer: an SmtpSession to the host at the address, on the
    lab's SMTP port (so the lab answers wherever it listens)."""
    opened: list[SmtpSession] = []

    def connect(host: mx.MxHost, address: str) -> Reply:
        settings = Settings(host.host, lab.endpoints.smtp, timeout=30, address=address)
        opened.append(SmtpSession(host.host, settings))
        return opened[-1].connect()

    return opened, connect


def test_the_first_host_down_the_next_one_answers(nameserver: str, lab: LabServer) -> None:
    found = mx.lookup("half.test", [nameserver], timeout=10)
    found = mx.MxLookup(found.domain, (mx.MxHost(5, "down.test", ("127.0.0.2",)), *found.hosts))
    opened, connect = _connector(lab)
    greeting, attempts = mx.first_answer(found, connect)
    assert isinstance(greeting, Reply) and greeting.code == 220
    assert [(a.host, a.address, a.answered) for a in attempts] == [
        ("down.test", "127.0.0.2", False),
        ("mx2.example.test", "127.0.0.1", True),
    ]
    assert "refused" in attempts[0].error.lower()
    assert opened[-1].is_open and opened[-1].settings.host == "mx2.example.test"
    assert "connected to mx2.example.test" in opened[-1].transcript.entries[0].text
    opened[-1].close()


def test_none_answering_lists_every_host_and_why(nameserver: str, lab: LabServer) -> None:
    found = mx.lookup("example.test", [nameserver], timeout=10)
    found = mx.MxLookup(
        found.domain, tuple(h for h in found.hosts if "127.0.0.1" not in h.addresses)
    )
    _, connect = _connector(lab)
    greeting, attempts = mx.first_answer(found, connect)
    assert greeting is None and [a.address for a in attempts] == ["127.0.0.2", "::1", "127.0.0.3"]
    assert not any(a.answered for a in attempts)
    said = mx.none_answered(found, attempts, lab.endpoints.smtp)
    assert said.startswith("no mail server of example.test answered:")
    assert "mx1.example.test (127.0.0.2)" in said and "a-mx.example.test (127.0.0.3)" in said
    assert "block outbound port 25" in mx.none_answered(found, attempts, 25)
