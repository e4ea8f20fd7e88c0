"""The lab's POP3 server, one asyncio task per connection on the streams of `asyncio.start_server`,
serving the maildrops of the shared MailStore.

It speaks RFC 1939 (POP3) with the RFC 2449 extension mechanism (CAPA, response codes, PIPELINING,
the 255-octet command line), RFC 2595 STLS, RFC 5034 AUTH with SASL PLAIN (RFC 4616) and the
RFC 3206 response codes [AUTH] and [SYS/TEMP]. The rules are not here: how a command line is
read, which verbs each state accepts, how many arguments each takes and which state a +OK leads
to are protocol/pop3_rules.py's, the table the client connection reads too. This module is the
server's side: a handler per verb it offers (UTF8 and LANG it does not), the maildrop, the
replies. A session walks CONNECTED -> AUTHORIZATION -> TRANSACTION -> UPDATE by that table. DELE
only marks a message: removal happens when QUIT in TRANSACTION enters UPDATE (RFC 1939 section
6). Any other end of a session (EOF, reset, idle timeout, a fault's drop) removes nothing, and
the maildrop lock is always released.

Lines are read with StreamReader.readuntil under whatever `limit=` the listener was started with
(the default 64 KiB is fine): on LimitOverrunError the bytes seen so far are thrown away and
reading goes on to the end of the line, so a 10 MB line without CRLF costs about twice the limit
in memory and gets -ERR, not a closed connection. Multi-line replies are dot-stuffed and streamed
in chunks of about DRAIN_EVERY octets with a drain after each (RETR reads and stuffs whole blocks
of lines, `crlf_blocks`; TOP goes line by line), so a 50 MB RETR holds one chunk at a time.
Output is queued and written when the queue is that big or the session is about to wait for a
command, so the replies to pipelined commands share writes. The idle timeout (RFC 1939 section 3
autologout) is one timer per session that each line read and each drain pushes back; when it
fires it aborts the transport. Handlers return ServerReply values and the session loop queues
them; AUTH's "+ " continuation is the one handler that queues output itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import logging
import os
import re
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, replace

from mailmagic.lab.config import LabConfig, local_part
from mailmagic.lab.directory import Directory
from mailmagic.lab.faults import Faults
from mailmagic.lab.log import LabLog, SessionRecorder, mask_command, mask_continuation
from mailmagic.lab.store import (
    MailboxInUse,
    MailStore,
    StoredMessage,
    crlf_blocks,
    crlf_lines,
)
from mailmagic.protocol.pop3_rules import (
    CONNECT,
    MAX_COMMAND_LINE,
    TOO_LONG,
    TRANSITIONS,
    CommandRefused,
    Pop3Command,
    Pop3State,
    check_command,
    read_command,
    typed_usage,
)

log = logging.getLogger(__name__)

MAX_SASL_LINE = 4096
"""Octets in one AUTH continuation line: RFC 5034 section 4 sends long responses that way."""
DRAIN_EVERY = 64 * 1024
"""Octets of queued output written at once, with a drain after each such write."""
CLOSE_TIMEOUT = 5.0
"""Seconds to wait for a closing connection (a TLS shutdown) before giving up on it."""
IMPLEMENTATION = "mailmagic-lab"
OFFERED_SASL_MECHANISMS = ("PLAIN",)
BAD_CREDENTIALS = "[AUTH] invalid user name or password"
_NO_SECRET = "\0no such user\0"  # checked for unknown users, so they answer like wrong passwords
_NUMBER = re.compile(r"[0-9]+")
_LINE_DOT = re.compile(rb"\n\.")


@dataclass(frozen=True)
class Pop3Context:
    """What every POP3 connection of one listener shares."""

    config: LabConfig
    store: MailStore
    faults: Faults
    tls_context: ssl.SSLContext | None  # server side; offered for STLS unless implicit_tls
    implicit_tls: bool = False  # True on the POP3S listener: no STLS there
    directory: Directory | None = None  # the users now (directory.py); None: config's
    log: LabLog | None = None  # where sessions are recorded (lab.log)
    listener: str = "pop3"

    @property
    def users(self) -> Mapping[str, str]:
        """User name -> password, as they are now."""
        return self.directory.users if self.directory is not None else self.config.users


@dataclass(frozen=True)
class ServerReply:
    """One server reply: status line (no CRLF), optional multi-line body, and what follows it.

    ``body`` holds CRLF-ended lines, dot-stuffed on the way out. ``moves`` False keeps the state
    where the table would move it on +OK (bare AUTH only lists mechanisms).
    """

    line: str
    body: Iterable[bytes] | None = None
    blocks: Iterable[bytes] | None = None  # instead of body: CRLF blocks, each ending a line
    close: bool = False
    start_tls: bool = False
    moves: bool = True

    @property
    def ok(self) -> bool:
        return self.line.startswith("+OK")


class _Disconnected(Exception):
    """The client closed its side of the connection."""


_SESSION_ENDS = (_Disconnected, ConnectionError, ssl.SSLError)

Handler = Callable[[tuple[str, ...]], Awaitable[ServerReply]]


def ok(text: str = "", body: Iterable[bytes] | None = None) -> ServerReply:
    return ServerReply(f"+OK {text}".rstrip(), body=body)


def err(text: str) -> ServerReply:
    return ServerReply(f"-ERR {text}")


def count(items: Sized, noun: str) -> str:
    """``"1 message"``, ``"2 messages"``."""
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def apop_timestamp(hostname: str) -> str:
    """A fresh APOP timestamp for the greeting, ``<pid.clock@hostname>`` (RFC 1939 section 7)."""
    return f"<{os.getpid()}.{time.time_ns()}@{hostname}>"


def apop_digest(timestamp: str, secret: str) -> str:
    """The APOP digest: MD5 of timestamp and shared secret, in lower-case hex (RFC 1939 sect. 7)."""
    return hashlib.md5((timestamp + secret).encode("utf-8")).hexdigest()


def parse_number(text: str, what: str, usage: str) -> int:
    """``text`` as a decimal number, or CommandRefused naming ``what`` was expected."""
    if not _NUMBER.fullmatch(text):
        raise CommandRefused(f'"{text}" is not {what}; usage: {usage}')
    return int(text)


def decode_plain(response: str) -> tuple[str, str]:
    """User name and password of a SASL PLAIN response (RFC 4616 section 2; "=" is empty)."""
    try:
        raw = b"" if response == "=" else base64.b64decode(response, validate=True)
        authzid, authcid, password = raw.decode("utf-8").split("\0")
    except ValueError:  # binascii.Error, UnicodeDecodeError and a wrong count of NULs
        raise CommandRefused(
            "malformed AUTH PLAIN response: send base64 of authzid NUL user NUL password "
            "(RFC 4616 section 2)"
        ) from None
    if authzid not in ("", authcid):
        raise CommandRefused(f"[AUTH] {authcid} may not act as {authzid}; leave authzid empty")
    return authcid, password


def same_secret(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def dot_stuffed(lines: Iterable[bytes], chunk_size: int = DRAIN_EVERY) -> Iterator[bytearray]:
    """CRLF-ended ``lines`` byte-stuffed and ended with ".CRLF" (RFC 1939 section 3), in chunks."""
    chunk = bytearray()
    for line in lines:
        if line.startswith(b"."):
            chunk += b"."
        chunk += line
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = bytearray()  # a new buffer: the output queue may still hold the old one
    chunk += b".\r\n"
    yield chunk


def stuffed_blocks(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Blocks of whole CRLF lines byte-stuffed at C speed, then ".CRLF" (RFC 1939 section 3)."""
    for block in blocks:
        block = _LINE_DOT.sub(b"\n..", block)  # a regex finds the dots faster than replace
        yield b"." + block if block.startswith(b".") else block
    yield b".\r\n"


def top_lines(lines: Iterable[bytes], body_lines: int) -> Iterator[bytes]:
    """The header, the blank line after it, and ``body_lines`` lines of body (RFC 1939 TOP)."""
    remaining = iter(lines)
    for line in remaining:
        yield line
        if line == b"\r\n":
            break
    yield from itertools.islice(remaining, body_lines)


async def start_tls(writer: asyncio.StreamWriter, context: ssl.SSLContext) -> None:
    """Upgrade a server-side stream to TLS in place (``StreamWriter.start_tls`` from 3.11 on)."""
    if sys.version_info >= (3, 11):
        await writer.start_tls(context)
        return
    # Python 3.10: what 3.11's StreamWriter.start_tls does (CPython Lib/asyncio/streams.py), which
    # has to set private attributes of the writer and of its StreamReaderProtocol.
    protocol = writer.transport.get_protocol()
    await writer.drain()
    loop = asyncio.get_running_loop()
    transport = await loop.start_tls(writer.transport, protocol, context, server_side=True)
    if transport is None:
        raise ConnectionResetError("the connection closed during the TLS handshake")
    setattr(writer, "_transport", transport)  # noqa: B010
    setattr(protocol, "_transport", transport)  # noqa: B010
    setattr(protocol, "_over_ssl", True)  # noqa: B010


def _line_waiting(reader: asyncio.StreamReader) -> bool:
    """True when a whole line is buffered already (the client pipelined it). StreamReader has
    no public way to tell, so this looks at the private buffer; False when it cannot."""
    buffered = getattr(reader, "_buffer", None)
    return isinstance(buffered, bytearray) and b"\n" in buffered


def discard_buffered_input(reader: asyncio.StreamReader) -> int:
    """Forget plaintext the client pipelined after STLS, so it is not read as if sent over TLS.

    RFC 2595 section 4 defines STLS; the rule of keeping nothing from before the handshake is
    spelled out for SMTP in RFC 3207 section 4.2 (CVE-2011-0411 was this injection). StreamReader
    has no public way to drop its buffer, so this clears the private one.
    """
    buffered = getattr(reader, "_buffer", None)
    if not isinstance(buffered, bytearray):
        return 0
    size = len(buffered)
    buffered.clear()
    return size


class Pop3ServerSession:
    """One POP3 connection, from the greeting to the close."""

    def __init__(
        self, ctx: Pop3Context, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.ctx = ctx
        self.reader = reader
        self.writer = writer
        self.state = Pop3State.CONNECTED  # AUTHORIZATION once greeted (see run)
        self.timestamp = apop_timestamp(ctx.config.hostname)
        self.tls_active = ctx.implicit_tls
        self.user: str | None = None  # given by USER, waiting for PASS
        self.mailbox: str | None = None  # the locked maildrop, once logged in
        self.messages: list[StoredMessage] = []
        self.deleted: set[int] = set()
        self._out: list[bytes | bytearray] = []  # output not yet written (see _send)
        self._queued = 0  # octets in _out
        self.loop = asyncio.get_running_loop()
        self.last_active = self.loop.time()
        self.idle_timer: asyncio.TimerHandle | None = None  # started by run()
        self.timed_out = False
        self.recorder: SessionRecorder | None = None  # this session in lab.log, from run()
        self.handlers: Mapping[str, Handler] = {
            "USER": self._user,
            "PASS": self._pass,
            "APOP": self._apop,
            "AUTH": self._auth,
            "STLS": self._stls,
            "CAPA": self._capa,
            "QUIT": self._quit,
            "STAT": self._stat,
            "LIST": self._list,
            "RETR": self._retr,
            "TOP": self._top,
            "DELE": self._dele,
            "NOOP": self._noop,
            "RSET": self._rset,
            "UIDL": self._uidl,
        }

    # --- the connection ------------------------------------------------------------------------

    async def run(self) -> None:
        """Greet, answer commands until QUIT or the end of the connection, then clean up."""
        peer = self.writer.get_extra_info("peername")
        if self.ctx.log is not None:
            self.recorder = self.ctx.log.open("pop3", self.ctx.listener, peer, self.tls_active)
        self.idle_timer = self.loop.call_later(self.ctx.config.pop3_idle_timeout, self._watch_idle)
        try:
            hostname = self.ctx.config.hostname
            await self._send(ok(f"{hostname} POP3 server ready {self.timestamp}"))
            self.state = TRANSITIONS[self.state][CONNECT]
            await self._serve()
        except _SESSION_ENDS as exc:
            if self.timed_out:
                log.info("POP3 %s idle too long: autologout (RFC 1939 section 3)", peer)
            else:
                log.info("POP3 %s went away in the %s state: %r", peer, self.state.value, exc)
        except Exception:
            log.exception("POP3 session with %s failed; closing it", peer)
        finally:
            self._unlock()
            if self.idle_timer is not None:
                self.idle_timer.cancel()
            if self.recorder is not None:
                self.recorder.end(tls=self.tls_active)
            await self._close()

    async def _serve(self) -> None:
        while True:
            line = await self._read_line(MAX_COMMAND_LINE)
            self._record_command(line)
            reply = await self._respond(line)
            if reply.start_tls:
                await self._start_tls(reply)
            else:
                await self._send(reply)
            if reply.close:
                await self._flush()
                return

    def _record_command(self, line: bytes | None) -> None:
        """Note a command line in lab.log, its secrets masked (log.py)."""
        if self.recorder is not None:
            text = "(a line too long)" if line is None else line.decode("utf-8", "replace")
            self.recorder.command(mask_command("pop3", text.rstrip("\r\n")))

    def _touch(self) -> None:
        """Note activity: the client just sent a line or took some of our output."""
        self.last_active = self.loop.time()

    def _watch_idle(self) -> None:
        """RFC 1939 section 3: close a session idle for pop3_idle_timeout without entering
        UPDATE. One timer per session, re-armed for the time left when it fires (cheaper than a
        new timer for every line and drain).

        Aborting the transport wakes a pending read (EOF) or drain (connection lost) at once; a
        timer rather than ``asyncio.wait_for`` also keeps 3.10/3.11's wait_for from swallowing a
        cancellation when the server stops.
        """
        left = self.last_active + self.ctx.config.pop3_idle_timeout - self.loop.time()
        if left > 0:
            self.idle_timer = self.loop.call_later(left, self._watch_idle)
            return
        self.timed_out = True
        self.writer.transport.abort()

    async def _read_line(self, limit: int) -> bytes | None:
        """The next line; None when it was over ``limit`` octets (it is read and thrown away)."""
        self._touch()
        if not _line_waiting(self.reader):  # about to wait for the client: send what is queued
            await self._flush()
        overrun = False
        while True:
            try:
                line = await self.reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as exc:
                await self.reader.readexactly(exc.consumed)  # discard, keep looking for the end
                overrun = True
                continue
            except asyncio.IncompleteReadError:
                raise _Disconnected("end of stream") from None
            return None if overrun or len(line) > limit else line

    async def _send(self, reply: ServerReply) -> None:
        """Queue the reply. Queued output goes out in writes of about DRAIN_EVERY octets, each
        followed by a drain, and before the session waits for the next command (_read_line):
        replies to pipelined commands share writes, as a corked socket would."""
        self._queue(reply.line.encode("utf-8") + b"\r\n")
        if self.recorder is not None:
            self.recorder.reply(reply.line)
        chunks: Iterable[bytes | bytearray]
        if reply.blocks is not None:
            chunks = stuffed_blocks(reply.blocks)
        else:
            chunks = dot_stuffed(reply.body) if reply.body is not None else ()
        for chunk in chunks:
            self._queue(chunk)
            if self._queued >= DRAIN_EVERY:
                await self._flush()

    def _queue(self, data: bytes | bytearray) -> None:
        self._out.append(data)
        self._queued += len(data)

    async def _flush(self) -> None:
        if self._out:
            self.writer.write(b"".join(self._out))
            self._out.clear()
            self._queued = 0
            await self._drain()

    async def _drain(self) -> None:
        await self.writer.drain()
        self._touch()

    async def _start_tls(self, reply: ServerReply) -> None:
        """Send +OK to STLS and start the handshake (RFC 2595 section 4).

        Nothing is awaited between the write and the handshake taking over the socket, so the
        client's ClientHello cannot land in the plaintext buffer; what is there already was sent
        before the +OK, and is dropped.
        """
        assert self.ctx.tls_context is not None  # _stls answers +OK only with a context
        await self._flush()
        self.writer.write(reply.line.encode("utf-8") + b"\r\n")
        if self.recorder is not None:
            self.recorder.reply(reply.line)
        dropped = discard_buffered_input(self.reader)
        if dropped:
            log.warning("POP3 dropped %d octets sent after STLS before TLS (RFC 2595)", dropped)
        await start_tls(self.writer, self.ctx.tls_context)
        self.tls_active = True
        self.user = None
        if self.recorder is not None:
            self.recorder.update(tls=True)

    async def _close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            self.writer.transport.abort()  # output a stalled client never took: give up on it
        except OSError:
            pass  # the peer is gone already

    def _unlock(self) -> None:
        if self.mailbox is not None:
            self.ctx.store.release(self.mailbox)
            self.mailbox = None

    # --- one command ---------------------------------------------------------------------------

    async def _respond(self, line: bytes | None) -> ServerReply:
        """The reply to one command line, with the fault rules applied (see faults.py)."""
        if line is None:
            return err(TOO_LONG)
        try:
            command = read_command(line)
        except CommandRefused as exc:
            return err(str(exc))
        action = self.ctx.faults.take("pop3", command.verb)
        if action.delay_ms:
            await asyncio.sleep(action.delay_ms / 1000)
        if action.reply is not None:
            reply = ServerReply(action.reply)
        else:
            reply = await self._dispatch(command)
        return replace(reply, close=True) if action.drop else reply

    async def _dispatch(self, command: Pop3Command) -> ServerReply:
        try:
            next_state = check_command(self.state, command, self.handlers)
            reply = await self.handlers[command.verb](command.args)
        except CommandRefused as exc:
            return err(str(exc))
        except _SESSION_ENDS:
            raise
        except Exception:
            log.exception("POP3 %s failed in the %s state", command.verb, self.state.value)
            return err("[SYS/TEMP] internal error")
        if reply.ok and reply.moves:
            self.state = next_state
        return self._update() if self.state is Pop3State.UPDATE else reply

    def _update(self) -> ServerReply:
        """The UPDATE state (RFC 1939 section 6): remove the marked messages, unlock, sign off."""
        doomed = [message for number, message in self._numbered() if number in self.deleted]
        try:
            self.ctx.store.remove(doomed)
        except OSError as exc:
            log.warning("POP3 UPDATE of %s failed: %s", self.mailbox, exc)
            return ServerReply(
                f"-ERR [SYS/TEMP] some deleted messages not removed: {exc}", close=True
            )
        finally:
            self._unlock()
        farewell = f"{IMPLEMENTATION} POP3 server signing off ({count(doomed, 'message')} deleted)"
        return ServerReply(f"+OK {farewell}", close=True)

    # --- AUTHORIZATION (RFC 1939 section 4, RFC 2595, RFC 5034) ----------------------------------

    async def _user(self, args: tuple[str, ...]) -> ServerReply:
        self.user = args[0]
        return ok(f"send PASS for {args[0]}")  # the same for unknown users: no enumeration

    async def _pass(self, args: tuple[str, ...]) -> ServerReply:
        name, self.user = self.user, None
        if name is None:
            raise CommandRefused("PASS must follow USER; send USER name first")
        return self._login(name, lambda secret: same_secret(secret, args[0]))

    async def _apop(self, args: tuple[str, ...]) -> ServerReply:
        name, digest = args
        self.user = None
        return self._login(
            name, lambda secret: same_secret(apop_digest(self.timestamp, secret), digest.lower())
        )

    async def _auth(self, args: tuple[str, ...]) -> ServerReply:
        self.user = None
        if not args:
            body = [f"{mechanism}\r\n".encode() for mechanism in OFFERED_SASL_MECHANISMS]
            return ServerReply("+OK SASL mechanisms follow", body=body, moves=False)
        if args[0].upper() not in OFFERED_SASL_MECHANISMS:
            offered = " ".join(OFFERED_SASL_MECHANISMS)
            raise CommandRefused(
                f'unsupported SASL mechanism "{args[0]}"; this server offers {offered}'
            )
        response = args[1] if len(args) == 2 else await self._sasl_response()
        name, password = decode_plain(response)
        return self._login(name, lambda secret: same_secret(secret, password))

    async def _sasl_response(self) -> str:
        """Ask for the response with an empty challenge (RFC 5034 section 4); "*" cancels."""
        self._queue(b"+ \r\n")  # sent by _read_line, after any reply still queued
        if self.recorder is not None:
            self.recorder.reply("+ ")
        line = await self._read_line(MAX_SASL_LINE)
        if self.recorder is not None:
            self.recorder.command(mask_continuation((line or b"").decode("ascii", "replace")))
        if line is None:
            raise CommandRefused(f"AUTH response too long: the limit is {MAX_SASL_LINE} octets")
        text = line.rstrip(b"\r\n").decode("ascii", "replace")
        if text == "*":
            raise CommandRefused("AUTH cancelled by the client")
        return text

    def _login(self, name: str, check: Callable[[str], bool]) -> ServerReply:
        """Open ``name``'s maildrop if ``check`` accepts its secret (RFC 3206 [AUTH] if not)."""
        user = local_part(name, self.ctx.config.local_domains)
        secret = self.ctx.users.get(user) if user is not None else None
        accepted = check(secret if secret is not None else _NO_SECRET)
        if not accepted or user is None or secret is None:
            return err(BAD_CREDENTIALS)
        return self._open_maildrop(user)

    def _open_maildrop(self, user: str) -> ServerReply:
        try:
            self.messages = self.ctx.store.acquire(user)
        except MailboxInUse:
            return err(
                f"[IN-USE] {user}'s maildrop is locked by another POP3 session; "
                "QUIT that session or wait for it to end"
            )
        except OSError as exc:
            log.warning("POP3 cannot open the maildrop of %s: %s", user, exc)
            return err(f"[SYS/TEMP] cannot open {user}'s maildrop ({exc}); try again later")
        self.mailbox = user
        self.deleted.clear()
        if self.recorder is not None:
            self.recorder.update(user=user)
        return ok(f"{user}'s maildrop has {self._summary()}")

    async def _stls(self, args: tuple[str, ...]) -> ServerReply:
        if self.ctx.implicit_tls:
            raise CommandRefused("STLS is not available: this connection is TLS already (POP3S)")
        if self.tls_active:
            raise CommandRefused("STLS is not available: TLS is active already")
        if self.ctx.tls_context is None:
            raise CommandRefused("STLS is not available: this lab server has no TLS certificate")
        return ServerReply("+OK Begin TLS negotiation", start_tls=True)

    async def _capa(self, args: tuple[str, ...]) -> ServerReply:
        """The capabilities (RFC 2449 section 5); STLS only while it can still be used."""
        names = ["TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        names.append("SASL " + " ".join(OFFERED_SASL_MECHANISMS))
        if self.state is Pop3State.AUTHORIZATION and self.ctx.tls_context and not self.tls_active:
            names.append("STLS")
        names.append(f"IMPLEMENTATION {IMPLEMENTATION}")
        return ok("Capability list follows", body=[f"{name}\r\n".encode() for name in names])

    async def _quit(self, args: tuple[str, ...]) -> ServerReply:
        return ServerReply(f"+OK {IMPLEMENTATION} POP3 server signing off", close=True)

    # --- TRANSACTION (RFC 1939 section 5, RFC 2449 UIDL and TOP) ---------------------------------

    def _numbered(self) -> Iterator[tuple[int, StoredMessage]]:
        return enumerate(self.messages, start=1)

    def _live(self) -> list[tuple[int, StoredMessage]]:
        return [
            (number, message) for number, message in self._numbered() if number not in self.deleted
        ]

    def _summary(self) -> str:
        live = self._live()
        return f"{count(live, 'message')} ({sum(message.size for _, message in live)} octets)"

    def _message(self, arg: str, usage: str) -> tuple[int, StoredMessage]:
        """The message numbered ``arg``; CommandRefused if there is none or it is marked deleted."""
        number = parse_number(arg, "a message number", usage)
        if not 1 <= number <= len(self.messages):
            raise CommandRefused(
                f"no such message, only {count(self.messages, 'message')} in maildrop"
            )
        if number in self.deleted:
            raise CommandRefused(f"message {number} already deleted")
        return number, self.messages[number - 1]

    def _body(self, number: int, message: StoredMessage) -> Iterator[bytes]:
        """The message's CRLF lines, the first one read now so a store error still gets -ERR."""
        return self._first_read(number, message, crlf_lines(message))

    @staticmethod
    def _first_read(number: int, message: StoredMessage, parts: Iterator[bytes]) -> Iterator[bytes]:
        try:
            first = next(parts, None)
        except OSError as exc:
            log.warning("POP3 cannot read message %d (%s): %s", number, message.path, exc)
            raise CommandRefused(f"[SYS/TEMP] cannot read message {number} ({exc})") from None
        return itertools.chain(() if first is None else (first,), parts)

    def _listing(
        self, args: tuple[str, ...], usage: str, field: Callable[[StoredMessage], object]
    ) -> ServerReply:
        if args:
            number, message = self._message(args[0], usage)
            return ok(f"{number} {field(message)}")
        lines = [f"{number} {field(message)}\r\n".encode() for number, message in self._live()]
        return ok(self._summary(), body=lines)

    async def _stat(self, args: tuple[str, ...]) -> ServerReply:
        live = self._live()
        return ok(f"{len(live)} {sum(message.size for _, message in live)}")

    async def _list(self, args: tuple[str, ...]) -> ServerReply:
        return self._listing(args, typed_usage("LIST"), lambda message: message.size)

    async def _uidl(self, args: tuple[str, ...]) -> ServerReply:
        return self._listing(args, typed_usage("UIDL"), lambda message: message.uid)

    async def _retr(self, args: tuple[str, ...]) -> ServerReply:
        number, message = self._message(args[0], typed_usage("RETR"))
        blocks = self._first_read(number, message, crlf_blocks(message))
        return ServerReply(f"+OK {message.size} octets", blocks=blocks)

    async def _top(self, args: tuple[str, ...]) -> ServerReply:
        usage = typed_usage("TOP")
        number, message = self._message(args[0], usage)
        lines = parse_number(args[1], "a count of body lines (0 or more)", usage)
        return ok("top of message follows", body=top_lines(self._body(number, message), lines))

    async def _dele(self, args: tuple[str, ...]) -> ServerReply:
        number, _ = self._message(args[0], typed_usage("DELE"))
        self.deleted.add(number)
        return ok(f"message {number} deleted")

    async def _noop(self, args: tuple[str, ...]) -> ServerReply:
        return ok()

    async def _rset(self, args: tuple[str, ...]) -> ServerReply:
        self.deleted.clear()
        return ok(f"maildrop has {self._summary()}")


async def serve_pop3(
    ctx: Pop3Context, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Serve one POP3 connection: the ``client_connected_cb`` of ``asyncio.start_server``.

    Use it as ``asyncio.start_server(functools.partial(serve_pop3, ctx), host, port, ssl=...)``;
    any ``limit=`` works (see the module docstring).
    """
    try:
        await Pop3ServerSession(ctx, reader, writer).run()
    except asyncio.CancelledError:
        # The server is stopping, and the session has cleaned up in its `finally`. Ending the task
        # normally keeps the start_server callback of Python 3.10/3.11 from logging an error.
        log.debug("POP3 session cancelled: the server is stopping")
