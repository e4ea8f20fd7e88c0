"""Where mail for a domain goes, as `dig MX` and a telnet user would find out by hand: the domain's
MX records looked up with dnspython (at the system's nameservers, or at the ones given as
``host[:port]``), sorted by preference, each host's A and AAAA addresses, and a loop that tries
them in order until one answers (`first_answer`; the caller connects). RFC 5321 5.1 decides the
rest: no MX records means the domain itself is the one host (an implicit MX of preference 0), and a
host list that leaves nothing to try is an error. A null MX (`0 .`, RFC 7505 3) says the domain
accepts no mail. Equal preferences are NOT shuffled as 5.1 asks of a delivering MTA (to spread its
load): they stay in name order, so a table and the order of tries read the same on every run.
Every failure (NXDOMAIN, no answer, a timeout, SERVFAIL) is an MxError saying what happened and
what to do."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver

from mailmagic.session.base import SessionError

DNS_PORT = 53
CONNECT_TIMEOUT = 10.0  # seconds to wait for each address to take the connection
PORT_25_HINT = (
    "many networks (homes, clouds, campuses) block outbound port 25 to stop spam; "
    "try from another network, or use the lab server"
)
SETTING = "SMTPMagic.nameservers"
T = TypeVar("T")


class MxError(SessionError):
    """The lookup found nowhere to try: no such domain, a null MX, DNS failed or timed out."""


@dataclass(frozen=True)
class MxHost:
    """One mail exchanger: its preference (lower first), name, addresses (IPv4 first), and
    ``problem``, why it has none when it has none."""

    preference: int
    host: str
    addresses: tuple[str, ...] = ()
    problem: str = ""


@dataclass(frozen=True)
class MxLookup:
    """The answer for ``domain``: its hosts in the order to try them; ``implicit`` when the domain
    has no MX records and is its own host (RFC 5321 5.1); who was asked."""

    domain: str
    hosts: tuple[MxHost, ...]
    implicit: bool = False
    nameservers: tuple[str, ...] = ()

    def candidates(self) -> Iterator[tuple[MxHost, str]]:
        """(host, address) in the order to try: hosts by preference, each address in turn."""
        return ((host, address) for host in self.hosts for address in host.addresses)


@dataclass(frozen=True)
class Attempt:
    """One try at one address: ``error`` is why it failed, "" when it answered."""

    host: str
    address: str
    error: str = ""

    @property
    def answered(self) -> bool:
        """True when this address gave a greeting."""
        return not self.error


def nameserver(spec: str) -> dns.nameserver.Do53Nameserver:
    """``127.0.0.1``, ``127.0.0.1:5353``, ``::1`` or ``[::1]:5353`` as a nameserver to ask."""
    text, port = spec.strip(), DNS_PORT
    if text.startswith("["):
        text, _, rest = text[1:].partition("]")
        port = _port(spec, rest.removeprefix(":")) if rest else DNS_PORT
    elif text.count(":") == 1:
        text, _, number = text.partition(":")
        port = _port(spec, number)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise MxError(
            f"{SETTING}: {spec!r} is not an IP address with an optional port; "
            "write e.g. '192.0.2.53', '127.0.0.1:5353' or '[::1]:5353'"
        ) from None
    return dns.nameserver.Do53Nameserver(text, port)


def _port(spec: str, number: str) -> int:
    if number.isdigit() and 0 < int(number) < 65536:
        return int(number)
    raise MxError(f"{SETTING}: {spec!r} has no valid port after the ':' (1 to 65535)")


def resolver(nameservers: Sequence[str] = ()) -> dns.resolver.Resolver:
    """A resolver asking ``nameservers``, or the system's (/etc/resolv.conf) if none are given."""
    if nameservers:
        made = dns.resolver.Resolver(configure=False)
        made.nameservers = [nameserver(spec) for spec in nameservers]
        return made
    try:
        return dns.resolver.Resolver()
    except dns.resolver.NoResolverConfiguration:
        raise MxError(
            f"this machine has no nameserver configured; set one: %config {SETTING} = "
            "['192.0.2.53']"
        ) from None


def lookup(domain: str, nameservers: Sequence[str] = (), timeout: float = 10.0) -> MxLookup:
    """The MX hosts of ``domain`` with their addresses, in the order to try them (RFC 5321 5.1);
    an MxError when there is nothing to try. ``timeout``: seconds for each DNS question."""
    ask = resolver(nameservers)
    asked = tuple(_shown(n) for n in ask.nameservers)
    try:
        answer = ask.resolve(domain, "MX", lifetime=timeout, search=False)
    except dns.resolver.NoAnswer:
        return _implicit(ask, domain, timeout, asked)
    except dns.exception.DNSException as error:
        raise MxError(_failure(error, domain, asked)) from None
    if any(r.exchange == dns.name.root for r in answer):  # RFC 7505 3: the null MX, "0 ."
        raise MxError(
            f"{domain} accepts no mail: it publishes a null MX ('0 .', RFC 7505 3), so no "
            "server will take mail for it; nothing to connect to"
        )
    records = [(r.preference, r.exchange.to_text(omit_final_dot=True)) for r in answer]
    ordered = sorted(records, key=lambda record: (record[0], record[1].lower()))
    hosts = tuple(_host(ask, pref, name, timeout) for pref, name in ordered)
    return _checked(MxLookup(domain, hosts, nameservers=asked))


def _shown(server: object) -> str:
    """A nameserver as it is written in the setting: ``IP``, ``IP:port``, ``[IPv6]:port``."""
    if not isinstance(server, dns.nameserver.Do53Nameserver):
        return str(server)
    if server.port == DNS_PORT:
        return server.address
    address = f"[{server.address}]" if ":" in server.address else server.address
    return f"{address}:{server.port}"


def _implicit(
    ask: dns.resolver.Resolver, domain: str, timeout: float, asked: tuple[str, ...]
) -> MxLookup:
    """No MX records: the domain itself, preference 0 (RFC 5321 5.1, the implicit MX)."""
    host = _host(ask, 0, domain, timeout)
    if not host.addresses:
        raise MxError(
            f"{domain} has no MX records and no address of its own ({host.problem}): no mail can "
            "be delivered to it (RFC 5321 5.1); check the domain's spelling"
        )
    return MxLookup(domain, (host,), implicit=True, nameservers=asked)


def _host(ask: dns.resolver.Resolver, preference: int, name: str, timeout: float) -> MxHost:
    """``name``'s A then AAAA addresses (IPv4 first: the one most networks reach)."""
    addresses: list[str] = []
    problems: list[str] = []
    for kind in ("A", "AAAA"):
        try:
            answer = ask.resolve(name, kind, lifetime=timeout, search=False)
        except dns.resolver.NoAnswer:
            continue
        except dns.exception.DNSException as error:
            problems.append(_short(error))
            continue
        addresses += [r.to_text() for r in answer]
    problem = "" if addresses else "; ".join(dict.fromkeys(problems)) or "no A or AAAA record"
    return MxHost(preference, name, tuple(addresses), problem)


def _checked(found: MxLookup) -> MxLookup:
    """RFC 5321 5.1: MX records none of which can be used are an error, said as one."""
    if any(host.addresses for host in found.hosts):
        return found
    each = "; ".join(f"{h.host}: {h.problem}" for h in found.hosts)
    raise MxError(
        f"no MX host of {found.domain} has an address ({each}), so mail for it cannot be "
        "delivered (RFC 5321 5.1); the domain's DNS is misconfigured"
    )


def _short(error: dns.exception.DNSException) -> str:
    """A few words for a host's address lookup that failed."""
    if isinstance(error, dns.resolver.NXDOMAIN):
        return "no such host (NXDOMAIN)"
    if isinstance(error, dns.exception.Timeout):
        return "DNS timed out"
    if isinstance(error, dns.resolver.NoNameservers):
        return "DNS failed (SERVFAIL)"
    return f"DNS error: {error}"


def _failure(error: dns.exception.DNSException, domain: str, asked: tuple[str, ...]) -> str:
    """What happened to the MX question for ``domain`` and what to do about it."""
    servers, what = ", ".join(asked) or "none", f"the MX records of {domain}"
    if isinstance(error, dns.resolver.NXDOMAIN):
        return f"{domain} does not exist (NXDOMAIN): check the domain's spelling"
    if isinstance(error, dns.exception.Timeout):
        return (
            f"no DNS answer for {what} in time (asked {servers}): check the network, raise "
            f"--timeout, or ask another nameserver ({SETTING})"
        )
    if isinstance(error, dns.resolver.NoNameservers):
        return (
            f"the nameservers could not answer for {what} (SERVFAIL; asked {servers}): the "
            f"domain's own DNS is broken or unreachable; try again later or another nameserver "
            f"({SETTING})"
        )
    return f"could not look up {what}: {error}; check the domain name"


def first_answer(
    found: MxLookup, connect: Callable[[MxHost, str], T]
) -> tuple[T | None, tuple[Attempt, ...]]:
    """Call ``connect`` on each (host, address) in order until one returns (a greeting); a
    SessionError from it is that address's failure. The result (None if none answered) and
    every attempt."""
    attempts: list[Attempt] = []
    for host, address in found.candidates():
        try:
            result = connect(host, address)
        except SessionError as error:
            attempts.append(Attempt(host.host, address, str(error) or type(error).__name__))
            continue
        attempts.append(Attempt(host.host, address))
        return result, tuple(attempts)
    return None, tuple(attempts)


def none_answered(found: MxLookup, attempts: Sequence[Attempt], port: int) -> str:
    """The message when no address answered: each host and why, then the port 25 hint."""
    tried = [f"  {a.host} ({a.address}) port {port}: {a.error}" for a in attempts]
    skipped = [f"  {h.host}: {h.problem}" for h in found.hosts if not h.addresses]
    hint = PORT_25_HINT if port == 25 else f"check that something listens on port {port}"
    return "\n".join(
        [f"no mail server of {found.domain} answered:", *tried, *skipped, f"Note: {hint}."]
    )
