# What this module does: tests of bulk retrieval (mailmagic/session/fetch.py) against the lab
# server, which advertises PIPELINING: every message arrives byte-exact into a Maildir or an mbox,
# ranges by number and by UID, resume after an interruption skips what is there, a server without
# PIPELINING is fetched one at a time, the transcript keeps no message bodies, and bulk SMTP
# sending (session/smtp.py send_many) pipelines MAIL/RCPT/DATA; to_dataframe() and to_parquet()
# read the archive. A fetch that stops half-way (a UID
# too long for a file name, a disk error at any system call, Ctrl-C at any point) leaves the
# session in step or clearly broken, and the next fetch completes the archive; duplicate UIDs are
# fetched once and the others said why (fake POP3 servers); and a fetch killed by SIGKILL at
# chosen moments (inside writes, checkpoints and the recovery itself) resumes with every message
# exactly once, in an mbox as in a Maildir.
from __future__ import annotations

import contextlib
import mailbox
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mailmagic.lab import LabServer
from mailmagic.protocol.pop3 import Pop3Reply
from mailmagic.session.archive import Archive, Format
from mailmagic.session.base import SessionClosed, SessionError, Settings
from mailmagic.session.fetch import FetchError, FetchResult, fetch
from mailmagic.session.pop3 import Pop3Session
from mailmagic.session.smtp import SmtpSession, generated
from tests.protocol.interrupts import PACKAGE, Interrupter, SystemCallFailure, every_point
from tests.session.fake_server import fake_pop3
from tests.session.fetch_child import logged_in

COUNT = 40


def smtp(lab: LabServer) -> SmtpSession:
    s = SmtpSession("bulk", Settings("127.0.0.1", lab.endpoints.smtp, timeout=20))  # type: ignore[arg-type]
    s.connect()
    s.command("EHLO loader")
    return s


def pop3(lab: LabServer) -> Pop3Session:
    s = Pop3Session("fetch", Settings("127.0.0.1", lab.endpoints.pop3, timeout=20))  # type: ignore[arg-type]
    s.connect()
    assert s.login("alice", "alice-password").ok
    return s


@pytest.fixture
def filled(lab: LabServer) -> LabServer:
    finals = smtp(lab).send_many(generated("load@lab.test", ["alice@lab.test"], COUNT, 3000))
    assert [r.code for r in finals] == [250] * COUNT
    return lab


def test_send_many_pipelines_each_transaction(lab: LabServer) -> None:
    s = smtp(lab)
    finals = s.send_many(generated("a@lab.test", ["alice@lab.test", "bob@lab.test"], 3, 100))
    assert [str(r.enhanced) for r in finals] == ["2.6.0"] * 3
    sent = [e.text for e in s.transcript.entries if e.direction == "client"]
    assert "[message text:" in sent[-1] and len(lab.store.messages("bob")) == 3
    refused = s.send_many([("a@lab.test", ["nobody@lab.test"], b"Subject: x\r\n\r\n")])
    assert refused[0].code == 503  # DATA with no accepted recipient (RFC 2920 section 3.1)
    assert s.command("NOOP").code == 250  # type: ignore[union-attr]  # the session goes on


@pytest.mark.parametrize("fmt", ["maildir", "mbox"])
def test_fetch_everything_byte_exact(filled: LabServer, tmp_path: Path, fmt: str) -> None:
    s = pop3(filled)
    target = tmp_path / ("archive" if fmt == "maildir" else "archive.mbox")
    seen: list[tuple[int, int]] = []
    result = fetch(s, target, fmt=fmt, progress=lambda d, t: seen.append((d, t)))  # type: ignore[arg-type]
    assert result.pipelined and len(result) == COUNT and not result.failed
    assert seen[-1] == (COUNT, COUNT)
    stored = filled.store.messages("alice")
    for got, original in zip(result, stored, strict=True):
        assert got.uid == original.uid
        assert got.raw().endswith(original.path.read_bytes().split(b"\n\n", 1)[1])
        assert got.message["Subject"].startswith("load test ")
    if fmt == "mbox":
        assert len(mailbox.mbox(target)) == COUNT
    assert all(b"message text" not in e.data or len(e.data) < 200 for e in s.transcript.entries)
    assert max(len(e.data) for e in s.transcript.entries) < 2000  # no bodies kept


def test_ranges_and_resume(filled: LabServer, tmp_path: Path) -> None:
    s = pop3(filled)
    first = fetch(s, tmp_path / "a", numbers=range(1, 11))
    assert [m.number for m in first] == list(range(1, 11))
    uid = first[3].uid
    by_uid = fetch(s, tmp_path / "b", uids=[uid])
    assert [m.uid for m in by_uid] == [uid]
    again = fetch(s, tmp_path / "a")
    assert again.skipped == 10 and len(again) == COUNT
    assert sorted(p.name for p in (tmp_path / "a" / "cur").iterdir()) == sorted(
        p.path.name for p in again
    )


def test_without_pipelining_one_at_a_time(filled: LabServer, tmp_path: Path) -> None:
    filled.faults.override("pop3", "CAPA", "+OK\r\nTOP\r\nUIDL\r\n.")
    s = pop3(filled)
    result = fetch(s, tmp_path / "slow", numbers=range(1, 6))
    assert not result.pipelined and len(result) == 5


def test_fetch_needs_a_login(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    lab = lab_factory()
    s = Pop3Session("x", Settings("127.0.0.1", lab.endpoints.pop3))  # type: ignore[arg-type]
    s.connect()
    with pytest.raises(SessionError, match="log in first"):
        fetch(s, tmp_path / "x")


def test_to_dataframe(filled: LabServer, tmp_path: Path) -> None:
    frame = fetch(pop3(filled), tmp_path / "df", numbers=range(1, 6)).to_dataframe()
    assert list(frame["number"]) == [1, 2, 3, 4, 5]
    assert frame["subject"].tolist() == [f"load test {n}" for n in range(1, 6)]
    assert frame["from"].iloc[0] == "load@lab.test"


@pytest.mark.parametrize("fmt", ["maildir", "mbox"])
def test_to_parquet_indexes_the_archive(filled: LabServer, tmp_path: Path, fmt: Format) -> None:
    import pyarrow.parquet as pq

    result = fetch(pop3(filled), tmp_path / "archive", fmt=fmt)
    table = pq.read_table(result.to_parquet(tmp_path / "index.parquet"))
    assert table.num_rows == COUNT
    keys = {m.key.split(":")[0] for m in result}
    assert set(table.column("key").to_pylist()) == keys
    subjects = {f"load test {n}" for n in range(1, COUNT + 1)}
    assert set(table.column("subject").to_pylist()) == subjects
    with pytest.raises(ValueError, match="nothing was fetched"):
        FetchResult().to_parquet(tmp_path / "none.parquet")


# --- a fetch that stops half-way: the session stays in step --------------------------------------

SMALL = [
    (f"uid-{n}", f"Subject: small {n}\r\n\r\n.dotted line {n}\r\n".encode()) for n in range(1, 9)
]
ARCHIVE_CODE = (str(PACKAGE / "session" / "archive.py"), str(PACKAGE / "files.py"))


def fake_session(port: int) -> Pop3Session:
    s = Pop3Session("fake", Settings("127.0.0.1", port, timeout=20))
    s.connect()
    assert s.login("user", "secret").ok
    return s


def in_step_or_broken(s: Pop3Session) -> str:
    """ "in step" when NOOP gets its own +OK (no message under it), "broken" when the session
    says clearly that it is; anything else fails."""
    if not s.is_open:
        assert s.status == "broken" and s.reason
        with pytest.raises(SessionClosed, match=r"is broken \(.+\); reconnect it"):
            s.command("NOOP")
        return "broken"
    assert s.conn.waiting == 0  # nothing outstanding, not even replies that came already
    reply = s.command("NOOP")
    assert isinstance(reply, Pop3Reply) and reply.ok and reply.command == "NOOP"
    assert reply.body == b"" and s.conn.waiting == 0
    return "in step"


def each_once(result: FetchResult, messages: list[tuple[str, bytes]], fmt: str) -> None:
    """The archive holds every message exactly once, byte-exact (LF line ends)."""
    assert [m.uid for m in result] == [uid for uid, _ in messages] and not result.failed
    for got, (_, text) in zip(result, messages, strict=True):
        assert got.raw() == text.replace(b"\r\n", b"\n")
    target = result[0].path if fmt == "mbox" else result[0].path.parent.parent
    stored = len(mailbox.mbox(target)) if fmt == "mbox" else len(list((target / "cur").iterdir()))
    assert stored == len(messages)


def test_a_uid_too_long_for_a_file_name_stops_the_fetch_clearly_and_in_step(
    tmp_path: Path,
) -> None:
    # RFC 1939 section 7 allows 70 characters; this one, quoted for a file name, is 300.
    messages = [*SMALL[:2], ("/" * 100, SMALL[2][1]), *SMALL[3:]]
    with fake_pop3(messages) as port:
        s = fake_session(port)
        with pytest.raises(
            FetchError, match=r"stopped at message 3 .*too long.*--format mbox.*session goes on"
        ):
            fetch(s, tmp_path / "a", window=4)
        assert in_step_or_broken(s) == "in step"
        each_once(fetch(s, tmp_path / "a.mbox", fmt="mbox"), messages, "mbox")  # the advice


@pytest.mark.parametrize("fmt", ["maildir", "mbox"])
def test_a_disk_error_at_any_system_call_stops_the_fetch_in_step_and_resume_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: Format
) -> None:
    monkeypatch.setattr(Archive, "FLUSH_EVERY", 3)  # checkpoints among the messages too
    with fake_pop3(SMALL) as port:
        s = fake_session(port)

        def attempt(n: int) -> bool:
            target = tmp_path / f"{n}.{fmt}"
            with SystemCallFailure(n, ARCHIVE_CODE) as failure:
                try:
                    fetch(s, target, fmt=fmt, window=4)
                except FetchError as error:
                    assert "No space left on device" in str(error)
                    assert "Free some disk space" in str(error)
            assert in_step_or_broken(s) == "in step"  # a local error never costs the session
            each_once(fetch(s, target, fmt=fmt), SMALL, fmt)
            return failure.fired

        assert every_point(attempt) > 25


@pytest.mark.parametrize("fmt", ["maildir", "mbox"])
def test_ctrl_c_at_any_point_of_a_pipelined_fetch_leaves_it_in_step_or_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: Format
) -> None:
    monkeypatch.setattr(Archive, "FLUSH_EVERY", 2)
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # a kill, not a power cut: only speed
    monkeypatch.setattr(os, "sync", lambda: None)
    messages = SMALL[:5]
    seen = {"in step": 0, "broken": 0}
    with fake_pop3(messages) as port:
        sessions = [fake_session(port)]

        def attempt(n: int) -> bool:
            s, target = sessions[-1], tmp_path / f"{n}.{fmt}"
            with Interrupter(n) as interrupter, contextlib.suppress(KeyboardInterrupt):
                fetch(s, target, fmt=fmt, window=3)
            seen[in_step_or_broken(s)] += 1
            if not s.is_open:
                sessions.append(fake_session(port))
            each_once(fetch(sessions[-1], target, fmt=fmt), messages, fmt)
            return interrupter.fired

        assert every_point(attempt, step=3) > 700
    assert seen["in step"] > 50 and seen["broken"] > 50


@pytest.mark.parametrize("fmt", ["maildir", "mbox"])
def test_duplicate_uids_are_fetched_once_and_the_others_said_why(
    tmp_path: Path, fmt: Format
) -> None:
    messages = [SMALL[0], SMALL[1], ("uid-1", SMALL[2][1]), SMALL[3], ("uid-2", SMALL[4][1])]
    target = tmp_path / f"dup.{fmt}"
    with fake_pop3(messages) as port:
        s = fake_session(port)
        for _ in range(2):  # the second time everything is there already
            result = fetch(s, target, fmt=fmt, window=4)
            assert [m.number for m in result] == [1, 2, 4]
            assert [n for n, _ in result.failed] == [3, 5]
            assert "UID 'uid-1' is message 1's too" in result.failed[0][1]
            assert "RFC 1939 section 7" in result.failed[0][1]
            assert in_step_or_broken(s) == "in step"
    assert [m.raw() for m in result] == [
        t.replace(b"\r\n", b"\n") for _, t in SMALL[:2] + SMALL[3:4]
    ]
    if fmt == "maildir":
        assert list((target / "tmp").iterdir()) == []
        assert len(list((target / "cur").iterdir())) == 3


# --- killed at any moment: resume gives every message exactly once -------------------------------

CROWD = 450  # messages: two checkpoints of 200 and some after


@pytest.fixture
def crowded(lab: LabServer) -> LabServer:
    for n in range(1, CROWD + 1):
        text = f"From: load@lab.test\r\nSubject: load test {n}\r\n\r\nmessage {n}\r\n"
        lab.store.deliver(["alice"], text.encode())
    return lab


def killed(port: int, target: Path, fmt: str, how: str, at: int, within: str = "") -> None:
    """Run a fetch in a child process and SIGKILL it: after message ``at`` has been stored
    ("pause"), or at the ``at``-th point of the archive code ("die", see fetch_child.py)."""
    command = [sys.executable, "-m", "tests.session.fetch_child", str(port), str(target), fmt]
    command += [f"--{how}-at", str(at)] + (["--within", within] if within else [])
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdout is not None
    try:
        if how == "pause":
            for line in child.stdout:
                if line.split() == [b"done", str(at).encode()]:
                    child.kill()  # SIGKILL: no clean-up of any kind
                    break
        child.wait(60)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL, f"{how} at {at} {within}: ended {child.returncode}"


# (how, at, within) in turn on one archive, each run resuming what the last left; "pause" counts
# the messages this run stored. A random point comes from ANYWHERE, in a range the run reaches.
KILLS = {
    "mbox": [
        ("pause", 250, ""),  # a checkpoint at 200, then 50 messages past it
        ("die", 25, "_open"),  # taking the stale lock over
        ("die", 75, "_open"),  # cutting off what the last run left past its checkpoint
        ("die", 40, "_commit"),  # inside a checkpoint: syncing the mbox, writing the record
        ("die", 110, "_commit"),
        ("die", 0, ""),  # anywhere: inside mailbox's writes, most likely
        ("pause", 20, ""),
    ],
    "maildir": [
        ("pause", 201, ""),  # a batch of 200 in cur/, one in tmp/
        ("die", 6, "_open"),
        ("die", 300, "_flush"),  # a batch half renamed into cur/
        ("die", 0, ""),
        ("pause", 20, ""),
    ],
}
ANYWHERE = {"mbox": 8000, "maildir": 5000}


@pytest.mark.parametrize("fmt", ["mbox", "maildir"])
def test_a_fetch_killed_at_any_moment_resumes_with_every_message_exactly_once(
    crowded: LabServer, tmp_path: Path, fmt: Format
) -> None:
    port: int = crowded.endpoints.pop3  # type: ignore[assignment]
    target = tmp_path / ("archive.mbox" if fmt == "mbox" else "archive")
    seed = random.randrange(1 << 32)
    anywhere = random.Random(seed).randrange(1, ANYWHERE[fmt])
    for how, at, within in KILLS[fmt]:
        killed(port, target, fmt, how, at or anywhere, within)
    result = fetch(logged_in(port), target, fmt=fmt)
    assert [m.message["Subject"] for m in result] == [f"load test {n}" for n in range(1, 451)], seed
    assert [m.uid for m in result] == [m.uid for m in crowded.store.messages("alice")]
    assert len(set(m.key for m in result)) == CROWD
    if fmt == "mbox":
        assert len(mailbox.mbox(target)) == CROWD  # nothing else in it, nothing twice
        assert any(note.startswith("cut the last") for note in result.notes), result.notes
        assert any(note.endswith("which made it, is not running") for note in result.notes)
        assert not Path(f"{target}.lock").exists()
    else:
        assert len(list((target / "cur").iterdir())) == CROWD
