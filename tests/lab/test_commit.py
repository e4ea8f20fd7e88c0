# What this module does: tests of the group commit (mailmagic/lab/commit.py) through a real
# MailStore: concurrent deliveries share one syncfs of their copies and one fsync of new/; a
# failing sync fails every delivery it covered and leaves nothing in tmp/; one delivery's failure
# fails it alone; without syncfs every copy is fsync'ed; the committer survives a bug in a batch,
# telling every delivery of it; and a forked child delivers with a committer of its own.
from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

from mailmagic import files
from mailmagic.lab import commit as commit_module
from mailmagic.lab.commit import COMMITTER
from mailmagic.lab.store import MailStore

MESSAGE = b"From: a@b.c\r\nSubject: hi\r\n\r\nbody\r\n"
needs_syncfs = pytest.mark.skipif(files.SYNCFS is None, reason="syncfs(2) is Linux's")


@pytest.fixture
def store(tmp_path: Path) -> MailStore:
    return MailStore(tmp_path, ["alice", "bob"])


class GatedSync:
    """Stands in for one of commit.py's sync functions (`name`): its first call waits until
    `others` deliveries are queued behind it, so they must share the next batch; every call is
    counted and may fail."""

    def __init__(self, others: int, fail: bool, name: str) -> None:
        self.others, self.fail = others, fail
        self.calls: list[str] = []
        self.real = getattr(where(name), name)

    def __call__(self, path: str) -> None:
        self.calls.append(path)
        if len(self.calls) == 1:
            deadline = time.monotonic() + 60
            while COMMITTER.pending() < self.others and time.monotonic() < deadline:
                time.sleep(0.01)
        if self.fail:
            raise OSError(errno.EIO, "sync failed (test)", path)
        self.real(path)


def where(name: str) -> object:
    """The module whose ``name`` commit.py calls: its own fsync of new/, or files.py's syncfs."""
    return files if name == "sync_filesystem" else commit_module


def deliver_all(store: MailStore, count: int, boxes: list[str]) -> list[list[str] | BaseException]:
    """`count` deliveries, each from a thread of its own; what each returned or raised."""
    results: list[list[str] | BaseException] = []

    def one() -> None:
        try:
            results.append(store.deliver(boxes, MESSAGE))
        except OSError as error:
            results.append(error)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def tmp_files(store: MailStore, mailbox: str) -> list[str]:
    return os.listdir(store.maildir(mailbox) / "tmp")


SYNCS = ["_fsync_dir", pytest.param("sync_filesystem", marks=needs_syncfs)]


def eight_gated(
    store: MailStore, monkeypatch: pytest.MonkeyPatch, name: str, fail: bool
) -> tuple[GatedSync, list[list[str] | BaseException]]:
    """Eight deliveries to alice whose sync `name` is gated (and failing if `fail`)."""
    sync = GatedSync(others=7, fail=fail, name=name)
    monkeypatch.setattr(where(name), name, sync)
    return sync, deliver_all(store, 8, ["alice"])


@pytest.mark.parametrize("name", SYNCS)
def test_concurrent_deliveries_share_one_sync_and_all_are_durable(
    store: MailStore, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    sync, results = eight_gated(store, monkeypatch, name, fail=False)
    assert all(isinstance(r, list) for r in results) and len(results) == 8
    assert len(store.messages("alice")) == 8  # every one in new/ when deliver returned
    assert len(sync.calls) == 2  # the first delivery's sync, then one for the seven others


@pytest.mark.parametrize("name", SYNCS)
def test_a_failing_sync_fails_every_delivery_it_covered(
    store: MailStore, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    sync, results = eight_gated(store, monkeypatch, name, fail=True)
    assert len(results) == 8
    assert all(isinstance(r, OSError) and r.errno == errno.EIO for r in results)
    assert len(sync.calls) == 2 and tmp_files(store, "alice") == []
    if name == "sync_filesystem":  # nothing was renamed: new/ holds nothing either
        assert store.messages("alice") == []


def test_one_delivery_failing_fails_it_alone(store: MailStore) -> None:
    (store.maildir("bob") / "new").rmdir()  # a delivery to bob cannot be renamed into new/
    deliveries = [["alice"], ["bob"], ["alice"]] * 3
    results: list[object] = [None] * len(deliveries)

    def one(index: int) -> None:
        try:
            results[index] = store.deliver(deliveries[index], MESSAGE)
        except OSError as error:
            results[index] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(deliveries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for boxes, result in zip(deliveries, results, strict=True):
        assert isinstance(result, FileNotFoundError if boxes == ["bob"] else list)
    assert len(store.messages("alice")) == 6 and tmp_files(store, "bob") == []


def test_without_syncfs_every_copy_is_fsynced(
    store: MailStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "SYNCFS", None)
    synced: list[int] = []
    real = os.fsync

    def counted(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counted)
    store.deliver(["alice", "bob"], MESSAGE)
    assert len(synced) == 4  # each copy in tmp/, then each new/
    assert len(store.messages("alice")) == len(store.messages("bob")) == 1


def test_the_committer_survives_a_bug_and_tells_every_delivery(
    store: MailStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(group: object, sync: object, path: str) -> None:
        raise RuntimeError("a bug (test)")

    monkeypatch.setattr(commit_module, "_shared", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        store.deliver(["alice"], MESSAGE)
    assert tmp_files(store, "alice") == []
    monkeypatch.undo()
    assert len(store.deliver(["alice"], MESSAGE)) == 1  # the committer goes on


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX's")
def test_a_forked_child_delivers_with_a_committer_of_its_own(store: MailStore) -> None:
    store.deliver(["alice"], MESSAGE)  # the parent's committer thread is running
    child = os.fork()
    if child == 0:  # the child: its copy of the committer has no thread until it submits
        done = threading.Event()
        threading.Thread(target=lambda: (store.deliver(["bob"], MESSAGE), done.set())).start()
        os._exit(0 if done.wait(60) else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(store.messages("bob")) == 1
