# What this module does: tests of the named-session registry (mailmagic/session/registry.py):
# add, replace (the old one closed), switch, close one or all, clear errors for unknown names, and
# the same words ("no open SMTP session") before the first session and after the last is closed.
from __future__ import annotations

import pytest

from mailmagic.session.base import Settings
from mailmagic.session.registry import NoSession, Registry
from mailmagic.session.smtp import SmtpSession


def make(name: str) -> SmtpSession:
    return SmtpSession(name, Settings("127.0.0.1", 1))


def test_add_use_close() -> None:
    registry: Registry[SmtpSession] = Registry("SMTP")
    with pytest.raises(NoSession, match=r"^no open SMTP session: %smtp open first$"):
        registry.get()
    a, b = registry.add(make("a")), registry.add(make("b"))
    assert registry.get() is b and len(registry) == 2
    assert registry.use("a") is a and registry.get() is a
    registry.close()
    assert registry.current_name == "b" and list(registry) == [b]
    with pytest.raises(NoSession, match=r"no SMTP session named 'a' \(open ones: b\)"):
        registry.get("a")


def test_a_new_session_with_a_used_name_closes_the_old_one() -> None:
    registry: Registry[SmtpSession] = Registry("SMTP")
    old = registry.add(make("x"))
    registry.add(make("x"))
    assert old.status == "closed" and len(registry) == 1


def test_close_all() -> None:
    registry: Registry[SmtpSession] = Registry("SMTP")
    sessions = [registry.add(make(n)) for n in "abc"]
    registry.close_all()
    assert len(registry) == 0 and registry.current_name is None
    assert all(s.status == "closed" for s in sessions)


@pytest.mark.parametrize("close", ["one by one", "all at once"])
def test_after_every_session_is_closed_none_is_open_not_none_yet(close: str) -> None:
    registry: Registry[SmtpSession] = Registry("SMTP")
    for name in "ab":
        registry.add(make(name))
    if close == "all at once":
        registry.close_all()
    else:
        registry.close()
        registry.close()
    with pytest.raises(NoSession, match=r"^no open SMTP session: %smtp open first$"):
        registry.get()
    with pytest.raises(NoSession, match=r"^no open POP3 session: %pop3 open first$"):
        Registry[SmtpSession]("POP3").close()
