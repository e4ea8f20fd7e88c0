"""The one place that owns a socket. A blocking TCP connection with a connect timeout and a per-read
deadline, implicit TLS (SMTPS 465 / POP3S 995, RFC 8314) or an in-place upgrade (STARTTLS / STLS),
certificate verification on by default. Reads wait in short slices, checking the deadline between
them, so the kernel never hangs; Ctrl-C (SIGINT) ends a wait at once."""

from __future__ import annotations

import contextlib
import datetime as dt
import select
import socket
import ssl
import struct
import sys
import time
from dataclasses import dataclass

RECV_CHUNK = 64 * 1024
_SLICE = 0.2  # seconds per blocking wait: how often a deadline is checked (Ctrl-C ends any wait)
_TLS_PIECE = 16 * 1024  # octets per TLS send: one record, so a moving send shows its progress


class TransportError(OSError):
    """The connection failed: refused, reset, timed out, or TLS could not be set up."""


class ReadTimeout(TransportError):
    """No data arrived before the deadline."""


class WriteTimeout(TransportError):
    """The server took none of what was sent for the whole timeout."""


@dataclass(frozen=True)
class TlsInfo:
    """What a TLS handshake agreed on and who the server said it was."""

    version: str
    cipher: str
    subject: str
    issuer: str
    not_after: dt.datetime | None
    verified: bool


def tls_context(cafile: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    """A client context: system CAs (or ``cafile``), host names checked, unless ``insecure``."""
    context = ssl.create_default_context(cafile=cafile)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Transport:
    """A connected socket, maybe TLS. Raises TransportError subclasses, never hangs."""

    def __init__(
        self, host: str, port: int, timeout: float, connect_timeout: float | None = None
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        wait = connect_timeout or timeout  # for the connection only; reads and writes: timeout
        try:
            self._sock: socket.socket = socket.create_connection((host, port), timeout=wait)
        except TimeoutError:
            raise TransportError(f"could not connect to {host}:{port} within {wait:g} s") from None
        except OSError as error:
            raise TransportError(
                f"could not connect to {host}:{port}: {error.strerror or error}"
            ) from None
        try:
            # Lines go out as typed, one small write each: without TCP_NODELAY, Nagle's
            # algorithm and the peer's delayed ACK hold the second of two writes back ~40 ms.
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if not _kernel_timeouts(self._sock):
                self._sock.settimeout(_SLICE)
            self._poller = select.poll() if hasattr(select, "poll") else None  # not on Windows
            if self._poller is not None:  # the descriptor stays the same after a TLS upgrade
                self._poller.register(self._sock, select.POLLIN)
        except OSError as error:
            self._sock.close()
            raise TransportError(f"could not set up the connection: {error}") from None
        self._verified = False

    @property
    def is_tls(self) -> bool:
        """True once TLS is up (implicit or upgraded)."""
        return isinstance(self._sock, ssl.SSLSocket)

    def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> TlsInfo:
        """Wrap the socket in TLS (RFC 3207 / RFC 2595 upgrade, or implicit TLS right away)."""
        self._sock.settimeout(self.timeout)
        try:
            self._sock = context.wrap_socket(self._sock, server_hostname=server_hostname)
        except ssl.SSLCertVerificationError as error:
            self.close()
            raise TransportError(
                f"the server's certificate was refused: {error.verify_message}; give the CA file "
                "that signed it (open ... --cafile FILE) or, for a throwaway test server only, "
                "turn checks off (open ... --insecure)"
            ) from None
        except (ssl.SSLError, OSError) as error:
            self.close()
            raise TransportError(
                f"TLS handshake with {self.host}:{self.port} failed: {error}"
            ) from None
        self._sock.settimeout(_SLICE)
        self._verified = context.verify_mode != ssl.CERT_NONE
        info = self.tls_info()
        assert info is not None  # the socket was just wrapped
        return info

    def tls_info(self) -> TlsInfo | None:
        """Version, cipher and certificate names of the TLS session, or None."""
        sock = self._sock
        if not isinstance(sock, ssl.SSLSocket):
            return None
        cipher = sock.cipher()
        cert = _peer_certificate(sock)
        return TlsInfo(
            version=str(sock.version()),
            cipher=cipher[0] if cipher else "",
            subject=_name(cert.get("subject", ())),
            issuer=_name(cert.get("issuer", ())),
            not_after=_when(cert.get("notAfter")),
            verified=self._verified,
        )

    def send(self, data: bytes) -> None:
        """Send every byte or raise TransportError, also when the server takes nothing for
        ``timeout`` seconds (a big message on a slow link is not cut while it moves)."""
        rest: bytes | memoryview = data
        stalled = 0.0  # since when the server has taken nothing
        # A TLS send takes all it is given or times out (no partial counts), so it gets one
        # record at a time; a timed-out piece is sent again, as OpenSSL requires.
        piece = _TLS_PIECE if self.is_tls else len(data)
        while rest:
            try:
                sent = self._sock.send(rest[:piece] if len(rest) > piece else rest)
            except (TimeoutError, BlockingIOError):
                now = time.monotonic()
                stalled = stalled or now - _SLICE  # one slice has gone by already
                if now - stalled >= self.timeout:
                    raise WriteTimeout(f"the server took no data for {self.timeout:g} s") from None
                continue
            except OSError as error:
                raise TransportError(_lost(error)) from None
            if sent == len(rest):  # a command line: one call does it, no view needed
                return
            rest, stalled = memoryview(rest)[sent:], 0.0

    def recv(self, deadline: float) -> bytes:
        """Up to RECV_CHUNK bytes; b"" when the server closed; ReadTimeout after ``deadline``."""
        while True:
            try:
                return self._sock.recv(RECV_CHUNK)
            except (TimeoutError, BlockingIOError):
                if time.monotonic() >= deadline:
                    raise ReadTimeout("no reply") from None
            except OSError as error:
                raise TransportError(_lost(error)) from None

    def poll(self) -> bytes | None:
        """What arrived unasked, without waiting: None if nothing, b"" if the server closed."""
        sock = self._sock
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
        if not pending and not self._readable():
            return None
        try:
            return sock.recv(RECV_CHUNK)
        except (TimeoutError, BlockingIOError):
            return None
        except OSError:
            return b""

    def _readable(self) -> bool:
        """Whether the socket has something to read (or was closed), without waiting."""
        if self._poller is None:
            return bool(select.select([self._sock], [], [], 0)[0])
        return bool(self._poller.poll(0))

    def close(self) -> None:
        """Close the socket; safe to call twice."""
        with contextlib.suppress(OSError):
            self._sock.close()


def _kernel_timeouts(sock: socket.socket) -> bool:
    """Make plain TCP `sock` blocking, its reads and writes giving up after _SLICE in the kernel
    (SO_RCVTIMEO, SO_SNDTIMEO): one system call per read where Python's own timeouts make two
    (poll, then recv). A signal still ends the wait at once (EINTR). Linux only; False elsewhere,
    or if the kernel refuses, and the caller uses Python's timeouts instead (as TLS always does,
    set up in start_tls)."""
    if sys.platform != "linux":
        return False
    seconds = int(_SLICE)
    value = struct.pack("ll", seconds, int((_SLICE - seconds) * 1_000_000))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    except OSError:
        return False
    sock.settimeout(None)
    return True


def _lost(error: OSError) -> str:
    return f"the connection was lost: {error.strerror or error}"


def _peer_certificate(sock: ssl.SSLSocket) -> dict[str, object]:
    cert = sock.getpeercert()
    if cert:
        return dict(cert)
    der = sock.getpeercert(binary_form=True)
    return _decode_der(der) if der else {}


def _decode_der(der: bytes) -> dict[str, object]:
    # With verification off, getpeercert() gives nothing; read the names with cryptography,
    # in getpeercert()'s shape so both show alike.
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)

    def rdns(name: x509.Name) -> tuple[tuple[tuple[str, str], ...], ...]:
        return tuple(((a.rfc4514_attribute_name, str(a.value)),) for a in name)

    return {
        "subject": rdns(cert.subject),
        "issuer": rdns(cert.issuer),
        "notAfter": cert.not_valid_after_utc.strftime("%b %d %H:%M:%S %Y GMT"),
    }


_SHORT = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
          "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L"}  # fmt: skip


def _name(parts: object) -> str:
    """A distinguished name as "CN=..., O=...", whichever way the certificate was read."""
    if not isinstance(parts, tuple):
        return ""
    pairs = [f"{_SHORT.get(key, key)}={value}" for rdn in parts for key, value in rdn]
    return ", ".join(pairs)


def _when(text: object) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    return dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(text), dt.timezone.utc)
