# What this module does: tests mailmagic/protocol/codes.py: every reply code, enhanced status
# code, POP3 response code, EHLO keyword and CAPA tag the product promises has a meaning with an
# RFC (or vendor) reference, the explain_* functions read parameters and fall back sensibly for
# unknown codes, and the command tables cover every verb of both TRANSITIONS tables.
from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from mailmagic.protocol import pop3, smtp
from mailmagic.protocol.codes import (
    CAPA_TAGS,
    EHLO_KEYWORDS,
    ENHANCED_DETAILS,
    POP3_COMMANDS,
    POP3_RESP_CODES,
    SMTP_COMMANDS,
    SMTP_REPLY_CODES,
    CommandInfo,
    explain_capa,
    explain_command,
    explain_ehlo_keyword,
    explain_enhanced,
    explain_resp_code,
    explain_smtp_code,
    human_size,
    usage,
)
from mailmagic.protocol.machine import is_pseudo

REFERENCE = re.compile(r"RFC \d+|draft-|Postfix|Microsoft|sendmail|Google")

SMTP_CODES = [211, 214, 220, 221, 235, 250, 251, 252, 334, 354, 421, 432, 450, 451, 452, 454]
SMTP_CODES += [455, 500, 501, 502, 503, 504, 521, 530, 534, 535, 538, 550, 551, 552, 553, 554]
SMTP_CODES += [555, 556]


@pytest.mark.parametrize("code", SMTP_CODES)
def test_every_smtp_reply_code_is_explained_with_its_rfc(code: int) -> None:
    assert code in SMTP_REPLY_CODES
    explained = explain_smtp_code(code)
    assert explained.startswith(str(code))
    assert REFERENCE.search(explained), explained


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (299, "positive completion"),
        (459, "transient failure"),
        (557, "mail system"),
        (571, "permanent failure"),
        (320, "positive intermediate"),
        (199, "first digit must be 2 to 5"),
        (600, "first digit must be 2 to 5"),
    ],
)
def test_unknown_codes_fall_back_on_their_digits(code: int, words: str) -> None:
    explained = explain_smtp_code(code)
    assert words in explained
    assert "RFC 5321" in explained


REQUIRED_DETAILS = [(1, 1), (1, 5), (5, 6), (6, 7), (6, 8), (6, 9), (7, 0), (7, 1), (7, 8)]
REQUIRED_DETAILS += [(7, 11), (7, 12), (7, 13), (7, 14), (7, 26), (2, 2), (4, 7), (5, 3)]


@pytest.mark.parametrize(("subject", "detail"), REQUIRED_DETAILS)
def test_required_enhanced_details_are_registered(subject: int, detail: int) -> None:
    assert (subject, detail) in ENHANCED_DETAILS
    parts = explain_enhanced(5, subject, detail)
    assert len(parts) == 3
    assert all(REFERENCE.search(part) for part in parts), parts
    assert parts[2].startswith(f"x.{subject}.{detail}:")


def test_every_rfc_3463_section_3_detail_is_there() -> None:
    counts = {0: 1, 1: 9, 2: 5, 3: 6, 4: 8, 5: 6, 6: 6, 7: 8}  # X.s.0 .. X.s.(n-1)
    for subject, count in counts.items():
        for detail in range(count):
            assert (subject, detail) in ENHANCED_DETAILS


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ((5, 7, 8), ["permanent", "security or policy", "credentials invalid", "RFC 4954"]),
        ((4, 7, 1), ["transient", "delivery not authorized"]),
        ((2, 1, 5), ["success", "addressing", "destination address valid"]),
        ((5, 1, 99), ["no detail registered"]),
        ((5, 9, 1), ["no subject registered"]),
        ((3, 0, 0), ["not a class"]),
    ],
)
def test_explain_enhanced(code: tuple[int, int, int], words: list[str]) -> None:
    text = " ".join(explain_enhanced(*code))
    for word in words:
        assert word in text


@pytest.mark.parametrize(
    ("code", "rfc"),
    [
        ("IN-USE", "RFC 2449"),
        ("LOGIN-DELAY", "RFC 2449"),
        ("SYS/TEMP", "RFC 3206"),
        ("SYS/PERM", "RFC 3206"),
        ("AUTH", "RFC 3206"),
        ("UTF8", "RFC 6856"),
        ("sys/temp", "RFC 3206"),
        ("SYS/OTHER", "RFC 3206"),
    ],
)
def test_pop3_response_codes(code: str, rfc: str) -> None:
    assert rfc in explain_resp_code(code)


def test_pop3_response_code_table_and_unknown_codes() -> None:
    assert {"IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM", "AUTH", "UTF8"} <= set(POP3_RESP_CODES)
    assert "no RFC defines" in explain_resp_code("X-VENDOR")


EHLO = ["PIPELINING", "SIZE", "STARTTLS", "AUTH", "8BITMIME", "SMTPUTF8", "CHUNKING", "BINARYMIME"]
EHLO += ["DSN", "ENHANCEDSTATUSCODES", "ETRN", "DELIVERBY", "HELP", "VRFY", "EXPN", "REQUIRETLS"]
EHLO += ["MT-PRIORITY", "FUTURERELEASE", "LIMITS", "NO-SOLICITING", "XCLIENT", "XFORWARD"]
EHLO += ["X-EXPS", "X-LINK2STATE", "XEXCH50", "TURN", "ATRN"]


@pytest.mark.parametrize("keyword", EHLO)
def test_every_promised_ehlo_keyword_is_explained(keyword: str) -> None:
    assert keyword in EHLO_KEYWORDS
    explained = explain_ehlo_keyword(keyword.lower())
    assert explained.startswith(keyword + ":")
    assert REFERENCE.search(explained)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("SIZE 10485760", ["10 MiB", "RFC 1870"]),
        ("SIZE 0", ["no fixed limit"]),
        ("SIZE", ["largest message"]),
        ("AUTH LOGIN PLAIN", ["LOGIN (", "PLAIN (", "RFC 4954"]),
        ("AUTH XYZ", ["XYZ"]),
        ("AUTH=LOGIN", ["pre-RFC 2554", "LOGIN"]),
        ("X-EXPS GSSAPI NTLM", ["Exchange", "GSSAPI", "NTLM"]),
        ("X-EXPS=LOGIN", ["pre-RFC 2554", "LOGIN ("]),
        ("OK", ["no extension", "Exchange"]),  # Exchange 2000/2003 end the list with "250 OK"
        ("TURN", ["swaps the roles", "RFC 821"]),
        ("DELIVERBY 240", ["240 seconds"]),
        ("LIMITS RCPTMAX=100 MAILMAX=1000", ["RCPTMAX=100 MAILMAX=1000", "RFC 9422"]),
        ("X-ANONYMOUSTLS", ["not a registered"]),
        ("XRDST foo", ["not a registered", "foo"]),
        ("", ["empty"]),
    ],
)
def test_explain_ehlo_keyword_reads_parameters(line: str, words: list[str]) -> None:
    explained = explain_ehlo_keyword(line)
    for word in words:
        assert word in explained, explained


CAPA = ["TOP", "USER", "SASL", "RESP-CODES", "LOGIN-DELAY", "PIPELINING", "EXPIRE", "UIDL"]
CAPA += ["IMPLEMENTATION", "STLS", "AUTH-RESP-CODE", "UTF8", "LANG"]


@pytest.mark.parametrize("tag", CAPA)
def test_every_capa_tag_is_explained(tag: str) -> None:
    assert tag in CAPA_TAGS
    assert REFERENCE.search(explain_capa(tag))


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("SASL PLAIN CRAM-MD5", ["PLAIN (", "CRAM-MD5 (", "RFC 5034"]),
        ("LOGIN-DELAY 900", ["900 seconds"]),
        ("LOGIN-DELAY 900 USER", ["per user"]),
        ("EXPIRE NEVER", ["until deleted"]),
        ("EXPIRE 30", ["30 days"]),
        ("IMPLEMENTATION mailmagic-lab", ["mailmagic-lab"]),
        ("X-TAG a", ["not a registered", "a"]),
        ("", ["empty"]),
    ],
)
def test_explain_capa_reads_parameters(line: str, words: list[str]) -> None:
    explained = explain_capa(line)
    for word in words:
        assert word in explained, explained


@pytest.mark.parametrize(
    ("octets", "text"),
    [
        (0, "0 octets"),
        (12, "12 octets"),
        (1536, "1.5 KiB"),
        (10485760, "10 MiB"),
        (37748736, "36 MiB"),
        (5 << 30, "5 GiB"),
        (5 << 40, "5120 GiB"),
    ],
)
def test_human_size(octets: int, text: str) -> None:
    assert human_size(octets) == text


@pytest.mark.parametrize(
    ("commands", "table"),
    [(SMTP_COMMANDS, smtp.TRANSITIONS), (POP3_COMMANDS, pop3.TRANSITIONS)],
    ids=["smtp", "pop3"],
)
def test_every_table_verb_has_a_command_description(
    commands: Mapping[str, CommandInfo], table: Mapping[object, Mapping[str, object]]
) -> None:
    # `verb in commands` below means "this verb is described" only if the table is keyed by the
    # very verb each description is about.
    assert isinstance(commands, Mapping)
    for key, info in commands.items():
        assert isinstance(info, CommandInfo) and info.verb == key == key.upper(), key
    verbs = {key.split()[0] for row in table.values() for key in row} - {".", "<connect>"}
    assert len(verbs) >= 10, verbs  # the transition table was really read
    for verb in verbs:
        assert not is_pseudo(verb)
        assert verb in commands, verb


def test_usage_and_explain_command() -> None:
    assert usage(SMTP_COMMANDS, "MAIL") == "MAIL FROM:<address>"
    assert usage(SMTP_COMMANDS, "XYZZY") == "XYZZY"
    assert usage(POP3_COMMANDS, "TOP") == "TOP <msg> <lines>"
    assert "RFC 5321 4.1.1.3" in explain_command(SMTP_COMMANDS, "rcpt")
    assert "obsolete" in explain_command(SMTP_COMMANDS, "TURN")
    assert "not a command" in explain_command(POP3_COMMANDS, "XTND")
    for info in [*SMTP_COMMANDS.values(), *POP3_COMMANDS.values()]:
        assert REFERENCE.search(info.ref), info
