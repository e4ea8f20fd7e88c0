"""Makes a message's HTML part safe to show inside a notebook, with nh3 (ammonia). `sanitise` keeps
(nh3's defaults): the tags of `nh3.ALLOWED_TAGS` (formatting, lists, tables, headings, links,
images; no script, style, iframe, object, embed, form, input, svg, math, meta, link, base), their
default attributes (e.g. a href, img src/alt/width/height, td colspan, plus lang and title anywhere;
never style, class, id or on*), and text. script, style, title, iframe, object, embed, svg, math and
template go with their content. Links keep http, https and mailto URLs only (a protocol-relative
//host/x becomes https://host/x; other relative URLs, which would reach the notebook server, are
dropped), and every link gets rel="noopener noreferrer" target="_blank". Images lose their src
unless `remote_images` is true and it is an http(s) or //host URL, so nothing loads by default
(tracking pixels stay dark); cid: and data: images are always dropped. Comments are removed.
`html_to_text` reduces HTML to text, for a message that has no text part."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import nh3

from mailmagic.mail.decode import scrub

DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "title", "iframe", "object", "embed", "svg", "math", "template"}
)
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_BLOCK_END = re.compile(r"<(?:br|hr|/p|/div|/tr|/li|/h[1-6]|/table|/blockquote|/pre)\b[^>]*>", re.I)


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
    """The HTML cleaned as the module docstring describes."""
    found = 0

    def keep(tag: str, attribute: str, value: str) -> str | None:
        nonlocal found
        if tag != "img" or attribute != "src":
            return value
        remote = _is_remote(value)
        found += remote
        return value if remote and remote_images else None

    cleaned = nh3.clean(
        scrub(source),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attribute_filter=keep,
        url_schemes=set(LINK_SCHEMES),
        url_relative=_absolute,
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
    return Sanitised(cleaned, found)


def html_to_text(source: str) -> str:
    """HTML reduced to text: tags gone, line breaks after blocks, entities decoded."""
    marked = _BLOCK_END.sub("\n", scrub(source))
    bare = nh3.clean(marked, tags=set(), clean_content_tags=set(DROPPED_WITH_CONTENT))
    lines = (" ".join(line.split()) for line in html.unescape(bare).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
