# What this module does: tests of the lab POP3 server (mailmagic/lab/pop3.py) on loopback. Each test
# starts its own server on a free 127.0.0.1 port, in a background thread with its own event loop,
# over a MailStore in the test's tmp_path. Stdlib poplib drives the ordinary commands; a raw socket
# (Wire) is used where poplib would hide the wire: pipelining, malformed and over-long lines, AUTH
# continuations, dot-stuffing as sent, sizes against the octets sent, dropped connections. The
# endless-line tests stream at the whole lab server in a subprocess (`lab_process`), to read its
# memory from /proc.
from __future__ import annotations

import asyncio
import base64
import errno
import functools
import hashlib
import logging
import poplib
import re
import socket
import ssl
import struct
import threading
import time
import tracemalloc
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailmagic.lab.certs import TlsFiles, ensure_tls_files
from mailmagic.lab.config import LabConfig
from mailmagic.lab.faults import Faults
from mailmagic.lab.pop3 import MAX_COMMAND_LINE, Pop3Context, serve_pop3
from mailmagic.lab.store import MailboxInUse, MailStore

if TYPE_CHECKING:
    from tests.lab.process import LabProcess

T = TypeVar("T")
HOST = "127.0.0.1"
PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}

OK = "+OK"
ERR = "-ERR"
SASL_CONTINUE = "+ "
OK_STLS = "+OK Begin TLS negotiation"
ERR_AUTH = "-ERR [AUTH] invalid user name or password"
ERR_IN_USE = "-ERR [IN-USE]"
ERR_SYS_TEMP = "-ERR [SYS/TEMP]"
ERR_INTERNAL = "-ERR [SYS/TEMP] internal error"
ERR_NO_SUCH_MESSAGE = "-ERR no such message"
ERR_DELETED_1 = "-ERR message 1 already deleted"
ERR_TOO_LONG = "-ERR command line too long"
ERR_UNKNOWN_FOO = '-ERR unknown command "FOO"'
ERR_STAT_IN_AUTHORIZATION = (
    "-ERR STAT is not valid in the AUTHORIZATION state; log in with USER and PASS first"
)
ERR_NOT_IN_TRANSACTION = "is not valid in the TRANSACTION state"
ERR_PASS_WITHOUT_USER = "-ERR PASS must follow USER"
ERR_NO_TLS = "-ERR STLS is not available: this lab server has no TLS certificate"
ERR_TLS_ACTIVE = "-ERR STLS is not available: TLS is active already"
ERR_IMPLICIT_TLS = "-ERR STLS is not available: this connection is TLS already (POP3S)"
ERR_AUTH_CANCELLED = "-ERR AUTH cancelled by the client"
ERR_PLAIN_MALFORMED = "-ERR malformed AUTH PLAIN response"
BASE_CAPABILITIES = {
    "TOP": [],
    "USER": [],
    "UIDL": [],
    "RESP-CODES": [],
    "AUTH-RESP-CODE": [],
    "PIPELINING": [],
    "SASL": ["PLAIN"],
    "IMPLEMENTATION": ["mailmagic-lab"],
}

MESSAGE_1 = b"From: carol@lab.test\r\nSubject: first\r\n\r\nline one\r\nline two\r\nline three\r\n"
MESSAGE_2 = b"From: dave@lab.test\r\nSubject: second\r\n\r\nhello\r\n"
DOTTY = b"Subject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nend\r\n"


# --- harness -------------------------------------------------------------------------------------


class LoopThread:
    """An event loop running in a daemon thread, for one test's server."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def stop(self, server: asyncio.Server) -> None:
        self.run(_shutdown(server))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _shutdown(server: asyncio.Server) -> None:
    """Stop listening; give sessions whose client is gone a moment to end, then cancel the rest."""
    server.close()
    await cancel_sessions(grace=1.0)


async def cancel_sessions(grace: float = 0.0) -> list[object]:
    """Cancel every session task still running after ``grace`` seconds; return their results."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    if tasks and grace:
        await asyncio.wait(tasks, timeout=grace)
    for task in tasks:
        task.cancel()
    results: list[object] = await asyncio.gather(*tasks, return_exceptions=True)
    return results


class Wire:
    """A raw POP3 connection: send lines exactly as given, read replies line by line."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")
        self.greeting = ""

    @classmethod
    def connect(cls, port: int) -> Wire:
        wire = cls(socket.create_connection((HOST, port), timeout=10))
        wire.greeting = wire.line()
        return wire

    def send(self, *lines: str | bytes) -> None:
        data = b"".join((x.encode() if isinstance(x, str) else x) + b"\r\n" for x in lines)
        self.sock.sendall(data)

    def line(self) -> str:
        return self.file.readline().decode("utf-8").removesuffix("\r\n")

    def body(self) -> list[str]:
        lines = []
        while (line := self.line()) != ".":
            lines.append(line)
        return lines

    def ask(self, line: str | bytes) -> str:
        self.send(line)
        return self.line()

    def login(self, user: str = "alice") -> None:
        assert self.ask(f"USER {user}").startswith(OK)
        assert self.ask(f"PASS {PASSWORDS[user]}").startswith(OK)

    def at_eof(self) -> bool:
        return self.file.readline() == b""

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@dataclass
class Pop3Lab:
    """One running test server and its store."""

    config: LabConfig
    store: MailStore
    faults: Faults
    port: int
    runner: LoopThread
    clients: list[poplib.POP3 | Wire] = field(default_factory=list)

    def deliver(self, message: bytes, user: str = "alice") -> str:
        return self.store.deliver([user], message)[0]

    def pop(self) -> poplib.POP3:
        pop = poplib.POP3(HOST, self.port, timeout=10)
        self.clients.append(pop)
        return pop

    def login(self, user: str = "alice") -> poplib.POP3:
        pop = self.pop()
        pop.user(user)
        pop.pass_(PASSWORDS[user])
        return pop

    def wire(self) -> Wire:
        wire = Wire.connect(self.port)
        self.clients.append(wire)
        return wire

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()

    def wait_unlocked(self, user: str = "alice") -> None:
        """Wait until the server let go of ``user``'s maildrop (it notices a drop a bit later)."""
        deadline = time.monotonic() + 5
        while True:
            try:
                self.store.acquire(user)
            except MailboxInUse:
                assert time.monotonic() < deadline, f"{user}'s maildrop is still locked"
                time.sleep(0.01)
                continue
            self.store.release(user)
            return


@pytest.fixture
def start_pop3(tmp_path: Path) -> Iterator[Callable[..., Pop3Lab]]:
    """Start POP3 servers with LabConfig overrides; each is stopped after the test."""
    running: list[tuple[LoopThread, asyncio.Server, Pop3Lab]] = []

    def start(
        *, tls: ssl.SSLContext | None = None, implicit: bool = False, **overrides: Any
    ) -> Pop3Lab:
        maildir = tmp_path / f"maildir{len(running)}"
        config = LabConfig(maildir=maildir, users=dict(PASSWORDS), **overrides)
        store = MailStore(maildir, config.users)
        ctx = Pop3Context(config, store, Faults(), tls, implicit_tls=implicit)
        runner = LoopThread()
        server = runner.run(
            asyncio.start_server(
                functools.partial(serve_pop3, ctx), HOST, 0, ssl=tls if implicit else None
            )
        )
        lab = Pop3Lab(config, store, ctx.faults, server.sockets[0].getsockname()[1], runner)
        running.append((runner, server, lab))
        return lab

    yield start
    for runner, server, lab in running:
        lab.close_clients()
        runner.stop(server)


@pytest.fixture
def lab(start_pop3: Callable[..., Pop3Lab]) -> Pop3Lab:
    """A server with alice's two messages, MESSAGE_1 and MESSAGE_2."""
    server = start_pop3()
    server.deliver(MESSAGE_1)
    server.deliver(MESSAGE_2)
    return server


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """The lab's own CA and server certificate (for 127.0.0.1 and localhost)."""
    return ensure_tls_files(tmp_path_factory.mktemp("tls"), "mail.lab.test")


def plain(authzid: str, user: str, password: str) -> str:
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


def raw_command(pop: poplib.POP3, line: str) -> bytes:
    """Send a command poplib has no method for (or refuses to send) through its reply parser."""
    reply: bytes = pop._shortcmd(line)  # type: ignore[attr-defined]
    return reply


def pop_error(call: Callable[[], object]) -> str:
    """The -ERR line poplib raised for ``call``."""
    with pytest.raises(poplib.error_proto) as caught:
        call()
    reply = caught.value.args[0]
    return reply.decode() if isinstance(reply, bytes) else str(reply)


# --- greeting and AUTHORIZATION ------------------------------------------------------------------


def test_greeting_names_the_host_and_carries_an_apop_timestamp(lab: Pop3Lab) -> None:
    greeting = lab.wire().greeting
    assert re.fullmatch(
        r"\+OK mail\.lab\.test POP3 server ready <\d+\.\d+@mail\.lab\.test>", greeting
    )


def test_user_pass_opens_the_maildrop(lab: Pop3Lab) -> None:
    pop = lab.pop()
    assert pop.user("alice").startswith(b"+OK")
    total = len(MESSAGE_1) + len(MESSAGE_2)
    assert (
        pop.pass_("alice-password").decode()
        == f"+OK alice's maildrop has 2 messages ({total} octets)"
    )
    pop.quit()


def test_user_may_be_given_as_a_full_address(lab: Pop3Lab) -> None:
    pop = lab.pop()
    pop.user("Alice@LAB.test")
    assert pop.pass_("alice-password").startswith(b"+OK")
    pop.quit()


@pytest.mark.parametrize(
    ("user", "password"),
    [("alice", "wrong"), ("mallory", "alice-password"), ("bob", "alice-password"), ("x", "a b")],
)
def test_bad_credentials_get_the_same_auth_reply(lab: Pop3Lab, user: str, password: str) -> None:
    wire = lab.wire()
    assert wire.ask(f"USER {user}") == f"{OK} send PASS for {user}"
    assert wire.ask(f"PASS {password}") == ERR_AUTH
    assert wire.ask("PASS alice-password").startswith(ERR_PASS_WITHOUT_USER)  # USER is forgotten
    assert wire.ask("STAT") == ERR_STAT_IN_AUTHORIZATION


def test_apop_logs_in_with_the_digest_of_timestamp_and_password(lab: Pop3Lab) -> None:
    pop = lab.pop()
    assert pop.apop("alice", "alice-password").startswith(b"+OK")
    assert pop.stat()[0] == 2
    pop.quit()


def test_apop_with_a_wrong_digest_gets_auth(lab: Pop3Lab) -> None:
    wire = lab.wire()
    timestamp = wire.greeting.rsplit(" ", 1)[1]
    digest = hashlib.md5(f"{timestamp}wrong".encode()).hexdigest()
    assert wire.ask(f"APOP alice {digest}") == ERR_AUTH
    assert wire.ask(f"APOP mallory {digest}") == ERR_AUTH


def test_second_concurrent_login_is_in_use_until_the_first_quits(lab: Pop3Lab) -> None:
    first = lab.login()
    assert pop_error(lambda: lab.login()).startswith(ERR_IN_USE)
    first.dele(1)
    first.quit()
    second = lab.login()  # the lock is released before QUIT's reply
    assert second.stat()[0] == 1
    second.quit()


def test_quit_in_authorization_closes_and_deletes_nothing(lab: Pop3Lab) -> None:
    wire = lab.wire()
    assert wire.ask("QUIT").startswith(OK)
    assert wire.at_eof()
    assert len(lab.store.messages("alice")) == 2


# --- AUTH PLAIN (RFC 5034) -----------------------------------------------------------------------


def test_auth_plain_with_initial_response(lab: Pop3Lab) -> None:
    wire = lab.wire()
    assert wire.ask(f"AUTH PLAIN {plain('', 'alice', 'alice-password')}").startswith(OK)
    assert wire.ask("STAT").startswith(f"{OK} 2 ")


def test_auth_plain_with_continuation(lab: Pop3Lab) -> None:
    wire = lab.wire()
    assert wire.ask("auth plain") == SASL_CONTINUE
    assert wire.ask(plain("alice", "alice", "alice-password")).startswith(OK)
    assert wire.ask("STAT").startswith(f"{OK} 2 ")


def test_auth_continuation_star_cancels(lab: Pop3Lab) -> None:
    wire = lab.wire()
    assert wire.ask("AUTH PLAIN") == SASL_CONTINUE
    assert wire.ask("*") == ERR_AUTH_CANCELLED
    assert wire.ask("STAT") == ERR_STAT_IN_AUTHORIZATION


def test_bare_auth_lists_mechanisms_and_stays_in_authorization(lab: Pop3Lab) -> None:
    wire = lab.wire()
    assert wire.ask("AUTH").startswith(OK)
    assert wire.body() == ["PLAIN"]
    assert wire.ask("STAT") == ERR_STAT_IN_AUTHORIZATION


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (plain("", "alice", "wrong"), ERR_AUTH),
        (plain("", "mallory", "x"), ERR_AUTH),
        (plain("bob", "alice", "alice-password"), "-ERR [AUTH] alice may not act as bob"),
        ("not*base64", ERR_PLAIN_MALFORMED),
        ("=", ERR_PLAIN_MALFORMED),
        (base64.b64encode(b"alice\0alice-password").decode(), ERR_PLAIN_MALFORMED),
    ],
)
def test_auth_plain_failures(lab: Pop3Lab, response: str, expected: str) -> None:
    wire = lab.wire()
    assert wire.ask(f"AUTH PLAIN {response}").startswith(expected)
    assert wire.ask("AUTH PLAIN") == SASL_CONTINUE
    assert wire.ask(response).startswith(expected)


# --- TRANSACTION ---------------------------------------------------------------------------------


def test_stat_list_and_uidl_use_the_stored_sizes_and_uids(lab: Pop3Lab) -> None:
    stored = lab.store.messages("alice")
    pop = lab.login()
    assert pop.stat() == (2, sum(m.size for m in stored))
    _, lines, _ = pop.list()
    assert lines == [f"{n} {m.size}".encode() for n, m in enumerate(stored, 1)]
    reply = pop.list(2)
    assert isinstance(reply, bytes)  # one scan line, not a listing
    assert reply.decode() == f"+OK 2 {stored[1].size}"
    _, lines, _ = pop.uidl()
    assert lines == [f"{n} {m.uid}".encode() for n, m in enumerate(stored, 1)]
    assert pop.uidl(1).decode() == f"+OK 1 {stored[0].uid}"
    assert pop.noop() == b"+OK"
    pop.quit()


def test_empty_maildrop(lab: Pop3Lab) -> None:
    pop = lab.login("bob")
    assert pop.stat() == (0, 0)
    assert pop.list()[1] == []
    assert pop.uidl()[1] == []
    assert pop_error(lambda: pop.retr(1)).startswith(ERR_NO_SUCH_MESSAGE)
    assert pop.quit().decode().endswith("(0 messages deleted)")


def test_retr_sends_the_message_byte_exact(lab: Pop3Lab) -> None:
    pop = lab.login()
    reply, lines, octets = pop.retr(1)
    assert reply.decode() == f"+OK {len(MESSAGE_1)} octets"
    assert b"\r\n".join(lines) + b"\r\n" == MESSAGE_1
    assert octets == len(MESSAGE_1)
    pop.quit()


def test_retr_dot_stuffs_lines_that_start_with_a_dot(lab: Pop3Lab) -> None:
    lab.deliver(DOTTY)
    wire = lab.wire()
    wire.login()
    assert wire.ask("RETR 3").startswith(OK)
    assert wire.body() == ["Subject: dots", "", "..hidden", "...two", "..", "end"]
    assert wire.ask("QUIT").startswith(OK)
    _, lines, _ = lab.login().retr(3)
    assert b"\r\n".join(lines) + b"\r\n" == DOTTY  # poplib undoes the stuffing


@pytest.mark.parametrize(
    ("body_lines", "expected"),
    [
        (0, [b"From: carol@lab.test", b"Subject: first", b""]),
        (1, [b"From: carol@lab.test", b"Subject: first", b"", b"line one"]),
        (9, MESSAGE_1.removesuffix(b"\r\n").split(b"\r\n")),
    ],
)
def test_top_sends_headers_blank_line_and_n_body_lines(
    lab: Pop3Lab, body_lines: int, expected: list[bytes]
) -> None:
    pop = lab.login()
    _, lines, _ = pop.top(1, body_lines)
    assert lines == expected
    pop.quit()


def test_commands_are_case_insensitive(lab: Pop3Lab) -> None:
    wire = lab.wire()
    assert wire.ask("user alice").startswith(OK)
    assert wire.ask("Pass alice-password").startswith(OK)
    assert wire.ask("stat").startswith(f"{OK} 2 ")
    assert wire.ask("uIdL 1").startswith(f"{OK} 1 ")


def test_dele_then_quit_removes_the_message(lab: Pop3Lab) -> None:
    keep = lab.store.messages("alice")[1]
    pop = lab.login()
    assert pop.dele(1).decode() == "+OK message 1 deleted"
    assert pop.stat()[0] == 1
    _, lines, _ = pop.list()
    assert lines == [f"2 {keep.size}".encode()]
    assert pop.quit().decode().endswith("(1 message deleted)")
    assert lab.store.messages("alice") == [keep]


@pytest.mark.parametrize("how", ["close", "reset"])
def test_dele_then_dropped_connection_keeps_the_message(lab: Pop3Lab, how: str) -> None:
    wire = lab.wire()
    wire.login()
    assert wire.ask("DELE 1").startswith(OK)
    wire.reset() if how == "reset" else wire.close()
    lab.wait_unlocked()
    assert len(lab.store.messages("alice")) == 2


def test_rset_undoes_dele(lab: Pop3Lab) -> None:
    pop = lab.login()
    pop.dele(1)
    pop.dele(2)
    total = len(MESSAGE_1) + len(MESSAGE_2)
    assert pop.rset().decode() == f"+OK maildrop has 2 messages ({total} octets)"
    assert pop.stat() == (2, total)
    pop.quit()
    assert len(lab.store.messages("alice")) == 2


def test_uidl_is_stable_across_sessions(lab: Pop3Lab) -> None:
    first = lab.login()
    _, before, _ = first.uidl()
    first.dele(1)
    first.quit()
    second = lab.login()
    _, after, _ = second.uidl()
    second.quit()
    assert after == [b"1 " + before[1].split()[1]]


@pytest.mark.parametrize("command", ["RETR 1", "LIST 1", "UIDL 1", "TOP 1 0", "DELE 1"])
def test_deleted_message_references_get_err(lab: Pop3Lab, command: str) -> None:
    wire = lab.wire()
    wire.login()
    assert wire.ask("DELE 1").startswith(OK)
    assert wire.ask(command) == ERR_DELETED_1


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("RETR 3", ERR_NO_SUCH_MESSAGE),
        ("RETR 0", ERR_NO_SUCH_MESSAGE),
        ("LIST 3", ERR_NO_SUCH_MESSAGE),
        ("UIDL 99999999999999999999", ERR_NO_SUCH_MESSAGE),
        ("TOP 3 0", ERR_NO_SUCH_MESSAGE),
        ("DELE 3", ERR_NO_SUCH_MESSAGE),
        ("RETR one", '-ERR "one" is not a message number; usage: RETR msg'),
        ("DELE -1", '-ERR "-1" is not a message number; usage: DELE msg'),
        ("TOP 1 x", '-ERR "x" is not a count of body lines (0 or more); usage: TOP msg lines'),
        ("TOP 1", "-ERR TOP takes 2 arguments, got 1; usage: TOP msg lines"),
        ("RETR", "-ERR RETR takes 1 argument, got 0; usage: RETR msg"),
        ("LIST 1 2", "-ERR LIST takes 0 to 1 arguments, got 2; usage: LIST [msg]"),
        ("NOOP now", "-ERR NOOP takes no arguments, got 1; usage: NOOP"),
        ("STAT all", "-ERR STAT takes no arguments, got 1"),
        ("RSET 1", "-ERR RSET takes no arguments, got 1"),
        ("CAPA all", "-ERR CAPA takes no arguments, got 1"),
        ("QUIT now", "-ERR QUIT takes no arguments, got 1"),
        ("UIDL 1 2", "-ERR UIDL takes 0 to 1 arguments, got 2"),
        ("DELE 1 2", "-ERR DELE takes 1 argument, got 2"),
        ("USER bob", f"-ERR USER {ERR_NOT_IN_TRANSACTION}"),
        ("PASS x", f"-ERR PASS {ERR_NOT_IN_TRANSACTION}"),
        ("STLS", f"-ERR STLS {ERR_NOT_IN_TRANSACTION}"),
        ("FOO", ERR_UNKNOWN_FOO),
    ],
)
def test_transaction_errors(lab: Pop3Lab, command: str, expected: str) -> None:
    wire = lab.wire()
    wire.login()
    assert wire.ask(command).startswith(expected)
    assert wire.ask("NOOP") == OK  # the connection is kept


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("STAT", ERR_STAT_IN_AUTHORIZATION),
        ("RETR 1", "-ERR RETR is not valid in the AUTHORIZATION state"),
        ("NOOP", "-ERR NOOP is not valid in the AUTHORIZATION state"),
        ("PASS alice-password", ERR_PASS_WITHOUT_USER),
        ("USER", "-ERR USER takes 1 argument, got 0; usage: USER name"),
        ("APOP alice", "-ERR APOP takes 2 arguments, got 1"),
        ("AUTH LOGIN", '-ERR unsupported SASL mechanism "LOGIN"; this server offers PLAIN'),
        ("STLS", ERR_NO_TLS),
        ("FOO", ERR_UNKNOWN_FOO),
        ("foo bar", ERR_UNKNOWN_FOO),
        ("", "-ERR empty command line"),
        ("   ", "-ERR empty command line"),
        (" CAPA", "-ERR command line starts with a space"),
        (b"USER al\xc3\xafce", "-ERR command line contains non-ASCII bytes"),
        (b"US\x00ER alice", "-ERR command line contains the control character 0x00"),
        ("USER " + "x" * 300, ERR_TOO_LONG),
        ("X" * 100_000, ERR_TOO_LONG),  # beyond the StreamReader limit too
    ],
)
def test_authorization_and_malformed_line_errors(
    lab: Pop3Lab, line: str | bytes, expected: str
) -> None:
    wire = lab.wire()
    assert wire.ask(line).startswith(expected)
    assert wire.ask("CAPA").startswith(OK)  # the connection is kept
    assert "PIPELINING" in wire.body()


def test_command_line_limit_is_255_octets_with_crlf(lab: Pop3Lab) -> None:
    wire = lab.wire()
    longest = "USER " + "a" * (MAX_COMMAND_LINE - len("USER ") - 2)
    assert wire.ask(longest).startswith(OK)
    assert wire.ask(longest + "a").startswith(ERR_TOO_LONG)


def test_ten_megabyte_line_without_crlf_is_discarded_in_bounded_memory(lab: Pop3Lab) -> None:
    wire = lab.wire()
    megabyte = b"A" * (1 << 20)
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        for _ in range(10):
            wire.sock.sendall(megabyte)
        reply = wire.ask("")  # the CRLF that finally ends the line
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reply.startswith(ERR_TOO_LONG)
    assert peak - baseline < 2 * (1 << 20)
    wire.login()  # the connection is kept and in step


STREAM_OCTETS = 300 * 1024 * 1024
STREAM_CHUNK = b"A" * (4 * 1024 * 1024)
MEMORY_BUDGET_KIB = 32 * 1024  # what the server may grow by while 300 MB go through it


@pytest.mark.parametrize(
    ("before", "refusal"),
    [([], ERR_TOO_LONG), (["AUTH PLAIN"], "-ERR AUTH response too long")],
    ids=["command", "auth-response"],
)
def test_an_endless_line_keeps_the_server_process_small_and_others_served(
    lab_process: LabProcess, before: list[str], refusal: str
) -> None:
    port = lab_process.info["pop3_port"]
    wire = Wire.connect(port)
    for line in before:
        assert wire.ask(line) == SASL_CONTINUE
    peak_before = lab_process.memory_kib()
    for n in range(STREAM_OCTETS // len(STREAM_CHUNK)):
        wire.sock.sendall(STREAM_CHUNK)
        if n == 30:
            other = Wire.connect(port)
            assert other.ask("USER bob") == f"{OK} send PASS for bob"  # served meanwhile
            other.close()
    assert wire.ask("").startswith(refusal)
    wire.login()  # in step
    wire.close()
    assert lab_process.memory_kib() - peak_before < MEMORY_BUDGET_KIB
    assert b"Traceback" not in lab_process.stop()[2]


def test_pipelined_commands_in_one_send_are_answered_in_order(lab: Pop3Lab) -> None:
    uid = lab.store.messages("alice")[0].uid
    wire = lab.wire()
    wire.send("USER alice", "PASS alice-password", "STAT", "LIST", "UIDL 1", "NOOP", "QUIT")
    assert wire.line() == f"{OK} send PASS for alice"
    assert wire.line().startswith(f"{OK} alice's maildrop has 2 messages")
    assert wire.line().startswith(f"{OK} 2 ")
    assert wire.line().startswith(OK)
    assert len(wire.body()) == 2
    assert wire.line() == f"{OK} 1 {uid}"
    assert wire.line() == OK
    assert wire.line().startswith(f"{OK} mailmagic-lab POP3 server signing off")
    assert wire.at_eof()


def test_pipelined_replies_come_before_an_auth_continuation(lab: Pop3Lab) -> None:
    wire = lab.wire()
    wire.send("CAPA", "NOOP", "AUTH PLAIN")  # queued replies go out before the "+ "
    assert wire.line().startswith(OK) and "PIPELINING" in wire.body()
    assert wire.line().startswith("-ERR")  # NOOP before login
    assert wire.line() == SASL_CONTINUE
    assert wire.ask(plain("alice", "alice", "alice-password")).startswith(OK)


def test_many_pipelined_retrs_come_back_whole_and_in_order(lab: Pop3Lab) -> None:
    wire = lab.wire()
    wire.login()
    wire.send(*[f"RETR {n}" for n in (1, 2) * 20], "QUIT")
    bodies = []
    for _ in range(40):
        assert wire.line().startswith(OK)
        bodies.append(wire.body())
    assert bodies == [bodies[0], bodies[1]] * 20 and bodies[0] != bodies[1]
    assert wire.line().startswith(f"{OK} mailmagic-lab POP3 server signing off")


def test_large_message_retr_is_byte_exact(start_pop3: Callable[..., Pop3Lab]) -> None:
    server = start_pop3()
    lines = [
        (b"." if i % 1000 == 0 else b"") + b"%08d " % i + b"0123456789abcdef" * 4
        for i in range(80_000)
    ]
    message = b"Subject: big\r\n\r\n" + b"\r\n".join(lines) + b"\r\n"
    assert len(message) > 5_000_000
    server.deliver(message)
    pop = server.login()
    reply, got, octets = pop.retr(1)
    assert reply.decode() == f"+OK {len(message)} octets"
    assert b"\r\n".join(got) + b"\r\n" == message
    assert octets == len(message)
    pop.quit()


ODD_MESSAGES = {
    "stray-cr": b"Subject: cr\r\n\r\nline one\r\r\nmid\rline\r\n\r\r\n",
    "bare-lf-inside": b"Subject: lf\n\nunix\nline ends\r\nmixed\n",
    "leading-dots": b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n\r.\r\n",
    "no-final-newline": b"Subject: open\r\n\r\nno line end",
    "cr-at-the-very-end": b"Subject: open\r\n\r\nends in CR\r",
    "binary": bytes(range(256)) * 3,
    "empty": b"",
}
ODD_PIECES = [b"\r", b"\n", b"\r\n", b"\r\r\n", b".", b"..", b"x", b"\x00", b"\xff", b"\x80"]


def retr_raw(wire: Wire, number: int) -> tuple[str, bytes]:
    """The +OK line and the message RETR sent, read off the wire with its dot-stuffing undone."""
    status = wire.ask(f"RETR {number}")
    message = bytearray()
    while (line := wire.file.readline()) != b".\r\n":
        assert line.endswith(b"\r\n"), line  # every line POP3 sends ends in CRLF
        message += line[1:] if line.startswith(b".") else line
    return status, bytes(message)


def assert_sizes_are_the_octets_sent(server: Pop3Lab, message: bytes) -> None:
    server.deliver(message)
    wire = server.wire()
    wire.login()
    listed = wire.ask("LIST 1").split()[2]
    total = wire.ask("STAT").split()[2]
    status, sent = retr_raw(wire, 1)
    assert status == f"{OK} {len(sent)} octets"
    assert int(listed) == int(total) == len(sent)
    as_stored = message.replace(b"\r\n", b"\n")  # CRLF on the way in, LF in the Maildir file
    expected = as_stored.replace(b"\n", b"\r\n")
    assert sent == expected + (b"\r\n" if expected and not expected.endswith(b"\n") else b"")
    assert wire.ask("DELE 1").startswith(OK) and wire.ask("QUIT").startswith(OK)
    wire.close()


@pytest.mark.parametrize("message", ODD_MESSAGES.values(), ids=ODD_MESSAGES.keys())
def test_list_and_stat_sizes_are_the_octets_retr_sends(lab: Pop3Lab, message: bytes) -> None:
    lab.store.remove(lab.store.messages("alice"))
    assert_sizes_are_the_octets_sent(lab, message)


def test_sizes_are_the_octets_retr_sends_for_any_message(
    start_pop3: Callable[..., Pop3Lab],
) -> None:
    server = start_pop3()  # one server for every example

    @settings(max_examples=60, deadline=None)
    @given(message=st.lists(st.sampled_from(ODD_PIECES), max_size=200).map(b"".join))
    def check(message: bytes) -> None:
        assert_sizes_are_the_octets_sent(server, message)

    check()


def test_cancelled_session_releases_the_lock_and_ends_quietly(lab: Pop3Lab) -> None:
    wire = lab.wire()
    wire.login()
    assert wire.ask("DELE 1").startswith(OK)
    assert lab.runner.run(cancel_sessions()) == [None]  # the task ends normally
    assert wire.at_eof()
    lab.store.acquire("alice")  # no wait needed: the lock went in the session's finally
    assert len(lab.store.messages("alice")) == 2


def test_idle_timeout_closes_without_update(start_pop3: Callable[..., Pop3Lab]) -> None:
    server = start_pop3(pop3_idle_timeout=0.5)
    server.deliver(MESSAGE_1)
    wire = server.wire()
    wire.login()
    assert wire.ask("DELE 1").startswith(OK)
    started = time.monotonic()
    assert wire.at_eof()
    assert 0.4 < time.monotonic() - started < 30  # the idle timer, not the wire's timeout
    server.wait_unlocked()
    assert len(server.store.messages("alice")) == 1


# --- CAPA and TLS (RFC 2449, RFC 2595) -----------------------------------------------------------


def test_capa_without_tls(lab: Pop3Lab) -> None:
    pop = lab.pop()
    assert pop.capa() == BASE_CAPABILITIES
    pop.user("alice")
    pop.pass_("alice-password")
    assert pop.capa() == BASE_CAPABILITIES
    pop.quit()


def test_stls_upgrades_and_is_then_withdrawn(
    start_pop3: Callable[..., Pop3Lab], certificate: TlsFiles
) -> None:
    server = start_pop3(tls=certificate.server_context())
    server.deliver(MESSAGE_1)
    pop = server.pop()
    assert pop.capa() == {**BASE_CAPABILITIES, "STLS": []}
    assert pop.stls(certificate.client_context()).decode() == OK_STLS
    assert isinstance(pop.sock, ssl.SSLSocket)
    assert pop.capa() == BASE_CAPABILITIES
    assert pop_error(lambda: raw_command(pop, "STLS")) == ERR_TLS_ACTIVE
    pop.user("alice")
    pop.pass_("alice-password")
    assert pop.capa() == BASE_CAPABILITIES
    _, lines, _ = pop.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == MESSAGE_1
    pop.quit()


def test_stls_discards_commands_pipelined_before_the_handshake(
    start_pop3: Callable[..., Pop3Lab], certificate: TlsFiles
) -> None:
    server = start_pop3(tls=certificate.server_context())
    wire = server.wire()
    wire.send("STLS", "USER alice")  # a plaintext injection attempt (RFC 2595 section 4)
    assert wire.line() == OK_STLS
    tls = certificate.client_context().wrap_socket(wire.sock, server_hostname=HOST)
    secure = Wire(tls)
    server.clients.append(secure)
    assert secure.ask("PASS alice-password").startswith(ERR_PASS_WITHOUT_USER)


def test_stls_in_transaction_is_refused(
    start_pop3: Callable[..., Pop3Lab], certificate: TlsFiles
) -> None:
    server = start_pop3(tls=certificate.server_context())
    wire = server.wire()
    wire.login()
    assert wire.ask("STLS").startswith(f"-ERR STLS {ERR_NOT_IN_TRANSACTION}")


def test_implicit_tls_has_no_stls(
    start_pop3: Callable[..., Pop3Lab], certificate: TlsFiles
) -> None:
    server = start_pop3(tls=certificate.server_context(), implicit=True)
    server.deliver(MESSAGE_1)
    pop = poplib.POP3_SSL(HOST, server.port, context=certificate.client_context(), timeout=10)
    server.clients.append(pop)
    assert pop.capa() == BASE_CAPABILITIES
    assert pop_error(lambda: raw_command(pop, "STLS")) == ERR_IMPLICIT_TLS
    pop.user("alice")
    pop.pass_("alice-password")
    assert pop.stat()[0] == 1
    pop.quit()


# --- fault injection (faults.py) -----------------------------------------------------------------


def test_fault_override_replaces_the_reply_without_running_the_command(lab: Pop3Lab) -> None:
    lab.faults.override("pop3", "PASS", "-ERR [SYS/TEMP] maintenance", times=1)
    wire = lab.wire()
    assert wire.ask("USER alice").startswith(OK)
    assert wire.ask("PASS alice-password") == "-ERR [SYS/TEMP] maintenance"
    assert wire.ask("STAT") == ERR_STAT_IN_AUTHORIZATION
    wire.login()
    assert wire.ask("STAT").startswith(f"{OK} 2 ")


def test_fault_delay_holds_the_reply(lab: Pop3Lab) -> None:
    lab.faults.delay("pop3", 300, "NOOP")
    wire = lab.wire()
    wire.login()
    started = time.monotonic()
    assert wire.ask("NOOP") == OK
    assert time.monotonic() - started >= 0.3


def test_fault_drop_closes_after_the_reply_and_deletes_nothing(lab: Pop3Lab) -> None:
    lab.faults.drop_after("pop3", "RETR")
    wire = lab.wire()
    wire.login()
    assert wire.ask("DELE 2").startswith(OK)
    assert wire.ask("RETR 1").startswith(OK)
    assert len(wire.body()) == 6
    assert wire.at_eof()
    lab.wait_unlocked()
    assert len(lab.store.messages("alice")) == 2


# --- store failures and internal errors ----------------------------------------------------------


def test_store_error_at_login_is_sys_temp(lab: Pop3Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(user: str) -> list[object]:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(lab.store, "acquire", broken)
    assert pop_error(lambda: lab.login()).startswith(f"{ERR_SYS_TEMP} cannot open alice's maildrop")


def test_unreadable_message_is_sys_temp_and_the_session_goes_on(lab: Pop3Lab) -> None:
    wire = lab.wire()
    wire.login()
    lab.store.messages("alice")[0].path.unlink()
    assert wire.ask("RETR 1").startswith(f"{ERR_SYS_TEMP} cannot read message 1")
    assert wire.ask("RETR 2").startswith(OK)
    assert len(wire.body()) == 4


def test_store_error_at_update_is_sys_temp_and_unlocks(
    lab: Pop3Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(messages: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(lab.store, "remove", broken)
    wire = lab.wire()
    wire.login()
    wire.ask("DELE 1")
    assert wire.ask("QUIT").startswith(f"{ERR_SYS_TEMP} some deleted messages not removed")
    assert wire.at_eof()
    lab.wait_unlocked()


def test_unexpected_exception_is_internal_error_and_keeps_the_connection(
    lab: Pop3Lab, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    wire = lab.wire()
    wire.login()

    def broken(*args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("mailmagic.lab.pop3.Pop3ServerSession._summary", broken)
    with caplog.at_level(logging.ERROR, logger="mailmagic.lab.pop3"):
        assert wire.ask("RSET") == ERR_INTERNAL
    assert any("RSET failed" in record.getMessage() for record in caplog.records)
    assert wire.ask("NOOP") == OK
    wire.close()
    lab.wait_unlocked()
