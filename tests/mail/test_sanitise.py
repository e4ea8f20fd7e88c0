# What this module does: tests of the HTML sanitiser (mailmagic/mail/sanitise.py): hostile HTML
# comes out with no active element or attribute, links keep only http, https and mailto (a
# //host link made https), remote images are dark unless asked for and counted either way, cid:
# and data: images always go, and HTML reduces to text with line breaks after blocks.
from __future__ import annotations

from mailmagic.mail.sanitise import html_to_text, sanitise
from tests.mail.samples import DROPPED, HOSTILE_HTML, TRACKER, assert_no_active_markup


def test_hostile_html_loses_active_content_and_remote_images() -> None:
    cleaned = sanitise(HOSTILE_HTML)
    for token in (*DROPPED, "tracker.example"):
        assert token not in cleaned.html.lower(), token
    assert "<p>Hi <b>there</b></p>" in cleaned.html
    assert '<a href="https://ok.example/page"' in cleaned.html
    assert 'rel="noopener noreferrer"' in cleaned.html and 'target="_blank"' in cleaned.html
    assert cleaned.remote_images == 2
    assert_no_active_markup(cleaned.html)


def test_remote_images_are_kept_when_asked_for() -> None:
    cleaned = sanitise(HOSTILE_HTML, remote_images=True)
    assert f'src="{TRACKER}"' in cleaned.html
    assert 'src="https://tracker.example/p2.gif"' in cleaned.html  # //host made https
    assert "tracker.example/bg" not in cleaned.html and 'src="x"' not in cleaned.html
    for token in DROPPED:
        assert token not in cleaned.html.lower(), token
    assert cleaned.remote_images == 2


def test_relative_links_are_dropped() -> None:
    cleaned = sanitise('<a href="/api/contents">x</a><a href="mailto:a@b.example">m</a>')
    assert "/api/contents" not in cleaned.html and 'href="mailto:a@b.example"' in cleaned.html


def test_html_reduces_to_text() -> None:
    source = "<h1>Title</h1><p>one &amp; two</p><script>x()</script><p>three</p>"
    assert html_to_text(source) == "Title\none & two\nthree"
