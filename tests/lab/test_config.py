# What this module does: tests of the lab settings (mailmagic/lab/config.py): loopback only unless
# asked, consistent users and aliases, user and alias names that can never be paths, and the
# address helpers.
from __future__ import annotations

import re

import pytest

from mailmagic.lab.config import LabConfig, is_loopback, local_part


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    assert LabConfig(host=host).host == host


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org", "::"])
def test_other_hosts_are_refused_unless_asked(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ValueError, match="loopback only"):
        LabConfig(host=host)
    assert LabConfig(host=host, allow_non_loopback=True).host == host


def test_alias_members_must_be_users() -> None:
    with pytest.raises(ValueError, match="not a lab user"):
        LabConfig(aliases={"staff": ("alice", "zed")})


def test_a_name_cannot_be_user_and_alias() -> None:
    with pytest.raises(ValueError, match="both a user and an alias"):
        LabConfig(aliases={"alice": ("bob",)})


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("alice@lab.test", "alice"),
        ("<Alice@LAB.test>", "alice"),
        ("alice", "alice"),
        ("alice@other.test", None),
        ("bob@extra.test", "bob"),
    ],
)
def test_local_part(address: str, expected: str | None) -> None:
    domains = LabConfig(extra_domains=("extra.test",)).local_domains
    assert local_part(address, domains) == expected


BAD_NAMES = [
    "../../escaped-user",
    "a/b",
    "/tmp/x",
    "..",
    ".hidden",
    "_outbox",
    "Alice",
    "",
    "a..b",
    "trailing.",
    "x" * 65,
    "tab\there",
    "café",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_user_name_must_be_a_plain_lower_case_name(name: str) -> None:
    expected = f"user name {name!r} is not allowed: use 1 to 64 lower-case letters, digits"
    with pytest.raises(ValueError, match=re.escape(expected)):
        LabConfig(users={name: "secret"}, aliases={})


@pytest.mark.parametrize("name", BAD_NAMES)
def test_an_alias_name_must_be_a_plain_lower_case_name(name: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"alias name {name!r} is not allowed")):
        LabConfig(aliases={name: ("alice",)})


@pytest.mark.parametrize("name", ["carol", "a.b", "x-1", "o_o", "0", "a" * 64, "postmaster"])
def test_plain_names_are_taken(name: str) -> None:
    assert name in LabConfig(users={name: "secret"}, aliases={}).users
