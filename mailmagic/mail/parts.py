"""The parts of a parsed message: the MIME tree (each part's type, filename and decoded size, a
container's size the sum of its children's), walks over the parts at most MAX_DEPTH levels deep
(absurd nesting is cut, not followed into a RecursionError), which parts are attachments, and saving
an attachment into a folder: under a safe name (the last path element of the declared one, no
leading dots, no control or reserved characters, at most 120 characters), never overwriting a file
(" (1)", " (2)" ... are added instead)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from mailmagic.mail.decode import payload_bytes, safe, scrub
from mailmagic.protocol.codes import human_size

MAX_DEPTH = 64  # MIME nesting levels walked
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


def safe_filename(name: str, index: int) -> str:
    """A name that stays inside the folder: the last path element, no leading dots, no controls."""
    base = re.split(r"[/\\]", name)[-1]
    base = _UNSAFE_IN_NAME.sub("_", base).strip().lstrip(".").strip()
    if not base:
        return f"attachment-{index}.bin"
    stem, dot, ext = base.rpartition(".")
    if len(base) > 120:
        base = stem[:100] + dot + ext[:16] if dot else base[:120]
    return base


def _candidates(folder: Path, name: str) -> Iterator[Path]:
    yield folder / name
    path = Path(name)
    for n in range(1, 1000):
        yield folder / f"{path.stem} ({n}){path.suffix}"


@dataclass(frozen=True)
class Attachment:
    """One attachment: its declared name and type, decoded size, and the part it came from."""

    filename: str
    content_type: str
    size: int  # decoded payload octets
    part: EmailMessage
    index: int = 1  # position among the message's attachments, for unnamed ones

    @property
    def name(self) -> str:
        """The declared filename, or the name `save` would give an unnamed attachment."""
        return self.filename or self.safe_name()

    def safe_name(self) -> str:
        """The file name `save` writes (before " (1)" is added to avoid overwriting)."""
        return safe_filename(self.filename, self.index)

    def save(self, folder: str | os.PathLike[str] = ".") -> Path:
        """Write the decoded payload into folder (created if missing); never overwrites. Returns
        the absolute path written, so that a report of it says where the file is."""
        target = Path(folder).absolute()
        target.mkdir(parents=True, exist_ok=True)
        data = payload_bytes(self.part)
        for path in _candidates(target, self.safe_name()):
            try:
                with path.open("xb") as out:
                    out.write(data)
            except FileExistsError:
                continue
            return path
        raise FileExistsError(f"{self.safe_name()} and 999 numbered copies exist in {target}")

    def describe(self) -> str:
        """'report.pdf (application/pdf, 12.3 KiB)'."""
        return f"{self.name} ({self.content_type}, {human_size(self.size)})"


@dataclass(frozen=True)
class MimeNode:
    """One part of the MIME tree; a container's size is the sum of its children's."""

    content_type: str
    filename: str | None
    size: int
    children: tuple[MimeNode, ...] = ()

    def depth(self) -> int:
        """Levels below this node."""
        return 1 + max((child.depth() for child in self.children), default=0)


def children(part: EmailMessage) -> list[EmailMessage]:
    """The parts directly under ``part``."""
    kids: list[object] = safe(lambda: list(part.iter_parts()), [])
    return [kid for kid in kids if isinstance(kid, EmailMessage)]  # what policy.default makes


def filename(part: EmailMessage) -> str | None:
    """The part's declared filename (RFC 2231 decoded), or None."""
    name = safe(part.get_filename, None)
    return scrub(name) if isinstance(name, str) else None


def mime_tree(part: EmailMessage, depth: int = 0) -> MimeNode:
    """The part and everything under it, MAX_DEPTH levels at most."""
    kids = children(part) if depth < MAX_DEPTH else []
    nodes = tuple(mime_tree(kid, depth + 1) for kid in kids)
    size = sum(c.size for c in nodes) if kids else len(payload_bytes(part))
    return MimeNode(part.get_content_type(), filename(part), size, nodes)


def walk(part: EmailMessage, depth: int = 0) -> Iterator[EmailMessage]:
    """Every part, containers first, MAX_DEPTH levels at most."""
    yield part
    for kid in children(part) if depth < MAX_DEPTH else []:
        yield from walk(kid, depth + 1)


def leaves(part: EmailMessage, depth: int = 0) -> Iterator[EmailMessage]:
    """The parts that hold content; a message/rfc822 counts as one."""
    kids = [] if part.get_content_type() == "message/rfc822" else children(part)
    if not kids or depth >= MAX_DEPTH:
        yield part
        return
    for kid in kids:
        yield from leaves(kid, depth + 1)


def is_attachment(part: EmailMessage) -> bool:
    """Disposition attachment, a filename, or content that is not text (an unnamed image)."""
    if part.get_content_maintype() == "multipart":
        return False
    disposition = safe(part.get_content_disposition, None)
    named = filename(part) is not None
    return disposition == "attachment" or named or part.get_content_maintype() != "text"


def attachments(parts: Iterator[EmailMessage]) -> list[Attachment]:
    """The attachments among ``parts``, numbered from 1."""
    chosen = [p for p in parts if is_attachment(p)]
    return [
        Attachment(filename(p) or "", p.get_content_type(), len(payload_bytes(p)), p, i)
        for i, p in enumerate(chosen, 1)
    ]
