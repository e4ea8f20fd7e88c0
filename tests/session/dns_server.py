# What this module does: a small real DNS server on a free loopback UDP port for the `--mx` tests
# (dnslib), so no test asks the internet. `dns_server(zone)` serves the records of a zone file text
# (MX, A, AAAA...): a name it has no records for is NXDOMAIN, a name with records of other types
# gets an empty answer (NOERROR), and the names in `servfail` get SERVFAIL. `silent_port()` is a
# bound UDP port that never answers, for timeouts. Answers are small: no TCP fallback is needed.
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer


class ZoneResolver(BaseResolver):  # type: ignore[misc]
    """Answers from a fixed list of records; see the module comment."""

    def __init__(self, zone: str, servfail: frozenset[str]) -> None:
        self.records = RR.fromZone(zone) if zone.strip() else []
        self.servfail = {name.rstrip(".").lower() for name in servfail}

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if name in self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        same = [rr for rr in self.records if str(rr.rname).rstrip(".").lower() == name]
        if not same:
            reply.header.rcode = RCODE.NXDOMAIN
        for rr in same:
            if rr.rtype == request.q.qtype or request.q.qtype == QTYPE.ANY:
                reply.add_answer(rr)
        return reply


def _quiet(text: str) -> None:
    """dnslib logs every query to stdout by default; the tests' output stays clean."""


@contextmanager
def dns_server(zone: str, servfail: frozenset[str] = frozenset()) -> Iterator[str]:
    """Serve ``zone`` on 127.0.0.1; yields the nameserver as "127.0.0.1:PORT"."""
    server = DNSServer(
        ZoneResolver(zone, servfail), address="127.0.0.1", port=0, logger=DNSLogger(logf=_quiet)
    )
    server.start_thread()
    try:
        yield f"127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.stop()
        server.server.server_close()


@contextmanager
def silent_port() -> Iterator[str]:
    """A loopback UDP port that takes questions and never answers; yields "127.0.0.1:PORT"."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"
