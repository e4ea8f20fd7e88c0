# What this module does: what the benchmarks share. Free ports on 127.0.0.1; a Maildir filled with
# generated messages through the lab server's own MailStore; the real servers, each in a process
# of its own (a private Dovecot 2.3 from a configuration written here, the lab server through
# `python -m mailmagic.lab`, an aiosmtpd Sink); a loopback delay proxy; the bare pipelined POP3
# loop that serves as the fastest-client baseline; timing helpers; the result rows run.py prints.
#
# How it works:
# - The Dovecot set-up follows tests/interop/conftest.py (copied, not imported: bench/ must not
#   depend on the tests): `dovecot -F -c CONF` in the foreground, sockets and state in folders of
#   its own, mail owned by `nobody` (Dovecot will not touch mail as root), a passwd-file with
#   plaintext secrets. Unlike the tests it reads an existing Maildir in place (the lab store's
#   layout, ROOT/<user>/{new,cur,tmp}), has no TLS, and sets pop3_no_flag_updates so that a
#   benchmark run does not rename 10,000 files behind the lab server's back.
# - Servers run in processes of their own, never as threads of the measuring process, so that a
#   server never competes with the client it serves for this interpreter's GIL.
# - The delay proxy (`python bench/common.py proxy LISTEN UPSTREAM DELAY_MS`) is a delay line:
#   per direction a reader thread stamps each chunk with the time it arrived and a writer thread
#   sends it when that time plus the delay has come (time.sleep, precise to about 0.1 ms here). So
#   every chunk is delayed by DELAY_MS each way, a simulated round trip of twice that, without a
#   bandwidth cap: chunks that arrive while another waits are not delayed twice. Both sockets have
#   TCP_NODELAY, so Nagle's algorithm adds nothing of its own.
# - Timing uses time.perf_counter; each contender runs several times, interleaved with its
#   baselines, and the best run counts (as timeit advises: slower runs measure other load).
from __future__ import annotations

import contextlib
import json
import os
import platform
import pwd
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

# --- results -------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table: a measurement against its baseline."""

    name: str
    measured: str
    baseline: str
    ratio: float
    target: str
    met: bool | None  # None: shown for information, no target applies

    @property
    def verdict(self) -> str:
        return {True: "yes", False: "NO", None: "-"}[self.met]


@dataclass
class Section:
    """What one benchmark reports: its rows, and notes on how and what was measured."""

    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- timing --------------------------------------------------------------------------------------


@dataclass
class Samples:
    """Repeated measurements of one contender (seconds, or any value where lower is better)."""

    label: str
    values: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)


def timed(call: Callable[[], object]) -> float:
    """Seconds one call takes (time.perf_counter)."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def interleaved(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, Samples]:
    """Run each contender once per round, in turn; each returns its own measurement."""
    samples = {name: Samples(name) for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            samples[name].values.append(run())
    return samples


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f} msg/s"


# --- the machine ---------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (on {os.cpu_count()} CPUs)"


def machine() -> dict[str, str]:
    """What RESULTS.md records about where and when the numbers were taken."""
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True, check=False)
    dovecot = shutil.which("dovecot", path=_sbin_path())
    curl = shutil.which("curl")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "uname -a": uname.stdout.strip(),
        "CPU": f"{cpu_model()} ({os.cpu_count()} CPUs)",
        "Python": sys.version.split()[0] + f" ({platform.python_implementation()})",
        "Dovecot": _version([dovecot, "--version"]) if dovecot else "not installed",
        "curl": _version([curl, "--version"]).split(" (")[0] if curl else "not installed",
        "load average at start": load_average(),
    }


def _version(command: Sequence[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return done.stdout.splitlines()[0].strip() if done.stdout else "unknown"


def _sbin_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


# --- ports, folders, processes -------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Distinct ports free on 127.0.0.1 right now (all held at once, so no two are the same)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def require(binary: str) -> str:
    path = shutil.which(binary, path=_sbin_path())
    if path is None:
        raise SystemExit(
            f"{binary} is not installed: run scripts/install-test-deps (apt: dovecot-pop3d, curl)"
        )
    return path


# ext4's "top of directory hierarchy" flag (chattr +T; FS_TOPDIR_FL in linux/fs.h) and the ioctls
# that read and set a file's flags.
_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000


def top_of_hierarchy(folder: Path) -> bool:
    """Mark `folder` as the top of a directory hierarchy (`chattr +T`), so that ext4 places each
    folder made in it in a block group of its own (the Orlov allocator); True if it took.

    Why the benchmarks need it: ext4 without a journal (this machine's root file system) does not
    reuse an inode freed in the last minute or more, and finds a free one by scanning its block
    group from the start, looking at each recently freed inode in turn. After a round deletes
    thousands of files, every file created in the same group pays for that scan: creating files
    measured 1,000-1,800 a second there against 24,000-27,000 in a fresh group. Without this, a
    contender's speed would depend on what the one before it deleted (Postfix deletes each queue
    file once delivered). Other file systems ignore the flag or refuse it; nothing changes there.
    """
    import array
    import fcntl

    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
        flags[0] |= _FS_TOPDIR_FL
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, flags)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def disk_parent() -> Path:
    """The folder on disk (under the temporary folder) in which every benchmark folder is made,
    marked with `top_of_hierarchy`; kept between runs, empty when no benchmark runs."""
    parent = Path(tempfile.gettempdir()) / "mailmagic-bench"
    parent.mkdir(mode=0o755, exist_ok=True)
    parent.chmod(0o755)
    top_of_hierarchy(parent)
    return parent


@contextlib.contextmanager
def shared_folder(kind: str, parent: Path | None = None) -> Iterator[Path]:
    """A temporary folder `nobody` can reach (mode 0755), removed at the end; by default in
    `disk_parent()`, so in a block group of its own."""
    where = parent if parent is not None else disk_parent()
    root = Path(tempfile.mkdtemp(prefix=f"mailmagic-bench-{kind}-", dir=where))
    try:
        root.chmod(0o755)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def chown_tree(top: Path, user: str = "nobody") -> None:
    entry = pwd.getpwnam(user)
    for path in [top, *top.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def wait_for_port(
    process: subprocess.Popen[bytes], port: int, banner: bytes | None, log: Path | None = None
) -> None:
    """Poll until `port` accepts (and greets with `banner`); raise with the log if it does not."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}){_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1.0) as sock:
            if banner is None or sock.recv(512).startswith(banner):
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not answer in {START_TIMEOUT:g} s{_tail(log)}")


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return "\n" + "\n".join(log.read_text("utf-8", "replace").splitlines()[-30:])


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait, and SIGKILL if it will not go."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- messages and the Maildir --------------------------------------------------------------------

ALICE = "alice"
PASSWORD = "bench-s3cret"
LINE = b"x" * 76 + b"\r\n"


def message(number: int, size: int) -> bytes:
    """A plain-text message of about `size` octets (CRLF), one body line starting with a dot."""
    head = (
        f"From: Bob <bob@lab.test>\r\nTo: Alice <alice@lab.test>\r\n"
        f"Subject: benchmark message {number}\r\nDate: Fri, 21 Nov 2025 12:00:00 +0000\r\n"
        f"Message-ID: <bench-{number}@lab.test>\r\n\r\n"
    ).encode()
    lines = max(1, (size - len(head)) // len(LINE))
    return head + b".a line that starts with a dot\r\n" + LINE * (lines - 1)


def fill_maildir(root: Path, user: str, count: int, size: int) -> int:
    """Deliver `count` messages to `user` with the lab's MailStore; return their POP3 octets."""
    from mailmagic.lab.store import MailStore, pop3_size, to_lf

    store = MailStore(root, [user])
    total = 0
    for number in range(1, count + 1):
        data = message(number, size)
        store.deliver([user], data)
        total += pop3_size(to_lf(data))
    return total


# --- Dovecot -------------------------------------------------------------------------------------


@dataclass
class Dovecot:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop_process(self.process)


def dovecot_config(work: Path, maildirs: Path, port: int) -> str:
    user = pwd.getpwnam("nobody")
    return f"""\
# A private Dovecot 2.3 for mailmagic's benchmarks (bench/common.py); no default path is used.
protocols = pop3
listen = {HOST}
base_dir = {work}/run
state_dir = {work}/state
instance_name = mailmagic-bench-{port}
log_path = {work}/dovecot.log
info_log_path = {work}/dovecot.log
auth_mechanisms = plain
disable_plaintext_auth = no
auth_failure_delay = 0
ssl = no
# The lab store's layout: ROOT/<user>/{{new,cur,tmp}}, read in place.
mail_location = maildir:~
# RETR would mark messages \\Seen, renaming every file at QUIT: keep the Maildir as it is.
pop3_no_flag_updates = yes
mail_max_userip_connections = 50
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {work}/passwd
}}
userdb {{
  driver = static
  args = uid={user.pw_uid} gid={user.pw_gid} home={maildirs}/%u
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {HOST}
    port = {port}
  }}
}}
service auth {{
  user = root
}}
"""


@contextlib.contextmanager
def running_dovecot(maildirs: Path, users: dict[str, str]) -> Iterator[Dovecot]:
    """A private Dovecot serving the Maildirs under `maildirs` (chowned to `nobody`)."""
    binary = require("dovecot")
    chown_tree(maildirs)
    with shared_folder("dovecot") as work:
        passwd = "".join(f"{name}:{{PLAIN}}{secret}\n" for name, secret in users.items())
        (work / "passwd").write_text(passwd)
        port = free_ports(1)[0]
        config, log = work / "dovecot.conf", work / "dovecot.log"
        config.write_text(dovecot_config(work, maildirs, port))
        with (work / "dovecot.out").open("ab") as out:
            process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=out, stderr=out)
        server = Dovecot(port, process, log)
        try:
            wait_for_port(process, port, b"+OK", log)
            yield server
        finally:
            server.stop()


# --- the lab server (in a process of its own) ----------------------------------------------------


@dataclass
class Lab:
    pop3: int
    smtp: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop_process(self.process)


@contextlib.contextmanager
def running_lab(maildirs: Path, users: dict[str, str]) -> Iterator[Lab]:
    """`python -m mailmagic.lab` on `maildirs`, as a separate process; yields its ports."""
    command = [sys.executable, "-m", "mailmagic.lab", "--json", "--maildir", str(maildirs)]
    command += [f"--user={name}:{secret}" for name, secret in users.items()]
    command += ["--max-message-size", str(200 << 20)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=REPO)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the lab server did not start (exit {process.wait()})")
        ports = json.loads(line)
        yield Lab(ports["pop3_port"], ports["smtp_port"], process)
    finally:
        stop_process(process)


# --- aiosmtpd's Sink -----------------------------------------------------------------------------


@contextlib.contextmanager
def running_sink() -> Iterator[int]:
    """`python -m aiosmtpd -c aiosmtpd.handlers.Sink` on a free port; yields the port."""
    port = free_ports(1)[0]
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{HOST}:{port}"]
    command += ["-c", "aiosmtpd.handlers.Sink"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(process, port, b"220")
        yield port
    finally:
        stop_process(process)


# --- the delay proxy -----------------------------------------------------------------------------


@contextlib.contextmanager
def running_proxy(upstream: int, delay_ms: float = 1.0) -> Iterator[int]:
    """The delay proxy (see the module comment) in a process of its own; yields its port."""
    port = free_ports(1)[0]
    command = [sys.executable, __file__, "proxy", str(port), str(upstream), str(delay_ms)]
    process = subprocess.Popen(command)
    try:
        wait_for_port(process, port, b"+OK")
        yield port
    finally:
        stop_process(process)


def _forward(source: socket.socket, target: socket.socket, delay: float) -> None:
    """One direction of the delay line: a reader stamps chunks, this thread sends them late."""
    chunks: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()

    def read() -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                chunks.put((time.monotonic() + delay, data))
        chunks.put((0.0, b""))

    threading.Thread(target=read, daemon=True).start()
    with contextlib.suppress(OSError):
        while True:
            due, data = chunks.get()
            if not data:
                target.shutdown(socket.SHUT_WR)
                return
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            target.sendall(data)


def _serve_proxy(listen: int, upstream: int, delay: float) -> None:
    server = socket.create_server((HOST, listen))
    while True:
        client, _ = server.accept()
        remote = socket.create_connection((HOST, upstream))
        for sock in (client, remote):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for source, target in ((client, remote), (remote, client)):
            threading.Thread(target=_forward, args=(source, target, delay), daemon=True).start()


# --- baselines every benchmark may use -----------------------------------------------------------


def login(sock: socket.socket, user: str, password: str) -> None:
    """Read the greeting and log in with USER/PASS, one command at a time."""
    for line in (None, f"USER {user}", f"PASS {password}"):
        if line is not None:
            sock.sendall(line.encode() + b"\r\n")
        reply = read_line(sock)
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"login failed at {line!r}: {reply!r}")


def read_line(sock: socket.socket) -> bytes:
    """One reply line, when nothing follows it until the next command (greeting, +OK)."""
    data = b""
    while not data.endswith(b"\r\n"):
        more = sock.recv(4096)
        if not more:
            raise RuntimeError(f"the server closed the connection after {data!r}")
        data += more
    return data


def bare_fetch(port: int, user: str, password: str, count: int, window: int = 32) -> int:
    """The bare pipelined loop: RETR 1..count with `window` commands in flight over a plain
    socket, each body cut at its terminator and dot-unstuffed, nothing else; returns octets."""
    with socket.create_connection((HOST, port)) as sock:
        login(sock, user, password)
        return _bare_retrieve(sock, count, window)


def _bare_retrieve(sock: socket.socket, count: int, window: int) -> int:
    buf, pos, scanned, sent, done, octets = bytearray(), 0, 0, 0, 0, 0
    while done < count:
        if sent - done < window // 2 and sent < count:
            batch = range(sent + 1, min(count, done + window) + 1)
            sock.sendall(b"".join(b"RETR %d\r\n" % n for n in batch))
            sent = batch[-1]
        eol = buf.find(b"\r\n", pos)
        end = buf.find(b"\r\n.\r\n", max(eol, scanned)) if eol >= 0 else -1
        if end < 0:
            scanned = max(pos, len(buf) - 4)
            data = sock.recv(262144)
            if not data:
                raise RuntimeError("the server closed the connection")
            buf += data
            continue
        if not buf.startswith(b"+OK", pos):
            raise RuntimeError(f"RETR failed: {bytes(buf[pos:eol])!r}")
        body = bytes(buf[eol + 2 : end + 2]).replace(b"\r\n..", b"\r\n.")
        octets += len(body) - body.startswith(b"..")
        pos = scanned = end + 5
        done += 1
        if pos > 1 << 20:
            del buf[:pos]
            pos = scanned = 0
    return octets


def raw_noop_connection(port: int, user: str, password: str) -> socket.socket:
    sock = socket.create_connection((HOST, port))
    login(sock, user, password)
    return sock


def proxy_main(argv: list[str]) -> None:
    listen, upstream, delay_ms = int(argv[0]), int(argv[1]), float(argv[2])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    _serve_proxy(listen, upstream, delay_ms / 1000)


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned columns for the terminal."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


_SAFE = re.compile(r"\|")


def md_cell(text: str) -> str:
    return _SAFE.sub(r"\\|", text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["proxy"]:
        proxy_main(sys.argv[2:])
    else:
        raise SystemExit("usage: python bench/common.py proxy LISTEN_PORT UPSTREAM_PORT DELAY_MS")
