# What this module does: the programs users would pick instead of mailmagic, run by benchmarks (b)
# and (c) against the same servers in the same run: the POP3 fetchers mpop (C, pipelining) and
# getmail6 (Python), each delivering into a Maildir on disk, and a private Postfix 3.7 on
# loopback, whose SMTP accept rate is compared with the lab server's. A peer that is not installed
# is skipped with a line saying what to install (`skipped`), never a crash.
#
# How it works:
# - mpop and getmail run as one process per round, from a configuration written here: keep every
#   message on the server (no DELE), fetch all of them every time (no "only new" bookkeeping
#   across rounds), deliver into a fresh Maildir. Both are timed from process start to exit.
# - fetchmail is not measured: it has no Maildir writer of its own; it hands each message to an
#   MTA over SMTP/LMTP or to an MDA it starts once per message (`--mda`), so it would measure
#   another program or process start-up, not fetching.
# - Postfix follows tests/interop/conftest.py (copied, not imported: bench/ must not depend on the
#   tests): `postfix -c DIR start-fg` from a main.cf and master.cf written here, queue and
#   mailboxes in folders of their own, stopped with `postfix -c DIR stop`. alice@lab.test is a
#   virtual(8) Maildir. Its SMTP accept rate is what a client sees: smtpd answers 250 once
#   cleanup(8) has written and fsync'ed the queue file, so the message is durable before its 250,
#   as with the lab server; delivery into the Maildir happens after, by qmgr and virtual(8).
#   in_flow_delay is 0, so Postfix never slows its clients down to let delivery catch up: its
#   fastest accept rate is the one compared.
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common import HOST, free_ports, shared_folder, wait_for_port

MAILDIR_SUBS = ("tmp", "new", "cur")


def find(binary: str) -> str | None:
    return shutil.which(binary, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))


def skipped(peer: str, package: str) -> str:
    """The line a benchmark prints and notes when a peer is missing."""
    return f"{peer} skipped: not installed (apt-get install -y {package})"


def version(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = (done.stdout or done.stderr).splitlines()
    return lines[0].strip() if lines else "unknown"


def make_maildir(path: Path) -> Path:
    for sub in MAILDIR_SUBS:
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def count_files(maildir: Path) -> int:
    return sum(len(os.listdir(maildir / sub)) for sub in ("new", "cur"))


# --- mpop ----------------------------------------------------------------------------------------


def mpop_command(work: Path, port: int, user: str, password: str, maildir: Path) -> list[str]:
    """mpop on one account, written to `work`/mpoprc (mpop wants the file private)."""
    binary = find("mpop")
    assert binary is not None
    rc = work / "mpoprc"
    rc.write_text(
        "account bench\n"
        f"host {HOST}\nport {port}\ntls off\nauth user\n"
        f"user {user}\npassword {password}\n"
        f"delivery maildir {maildir}\n"
        "keep on\nonly_new off\npipelining on\n"
        f"uidls_file {work}/uidls\n"
    )
    rc.chmod(0o600)
    return [binary, "-C", str(rc), "-q", "bench"]


# --- getmail6 ------------------------------------------------------------------------------------


def getmail_command(work: Path, port: int, user: str, password: str, maildir: Path) -> list[str]:
    """getmail with one rc file in `work`: SimplePOP3Retriever into a Maildir destination."""
    binary = find("getmail")
    assert binary is not None
    if os.getuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for path in (maildir, *(maildir / sub for sub in MAILDIR_SUBS)):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
    destination_user = "user = nobody\n" if os.getuid() == 0 else ""  # it refuses root
    (work / "getmailrc").write_text(
        "[retriever]\ntype = SimplePOP3Retriever\n"
        f"server = {HOST}\nport = {port}\nusername = {user}\npassword = {password}\n"
        "[destination]\ntype = Maildir\n"
        f"path = {maildir}/\n{destination_user}"
        "[options]\nverbose = 0\nread_all = true\ndelete = false\n"
        "delivered_to = false\nreceived = false\nmessage_log_syslog = false\n"
    )
    return [binary, f"--getmaildir={work}", "--rcfile=getmailrc", "--quiet"]


def run_fetcher(command: list[str], maildir: Path, count: int) -> float:
    """Seconds from start to exit of one fetcher process; checks every message arrived."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False, timeout=600)
    seconds = time.perf_counter() - started
    got = count_files(maildir)
    if done.returncode != 0 or got != count:
        raise RuntimeError(
            f"{command[0]} exited {done.returncode} with {got} of {count} messages: "
            f"{(done.stderr or done.stdout)[-400:]!r}"
        )
    return seconds


# --- Postfix -------------------------------------------------------------------------------------

POSTFIX_SERVICES = """\
pickup    unix  n  -  n  60     1  pickup
cleanup   unix  n  -  n  -      0  cleanup
qmgr      unix  n  -  n  300    1  qmgr
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
    port: int
    config_dir: Path
    process: subprocess.Popen[bytes]
    mailboxes: Path

    def stop(self) -> None:
        """`postfix stop`, then SIGKILL to the master's process group if it will not go."""
        binary = find("postfix")
        with contextlib.suppress(subprocess.TimeoutExpired):
            command = [str(binary), "-c", str(self.config_dir), "stop"]
            subprocess.run(command, capture_output=True, timeout=30, check=False)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pid_file = self.config_dir.parent / "queue" / "pid" / "master.pid"
            with contextlib.suppress(OSError, ValueError):
                os.killpg(int(pid_file.read_text().split()[0]), 9)
            self.process.kill()
            self.process.wait()


def postfix_main_cf(work: Path, data: Path, mail: Path) -> str:
    user = pwd.getpwnam("nobody")
    return f"""\
# A private Postfix for mailmagic's benchmarks (bench/peers.py); nothing here is a default path.
compatibility_level = 3.6
queue_directory = {work}/queue
data_directory = {data}
maillog_file = {work}/maillog
maillog_file_prefixes = {work}
myhostname = mail.lab.test
mydomain = lab.test
myorigin = $myhostname
mydestination = localhost
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
local_header_rewrite_clients =
alias_maps =
alias_database =
default_transport = error:no outbound mail in the benchmarks
relay_transport = error:no outbound mail in the benchmarks
virtual_mailbox_domains = lab.test
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{work}/vmailbox
virtual_uid_maps = static:{user.pw_uid}
virtual_gid_maps = static:{user.pw_gid}
in_flow_delay = 0
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
biff = no
"""


@contextlib.contextmanager
def running_postfix(parent: Path | None = None) -> Iterator[Postfix]:
    """A private Postfix whose queue and mailboxes live under `parent` (the same disk as the
    server it is compared with); yields it once it greets with 220."""
    binary = find("postfix")
    assert binary is not None
    with shared_folder("postfix", parent) as work:
        data, mail = work / "data", work / "mail"
        for folder in (data, mail, work / "queue", work / "config"):
            folder.mkdir()
        shutil.chown(data, "postfix")
        nobody = pwd.getpwnam("nobody")
        os.chown(mail, nobody.pw_uid, nobody.pw_gid)
        (work / "vmailbox").write_text("alice@lab.test alice/\nbob@lab.test bob/\n")
        port = free_ports(1)[0]
        (work / "config" / "main.cf").write_text(postfix_main_cf(work, data, mail))
        smtpd = f"{HOST}:{port} inet n - n - - smtpd\n"
        (work / "config" / "master.cf").write_text(smtpd + POSTFIX_SERVICES)
        with (work / "postfix.out").open("ab") as out:
            command = [binary, "-c", str(work / "config"), "start-fg"]
            process = subprocess.Popen(command, stdout=out, stderr=out)
        server = Postfix(port, work / "config", process, mail)
        try:
            wait_for_port(process, port, b"220", work / "maillog")
            yield server
        finally:
            server.stop()


def postfix_version() -> str:
    binary = find("postconf")
    if binary is None:
        return "unknown"
    return version([binary, "-d", "-h", "mail_version"])
