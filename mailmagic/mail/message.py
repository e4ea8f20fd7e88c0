"""One message as a value: the bytes POP3 RETR / TOP hands over (or any RFC 5322 message) parsed
once with the stdlib's `email` package (`policy.default`), and what it says: its headers decoded
(decode.py), the text and HTML bodies, the HTML sanitised (sanitise.py), the attachments, the MIME
tree (parts.py), and what is wrong with it, in words. Broken input is reported as problems rather
than raised: when the whole parse fails (e.g. a RecursionError on absurdly nested multiparts) the
headers alone are read. A message from TOP is partial, not broken (RFC 1939 section 7: TOP n 0 sends
the headers and no body, TOP n N the first N body lines): `partial_note` says which, and a partial
message leaves out the defects that cutting a message causes (missing boundaries, short base64)."""

from __future__ import annotations

import email
import email.parser
import email.policy
import re
from email import errors
from email.message import EmailMessage
from functools import cached_property

from mailmagic.mail.decode import header_value, part_text, safe, scrub
from mailmagic.mail.parts import (
    MAX_DEPTH,
    Attachment,
    MimeNode,
    attachments,
    leaves,
    mime_tree,
    walk,
)
from mailmagic.mail.sanitise import Sanitised, sanitise

_TOP = re.compile(r"\s*TOP\s+(\d+)\s+(\d+)\s*", re.I)
# What cutting a message short does to it, and so no defect of a partial message (from TOP).
TRUNCATION_DEFECTS: tuple[type[errors.MessageDefect], ...] = (
    errors.StartBoundaryNotFoundDefect,
    errors.CloseBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.InvalidBase64PaddingDefect,
    errors.InvalidBase64LengthDefect,
)


def partial_note(title: str, top: int | None) -> str | None:
    """What a TOP reply holds ("headers only (TOP 3 0)"); None for a whole message. ``top`` is
    the number of body lines asked for; without it, a title "TOP n N" says."""
    found = _TOP.fullmatch(title)
    if top is None and found is None:
        return None
    lines = top if top is not None else int(found[2]) if found else 0
    command = f"TOP {found[1]} {lines}" if found else f"TOP n {lines}"
    if lines == 0:
        return f"headers only ({command}): no body was asked for"
    return f"first {lines} line(s) of the body ({command}): the rest was not asked for"


def describe_defect(defect: object) -> str:
    """A parser defect in words: 'start boundary not found: ...'."""
    name = type(defect).__name__.removesuffix("Defect")
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    detail = str(defect)
    return f"{words}: {detail}" if detail else words


def parse(raw: bytes) -> tuple[EmailMessage, list[str]]:
    """The parsed message and problems; headers only when the full parse fails."""
    try:
        return email.message_from_bytes(raw, policy=email.policy.default), []
    except Exception as exc:  # e.g. RecursionError on absurdly nested multiparts
        problem = f"could not parse the body ({type(exc).__name__}); headers only"
    parser = email.parser.BytesHeaderParser(policy=email.policy.default)
    return safe(lambda: parser.parsebytes(raw), EmailMessage()), [problem]


def _body(message: EmailMessage, kind: str) -> EmailMessage | None:
    found = safe(lambda: message.get_body(preferencelist=(kind,)), None)
    return found if isinstance(found, EmailMessage) else None


class Message:
    """One message, parsed once from bytes; ``partial`` says what a TOP reply left out (None for
    a whole message). ``parsed`` is the stdlib's EmailMessage."""

    def __init__(self, raw: bytes, *, partial: str | None = None) -> None:
        self.raw = bytes(raw)
        self.partial = partial
        self.parsed, self._problems = parse(self.raw)

    @cached_property
    def headers(self) -> list[tuple[str, str]]:
        """(name, decoded value) in order."""
        items: list[tuple[str, str]] = safe(lambda: list(self.parsed.raw_items()), [])
        return [(scrub(n), header_value(self.parsed, n, v)) for n, v in items]

    def header(self, name: str) -> str:
        """The first header called name (any case), decoded; "" if absent."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), "")

    @property
    def subject(self) -> str:
        """The Subject header, decoded."""
        return self.header("Subject")

    @property
    def sender(self) -> str:
        """The From header, decoded."""
        return self.header("From")

    @property
    def to(self) -> str:
        """The To header, decoded."""
        return self.header("To")

    @property
    def date(self) -> str:
        """The Date header as sent."""
        return self.header("Date")

    @cached_property
    def text_part(self) -> EmailMessage | None:
        """The text/plain body part, if any."""
        return _body(self.parsed, "plain")

    @cached_property
    def html_part(self) -> EmailMessage | None:
        """The text/html body part, if any."""
        return _body(self.parsed, "html")

    @cached_property
    def text(self) -> str | None:
        """The text/plain body, decoded; None if there is none."""
        return part_text(self.text_part) if self.text_part is not None else None

    @cached_property
    def html_source(self) -> str | None:
        """The text/html body as sent, decoded; None if there is none."""
        return part_text(self.html_part) if self.html_part is not None else None

    def sanitised(self, remote_images: bool = False) -> Sanitised | None:
        """The HTML body cleaned (sanitise.py); None if there is none."""
        source = self.html_source
        return None if source is None else sanitise(source, remote_images=remote_images)

    @cached_property
    def remote_image_count(self) -> int:
        """How many <img> in the HTML body point at a remote server."""
        cleaned = self.sanitised(False)
        return cleaned.remote_images if cleaned is not None else 0

    @cached_property
    def attachments(self) -> list[Attachment]:
        """Every part that is an attachment (not the text or HTML body)."""
        bodies = (self.text_part, self.html_part)
        return attachments(p for p in leaves(self.parsed) if not any(p is b for b in bodies))

    @cached_property
    def tree(self) -> MimeNode:
        """The MIME structure."""
        return mime_tree(self.parsed)

    @cached_property
    def defects(self) -> list[str]:
        """What the parser found wrong, in words."""
        found = list(self._problems)
        cut = TRUNCATION_DEFECTS if self.partial else ()
        defects = [d for part in walk(self.parsed) for d in part.defects if not isinstance(d, cut)]
        found += [scrub(describe_defect(d)) for d in defects]
        if self.tree.depth() > MAX_DEPTH:
            found.append(f"parts nested deeper than {MAX_DEPTH} levels are not shown")
        return found
