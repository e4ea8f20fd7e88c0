"""`LabServer`, the controller that runs the lab's SMTP, submission, SMTPS, POP3 and POP3S listeners
on one asyncio loop in a background thread, over one Maildir store. As aiosmtpd's Controller does,
`start()` returns only once every listener answers and re-raises any start-up error; unlike it,
ports of 0 are resolved by binding 127.0.0.1 ourselves (aiosmtpd's `port=0` is not supported), and a
non-loopback address is refused unless asked for (LabConfig)."""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import tempfile
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from mailmagic.lab.certs import TlsFiles, ensure_tls_files
from mailmagic.lab.config import LabConfig
from mailmagic.lab.controls import LabControls
from mailmagic.lab.directory import Directory
from mailmagic.lab.faults import Faults
from mailmagic.lab.latency import with_latency
from mailmagic.lab.log import LabLog
from mailmagic.lab.pop3 import Pop3Context, serve_pop3
from mailmagic.lab.smtp import IDENT, LabHandler, LabSMTP
from mailmagic.lab.store import MailStore

_START_TIMEOUT = 30.0
POP3_READ_LIMIT = 2**16
_Serve = Callable[[socket.socket], Awaitable[asyncio.AbstractServer]]


@dataclass(frozen=True)
class Endpoints:
    """Where a running lab server listens; a port of None means that listener is off."""

    host: str
    smtp: int | None
    submission: int | None
    smtps: int | None
    pop3: int | None
    pop3s: int | None
    ca_file: Path
    maildir: Path

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as printed by ``python -m mailmagic.lab --json``."""
        return {
            "host": self.host,
            "smtp_port": self.smtp,
            "submission_port": self.submission,
            "smtps_port": self.smtps,
            "pop3_port": self.pop3,
            "pop3s_port": self.pop3s,
            "ca_file": str(self.ca_file),
            "maildir": str(self.maildir),
        }


class LabServer(LabControls):
    """The embedded lab mail server. Use ``with LabServer() as lab:`` or ``start()``/``stop()``.

    ``lab.endpoints`` says where it listens, ``lab.faults`` injects faults, ``lab.store`` is the
    Maildir store, ``lab.log`` what clients did, ``lab.directory`` its users now; the checks and
    controls (``lab.mailbox(user)``, ``lab.add_user(...)``...) are LabControls' (controls.py).
    """

    def __init__(self, config: LabConfig | None = None) -> None:
        self.config = config or LabConfig()
        self.faults = Faults()
        self._directory = Directory(self.config)
        self._log = LabLog(self.config.log_sessions)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._endpoints: Endpoints | None = None
        self._store: MailStore | None = None
        self._tls: TlsFiles | None = None

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and ``stop()``."""
        return self._endpoints is not None

    @property
    def endpoints(self) -> Endpoints:
        """Where the server listens; raises RuntimeError when it is not running."""
        if self._endpoints is None:
            raise RuntimeError("the lab server is not running: call start() first")
        return self._endpoints

    @property
    def store(self) -> MailStore:
        """The Maildir store (also usable when stopped, after a first start)."""
        if self._store is None:
            raise RuntimeError("the lab server has no store yet: call start() first")
        return self._store

    @property
    def directory(self) -> Directory:
        """Users, lists, hidden users and VRFY now (changed without a restart; directory.py)."""
        return self._directory

    @property
    def log(self) -> LabLog:
        """The server's record of every session, secrets masked (log.py)."""
        return self._log

    @property
    def tls(self) -> TlsFiles:
        """The lab PKI: ``tls.ca_file`` for clients, ``tls.client_context()`` for Python."""
        if self._tls is None:
            raise RuntimeError("the lab server has no certificates yet: call start() first")
        return self._tls

    def start(self) -> Endpoints:
        """Start every listener; return once all answer. Raises what start-up raised."""
        if self.running:
            return self.endpoints
        root = self._maildir_root()
        self._store = MailStore(root, self.directory.users)
        self._tls = ensure_tls_files(root / ".tls", self.config.hostname)
        self._loop = asyncio.new_event_loop()
        ready: asyncio.Future[Endpoints] = self._loop.create_future()
        self._thread = threading.Thread(
            target=self._run, args=(root, ready), name="mailmagic-lab", daemon=True
        )
        self._thread.start()
        try:
            self._endpoints = asyncio.run_coroutine_threadsafe(
                self._wait(ready), self._loop
            ).result(_START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self._endpoints

    def stop(self) -> None:
        """Close every listener and connection, stop the thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_START_TIMEOUT)
        self._loop = self._thread = None
        self._endpoints = None
        self._servers = []
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> LabServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _maildir_root(self) -> Path:
        if self.config.maildir is not None:
            return Path(self.config.maildir)
        self._tempdir = tempfile.TemporaryDirectory(prefix="mailmagic-lab-")
        return Path(self._tempdir.name)

    async def _wait(self, ready: asyncio.Future[Endpoints]) -> Endpoints:
        return await ready

    def _run(self, root: Path, ready: asyncio.Future[Endpoints]) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        task = loop.create_task(self._open_all(root))
        task.add_done_callback(functools.partial(_settle, ready))
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close_all())
            loop.close()

    async def _open_all(self, root: Path) -> Endpoints:
        cfg, tls = self.config, self.tls.server_context()
        smtp, pop3 = self._smtp_server, self._pop3_server
        ports = {
            "smtp": await self._listen(cfg.smtp_port, smtp(tls, submission=False)),
            "submission": await self._listen(cfg.submission_port, smtp(tls, submission=True)),
            "smtps": await self._listen(cfg.smtps_port, smtp(tls, submission=True, implicit=True)),
            "pop3": await self._listen(cfg.pop3_port, pop3(tls, implicit=False)),
            "pop3s": await self._listen(cfg.pop3s_port, pop3(tls, implicit=True)),
        }
        client_tls = self.tls.client_context()
        mark = self.log.opened
        for name, port in ports.items():
            if port is not None:
                implicit = name in ("smtps", "pop3s")
                await _check_answers(cfg, port, client_tls if implicit else None)
        self.log.forget_from(mark)  # the probes above are no client's sessions
        return Endpoints(cfg.host, **ports, ca_file=self.tls.ca_file, maildir=root)

    async def _listen(self, port: int | None, serve: _Serve) -> int | None:
        if port is None:
            return None
        sock = _bound_socket(self.config.host, port)
        self._servers.append(await serve(sock))
        return int(sock.getsockname()[1])

    def _smtp_server(self, tls: ssl.SSLContext, submission: bool, implicit: bool = False) -> _Serve:
        cfg = self.config
        handler = LabHandler(cfg, self.store, self.directory)
        listener = "smtps" if implicit else "submission" if submission else "smtp"

        def protocol() -> LabSMTP:
            return LabSMTP(
                handler,
                faults=self.faults,
                implicit_tls=implicit,
                submission=submission,
                hostname=cfg.hostname,
                ident=IDENT,
                data_size_limit=cfg.max_message_size,
                enable_SMTPUTF8=True,
                tls_context=None if implicit else tls,
                timeout=cfg.smtp_idle_timeout,
                auth_require_tls=cfg.auth_require_tls and not implicit,
                authenticator=handler.authenticate,
                lab_log=self.log,
                listener=listener,
            )

        async def serve(sock: socket.socket) -> asyncio.AbstractServer:
            loop = asyncio.get_running_loop()
            factory = with_latency(protocol, self.faults)
            return await loop.create_server(factory, sock=sock, ssl=tls if implicit else None)

        return serve

    def _pop3_server(self, tls: ssl.SSLContext, implicit: bool) -> _Serve:
        context = Pop3Context(
            self.config, self.store, self.faults, tls, implicit_tls=implicit,
            directory=self.directory, log=self.log, listener="pop3s" if implicit else "pop3",
        )  # fmt: skip

        async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await serve_pop3(context, reader, writer)
            except asyncio.CancelledError:
                # The server is stopping. Ending quietly matters on Python 3.11, whose
                # StreamReaderProtocol logs a traceback for a cancelled connection task.
                writer.close()

        async def serve(sock: socket.socket) -> asyncio.AbstractServer:
            loop = asyncio.get_running_loop()

            def protocol() -> asyncio.StreamReaderProtocol:  # what asyncio.start_server makes
                reader = asyncio.StreamReader(limit=POP3_READ_LIMIT, loop=loop)
                return asyncio.StreamReaderProtocol(reader, session, loop=loop)

            factory = with_latency(protocol, self.faults)
            return await loop.create_server(factory, sock=sock, ssl=tls if implicit else None)

        return serve

    async def _close_all(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            if hasattr(server, "close_clients"):
                server.close_clients()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _settle(ready: asyncio.Future[Endpoints], task: asyncio.Task[Endpoints]) -> None:
    if task.cancelled():
        ready.cancel()
    elif task.exception() is not None:
        ready.set_exception(task.exception())  # type: ignore[arg-type]
    else:
        ready.set_result(task.result())


def _bound_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only then,
    # and without it every multi-line reply waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(error.errno, f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def _check_answers(config: LabConfig, port: int, tls: ssl.SSLContext | None) -> None:
    """Read the greeting, over TLS for implicit-TLS listeners, as a client would."""
    reader, writer = await asyncio.open_connection(
        config.host, port, ssl=tls, server_hostname=config.hostname if tls else None
    )
    try:
        greeting = await asyncio.wait_for(reader.readline(), _START_TIMEOUT)
        if not greeting.startswith((b"220 ", b"+OK")):
            raise RuntimeError(f"lab listener on port {port} greeted with {greeting!r}")
    finally:
        writer.close()
