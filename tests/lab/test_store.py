# What this module does: tests of the Maildir store (mailmagic/lab/store.py): atomic delivery into
# new/, LF storage with CRLF sizes (every CR kept, and a size always the octets POP3 sends), stable
# UIDs, the POP3 lock, readable foreign Maildir files, mailbox names that are never paths, and
# delivery from threads and from an event loop (the group commit itself: tests/lab/test_commit.py).
from __future__ import annotations

import asyncio
import mailbox
import os
import shutil
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailmagic.lab.store import (
    OUTBOX,
    MailboxInUse,
    MailStore,
    _crlf_size,
    crlf_blocks,
    crlf_lines,
    to_lf,
)

MESSAGE = b"From: a@b.c\r\nSubject: hi\r\n\r\nline one\r\n.line two\r\n"


@pytest.fixture
def store(tmp_path: Path) -> MailStore:
    return MailStore(tmp_path, ["alice", "bob"])


def test_every_mailbox_and_the_outbox_is_a_maildir(store: MailStore, tmp_path: Path) -> None:
    for name in ("alice", "bob", OUTBOX):
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == ["cur", "new", "tmp"]


def test_delivery_lands_in_new_with_lf_line_ends(store: MailStore, tmp_path: Path) -> None:
    (uid,) = store.deliver(["alice"], MESSAGE)
    (path,) = (tmp_path / "alice" / "new").iterdir()
    assert path.name.startswith(uid + ",S=")
    assert path.read_bytes() == MESSAGE.replace(b"\r\n", b"\n")
    assert list((tmp_path / "alice" / "tmp").iterdir()) == []


def test_sizes_and_lines_are_as_pop3_sends_them(store: MailStore) -> None:
    store.deliver(["bob"], MESSAGE)
    (message,) = store.messages("bob")
    assert message.size == len(MESSAGE)
    assert b"".join(crlf_lines(message)) == MESSAGE


def test_size_counts_the_crlf_pop3_adds_to_an_unterminated_last_line(store: MailStore) -> None:
    store.deliver(["bob"], b"Subject: x\r\n\r\nno final line end")
    (message,) = store.messages("bob")
    assert message.size == len(b"".join(crlf_lines(message)))


def test_stdlib_mailbox_reads_what_was_delivered(store: MailStore, tmp_path: Path) -> None:
    store.deliver(["alice", "bob"], MESSAGE)
    box = mailbox.Maildir(tmp_path / "alice", create=False)
    (msg,) = box.values()
    assert msg["Subject"] == "hi"


def test_uids_are_unique_stable_and_ordered(store: MailStore, tmp_path: Path) -> None:
    uids = [store.deliver(["alice"], MESSAGE)[0] for _ in range(20)]
    assert len(set(uids)) == 20
    assert [m.uid for m in store.messages("alice")] == uids
    reopened = MailStore(tmp_path, ["alice"])
    assert [m.uid for m in reopened.messages("alice")] == uids
    assert all(0 < len(u) <= 70 and all(0x21 <= ord(c) <= 0x7E for c in u) for u in uids)


def test_foreign_maildir_files_in_cur_are_listed(store: MailStore, tmp_path: Path) -> None:
    foreign = tmp_path / "alice" / "cur" / "1600000000.abc.host:2,S"
    foreign.write_bytes(b"Subject: old\n\nbody\n")
    (message,) = store.messages("alice")
    assert (message.uid, message.size) == (
        "1600000000.abc.host",
        len(b"Subject: old\r\n\r\nbody\r\n"),
    )


def test_the_lock_refuses_a_second_holder_until_released(store: MailStore) -> None:
    store.acquire("alice")
    with pytest.raises(MailboxInUse):
        store.acquire("alice")
    store.acquire("bob")
    store.release("alice")
    store.acquire("alice")


def test_remove_deletes_and_tolerates_missing_files(store: MailStore) -> None:
    store.deliver(["alice"], MESSAGE)
    messages = store.messages("alice")
    store.remove(messages)
    store.remove(messages)
    assert store.messages("alice") == []


def test_a_failed_delivery_leaves_nothing_behind(store: MailStore, tmp_path: Path) -> None:
    broken = tmp_path / "bob" / "tmp"
    broken.rmdir()
    broken.write_bytes(b"not a folder")  # so the copy for bob cannot be written
    with pytest.raises(OSError):
        store.deliver(["alice", "bob"], MESSAGE)
    assert list((tmp_path / "alice" / "tmp").iterdir()) == []
    assert store.messages("alice") == []


def test_stale_tmp_files_are_cleaned_at_start_fresh_ones_kept(tmp_path: Path) -> None:
    tmp = tmp_path / "alice" / "tmp"
    tmp.mkdir(parents=True)
    (tmp / "stale").write_bytes(b"x")
    (tmp / "fresh").write_bytes(b"x")
    os.utime(tmp / "stale", (1_000_000, 1_000_000))
    MailStore(tmp_path, ["alice"])
    assert [p.name for p in tmp.iterdir()] == ["fresh"]


def test_concurrent_deliveries_all_land(store: MailStore) -> None:
    threads = [threading.Thread(target=store.deliver, args=(["alice"], MESSAGE)) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.messages("alice")) == 30


def test_an_event_loop_delivers_without_waiting_and_gets_the_uids(store: MailStore) -> None:
    async def main() -> list[list[str]]:
        return await asyncio.gather(*(store.deliver_async(["alice"], MESSAGE) for _ in range(5)))

    uids = [uid for one in asyncio.run(main()) for uid in one]
    assert sorted(uids) == sorted(m.uid for m in store.messages("alice")) and len(uids) == 5


def test_an_event_loop_gets_the_error_of_a_failed_delivery(store: MailStore) -> None:
    (store.maildir("bob") / "new").rmdir()
    with pytest.raises(FileNotFoundError):
        asyncio.run(store.deliver_async(["bob"], MESSAGE))
    assert not list((store.maildir("bob") / "tmp").iterdir())


def test_no_mailbox_is_no_copy(store: MailStore) -> None:
    assert store.deliver([], MESSAGE) == []


def test_blocks_are_whole_crlf_lines(store: MailStore) -> None:
    long = b"Subject: blocks\r\n\r\n" + b"".join(b"line %d\r\n" % n for n in range(3000)) + b"end"
    store.deliver(["alice"], long)
    (message,) = store.messages("alice")
    blocks = list(crlf_blocks(message, size=1000))
    assert len(blocks) > 10 and all(b.endswith(b"\r\n") for b in blocks)
    assert b"".join(blocks) == long + b"\r\n" == b"".join(crlf_lines(message))


@pytest.mark.parametrize(
    "message",
    [
        b"Subject: one long line\r\n\r\n" + b"x" * 5000 + b"\r\nshort\r\n",  # longer than a block
        b"Subject: a lone CR\r\n\r\nkeep\rthis\r\nand this\n",  # a bare CR stays, LF gets CR
        b"no line end at all",
        b"",
    ],
    ids=["line-over-a-block", "lone-cr", "no-line-end", "empty"],
)
def test_blocks_match_the_line_by_line_reading(store: MailStore, message: bytes) -> None:
    store.deliver(["alice"], message)
    (stored,) = store.messages("alice")
    blocks = list(crlf_blocks(stored, size=1000))
    assert all(b.endswith(b"\r\n") for b in blocks)
    assert b"".join(blocks) == b"".join(crlf_lines(stored))
    assert len(b"".join(blocks)) == stored.size


def test_a_removed_maildir_is_made_again_on_the_next_delivery(store: MailStore) -> None:
    store.deliver(["alice"], MESSAGE)
    shutil.rmtree(store.maildir("alice"))
    store.deliver(["alice"], MESSAGE)
    assert len(store.messages("alice")) == 1


def test_a_failed_rename_leaves_nothing_in_tmp(store: MailStore) -> None:
    (store.maildir("bob") / "new").rmdir()  # bob's copy cannot be renamed into new/
    with pytest.raises(FileNotFoundError):
        store.deliver(["alice", "bob"], MESSAGE)
    assert not list((store.maildir("bob") / "tmp").iterdir())
    assert not list((store.maildir("alice") / "tmp").iterdir())


def test_a_cr_before_a_line_end_is_content_and_counted(store: MailStore, tmp_path: Path) -> None:
    message = b"Subject: cr\r\n\r\nline one\r\r\n\r\r\nlast\r"
    store.deliver(["alice"], message)
    (stored,) = store.messages("alice")
    assert stored.path.read_bytes() == b"Subject: cr\n\nline one\r\n\r\nlast\r"
    sent = message + b"\r\n"  # as POP3 sends it: the final CRLF added, every CR kept
    assert b"".join(crlf_blocks(stored)) == b"".join(crlf_lines(stored)) == sent
    assert stored.size == len(sent)


def test_a_foreign_file_without_a_size_in_its_name_is_measured_as_it_is_sent(
    store: MailStore, tmp_path: Path
) -> None:
    (tmp_path / "bob" / "cur" / "1600000000.x.host:2,S").write_bytes(b"a\r\nb\rc\n\n.d")
    (message,) = store.messages("bob")
    assert message.size == len(b"".join(crlf_blocks(message))) == len(b"a\r\r\nb\rc\r\n\r\n.d\r\n")


ODD_PIECES = [b"\r", b"\n", b"\r\n", b"\r\r\n", b".", b"..", b"x", b"\x00", b"\xff", b" ", b"\t"]
ODD_MESSAGES = st.one_of(
    st.binary(max_size=3000),
    st.lists(st.sampled_from(ODD_PIECES), max_size=400).map(b"".join),
)


@settings(max_examples=300, deadline=None)
@given(message=ODD_MESSAGES)
def test_pop3_size_is_always_the_octets_sent(
    tmp_path_factory: pytest.TempPathFactory, message: bytes
) -> None:
    store = MailStore(tmp_path_factory.mktemp("odd"), ["alice"])
    store.deliver(["alice"], message)
    (stored,) = store.messages("alice")
    blocks = b"".join(crlf_blocks(stored, size=512))
    assert blocks == b"".join(crlf_lines(stored))
    assert stored.size == len(blocks) == _crlf_size(stored.path)
    expected = to_lf(message).replace(b"\n", b"\r\n")
    assert blocks == expected + (b"\r\n" if expected and not expected.endswith(b"\n") else b"")


@pytest.mark.parametrize("name", ["../escaped", "a/b", "/tmp/x", "..", ".", ".hidden", ""])
def test_a_mailbox_name_is_never_a_path(store: MailStore, tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not a plain folder name"):
        store.deliver(["alice", name], MESSAGE)
    with pytest.raises(ValueError, match="not a plain folder name"):
        MailStore(tmp_path / "other", [name])
    assert store.messages("alice") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_outbox", "alice", "bob"]
