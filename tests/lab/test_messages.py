# What this module does: tests of how a lab user's messages are read and described for a teacher's
# checks (mailmagic/lab/messages.py), on messages stored in a real Maildir store: parsing into
# LabMessage with uid, size and mailbox, the decoded text of MIME parts, the filters, and the
# failure texts of expect_delivered and expect_no_mail.
from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from mailmagic.lab.messages import (
    HINT,
    Filters,
    LabMessage,
    closest,
    not_delivered,
    read_message,
    unexpected_mail,
)
from mailmagic.lab.store import MailStore


def stored(tmp_path: Path, *messages: bytes) -> list[LabMessage]:
    store = MailStore(tmp_path, ["bob"])
    for data in messages:
        store.deliver(["bob"], data)
    return [read_message(m, "bob") for m in store.messages("bob")]


def multipart() -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = (
        "Ann <ann@lab.test>",
        "bob@lab.test",
        "=?utf-8?q?R=C3=A9sum=C3=A9?=",
    )
    mail.set_content("Plain caf\u00e9 text\n")
    mail.add_alternative("<p>Html part</p>\n", subtype="html")
    mail.add_attachment(
        b"secret words in a file", maintype="application", subtype="octet-stream", filename="a.bin"
    )
    return mail.as_bytes()


def test_read_message_parses_and_knows_uid_and_size(tmp_path: Path) -> None:
    (message,) = stored(tmp_path, multipart())
    (raw,) = MailStore(tmp_path, ["bob"]).messages("bob")
    assert (message.uid, message.size, message.mailbox) == (raw.uid, raw.size, "bob")
    assert message["Subject"] == "R\u00e9sum\u00e9"  # RFC 2047 decoded
    assert "Plain caf\u00e9 text" in message.text() and "Html part" in message.text()
    assert "secret words" not in message.text()  # attachments are not text
    assert "uid=" in repr(message) and "R\u00e9sum\u00e9" in message.summary()


def test_filters(tmp_path: Path) -> None:
    message, plain = stored(
        tmp_path, multipart(), b"Return-Path: <x@y.org>\nSubject: plain\nX-Tag: Blue\n\nhello\n"
    )
    assert Filters().matches(message) and Filters().describe() == "any message"
    assert Filters(sender="ANN@").matches(message) and not Filters(sender="ann").matches(plain)
    assert Filters(sender="y.org").matches(plain)  # the envelope sender, Return-Path
    assert Filters(recipient="bob@").matches(message) and not Filters(recipient="bob").matches(
        plain
    )
    assert Filters(subject="r\u00c9sum").matches(message)
    assert Filters(header=("x-tag", "blue")).matches(plain) and not Filters(
        header=("X-Tag", "b")
    ).matches(message)
    assert Filters(text="HELLO").matches(plain) and not Filters(text="hello").matches(message)
    both = Filters(sender="ann", subject="plain")
    assert not both.matches(message) and not both.matches(plain)
    assert both.describe() == "from containing 'ann', subject containing 'plain'"


def test_failure_texts_name_what_was_looked_for_and_what_is_there(tmp_path: Path) -> None:
    held = stored(tmp_path, b"Subject: Lab 1 report\n\nx\n", b"Subject: hello\n\nx\n")
    filters = Filters(subject="Lab 1 reprot")
    assert closest(held, filters)[0]["Subject"] == "Lab 1 report"
    text = not_delivered("bob@lab.test", filters, held, 0, None)
    assert text.startswith(
        "expected a message for bob@lab.test (subject containing 'Lab 1 reprot')"
    )
    assert "holds 2 messages, the closest:\n  1. From (none), Subject 'Lab 1 report'" in text
    assert text.endswith(f"hint: {HINT}")
    assert "exactly 2 messages" in not_delivered("bob@lab.test", Filters(), held, 3, 2)
    assert "holds 0 messages\n" in not_delivered("bob@lab.test", Filters(), [], 0, None)
    assert unexpected_mail("bob@lab.test", held).splitlines()[2].startswith("  2. From (none)")


def test_messages_are_equal_when_they_are_the_same_stored_message(tmp_path: Path) -> None:
    (first,) = stored(tmp_path, b"Subject: a\n\nx\n")
    (again,) = [read_message(m, "bob") for m in MailStore(tmp_path, ["bob"]).messages("bob")]
    assert first == again and hash(first) == hash(again) and first != "a"
