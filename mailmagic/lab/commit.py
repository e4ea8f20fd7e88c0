"""Group commit of the lab store's deliveries: one thread of the process (the committer) stores
them in batches, as a database writes its log. It takes every delivery waiting, writes each copy
to its tmp/ file, makes the whole batch durable at once (on Linux one syncfs(2) per file system;
elsewhere each copy is fsync'ed as it is written), renames the copies into new/, fsyncs each new/
folder once, and only then tells each delivery how it went. So many concurrent deliveries cost
two syncs, not two each, and no thread waits on another's sync. The price: syncfs writes out
everything waiting to be written on that file system, not only the lab's mail, so on a disk busy
with other writes (a large copy, a package install) a batch waits for those too.

The order store.py promises holds for every copy: durable in tmp/ before its rename, new/ fsync'ed
after it, both before its delivery hears "done". A delivery's own failure (its write or its
rename) fails it alone; a sync that fails fails every delivery it was to cover. A failed delivery
leaves nothing in tmp/ (what it renamed into new/ stays: it is whole)."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mailmagic import files
from mailmagic.files import write_file

MAX_BATCH = 256
"""The most deliveries one batch takes (the rest wait for the next)."""


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(eq=False)
class Delivery:
    """One message to store: its ``copies`` as (mailbox, path in tmp/, path in new/), all on the
    file system of ``root``; ``ensure`` makes a mailbox's Maildir again if it is gone; ``done``
    is called from the committer thread with None or the error that failed the delivery."""

    copies: list[tuple[str, str, str]]
    data: bytes
    root: str
    ensure: Callable[[str], object]
    done: Callable[[BaseException | None], None]
    written: int = 0
    renamed: int = 0
    error: BaseException | None = None
    told: bool = False


class Committer:
    """The thread that commits deliveries in batches (see the module docstring); started on the
    first ``submit``."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """No thread and nothing queued (also what a forked child starts with)."""
        self._queue: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def pending(self) -> int:
        """Deliveries waiting for the next batch (read by the tests)."""
        return self._queue.qsize()

    def submit(self, delivery: Delivery) -> None:
        """Queue ``delivery``; its ``done`` is called once it is committed or has failed."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="mailmagic-lab-commit", daemon=True
                )
                self._thread.start()
        self._queue.put(delivery)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(batch) < MAX_BATCH:
                    batch.append(self._queue.get_nowait())
            try:
                commit(batch)
            except Exception as error:  # a bug here must not leave a delivery waiting for ever
                for delivery in batch:
                    _finish(delivery, error)


COMMITTER = Committer()
"""The process's one committer."""
if hasattr(os, "register_at_fork"):  # a forked child has no committer thread: it starts its own
    os.register_at_fork(after_in_child=COMMITTER.reset)


def commit(batch: list[Delivery]) -> None:
    """Store a batch of deliveries and report to each (see the module docstring)."""
    _each(batch, _write)
    if files.SYNCFS is not None:
        for root, group in _grouped(batch, lambda d: [d.root]).items():
            _shared(group, files.sync_filesystem, root)
    _each(batch, _rename)
    new_folders = _grouped(batch, lambda d: (os.path.dirname(new) for _, _, new in d.copies))
    for folder, group in new_folders.items():
        _shared(group, _fsync_dir, folder)
    for delivery in batch:
        _finish(delivery)


def _write(delivery: Delivery) -> None:
    each = files.SYNCFS is None  # no syncfs: every copy is fsync'ed as it is written
    for mailbox, tmp_path, _ in delivery.copies:
        try:
            write_file(tmp_path, delivery.data, exclusive=True, sync=each)
        except FileNotFoundError:  # a mailbox new since start-up, or removed: make it again
            delivery.ensure(mailbox)
            write_file(tmp_path, delivery.data, exclusive=True, sync=each)
        delivery.written += 1


def _rename(delivery: Delivery) -> None:
    for _, tmp_path, new_path in delivery.copies[delivery.renamed :]:
        os.rename(tmp_path, new_path)
        delivery.renamed += 1


def _each(batch: list[Delivery], step: Callable[[Delivery], None]) -> None:
    """Run ``step`` for every delivery not failed yet; an error fails that delivery alone."""
    for delivery in batch:
        if delivery.error is None:
            try:
                step(delivery)
            except Exception as error:  # reported to its delivery: the committer goes on
                delivery.error = error


def _grouped(
    batch: list[Delivery], keys: Callable[[Delivery], Iterable[str]]
) -> dict[str, list[Delivery]]:
    groups: dict[str, list[Delivery]] = {}
    for delivery in batch:
        for key in dict.fromkeys(keys(delivery)):
            groups.setdefault(key, []).append(delivery)
    return groups


def _shared(group: list[Delivery], sync: Callable[[str], None], path: str) -> None:
    """One ``sync`` of ``path`` for the deliveries of ``group`` still going; its error fails
    every one of them."""
    going = [d for d in group if d.error is None]
    if going:
        try:
            sync(path)
        except Exception as error:
            for delivery in going:
                delivery.error = error


def _finish(delivery: Delivery, error: BaseException | None = None) -> None:
    """Clean up after a failed delivery and tell it (once) how it went."""
    if delivery.told:
        return
    delivery.told, delivery.error = True, delivery.error or error
    if delivery.error is not None:
        for _, tmp_path, _ in delivery.copies[delivery.renamed :]:
            with contextlib.suppress(OSError):  # never written, or its folder is gone
                os.unlink(tmp_path)
    with contextlib.suppress(Exception):  # e.g. the event loop to tell has closed
        delivery.done(delivery.error)
