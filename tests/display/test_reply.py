# What this module does: tests of the reply view (mailmagic/display/reply.py): meaning of codes
# with RFC references, one row per EHLO/CAPA extension, attribute fall-through, POP3 listings, and
# a text/html fallback that shows hostile server text as text, and a result that reads as its
# reply value: `dir()` lists the reply's fields, so IPython's completer (with and without jedi, in
# a real shell) offers `r.co` -> `code`.
from __future__ import annotations

from typing import Any

from IPython.core.completer import provisionalcompleter

from mailmagic.display.exchange import is_failure, status_of
from mailmagic.display.reply import ReplyView
from mailmagic.protocol.pop3 import Continuation
from tests.display.hostile import HOSTILE, assert_inert, hostile_ehlo, pop3_reply, smtp_reply

S550_USER_UNKNOWN = b"550 5.1.1 <zed@lab.test>: User unknown\r\n"
S250_OK = b"250 2.0.0 OK\r\n"


def test_meaning_names_the_code_its_enhanced_parts_and_the_rfc() -> None:
    view = ReplyView(
        smtp_reply("RCPT TO:<zed@lab.test>", S550_USER_UNKNOWN),
        "RCPT TO:<zed@lab.test>",
        "s",
        "SMTP",
    )
    text = view.as_text()
    assert "S: 550 5.1.1 <zed@lab.test>: User unknown" in text
    assert "RFC 5321" in text and "5.1.1" in text and "RFC 3463" in text
    assert view.code == 550 and not view.ok and is_failure(view.reply)
    assert status_of(view.reply) == "550"  # type: ignore[arg-type]


def test_ehlo_gets_one_row_per_extension() -> None:
    reply = smtp_reply(
        "EHLO me", b"250-mail.lab.test\r\n250-PIPELINING\r\n250-SIZE 1048576\r\n250 STARTTLS\r\n"
    )
    view = ReplyView(reply, "EHLO me", "s", "SMTP")
    html = view.as_html()
    assert html.count("<tr>") == 4  # header + three extensions
    assert "RFC 2920" in html
    assert "   SIZE: the largest message accepted" in view.as_text()
    assert "up to 1 MiB (RFC 1870)" in view.as_text()


def test_pop3_listing_values() -> None:
    listing = pop3_reply("LIST", b"+OK 2 messages\r\n1 120\r\n2 4000\r\n.\r\n")
    view = ReplyView(listing, "LIST", "p", "POP3")
    assert [(e.number, e.octets) for e in view.entries] == [(1, 120), (2, 4000)]  # type: ignore[union-attr]
    stat = ReplyView(pop3_reply("STAT", b"+OK 2 4120\r\n"), "STAT", "p", "POP3")
    assert stat.stat is not None and (stat.stat.count, stat.stat.octets) == (2, 4120)
    uidl = ReplyView(pop3_reply("UIDL", b"+OK\r\n1 abc\r\n.\r\n"), "UIDL", "p", "POP3")
    assert [e.uid for e in uidl.entries] == ["abc"]  # type: ignore[union-attr]


def test_capa_rows_and_continuations() -> None:
    capa = ReplyView(
        pop3_reply("CAPA", b"+OK\r\nTOP\r\nUIDL\r\nSTLS\r\n.\r\n"), "CAPA", "p", "POP3"
    )
    assert capa.as_html().count("<tr>") == 4
    challenge = ReplyView(
        Continuation("VXNlcm5hbWU6", b"+ VXNlcm5hbWU6\r\n"), "AUTH LOGIN", "p", "POP3"
    )
    assert "Username:" in challenge.as_text()


def test_hostile_server_text_is_escaped_everywhere() -> None:
    view = ReplyView(hostile_ehlo(), "EHLO me", "s", "SMTP")
    assert_inert(view.as_html())
    for bad in HOSTILE:
        assert bad in view.as_text()
    err = pop3_reply("STAT", f"-ERR {HOSTILE[0]}\r\n".encode())
    assert_inert(ReplyView(err, "STAT", "p", "POP3").as_html())


def test_a_line_with_no_reply_due() -> None:
    view = ReplyView(None, "Subject: hi", "s", "SMTP")
    assert view.ok and view.as_text() == "C: Subject: hi"
    bundle = view._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}


def test_dir_lists_the_reply_fields_and_methods() -> None:
    smtp = ReplyView(smtp_reply("NOOP", S250_OK), "NOOP", "s", "SMTP")
    assert {"code", "lines", "enhanced", "raw", "explain"} <= set(dir(smtp))
    assert {"command", "ok", "as_text"} <= set(dir(smtp))  # the view's own stay
    pop3 = ReplyView(pop3_reply("LIST", b"+OK\r\n1 120\r\n.\r\n"), "LIST", "p", "POP3")
    assert {"ok", "code", "text", "lines", "resp_code", "entries"} <= set(dir(pop3))
    assert pop3.code == "+OK" and "lines" not in dir(ReplyView(None, "x", "s", "SMTP"))


def _completed(shell: Any, line: str, jedi: bool) -> list[str]:
    """The lines the completer would make of ``line``, with or without jedi."""
    before = shell.Completer.use_jedi
    shell.Completer.use_jedi = jedi
    try:
        with provisionalcompleter():
            return [line[: c.start] + c.text for c in shell.Completer.completions(line, len(line))]
    finally:
        shell.Completer.use_jedi = before


def test_the_completer_offers_the_reply_fields(ipython_shell: Any) -> None:
    ipython_shell.user_ns["r"] = ReplyView(smtp_reply("NOOP", S250_OK), "NOOP", "s", "SMTP")
    try:
        for jedi in (True, False):
            assert "r.code" in _completed(ipython_shell, "r.co", jedi)
            assert "r.lines" in _completed(ipython_shell, "r.li", jedi)
    finally:
        del ipython_shell.user_ns["r"]
