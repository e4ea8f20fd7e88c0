# What this module does: tests of bulk retrieval (mailmagic/session/fetch.py) against the lab
# server, which advertises PIPELINING: every message arrives byte-exact into a Maildir or an mbox,
# ranges by number and by UID, resume after an interruption skips what is there, a server without
# PIPELINING is fetched one at a time, the transcript keeps no message bodies, and bulk SMTP
# sending (session/smtp.py send_many) pipelines MAIL/RCPT/DATA.
from __future__ import annotations

import mailbox
from collections.abc import Callable
from pathlib import Path

import pytest

from mailmagic.lab import LabServer
from mailmagic.session.base import SessionError, Settings
from mailmagic.session.fetch import fetch
from mailmagic.session.pop3 import Pop3Session
from mailmagic.session.smtp import SmtpSession, generated

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


def test_a_crash_before_the_flush_leaves_nothing_half_done(tmp_path: Path) -> None:
    from mailmagic.session.fetch import Archive

    archive = Archive(tmp_path / "a", "maildir").__enter__()
    archive.add("uid-1", b"Subject: x\r\n\r\nbody\r\n")  # staged in tmp/, not yet flushed
    assert "uid-1" not in Archive(tmp_path / "a", "maildir")  # a fresh look: not archived
    archive.__exit__(None, None, None)
    assert "uid-1" in Archive(tmp_path / "a", "maildir")
    assert (tmp_path / "a" / "cur" / "uid-1:2,S").read_bytes() == b"Subject: x\n\nbody\n"
