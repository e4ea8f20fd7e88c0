# What this module does: tests of password lookup (mailmagic/session/secrets.py): environment
# variable first, then the lab's users, then the prompt; a clear error when none can be had.
from __future__ import annotations

import pytest

from mailmagic.session.secrets import NoPassword, find_password

LAB = {"alice": "alice-password"}


def test_environment_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_TEST_SECRET", "from-env")
    assert find_password("alice", "MM_TEST_SECRET", LAB, None) == "from-env"


def test_missing_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MM_TEST_SECRET", raising=False)
    with pytest.raises(NoPassword, match="MM_TEST_SECRET is not set"):
        find_password("alice", "MM_TEST_SECRET", LAB, None)


@pytest.mark.parametrize("user", ["alice", "Alice@lab.test"])
def test_lab_users_need_no_secret_anywhere(user: str) -> None:
    assert find_password(user, None, LAB, None) == "alice-password"


def test_prompt_for_anyone_else() -> None:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "typed"

    assert find_password("carol", None, LAB, prompt) == "typed"
    assert asked == ["Password for carol: "]


def test_no_source_at_all() -> None:
    with pytest.raises(NoPassword, match="--password-env"):
        find_password("carol", None, None, None)
