# What this module does: tests of the lab server's runtime state (mailmagic/lab/directory.py):
# users and lists changed without a restart, names checked as LabConfig checks them, hidden users,
# the VRFY setting, and readers on another thread always seeing a whole mapping.
from __future__ import annotations

import threading

import pytest

from mailmagic.lab import LabConfig
from mailmagic.lab.directory import Directory, LabError


def test_made_from_the_config_with_bare_member_names() -> None:
    directory = Directory(LabConfig(aliases={"team": ("alice@lab.test", "bob")}))
    assert dict(directory.users) == {"alice": "alice-password", "bob": "bob-password"}
    assert directory.aliases["team"] == ("alice", "bob") and directory.vrfy == "250"
    assert Directory(LabConfig(vrfy_discloses=False)).vrfy == "252"


def test_resolve_takes_names_and_addresses_and_lists_the_known_ones() -> None:
    directory = Directory(LabConfig())
    assert directory.resolve("BOB@lab.test") == "bob" and directory.resolve("team") == "team"
    assert directory.mailboxes("team") == ("alice", "bob") and directory.mailboxes("bob") == (
        "bob",
    )
    for unknown in ("carol", "bob@example.org", "_outbox", "../alice"):
        with pytest.raises(LabError, match="users are alice, bob and its lists team"):
            directory.resolve(unknown)


def test_add_and_remove_users() -> None:
    directory = Directory(LabConfig())
    assert directory.add_user(" Carol ", "pw") == "carol" and directory.users["carol"] == "pw"
    for name, password, problem in [
        ("carol", "x", "already"),
        ("team", "x", "already"),
        ("a/b", "x", "not allowed"),
        ("dave", "", "password"),
    ]:
        with pytest.raises(LabError, match=problem):
            directory.add_user(name, password)
    directory.remove_user("alice")
    assert "alice" not in directory.users and directory.aliases["team"] == ("bob",)
    directory.remove_user("bob")
    assert "team" not in directory.aliases  # a list left with no members goes too
    with pytest.raises(LabError, match="not a user or list"):
        directory.remove_user("team")


def test_a_list_is_not_removed_as_a_user() -> None:
    with pytest.raises(LabError, match="is a list"):
        Directory(LabConfig()).remove_user("team")


def test_hide_and_show() -> None:
    directory = Directory(LabConfig())
    directory.hide("alice@lab.test", "bob")
    assert directory.hidden == {"alice", "bob"}
    directory.show("bob")
    assert directory.hidden == {"alice"}
    directory.show()
    assert directory.hidden == frozenset()
    with pytest.raises(LabError):
        directory.hide("carol")


def test_vrfy_setting() -> None:
    directory = Directory(LabConfig())
    directory.vrfy = "252"
    assert directory.vrfy == "252"
    with pytest.raises(LabError, match="'252' discloses nothing"):
        directory.vrfy = "yes"


def test_readers_on_another_thread_see_whole_mappings() -> None:
    directory = Directory(LabConfig(users={"alice": "a"}, aliases={}))
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            users = directory.users
            seen.append(sum(1 for _ in users))  # iterating a published mapping never fails

    reader = threading.Thread(target=read)
    reader.start()
    for n in range(300):
        directory.add_user(f"u{n}", "pw")
    for n in range(300):
        directory.remove_user(f"u{n}")
    stop.set()
    reader.join(60)
    assert seen and dict(directory.users) == {"alice": "a"}
