"""The view of one message (mailmagic/mail/message.py's Message, parsed from the bytes of
`Pop3Reply.body` as POP3 RETR / TOP hands them over): decoded headers, the text part, the HTML part
sanitised (mail/sanitise.py), attachments with a save action, the MIME tree and the raw source. It
only shows: parsing, decoding, sanitising and saving are the model's, and attribute access and
`dir()` fall through to the Message (display/base.py), so `view.subject`, `view.attachments` read
the model. A partial message (from TOP, or a title "TOP n N" as display/exchange.py gives) says
"headers only" or "first N lines", and leaves out the "(no text part)" of a body that was not asked
for.

Output: a concise text/plain (control characters replaced), a self-contained text/html (inline
styles, no scripts; the raw source in a <details> toggle, capped at RAW_LIMIT characters) and,
inside a kernel, the viewer (MessageWidget), within the widget budget (DESIGN.md): what is only
read is one HTML widget (headers, one pane, the attachments), and real widgets are kept for what
the user acts on: a ToggleButtons choice of pane (Text, HTML, the HTML with its remote images,
Source, MIME tree) and, with attachments, a selector and a Save button. A choice re-renders the
HTML widget's value and builds no widget; at most 11 widget models, Layout and Style included.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailmagic.display import html as h
from mailmagic.display.base import ValueView
from mailmagic.display.live import cascade
from mailmagic.mail.decode import scrub
from mailmagic.mail.message import Message, partial_note
from mailmagic.mail.parts import MimeNode
from mailmagic.mail.sanitise import Sanitised, html_to_text
from mailmagic.protocol.codes import human_size
from mailmagic.protocol.pop3 import Pop3Reply

if TYPE_CHECKING:
    import ipywidgets

__all__ = [
    "IMAGES",
    "PANES",
    "MessageView",
    "MessageWidget",
]

RAW_LIMIT = 100_000  # characters of raw source in text/html and the Source pane
TEXT_LINES = 100  # body lines in text/plain
KEY_HEADERS = ("Subject", "From", "To", "Cc", "Date")
PANES = ("Text", "HTML", "Source", "MIME tree")  # the viewer's choices
IMAGES = "HTML + remote images"  # offered when the HTML part has some
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FRAME = "border:1px solid #d0d7de;border-radius:4px;padding:8px;margin:4px 0;overflow:auto"


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


class MessageView(ValueView):
    """One message: parsed once from bytes (``mail``), shown as text, HTML and widget."""

    value_field = "mail"

    def __init__(
        self,
        raw: bytes,
        *,
        title: str = "",
        remote_images: bool = False,
        save_folder: str | os.PathLike[str] = ".",
        top: int | None = None,
    ) -> None:
        self.title = title
        self.remote_images = remote_images
        self.save_folder = save_folder
        self.mail = Message(raw, partial=partial_note(title, top))

    @classmethod
    def from_reply(cls, reply: Pop3Reply, **options: Any) -> MessageView:
        """The message a RETR or TOP reply carries."""
        return cls(reply.body, **options)

    @property
    def interactive(self) -> bool:
        """The viewer has panes to choose and attachments to save."""
        return True

    def sanitised(self, remote_images: bool | None = None) -> Sanitised | None:
        """The HTML body cleaned; remote images as ``remote_images``, by default the view's."""
        return self.mail.sanitised(self.remote_images if remote_images is None else remote_images)

    @property
    def safe_html(self) -> str | None:
        """The HTML body cleaned with nh3; remote images only if remote_images (read each time)."""
        cleaned = self.sanitised()
        return cleaned.html if cleaned is not None else None

    # --- text/plain ---

    def _key_headers(self) -> list[tuple[str, str]]:
        wanted = {name.lower() for name in KEY_HEADERS}
        return [(name, value) for name, value in self.mail.headers if name.lower() in wanted]

    def _body_lines(self) -> list[str]:
        mail = self.mail
        if mail.partial and mail.text is None and mail.html_source is None:
            return [f"({mail.partial})"]
        if mail.text is not None:
            lines = mail.text.rstrip("\n").split("\n")
        elif mail.html_source is not None:
            lines = [
                "(no text part; the HTML part as text:)",
                *html_to_text(mail.html_source).split("\n"),
            ]
        else:
            lines = ["(no text or HTML part)"]
        if len(lines) > TEXT_LINES:
            more = len(lines) - TEXT_LINES
            lines = [*lines[:TEXT_LINES], f"... {more} more lines (.text has them all)"]
        return lines

    def as_text(self) -> str:
        """Concise: key headers, problems, the body, the attachments."""
        mail = self.mail
        out = [self.title] if self.title else []
        out += [mail.partial] if mail.partial else []
        out += [f"{name}: {value}" for name, value in self._key_headers()]
        out += [f"problem: {defect}" for defect in mail.defects]
        out += ["", *self._body_lines()]
        if mail.attachments:
            out += ["", "attachments: " + ", ".join(a.describe() for a in mail.attachments)]
        return _CONTROL.sub("\ufffd", "\n".join(out))

    # --- text/html ---

    def header_html(self) -> str:
        """The title, the key headers, the problems and every header in a toggle."""
        mail = self.mail
        parts = [h.line(h.muted(self.title))] if self.title else []
        parts += [h.line(h.esc(mail.partial))] if mail.partial else []
        parts.append(h.table(("header", "value"), self._key_headers()))
        parts += [h.line(h.muted(f"problem: {defect}")) for defect in mail.defects]
        every = h.table(("header", "value"), mail.headers)
        parts.append(_details(f"All headers ({len(mail.headers)})", every))
        return "".join(parts)

    def _missing(self, what: str) -> str:
        partial = self.mail.partial
        return h.line(h.muted(f"({partial})" if partial else f"(no {what} part)"))

    def _html_pane(self, remote_images: bool) -> str:
        cleaned = self.sanitised(remote_images)
        if cleaned is None:
            return self._missing("HTML")
        note, count = "", self.mail.remote_image_count
        if count and not remote_images:
            note = h.line(h.muted(f"{count} remote image(s) not loaded"))
        return f'{note}<div style="{_FRAME}">{cleaned.html}</div>'

    def _text_pane(self) -> str:
        text = self.mail.text
        return h.pre(text) if text is not None else self._missing("text")

    def _source_pane(self) -> str:
        source = scrub(self.mail.raw.decode("utf-8", "surrogateescape"))
        if len(source) <= RAW_LIMIT:
            return h.pre(source)
        more = len(source) - RAW_LIMIT
        return h.pre(source[:RAW_LIMIT]) + h.line(h.muted(f"... {more} more characters in .raw"))

    def _tree_pane(self) -> str:
        return _tree_list(_node_html(self.mail.tree))

    def attachments_html(self) -> str:
        """The attachments as a table ('' without any)."""
        found = self.mail.attachments
        rows = [(a.name, a.content_type, human_size(a.size)) for a in found]
        return h.table(("attachment", "type", "size"), rows) if found else ""

    def _body_html(self) -> str:
        mail = self.mail
        if mail.html_source is None:
            return self._text_pane() if mail.text is not None or mail.partial else _NO_BODY
        other = _details("Text part", self._text_pane()) if mail.text is not None else ""
        return self._html_pane(self.remote_images) + other

    def as_html(self) -> str:
        """Self-contained: headers, body, attachments, MIME tree, raw source (all escaped)."""
        return h.box(
            self.header_html(),
            self._body_html(),
            self.attachments_html(),
            _details("MIME tree", self._tree_pane(), open_=True),
            _details("Raw source", self._source_pane()),
        )

    # --- the widget ---

    def panes(self) -> tuple[str, ...]:
        """What the viewer can show below the headers: PANES and, when the HTML part has remote
        images that ``remote_images`` leaves dark, the HTML part with them loaded."""
        dark = self.mail.remote_image_count > 0 and not self.remote_images
        return (*PANES[:2], IMAGES, *PANES[2:]) if dark else PANES

    def first_pane(self) -> str:
        """The pane shown first: the text part, or the HTML part of a message with no text."""
        mail = self.mail
        return "HTML" if mail.text is None and mail.html_source is not None else "Text"

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
        found = self.view.mail.attachments
        if not found:
            return None, None
        w = _widgets()
        options = [(a.describe(), i) for i, a in enumerate(found)]
        pick = w.Dropdown(options=options, value=0, description="attachment", layout=self.layout)
        folder = Path(self.view.save_folder).absolute()
        save = w.Button(description="Save", tooltip=f"save into {folder}", layout=self.layout)
        save.on_click(lambda _button: self.save_chosen())
        return pick, save

    def _render(self) -> None:
        view = self.view
        said = h.line(h.muted(self.said)) if self.said else ""
        body = view.pane_html(str(self.choice.value))
        self.html.value = self.head + h.box(view.header_html(), body, view.attachments_html(), said)

    def save_chosen(self) -> None:
        """Save the chosen attachment into the view's folder and say where (or why not)."""
        attachment = self.view.mail.attachments[int(self.pick.value)]
        try:
            self.said = f"saved to {attachment.save(self.view.save_folder)}"
        except OSError as exc:
            self.said = f"could not save {attachment.name}: {exc}"
        self._render()
