# What this module does: starts independent real mail servers for the interoperability tests, a
# private Dovecot (POP3 and POP3S) and a private Postfix (SMTP with STARTTLS), each from its own
# configuration written here, on free 127.0.0.1 ports, with its own folders. The packages' own
# services are never used (there is no systemd in CI, and policy-rc.d may forbid starting them).
#
# How it works:
# - One server per test module and xdist worker (module scope); function-scoped fixtures give each
#   test a freshly seeded mailbox and attach the server's log to the report when the test fails.
#   Every server is stopped at the end, also after a failure; a missing binary fails (never skips)
#   and says to run scripts/install-test-deps.
# - Both servers leave root to touch mail: Dovecot refuses uid 0 for mail processes, and Postfix's
#   virtual(8) wants a uid of at least virtual_minimum_uid. The mailboxes therefore belong to
#   `nobody` and live in a temporary folder outside pytest's tmp tree (whose top is mode 0700, so
#   `nobody` could not reach into it); configuration, logs, keys and the Postfix queue stay in
#   the test's tmp_path, where they can be read after a failure.
# - Dovecot 2.3 runs in the foreground (`dovecot -F -c CONF`) and stops on SIGTERM. Postfix runs
#   with `postfix -c DIR start-fg`, whose master is a child of postfix-script in a session of its
#   own, so it is stopped with `postfix -c DIR stop` (then killed by its pid file if need be).
# - Ports are taken free from the kernel and handed to the server; if another process grabs one
#   first, the server fails to bind and is started again on new ports.
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mailmagic.lab.certs import TlsFiles, ensure_tls_files
from mailmagic.session.base import Settings, TlsMode

HOST = "127.0.0.1"
ALICE = "alice"
ALICE_PASSWORD = "Interop-s3cret-9f2c"  # distinctive, so a leak into a transcript is easy to see
POSTFIX_HOSTNAME = "mail.postfix.test"
POSTFIX_DOMAIN = "postfix.test"
INSTALL_HINT = "run scripts/install-test-deps (it installs dovecot-pop3d and postfix with apt)"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
ATTEMPTS = 3
LOG_TAIL_LINES = 60
SERVER_LOGS = pytest.StashKey[dict[str, Path]]()
T = TypeVar("T")


class ServerDidNotStart(Exception):
    """The server exited or never answered; the message carries its log."""


# --- seeded messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    """A message put into alice's Maildir `new/` before each Dovecot test (LF ends, as on disk)."""

    name: str
    data: bytes

    @property
    def wire(self) -> bytes:
        """The message as RETR gives it once dot-unstuffed: CRLF line ends (RFC 1939 section 3)."""
        return self.data.replace(b"\n", b"\r\n")


SEEDS = (
    Seed(
        "1700000001.M1P1.interop",
        b"From: Bob <bob@example.org>\nTo: Alice <alice@example.org>\nSubject: plain ASCII\n"
        b"Message-ID: <first@interop.test>\n\nHello Alice,\nthis is the first message.\n",
    ),
    Seed(
        "1700000002.M2P1.interop",
        b"From: Bob <bob@example.org>\nTo: Alice <alice@example.org>\nSubject: dots\n"
        b"Message-ID: <dots@interop.test>\n\n.a line that starts with a dot\n..two dots\n.\n"
        b"the line above is a lone dot\n",
    ),
    Seed(
        "1700000003.M3P1.interop",
        "From: Bob <bob@example.org>\nTo: Alice <alice@example.org>\nSubject: 8-bit\n"
        "Message-ID: <eight@interop.test>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "Grüße aus Köln: naïve café, € and 𝄞.\n".encode(),
    ),
)


# --- helpers shared by both servers --------------------------------------------------------------


def require(binary: str) -> str:
    """The path of a server binary (sbin included), or a failure saying how to install it."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    path = shutil.which(binary, path=search)
    if path is None:
        pytest.fail(f"{binary} is not installed: {INSTALL_HINT}", pytrace=False)
    return path


def require_root(server: str) -> None:
    """Both servers start as root and switch users themselves; say so instead of failing oddly."""
    if os.geteuid() != 0:
        pytest.fail(
            f"{server} must be started as root (it switches to its own unprivileged users); "
            "run the interoperability tests as root (in a throwaway container, for instance)",
            pytrace=False,
        )


def mail_user() -> pwd.struct_passwd:
    """The unprivileged owner of the test mailboxes."""
    return pwd.getpwnam("nobody")


def free_ports(count: int) -> list[int]:
    """Distinct ports free on 127.0.0.1 right now (all held at once, so no two are the same)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


@contextlib.contextmanager
def mail_root(kind: str) -> Iterator[Path]:
    """A folder `nobody` can reach (outside pytest's 0700 tmp tree), removed at the end."""
    root = Path(tempfile.mkdtemp(prefix=f"mailmagic-{kind}-"))
    try:
        root.chmod(0o755)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def chown_tree(top: Path, user: pwd.struct_passwd) -> None:
    for path in [top, *top.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)


def log_tail(*paths: Path) -> str:
    """The last lines of each existing log, for failure messages."""
    parts = []
    for path in paths:
        if path.exists():
            lines = path.read_text("utf-8", "replace").splitlines()[-LOG_TAIL_LINES:]
            parts.append(f"--- {path} (last {len(lines)} lines) ---\n" + "\n".join(lines))
    return "\n".join(parts) or "(no log was written)"


def wait_until_ready(
    process: subprocess.Popen[bytes], port: int, banner: bytes | None, *logs: Path
) -> None:
    """Poll until `port` accepts (and sends a line starting with `banner`), with a deadline."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(
                f"it exited with status {process.returncode}\n{log_tail(*logs)}"
            )
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1.0) as sock:
            if banner is None or sock.recv(512).startswith(banner):
                return
        time.sleep(0.05)
    raise ServerDidNotStart(f"port {port} did not answer in {START_TIMEOUT:g} s\n{log_tail(*logs)}")


def start_with_retries(name: str, start: Callable[[list[int]], T], ports: int) -> T:
    """Start a server on fresh free ports, again if one was taken meanwhile; fail clearly."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return start(free_ports(ports))
        except ServerDidNotStart as error:
            if "in use" not in str(error) or attempt == ATTEMPTS:
                pytest.fail(f"{name} did not start: {error}", pytrace=False)
    raise AssertionError("unreachable")


def attach_log(request: pytest.FixtureRequest, name: str, path: Path) -> None:
    """Show `path` under the test's report if the test fails (see pytest_runtest_makereport)."""
    request.node.stash.setdefault(SERVER_LOGS, {})[name] = path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    if report.failed:
        for name, path in item.stash.get(SERVER_LOGS, {}).items():
            report.sections.append((f"{name} log", log_tail(path)))


# --- Dovecot -------------------------------------------------------------------------------------


@dataclass
class Dovecot:
    """A running private Dovecot: its ports, files, and alice's Maildir (seeded per test)."""

    pop3: int
    pop3s: int
    tls: TlsFiles
    config: Path
    log: Path
    home: Path
    process: subprocess.Popen[bytes]
    host: str = HOST

    @property
    def maildir(self) -> Path:
        return self.home / "Maildir"

    def settings(self, tls: TlsMode = "plain", *, trust: bool = True) -> Settings:
        """Session settings: the POP3S port for implicit TLS; the test CA unless trust=False."""
        port = self.pop3s if tls == "implicit" else self.pop3
        cafile = str(self.tls.ca_file) if trust else None
        return Settings(self.host, port, tls=tls, cafile=cafile, timeout=10.0)

    def seed(self) -> None:
        """Wait until no session is left, then give alice exactly SEEDS, with fresh indexes."""
        self.wait_idle()
        shutil.rmtree(self.home, ignore_errors=True)
        for sub in ("new", "cur", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        for seed in SEEDS:
            (self.maildir / "new" / seed.name).write_bytes(seed.data)
        chown_tree(self.home, mail_user())

    def wait_idle(self) -> None:
        """Wait until no mail process is left (one per session: service_count 1).

        A session the test just closed may still be opening or writing the Maildir; `doveadm
        who` does not show a process that has not yet reached anvil, so look at the master's
        children instead.
        """
        deadline = time.monotonic() + STOP_TIMEOUT
        while child_processes(self.process.pid, "pop3") and time.monotonic() < deadline:
            time.sleep(0.02)

    def message_file(self, seed: Seed) -> Path | None:
        """Where the seeded message is now (Dovecot moves it from new/ to cur/), if anywhere."""
        found = [*self.maildir.glob(f"new/{seed.name}*"), *self.maildir.glob(f"cur/{seed.name}*")]
        return found[0] if found else None

    def stop(self) -> None:
        stop_process(self.process)


def child_processes(parent: int, name: str) -> list[int]:
    """Live (not zombie) children of `parent` called `name`, read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            command, rest = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1]
            state, ppid = rest.split()[:2]
            if int(ppid) == parent and command == name and state != "Z":
                found.append(int(stat.parent.name))
    return found


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait, and SIGKILL if it will not go."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def check_dovecot_version(binary: str) -> str:
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not version.startswith("2.3."):
        pytest.fail(
            f"Dovecot {version or '(unknown version)'} found; these fixtures write Dovecot 2.3 "
            "configuration (2.4 renamed most settings: ssl_server_cert_file, auth_allow_cleartext, "
            "named passdb/userdb blocks); install Debian's dovecot-pop3d 2.3 or port the config",
            pytrace=False,
        )
    return version


def dovecot_config(work: Path, root: Path, ports: list[int], tls: TlsFiles) -> str:
    user = mail_user()
    return f"""\
# A private Dovecot 2.3 for mailmagic's interoperability tests; nothing here is a default path.
protocols = pop3
listen = {HOST}
# Sockets and pid file beside the mailboxes, where the unprivileged processes can reach them.
base_dir = {root}/run
state_dir = {work}/state
instance_name = mailmagic-interop-{ports[0]}
log_path = {work}/dovecot.log
info_log_path = {work}/dovecot.log
auth_verbose = yes
# APOP works because the passdb keeps the plaintext secret (scheme PLAIN) and the mechanism is
# on: Dovecot then puts a <timestamp> into its greeting (RFC 1939 section 7). CAPA's SASL line
# lists PLAIN only, since APOP is no SASL mechanism.
auth_mechanisms = plain apop
# USER/PASS and AUTH PLAIN on the plain port too, before STLS (Dovecot 2.4: auth_allow_cleartext).
disable_plaintext_auth = no
auth_failure_delay = 0
ssl = yes
ssl_cert = <{tls.cert_file}
ssl_key = <{tls.key_file}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {work}/passwd
}}
userdb {{
  driver = static
  args = uid={user.pw_uid} gid={user.pw_gid} home={root}/%u
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {HOST}
    port = {ports[0]}
  }}
  inet_listener pop3s {{
    address = {HOST}
    port = {ports[1]}
    ssl = yes
  }}
}}
# The passwd-file is under pytest's 0700 tmp tree, out of reach of the usual "dovecot" user.
service auth {{
  user = root
}}
"""


def start_dovecot(work: Path, root: Path) -> Dovecot:
    """Write the configuration, start `dovecot -F`, and wait for both listeners."""
    binary = require("dovecot")
    require_root("Dovecot")
    check_dovecot_version(binary)
    tls = ensure_tls_files(work / "tls", "localhost")
    (work / "passwd").write_text(f"{ALICE}:{{PLAIN}}{ALICE_PASSWORD}\n")
    config, log, output = work / "dovecot.conf", work / "dovecot.log", work / "dovecot.out"

    def start(ports: list[int]) -> Dovecot:
        config.write_text(dovecot_config(work, root, ports, tls))
        with output.open("ab") as out:
            process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=out, stderr=out)
        try:
            wait_until_ready(process, ports[0], b"+OK", log, output)
            wait_until_ready(process, ports[1], None, log, output)
        except ServerDidNotStart:
            stop_process(process)
            raise
        return Dovecot(ports[0], ports[1], tls, config, log, root / ALICE, process)

    return start_with_retries("Dovecot", start, 2)


@contextlib.contextmanager
def running_dovecot(work: Path) -> Iterator[Dovecot]:
    with mail_root("dovecot") as root:
        server = start_dovecot(work, root)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def dovecot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    """One private Dovecot for the test module (per xdist worker)."""
    with running_dovecot(tmp_path_factory.mktemp("dovecot")) as server:
        yield server


@pytest.fixture
def dovecot(dovecot_server: Dovecot, request: pytest.FixtureRequest) -> Dovecot:
    """The module's Dovecot with alice's Maildir holding exactly SEEDS."""
    attach_log(request, "dovecot", dovecot_server.log)
    dovecot_server.seed()
    return dovecot_server


@pytest.fixture
def fresh_dovecot(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    """A Dovecot of the test's own, for failed logins.

    After a failed login Dovecot's anvil delays the next logins from the same IP (2 s doubling
    up to 15 s in src/auth/auth-penalty.c; the first login after one failure took 4 s here),
    and no 2.3 setting turns that off for pop3-login: on the shared server one wrong password
    would slow the tests after it.
    """
    with running_dovecot(tmp_path / "dovecot") as server:
        attach_log(request, "dovecot", server.log)
        server.seed()
        yield server


# --- Postfix -------------------------------------------------------------------------------------

POSTFIX_SERVICES = """\
pickup    unix  n  -  n  60     1  pickup
cleanup   unix  n  -  n  -      0  cleanup
qmgr      unix  n  -  n  300    1  qmgr
tlsmgr    unix  -  -  n  1000?  1  tlsmgr
rewrite   unix  -  -  n  -      -  trivial-rewrite
bounce    unix  -  -  n  -      0  bounce
defer     unix  -  -  n  -      0  bounce
trace     unix  -  -  n  -      0  bounce
verify    unix  -  -  n  -      1  verify
flush     unix  n  -  n  1000?  0  flush
proxymap  unix  -  -  n  -      -  proxymap
smtp      unix  -  -  n  -      -  smtp
relay     unix  -  -  n  -      -  smtp
showq     unix  n  -  n  -      -  showq
error     unix  -  -  n  -      -  error
retry     unix  -  -  n  -      -  error
discard   unix  -  -  n  -      -  discard
local     unix  -  n  n  -      -  local
virtual   unix  -  n  n  -      -  virtual
anvil     unix  -  -  n  -      1  anvil
scache    unix  -  -  n  -      1  scache
postlog   unix-dgram n  -  n  -  1  postlogd
"""


@dataclass
class Postfix:
    """A running private Postfix: its port, files, and the virtual mailboxes it delivers to."""

    port: int
    tls: TlsFiles
    config_dir: Path
    maillog: Path
    mailboxes: Path
    process: subprocess.Popen[bytes]
    host: str = HOST

    def settings(self, tls: TlsMode = "plain", *, trust: bool = True) -> Settings:
        cafile = str(self.tls.ca_file) if trust else None
        return Settings(self.host, self.port, tls=tls, cafile=cafile, timeout=10.0)

    def maildir(self, user: str = ALICE) -> Path:
        return self.mailboxes / user

    def clear(self) -> None:
        """Empty alice's new/ and cur/ (tmp/ is virtual(8)'s scratch space while it delivers)."""
        for path in [*self.maildir().glob("new/*"), *self.maildir().glob("cur/*")]:
            path.unlink()

    def delivered(self, marker: bytes, timeout: float = 15.0) -> bytes:
        """The bytes of the message in alice's Maildir `new/` that contains `marker` (polled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in self.maildir().glob("new/*"):
                data = path.read_bytes()
                if marker in data:
                    return data
            time.sleep(0.05)
        raise AssertionError(
            f"no message with {marker!r} reached {self.maildir()}/new in {timeout:g} s\n"
            + log_tail(self.maillog)
        )

    def stop(self) -> None:
        """`postfix stop`, then the master's pid file if it is still there."""
        command = [require("postfix"), "-c", str(self.config_dir), "stop"]
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(command, capture_output=True, timeout=STOP_TIMEOUT, check=False)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_master(self.config_dir.parent / "queue" / "pid" / "master.pid")
            stop_process(self.process)


def kill_master(pid_file: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.killpg(int(pid_file.read_text().split()[0]), signal.SIGKILL)


def postfix_main_cf(work: Path, root: Path, tls: TlsFiles) -> str:
    user = mail_user()
    return f"""\
# A private Postfix for mailmagic's interoperability tests; nothing here is a default path.
compatibility_level = 3.6
queue_directory = {work}/queue
# The master opens its lock file here as the "postfix" user: it must be reachable.
data_directory = {root}/data
maillog_file = {work}/maillog
maillog_file_prefixes = {work}
myhostname = {POSTFIX_HOSTNAME}
mydomain = {POSTFIX_DOMAIN}
myorigin = $myhostname
mydestination = localhost
inet_interfaces = {HOST}
inet_protocols = ipv4
# 127.0.0.1 is deliberately not a trusted network: relaying for it must be refused (554 5.7.1).
mynetworks = 127.0.0.2/32
smtpd_relay_restrictions = reject_unauth_destination
# Treat the test client as remote: add and rewrite no headers, deliver the message as sent.
local_header_rewrite_clients =
alias_maps =
alias_database =
default_transport = error:no outbound mail in these tests
relay_transport = error:no outbound mail in these tests
# alice@{POSTFIX_DOMAIN} is the one mailbox; other local parts are rejected (550 5.1.1).
virtual_mailbox_domains = {POSTFIX_DOMAIN}
virtual_mailbox_base = {root}/mail
# virtual(8) reads this table after leaving root, so it sits beside the mailboxes too.
virtual_mailbox_maps = texthash:{root}/vmailbox
virtual_uid_maps = static:{user.pw_uid}
virtual_gid_maps = static:{user.pw_gid}
smtpd_tls_cert_file = {tls.cert_file}
smtpd_tls_key_file = {tls.key_file}
smtpd_tls_security_level = may
biff = no
"""


def write_postfix_config(work: Path, root: Path, tls: TlsFiles, port: int) -> Path:
    config_dir = work / "config"
    config_dir.mkdir(exist_ok=True)
    (work / "queue").mkdir(exist_ok=True)
    (config_dir / "main.cf").write_text(postfix_main_cf(work, root, tls))
    smtpd = f"{HOST}:{port} inet n - n - - smtpd\n"
    (config_dir / "master.cf").write_text(smtpd + POSTFIX_SERVICES)
    (root / "vmailbox").write_text(f"{ALICE}@{POSTFIX_DOMAIN} {ALICE}/\n")
    return config_dir


def start_postfix(work: Path, root: Path) -> Postfix:
    """Write main.cf and master.cf, run `postfix start-fg`, and wait for the 220 greeting."""
    binary = require("postfix")
    require_root("Postfix")
    tls = ensure_tls_files(work / "tls", "localhost")
    (root / "data").mkdir()
    shutil.chown(root / "data", "postfix")
    (root / "mail").mkdir()
    chown_tree(root / "mail", mail_user())
    maillog, output = work / "maillog", work / "postfix.out"

    def start(ports: list[int]) -> Postfix:
        config_dir = write_postfix_config(work, root, tls, ports[0])
        with output.open("ab") as out:
            command = [binary, "-c", str(config_dir), "start-fg"]
            process = subprocess.Popen(command, stdout=out, stderr=out)
        server = Postfix(ports[0], tls, config_dir, maillog, root / "mail", process)
        try:
            wait_until_ready(process, ports[0], b"220 ", maillog, output)
        except ServerDidNotStart:
            server.stop()
            raise
        return server

    return start_with_retries("Postfix", start, 1)


@pytest.fixture(scope="module")
def postfix_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postfix]:
    """One private Postfix for the test module (per xdist worker)."""
    with mail_root("postfix") as root:
        server = start_postfix(tmp_path_factory.mktemp("postfix"), root)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def postfix(postfix_server: Postfix, request: pytest.FixtureRequest) -> Postfix:
    """The module's Postfix with alice's Maildir emptied."""
    attach_log(request, "postfix", postfix_server.maillog)
    postfix_server.clear()
    return postfix_server


# --- IPython -------------------------------------------------------------------------------------


@pytest.fixture
def ipython(ipython_shell: InteractiveShell) -> Iterator[InteractiveShell]:
    """The process's IPython test shell (tests/conftest.py) after `%load_ext mailmagic`.

    `%unload_ext mailmagic` at the end closes every session the test opened.
    """
    ipython_shell.run_line_magic("load_ext", "mailmagic")
    try:
        yield ipython_shell
    finally:
        ipython_shell.run_line_magic("unload_ext", "mailmagic")
