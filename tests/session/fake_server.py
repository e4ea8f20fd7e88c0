# What this module does: misbehaving servers for fault tests. `fake_server` accepts one connection
# on a free loopback port and plays a script (send bytes, wait, read a line, close), so tests can
# see how sessions cope with silence, cut replies, endless lines and garbage. `fake_pop3` answers
# the few POP3 commands a fetch sends, from UIDs and texts given by the test (duplicate UIDs, UIDs
# too long for a file name), to any number of connections.
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

Step = tuple[
    str, object
]  # ("send", bytes) | ("sleep", seconds) | ("readline", None) | ("close", None)


def _play(conn: socket.socket, script: Sequence[Step], stop: threading.Event) -> None:
    reader = conn.makefile("rb")
    for action, arg in script:
        if stop.is_set():
            break
        if action == "send":
            assert isinstance(arg, bytes)
            conn.sendall(arg)
        elif action == "sleep":
            assert isinstance(arg, (int, float))
            stop.wait(arg)
        elif action == "readline":
            reader.readline()
        elif action == "close":
            break
    reader.close()


@contextmanager
def fake_server(*script: Step) -> Iterator[int]:
    """Serve ``script`` to the first client; yields the port. Silent after the script ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            try:
                _play(conn, script, stop)
            except OSError:
                return
            if script and script[-1][0] != "close":
                stop.wait(30)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def big_line(megabytes: int) -> bytes:
    """A reply line of ``megabytes`` MB with no line end."""
    return b"220 " + b"x" * (megabytes * 1024 * 1024)


@contextmanager
def fake_pop3(
    messages: Sequence[tuple[str, bytes]], capa: bytes = b"UIDL\r\nPIPELINING\r\n"
) -> Iterator[int]:
    """A small POP3 server (RFC 1939) on a free loopback port, for any number of connections at
    once: any USER/PASS logs in, then CAPA, UIDL, LIST, RETR, NOOP and QUIT are answered, each as
    soon as its line is read (so pipelined commands work), from ``messages`` (uid, text ending
    in CRLF).
    UIDs are sent as given: duplicates, or ones too long, are the point. Yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # how often the accept loop looks whether to stop
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
            threading.Thread(target=_pop3_session, args=(conn, messages, capa), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _pop3_session(conn: socket.socket, messages: Sequence[tuple[str, bytes]], capa: bytes) -> None:
    with conn, conn.makefile("rb") as reader:
        try:
            conn.sendall(b"+OK fake POP3 ready\r\n")
            for line in reader:
                verb, _, argument = line.decode().strip().partition(" ")
                conn.sendall(_pop3_reply(verb.upper(), argument, messages, capa))
                if verb.upper() == "QUIT":
                    return
        except OSError:
            return


def _pop3_reply(
    verb: str, argument: str, messages: Sequence[tuple[str, bytes]], capa: bytes
) -> bytes:
    numbered = dict(enumerate(messages, 1))
    if verb in ("USER", "PASS", "NOOP", "QUIT"):
        return b"+OK\r\n"
    if verb == "CAPA":
        return b"+OK\r\n" + capa + b".\r\n"
    if verb in ("UIDL", "LIST"):
        rows = (
            f"{n} {uid if verb == 'UIDL' else len(text)}\r\n" for n, (uid, text) in numbered.items()
        )
        return b"+OK\r\n" + "".join(rows).encode() + b".\r\n"
    if verb == "RETR" and argument.isdigit() and int(argument) in numbered:
        text = numbered[int(argument)][1]
        stuffed = b"\r\n".join(b"." + t if t.startswith(b".") else t for t in text.split(b"\r\n"))
        return b"+OK message follows\r\n" + stuffed + b".\r\n"
    return b"-ERR not here\r\n"
