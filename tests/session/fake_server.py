# What this module does: a misbehaving server for fault tests: it accepts one connection on a
# free loopback port and plays a script (send bytes, wait, read a line, close), so tests can see
# how sessions cope with silence, cut replies, endless lines and garbage.
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
