# What this module does: the view of one message, as POP3 RETR / TOP hands it over (the bytes of
# `Pop3Reply.body`): decoded headers, the text part, the HTML part sanitised with nh3, attachments
# with a save action, the MIME tree and the raw source. It only parses the bytes it is given.
#
# How it works:
# - Parsing is the stdlib's `email` package with `policy.default` (RFC 5322, RFC 2045-2047, RFC 2231
#   and RFC 6532 raw UTF-8 headers). It reports broken input as defects instead of raising; where
#   it raises anyway (deep nesting, odd headers) each step falls back (`_safe`) and the view shows
#   what it could, with the problems listed. Headers that are plain ASCII without encoded words are
#   shown exactly as sent (unfolded, RFC 5322 2.2.3); the others are decoded by the policy.
# - Bodies are decoded with their declared charset, then UTF-8, then the declared charset (or
#   windows-1252) with replacement characters; iso-8859-1 is read as windows-1252, as browsers do
#   (WHATWG Encoding Standard). Text never contains lone surrogates, and CRLF becomes "\n".
# - `sanitise` keeps (nh3 / ammonia defaults): the tags of `nh3.ALLOWED_TAGS` (formatting, lists,
#   tables, headings, links, images; no script, style, iframe, object, embed, form, input, svg,
#   math, meta, link, base), their default attributes (e.g. a href, img src/alt/width/height, td
#   colspan, plus lang and title anywhere; never style, class, id or on*), and text. script,
#   style, title, iframe, object, embed, svg, math and template go with their content. Links keep
#   http, https and mailto URLs only (a protocol-relative //host/x becomes https://host/x; other
#   relative URLs, which would reach the notebook server, are dropped), and every link gets
#   rel="noopener noreferrer" target="_blank". Images lose their src unless `remote_images` is
#   true and it is an http(s) or //host URL, so nothing loads by default (tracking pixels stay
#   dark); cid: and data: images are always dropped. Comments are removed.
# - A message from TOP is partial, not broken (RFC 1939 section 7: TOP n 0 sends the headers and
#   no body, TOP n N the first N body lines). `top` (or a title "TOP n N", as display/reply.py
#   gives) marks it: the view says "headers only" or "first N lines", and leaves out the defects
#   that cutting a message causes (missing boundaries, short base64) and the "(no text part)" of a
#   body that was not asked for.
# - Output: a concise text/plain, a self-contained text/html (inline styles, no scripts; the raw
#   source in a <details> toggle, capped at RAW_LIMIT characters) and, inside a kernel, the viewer
#   (MessageWidget), within the widget budget (DESIGN.md): what is only read is one HTML widget
#   (headers, one pane, the attachments), and real widgets are kept for what the user acts on: a
#   ToggleButtons choice of pane (Text, HTML, the HTML with its remote images, Source, MIME tree)
#   and, with attachments, a selector and a Save button. A choice re-renders the HTML widget's
#   value and builds no widget; at most 11 widget models, Layout and Style models included.
from __future__ import annotations

import codecs
import email
import email.parser
import email.policy
import html
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import errors
from email.message import EmailMessage
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import nh3

from mailmagic.display import html as h
from mailmagic.display.bundle import mimebundle
from mailmagic.display.live import cascade
from mailmagic.protocol.codes import human_size
from mailmagic.protocol.pop3 import Pop3Reply

if TYPE_CHECKING:
    import ipywidgets

__all__ = [
    "Attachment",
    "MessageView",
    "MessageWidget",
    "MimeNode",
    "Sanitised",
    "html_to_text",
    "sanitise",
]

T = TypeVar("T")
RAW_LIMIT = 100_000  # characters of raw source in text/html and the Source pane
TEXT_LINES = 100  # body lines in text/plain
MAX_DEPTH = 64  # MIME nesting levels walked
KEY_HEADERS = ("Subject", "From", "To", "Cc", "Date")
PANES = ("Text", "HTML", "Source", "MIME tree")  # the viewer's choices
IMAGES = "HTML + remote images"  # offered when the HTML part has some
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "title", "iframe", "object", "embed", "svg", "math", "template"}
)
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_WHATWG = {"iso8859-1": "cp1252"}  # label -> what browsers decode it as
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
_BLOCK_END = re.compile(r"<(?:br|hr|/p|/div|/tr|/li|/h[1-6]|/table|/blockquote|/pre)\b[^>]*>", re.I)
_FRAME = "border:1px solid #d0d7de;border-radius:4px;padding:8px;margin:4px 0;overflow:auto"
_TOP = re.compile(r"\s*TOP\s+(\d+)\s+(\d+)\s*", re.I)
# What cutting a message short does to it, and so no defect of a partial message (from TOP).
TRUNCATION_DEFECTS: tuple[type[errors.MessageDefect], ...] = (
    errors.StartBoundaryNotFoundDefect,
    errors.CloseBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.InvalidBase64PaddingDefect,
    errors.InvalidBase64LengthDefect,
)


def _safe(action: Callable[[], T], default: T) -> T:
    """The stdlib email package raises on some broken input; a view shows what it can instead."""
    try:
        return action()
    except Exception:
        return default


def _scrub(text: str) -> str:
    """Valid Unicode: surrogate-escaped bytes read as UTF-8, anything else unpaired replaced."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


# --- decoding ------------------------------------------------------------------------------------


def _codec(charset: str | None) -> str | None:
    """Python's name for a declared charset, or None if unknown."""
    try:
        return codecs.lookup(charset).name if charset else None
    except (LookupError, ValueError, TypeError):
        return None


def _try_decode(data: bytes, codec: str, errors: str) -> str | None:
    try:
        return data.decode(codec, errors)
    except (LookupError, ValueError, TypeError):
        return None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text in the declared charset, else UTF-8, else with replacement characters; never raises."""
    codec = _codec(charset)
    for attempt in (_WHATWG.get(codec or "", codec), "utf-8"):
        text = _try_decode(data, attempt, "strict") if attempt else None
        if text is not None:
            return _scrub(text)
    return _scrub(
        _try_decode(data, codec or "cp1252", "replace") or data.decode("cp1252", "replace")
    )


def payload_bytes(part: EmailMessage) -> bytes:
    """A part's decoded payload (base64 / quoted-printable undone); a message/rfc822's message."""
    if part.get_content_type() == "message/rfc822" and part.is_multipart():
        inner = part.get_payload(0)
        return _safe(inner.as_bytes, b"") if isinstance(inner, EmailMessage) else b""
    data = _safe(lambda: part.get_payload(decode=True), None)
    return data if isinstance(data, bytes) else b""


def part_text(part: EmailMessage) -> str:
    """A text part decoded with its charset, CRLF as "\\n"."""
    charset = _safe(part.get_content_charset, None)
    return decode_bytes(payload_bytes(part), charset).replace("\r\n", "\n")


def _unfolded(raw: str) -> str:
    return re.sub(r"\r\n|\r|\n", "", raw).strip()


def header_value(message: EmailMessage, name: str, raw: str) -> str:
    """Plain ASCII as sent; encoded words (RFC 2047) and raw UTF-8 (RFC 6532) decoded."""
    if raw.isascii() and "=?" not in raw:
        return _scrub(_unfolded(raw))
    decoded = _safe(lambda: str(message.policy.header_fetch_parse(name, raw)), "")
    return _scrub(decoded if decoded.strip() else _unfolded(raw))


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


def _describe_defect(defect: object) -> str:
    name = type(defect).__name__.removesuffix("Defect")
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    detail = str(defect)
    return f"{words}: {detail}" if detail else words


# --- sanitising ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sanitised:
    """Cleaned HTML and how many <img> pointed at a remote server (shown or not)."""

    html: str
    remote_images: int


def _is_remote(src: str) -> bool:
    squeezed = re.sub(r"[\x00-\x20]", "", src).lower()  # browsers ignore these in URLs
    return squeezed.startswith(("http://", "https://", "//"))


def _absolute(url: str) -> str | None:
    """Relative URLs mean nothing in a message (and would reach the notebook server)."""
    stripped = url.strip()
    return "https:" + stripped if stripped.startswith("//") else None


def sanitise(source: str, *, remote_images: bool = False) -> Sanitised:
    """The HTML cleaned as the module comment describes."""
    found = 0

    def keep(tag: str, attribute: str, value: str) -> str | None:
        nonlocal found
        if tag != "img" or attribute != "src":
            return value
        remote = _is_remote(value)
        found += remote
        return value if remote and remote_images else None

    cleaned = nh3.clean(
        _scrub(source),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attribute_filter=keep,
        url_schemes=set(LINK_SCHEMES),
        url_relative=_absolute,
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
    return Sanitised(cleaned, found)


def html_to_text(source: str) -> str:
    """HTML reduced to text: tags gone, line breaks after blocks, entities decoded."""
    marked = _BLOCK_END.sub("\n", _scrub(source))
    bare = nh3.clean(marked, tags=set(), clean_content_tags=set(DROPPED_WITH_CONTENT))
    lines = (" ".join(line.split()) for line in html.unescape(bare).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- attachments and the MIME tree --------------------------------------------------------------


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


def _children(part: EmailMessage) -> list[EmailMessage]:
    kids: list[object] = _safe(lambda: list(part.iter_parts()), [])
    return [kid for kid in kids if isinstance(kid, EmailMessage)]  # what policy.default makes


def _filename(part: EmailMessage) -> str | None:
    name = _safe(part.get_filename, None)
    return _scrub(name) if isinstance(name, str) else None


def mime_tree(part: EmailMessage, depth: int = 0) -> MimeNode:
    """The part and everything under it, MAX_DEPTH levels at most."""
    kids = _children(part) if depth < MAX_DEPTH else []
    children = tuple(mime_tree(kid, depth + 1) for kid in kids)
    size = sum(c.size for c in children) if kids else len(payload_bytes(part))
    return MimeNode(part.get_content_type(), _filename(part), size, children)


def walk(part: EmailMessage, depth: int = 0) -> Iterator[EmailMessage]:
    """Every part, containers first, MAX_DEPTH levels at most."""
    yield part
    for kid in _children(part) if depth < MAX_DEPTH else []:
        yield from walk(kid, depth + 1)


def leaves(part: EmailMessage, depth: int = 0) -> Iterator[EmailMessage]:
    """The parts that hold content; a message/rfc822 counts as one."""
    kids = [] if part.get_content_type() == "message/rfc822" else _children(part)
    if not kids or depth >= MAX_DEPTH:
        yield part
        return
    for kid in kids:
        yield from leaves(kid, depth + 1)


def is_attachment(part: EmailMessage) -> bool:
    """Disposition attachment, a filename, or content that is not text (an unnamed image)."""
    if part.get_content_maintype() == "multipart":
        return False
    disposition = _safe(part.get_content_disposition, None)
    named = _filename(part) is not None
    return disposition == "attachment" or named or part.get_content_maintype() != "text"


def _body(message: EmailMessage, kind: str) -> EmailMessage | None:
    found = _safe(lambda: message.get_body(preferencelist=(kind,)), None)
    return found if isinstance(found, EmailMessage) else None


def _parse(raw: bytes) -> tuple[EmailMessage, list[str]]:
    """The parsed message and problems; headers only when the full parse fails."""
    try:
        return email.message_from_bytes(raw, policy=email.policy.default), []
    except Exception as exc:  # e.g. RecursionError on absurdly nested multiparts
        problem = f"could not parse the body ({type(exc).__name__}); headers only"
    parser = email.parser.BytesHeaderParser(policy=email.policy.default)
    return _safe(lambda: parser.parsebytes(raw), EmailMessage()), [problem]


# --- HTML pieces ---------------------------------------------------------------------------------


def _details(summary: str, body: str, *, open_: bool = False) -> str:
    attr = " open" if open_ else ""
    return (
        f'<details{attr} style="margin:4px 0"><summary style="cursor:pointer">{h.esc(summary)}'
        f"</summary>{body}</details>"
    )


def _node_html(node: MimeNode) -> str:
    name = f" {h.esc(repr(node.filename))}" if node.filename is not None else ""
    label = f"{h.esc(node.content_type)}{name} {h.muted(human_size(node.size))}"
    kids = "".join(_node_html(child) for child in node.children)
    return f"<li>{label}{_tree_list(kids) if kids else ''}</li>"


def _tree_list(items: str) -> str:
    return f'<ul style="margin:0;padding-left:18px">{items}</ul>'


_NO_BODY = h.line(h.muted("(no body)"))


def _widgets() -> Any:
    import ipywidgets

    return ipywidgets


# --- the view ------------------------------------------------------------------------------------


class MessageView:
    """One message: parsed once from bytes, shown as text, HTML and widget."""

    def __init__(
        self,
        raw: bytes,
        *,
        title: str = "",
        remote_images: bool = False,
        save_folder: str | os.PathLike[str] = ".",
        top: int | None = None,
    ) -> None:
        self.raw = bytes(raw)
        self.title = title
        self.partial = partial_note(title, top)
        self.remote_images = remote_images
        self.save_folder = save_folder
        self.message, self._problems = _parse(self.raw)

    @classmethod
    def from_reply(cls, reply: Pop3Reply, **options: Any) -> MessageView:
        """The message a RETR or TOP reply carries."""
        return cls(reply.body, **options)

    # --- what the message says ---

    @cached_property
    def headers(self) -> list[tuple[str, str]]:
        """(name, decoded value) in order."""
        items: list[tuple[str, str]] = _safe(lambda: list(self.message.raw_items()), [])
        return [(_scrub(n), header_value(self.message, n, v)) for n, v in items]

    def header(self, name: str) -> str:
        """The first header called name (any case), decoded; "" if absent."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), "")

    @property
    def subject(self) -> str:
        return self.header("Subject")

    @property
    def sender(self) -> str:
        return self.header("From")

    @property
    def to(self) -> str:
        return self.header("To")

    @property
    def date(self) -> str:
        return self.header("Date")

    @cached_property
    def _text_part(self) -> EmailMessage | None:
        return _body(self.message, "plain")

    @cached_property
    def _html_part(self) -> EmailMessage | None:
        return _body(self.message, "html")

    @cached_property
    def text(self) -> str | None:
        """The text/plain body, decoded; None if there is none."""
        return part_text(self._text_part) if self._text_part is not None else None

    @cached_property
    def html_source(self) -> str | None:
        """The text/html body as sent, decoded; None if there is none."""
        return part_text(self._html_part) if self._html_part is not None else None

    def sanitised(self, remote_images: bool | None = None) -> Sanitised | None:
        """The HTML body cleaned (see the module comment); None if there is none."""
        remote = self.remote_images if remote_images is None else remote_images
        return (
            None if self.html_source is None else sanitise(self.html_source, remote_images=remote)
        )

    @property
    def safe_html(self) -> str | None:
        """The HTML body cleaned with nh3; remote images only if remote_images (read each time)."""
        cleaned = self.sanitised()
        return cleaned.html if cleaned is not None else None

    @cached_property
    def remote_image_count(self) -> int:
        """How many <img> in the HTML body point at a remote server."""
        cleaned = self.sanitised(False)
        return cleaned.remote_images if cleaned is not None else 0

    @cached_property
    def attachments(self) -> list[Attachment]:
        """Every part that is an attachment (not the text or HTML body)."""
        bodies = (self._text_part, self._html_part)
        parts = [p for p in leaves(self.message) if not any(p is b for b in bodies)]
        chosen = [p for p in parts if is_attachment(p)]
        return [
            Attachment(_filename(p) or "", p.get_content_type(), len(payload_bytes(p)), p, i)
            for i, p in enumerate(chosen, 1)
        ]

    @cached_property
    def tree(self) -> MimeNode:
        """The MIME structure."""
        return mime_tree(self.message)

    @cached_property
    def defects(self) -> list[str]:
        """What the parser found wrong, in words."""
        found = list(self._problems)
        cut = TRUNCATION_DEFECTS if self.partial else ()
        defects = [d for part in walk(self.message) for d in part.defects if not isinstance(d, cut)]
        found += [_scrub(_describe_defect(d)) for d in defects]
        if self.tree.depth() > MAX_DEPTH:
            found.append(f"parts nested deeper than {MAX_DEPTH} levels are not shown")
        return found

    # --- text/plain ---

    def _key_headers(self) -> list[tuple[str, str]]:
        wanted = {name.lower() for name in KEY_HEADERS}
        return [(name, value) for name, value in self.headers if name.lower() in wanted]

    def _body_lines(self) -> list[str]:
        if self.partial and self.text is None and self.html_source is None:
            return [f"({self.partial})"]
        if self.text is not None:
            lines = self.text.rstrip("\n").split("\n")
        elif self.html_source is not None:
            lines = [
                "(no text part; the HTML part as text:)",
                *html_to_text(self.html_source).split("\n"),
            ]
        else:
            lines = ["(no text or HTML part)"]
        if len(lines) > TEXT_LINES:
            more = len(lines) - TEXT_LINES
            lines = [*lines[:TEXT_LINES], f"... {more} more lines (.text has them all)"]
        return lines

    def as_text(self) -> str:
        """Concise: key headers, problems, the body, the attachments."""
        out = [self.title] if self.title else []
        out += [self.partial] if self.partial else []
        out += [f"{name}: {value}" for name, value in self._key_headers()]
        out += [f"problem: {defect}" for defect in self.defects]
        out += ["", *self._body_lines()]
        if self.attachments:
            out += ["", "attachments: " + ", ".join(a.describe() for a in self.attachments)]
        return _CONTROL.sub("\ufffd", "\n".join(out))

    # --- text/html ---

    def _header_html(self) -> str:
        parts = [h.line(h.muted(self.title))] if self.title else []
        parts += [h.line(h.esc(self.partial))] if self.partial else []
        parts.append(h.table(("header", "value"), self._key_headers()))
        parts += [h.line(h.muted(f"problem: {defect}")) for defect in self.defects]
        parts.append(
            _details(
                f"All headers ({len(self.headers)})", h.table(("header", "value"), self.headers)
            )
        )
        return "".join(parts)

    def _html_pane(self, remote_images: bool) -> str:
        cleaned = self.sanitised(remote_images)
        if cleaned is None:
            return h.line(h.muted(f"({self.partial})" if self.partial else "(no HTML part)"))
        note = ""
        if self.remote_image_count and not remote_images:
            note = h.line(h.muted(f"{self.remote_image_count} remote image(s) not loaded"))
        return f'{note}<div style="{_FRAME}">{cleaned.html}</div>'

    def _text_pane(self) -> str:
        if self.text is not None:
            return h.pre(self.text)
        return h.line(h.muted(f"({self.partial})" if self.partial else "(no text part)"))

    def _source_pane(self) -> str:
        source = _scrub(self.raw.decode("utf-8", "surrogateescape"))
        if len(source) <= RAW_LIMIT:
            return h.pre(source)
        more = len(source) - RAW_LIMIT
        return h.pre(source[:RAW_LIMIT]) + h.line(h.muted(f"... {more} more characters in .raw"))

    def _tree_pane(self) -> str:
        return _tree_list(_node_html(self.tree))

    def _attachments_html(self) -> str:
        if not self.attachments:
            return ""
        rows = [(a.name, a.content_type, human_size(a.size)) for a in self.attachments]
        return h.table(("attachment", "type", "size"), rows)

    def _body_html(self) -> str:
        if self.html_source is None:
            return self._text_pane() if self.text is not None or self.partial else _NO_BODY
        other = _details("Text part", self._text_pane()) if self.text is not None else ""
        return self._html_pane(self.remote_images) + other

    def as_html(self) -> str:
        """Self-contained: headers, body, attachments, MIME tree, raw source (all escaped)."""
        return h.box(
            self._header_html(),
            self._body_html(),
            self._attachments_html(),
            _details("MIME tree", self._tree_pane(), open_=True),
            _details("Raw source", self._source_pane()),
        )

    # --- the widget ---

    def panes(self) -> tuple[str, ...]:
        """What the viewer can show below the headers: PANES and, when the HTML part has remote
        images that ``remote_images`` leaves dark, the HTML part with them loaded."""
        dark = self.remote_image_count > 0 and not self.remote_images
        return (*PANES[:2], IMAGES, *PANES[2:]) if dark else PANES

    def first_pane(self) -> str:
        """The pane shown first: the text part, or the HTML part of a message with no text."""
        return "HTML" if self.text is None and self.html_source is not None else "Text"

    def pane_html(self, pane: str) -> str:
        """The HTML of one pane of ``panes()``."""
        if pane == "Text":
            return self._text_pane()
        if pane in ("HTML", IMAGES):
            return self._html_pane(self.remote_images or pane == IMAGES)
        return self._source_pane() if pane == "Source" else self._tree_pane()

    def widget(self, head: str = "") -> ipywidgets.VBox:
        """The viewer (MessageWidget), with ``head`` (HTML, e.g. the reply) above the headers."""
        return MessageWidget(self, head).box

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return mimebundle(self.as_text(), self.as_html(), self.widget)

    def __repr__(self) -> str:
        return self.as_text()


class MessageWidget:
    """The viewer's widgets, within the widget budget: one HTML widget (``head``, the headers, the
    chosen pane, the attachments and what the last save did), a ToggleButtons choice of pane and,
    for a message with attachments, an attachment Dropdown and a Save button. They share one
    Layout. Choosing a pane or saving re-renders the HTML and builds no widget."""

    def __init__(self, view: MessageView, head: str = "") -> None:
        w = _widgets()
        self.view, self.head, self.said = view, head, ""
        self.layout = w.Layout(width="auto")
        self.html = w.HTML(layout=self.layout)
        self.choice = w.ToggleButtons(
            options=view.panes(), value=view.first_pane(), layout=self.layout
        )
        self.choice.observe(lambda _change: self._render(), names="value")
        self.pick, self.save = self._attachment_controls()
        row = [w.HBox([self.pick, self.save], layout=self.layout)] if self.pick else []
        self.box = cascade(w.VBox([self.choice, self.html, *row], layout=self.layout))
        self._render()

    def _attachment_controls(self) -> tuple[Any, Any]:
        """The attachment selector and its Save button; (None, None) without attachments."""
        if not self.view.attachments:
            return None, None
        w = _widgets()
        options = [(a.describe(), i) for i, a in enumerate(self.view.attachments)]
        pick = w.Dropdown(options=options, value=0, description="attachment", layout=self.layout)
        folder = Path(self.view.save_folder).absolute()
        save = w.Button(description="Save", tooltip=f"save into {folder}", layout=self.layout)
        save.on_click(lambda _button: self.save_chosen())
        return pick, save

    def _render(self) -> None:
        view = self.view
        said = h.line(h.muted(self.said)) if self.said else ""
        body = view.pane_html(str(self.choice.value))
        self.html.value = self.head + h.box(
            view._header_html(), body, view._attachments_html(), said
        )

    def save_chosen(self) -> None:
        """Save the chosen attachment into the view's folder and say where (or why not)."""
        attachment = self.view.attachments[int(self.pick.value)]
        try:
            self.said = f"saved to {attachment.save(self.view.save_folder)}"
        except OSError as exc:
            self.said = f"could not save {attachment.name}: {exc}"
        self._render()
