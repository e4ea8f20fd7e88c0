"""A cassette served as a fake server on loopback (docs/cassettes.md). `ReplayServer` runs
an asyncio listener in a thread; every connection replays the cassette from its start through a
`Player`: the recorded greeting, then, for each line the client sends, the recorded reply if the
line is the one the cassette holds next (protocol/cassette.py's `matches`: the verb and arguments
without regard to case, spacing or angle brackets; a masked secret matches any). A line the
cassette does not hold gets ``503 5.5.1`` (SMTP) or ``-ERR`` (POP3) naming what it expected next,
and the cassette waits where it was. SMTP message text after a recorded 354 is taken as it comes,
up to the lone ".", which gets the recorded reply. STARTTLS / STLS cannot be replayed (the cassette
holds no server key): it is refused with 454 / -ERR and the cassette goes on past the upgrade, in
clear. After the cassette's end, QUIT gets 221 / +OK and the connection closes. With ``timing`` the
recorded delays between a command and its reply are kept.

`load` reads a cassette file, or one shipped in the package by its short name (`shipped`)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mailmagic.protocol.cassette import MASK, Cassette, CassetteError, Event, matches, parse

_START_TIMEOUT = 30.0
_TLS_VERBS = frozenset({"STARTTLS", "STLS"})
_SECRET_VERBS = {"PASS": 1, "AUTH": 2, "APOP": 2}  # words kept before the mask


def shipped() -> dict[str, Path]:
    """The cassettes shipped in the package, by short name ("exchange2003-smtp"...)."""
    folder = resources.files("mailmagic").joinpath("cassettes")
    return {
        Path(item.name).stem: Path(str(item))
        for item in folder.iterdir()
        if item.name.endswith(".jsonl")
    }


def find(name: str, protocol: str | None = None) -> Path:
    """A cassette file by path, or a shipped one by short name (``exchange2003`` with protocol
    "smtp" is exchange2003-smtp); raises CassetteError if there is none."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    known = shipped()
    for key in (name, f"{name}-{protocol}" if protocol else name):
        if key in known:
            return known[key]
    names = ", ".join(sorted(known))
    raise CassetteError(f"no cassette file {name!r}, nor a shipped one by that name ({names})")


def load(name: str, protocol: str | None = None) -> Cassette:
    """Read and check a cassette (a path or a shipped name); raises CassetteError."""
    path = find(name, protocol)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CassetteError(f"{path}: cannot be read: {error}") from None
    return parse(text, str(path), protocol)


def masked(line: str) -> str:
    """A client line as a reply may quote it: the secret of PASS, AUTH or APOP hidden."""
    words = line.split()
    keep = _SECRET_VERBS.get(words[0].upper()) if words else None
    return " ".join([*words[:keep], MASK]) if keep and len(words) > keep else line


@dataclass
class Answer:
    """What the replay says to one client line: lines, each after its delay, then maybe close."""

    lines: list[tuple[float, str]] = field(default_factory=list)
    close: bool = False


class Player:
    """One connection's walk through a cassette (no I/O: fed lines, gives answers)."""

    def __init__(self, cassette: Cassette) -> None:
        self.cassette = cassette
        self.smtp = cassette.protocol == "smtp"
        self.at = 0  # the next event
        self.in_text = False  # SMTP message text after a 354

    def greeting(self) -> Answer:
        """The server lines before the client's first line."""
        return Answer(self._replies(0.0))

    def answer(self, line: str) -> Answer:
        """The recorded answer to ``line``, or the mismatch reply."""
        if self.in_text:
            return self._text(line)
        self._skip_notes()
        if self.at >= len(self.cassette.events):
            return self._after_end(line)
        expected = self.cassette.events[self.at]
        if not matches(expected.line, line):
            return Answer([(0.0, self._refusal(f"expected {expected.line}, got {masked(line)}"))])
        self.at += 1
        verb = line.split()[0].upper() if line.split() else ""
        if verb in _TLS_VERBS:
            return self._no_tls(expected)
        replies = self._replies(expected.t)
        self.in_text = self.smtp and bool(replies) and replies[-1][1].startswith("354")
        return Answer(replies, close=verb == "QUIT")

    def _text(self, line: str) -> Answer:
        """Message text: nothing is matched; the lone "." gets the recorded reply."""
        if line != ".":
            return Answer()
        events = self.cassette.events
        while self.at < len(events) and not (
            events[self.at].dir == "c" and events[self.at].line == "."
        ):
            self.at += 1
        self.in_text = False
        if self.at >= len(events):
            return Answer([(0.0, "250 2.0.0 OK (the cassette ends inside DATA)")])
        self.at += 1
        return Answer(self._replies(events[self.at - 1].t))

    def _replies(self, since: float) -> list[tuple[float, str]]:
        """The "s" lines from here to the next "c" line, each with its recorded delay."""
        out: list[tuple[float, str]] = []
        events = self.cassette.events
        while self.at < len(events) and events[self.at].dir != "c":
            event = events[self.at]
            if event.dir == "s":
                out.append((max(0.0, event.t - since), event.line))
                since = event.t
            self.at += 1
        return out

    def _no_tls(self, command: Event) -> Answer:
        self._replies(command.t)  # the recorded go-ahead, and the TLS note, are passed over
        why = "TLS cannot be replayed (the cassette holds no server key); go on in clear"
        return Answer([(0.0, f"454 4.7.0 {why}" if self.smtp else f"-ERR {why}")])

    def _after_end(self, line: str) -> Answer:
        if line.strip().upper() == "QUIT":
            bye = "221 2.0.0 closing: end of the cassette" if self.smtp else "+OK end of cassette"
            return Answer([(0.0, bye)], close=True)
        return Answer(
            [(0.0, self._refusal(f"the cassette has ended: expected QUIT, got {masked(line)}"))]
        )

    def _refusal(self, text: str) -> str:
        name = Path(self.cassette.where).stem
        return (
            f"503 5.5.1 {text} (replay of {name})"
            if self.smtp
            else f"-ERR {text} (replay of {name})"
        )

    def _skip_notes(self) -> None:
        events = self.cassette.events
        while self.at < len(events) and events[self.at].dir == "note":
            self.at += 1


class ReplayServer:
    """A cassette served on a loopback port from a background thread (see the module
    docstring); ``start()`` returns (host, port), ``stop()`` closes it (safe to call twice)."""

    def __init__(
        self, cassette: Cassette, host: str = "127.0.0.1", port: int = 0, timing: bool = False
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"a replay listens on loopback only, not {host}")
        self.cassette, self.host, self.port, self.timing = cassette, host, port, timing
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    @property
    def running(self) -> bool:
        """True while the listener is up."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> tuple[str, int]:
        """Listen; return (host, port) once the listener is up."""
        if self.running:
            return self.host, self.port
        self._loop = loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=loop.run_forever, name="mailmagic-replay", daemon=True
        )
        self._thread.start()
        try:
            listening = asyncio.run_coroutine_threadsafe(self._listen(), loop)
            self._server = listening.result(_START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        return self.host, self.port

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, self.host, self.port)

    def stop(self) -> None:
        """Close the listener and every connection, and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError, TimeoutError):
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(_START_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_START_TIMEOUT)
        if loop is not None and not loop.is_running():
            loop.close()
        self._loop = self._thread = self._server = None

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        player = Player(self.cassette)
        try:
            answer = player.greeting()
            while await self._say(writer, answer):
                data = await reader.readline()
                if not data:
                    break
                answer = player.answer(data.decode("utf-8", "replace").rstrip("\r\n"))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _say(self, writer: asyncio.StreamWriter, answer: Answer) -> bool:
        """Send the answer's lines (after their delays if timing is kept); False to hang up."""
        for delay, line in answer.lines:
            if self.timing and delay > 0:
                await writer.drain()
                await asyncio.sleep(delay)
            writer.write(line.encode("utf-8") + b"\r\n")
        await writer.drain()
        return not answer.close

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
