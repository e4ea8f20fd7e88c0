# What this module does: tests of a message's parts (mailmagic/mail/parts.py): attachments keep
# their declared type and decoded size and save exactly, under a name that stays inside the folder
# (no path, no leading dot, no reserved characters, at most 120 characters with the suffix kept)
# and never over an existing file; body parts are not attachments but unnamed images are; the
# MIME tree has the message's shape, with a container's size the sum of its children's.
from __future__ import annotations

from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailmagic.mail.message import Message
from mailmagic.mail.parts import safe_filename
from tests.mail.samples import PDF, mixed, with_attachment


def message_of(msg: EmailMessage) -> Message:
    return Message(msg.as_bytes(policy=policy.SMTP))


def test_attachment_type_size_and_exact_save(tmp_path: Path) -> None:
    [pdf] = message_of(mixed()).attachments
    assert (pdf.filename, pdf.content_type, pdf.size) == ("report.pdf", "application/pdf", len(PDF))
    assert pdf.describe() == "report.pdf (application/pdf, 12 KiB)"
    first = pdf.save(tmp_path)
    assert first == tmp_path / "report.pdf" and first.read_bytes() == PDF
    assert pdf.save(tmp_path) == tmp_path / "report (1).pdf"
    assert pdf.save(tmp_path) == tmp_path / "report (2).pdf"
    assert first.read_bytes() == PDF and (tmp_path / "report (2).pdf").read_bytes() == PDF


TRAVERSAL = [
    ('attachment; filename="../../etc/passwd"', "passwd"),
    ('attachment; filename="/abs/x"', "x"),
    ('attachment; filename=".."', "attachment-1.bin"),
    ('attachment; filename=""', "attachment-1.bin"),
    ("attachment", "attachment-1.bin"),
    ('attachment; filename="..\\\\..\\\\win.ini"', "win.ini"),
    ('attachment; filename=".bashrc"', "bashrc"),
    ('attachment; filename="a:b?.txt"', "a_b_.txt"),
    ("attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf", "r\u00e9sum\u00e9.pdf"),
]


@pytest.mark.parametrize(("disposition", "saved_as"), TRAVERSAL)
def test_saved_names_stay_inside_the_folder(
    tmp_path: Path, disposition: str, saved_as: str
) -> None:
    [attachment] = Message(with_attachment(disposition)).attachments
    folder = tmp_path / "new" / "folder"
    path = attachment.save(folder)
    assert path == folder / saved_as and path.read_bytes() == b"payload"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [saved_as]


def test_save_reports_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    [pdf] = message_of(mixed()).attachments
    assert pdf.save("saved") == tmp_path / "saved" / "report.pdf"


def test_safe_filename_limits_length_and_keeps_the_suffix() -> None:
    name = safe_filename("a" * 300 + ".pdf", 1)
    assert len(name) <= 120 and name.endswith(".pdf")


def test_body_parts_are_not_attachments_and_unnamed_images_are() -> None:
    msg = EmailMessage()
    msg.set_content("text")
    msg.add_alternative("<p>html</p>", subtype="html")
    html = msg.get_body(preferencelist=("html",))
    assert html is not None
    html.add_related(b"\x89PNG", maintype="image", subtype="png", cid="<logo@x>")
    [image] = message_of(msg).attachments
    assert (image.content_type, image.name, image.size) == ("image/png", "attachment-1.bin", 4)


def test_mime_tree_shape_and_sizes() -> None:
    tree = message_of(mixed()).tree
    alternative, pdf = tree.children
    plain, html = alternative.children
    assert tree.content_type == "multipart/mixed" and tree.filename is None
    assert alternative.content_type == "multipart/alternative"
    assert (plain.content_type, plain.size) == ("text/plain", len("hello caf\u00e9\n".encode()))
    assert (html.content_type, html.size) == (
        "text/html",
        len("<p>Hello <b>caf\u00e9</b></p>\n".encode()),
    )
    assert (pdf.content_type, pdf.filename, pdf.size, pdf.children) == (
        "application/pdf",
        "report.pdf",
        len(PDF),
        (),
    )
    assert alternative.size == plain.size + html.size and tree.size == alternative.size + pdf.size
