# What this module does: tests of the %maillab view (mailmagic/display/lab.py) over a real lab
# server: users hidden with lab.hide are absent from its text and HTML (names and passwords, in
# the users and the lists), the view's attributes reach the live server's checks and controls,
# and `lab.vrfy_disclosure = ...` sets the server's while everything else stays frozen.
from __future__ import annotations

import dataclasses

import pytest

from mailmagic.display.lab import LabView
from mailmagic.lab import LabServer


def test_hidden_users_are_not_shown(lab: LabServer) -> None:
    lab.add_user("carol", "carol-secret")
    lab.hide("carol", "bob")
    view = LabView(lab)
    for shown in (view.as_text(), view.as_html(), repr(view)):
        assert "alice (0)" in shown and "team: alice" in shown
        for secret in ("carol", "bob", "password", "secret"):
            assert secret not in shown, (secret, shown)
    lab.show()
    assert "carol (0)" in LabView(lab).as_text() and "bob" in LabView(lab).as_text()
    assert "carol" not in view.as_text()  # a view is a snapshot


def test_the_view_reaches_the_live_checks_and_controls(lab: LabServer) -> None:
    view = LabView(lab)
    view.seed("bob", "Subject: seeded\n\nhi\n")
    assert view.expect_delivered(to="bob", subject="seeded").mailbox == "bob"
    assert view.log is lab.log and view.mailbox("bob")[0]["Subject"] == "seeded"
    view.vrfy_disclosure = "252"
    assert lab.vrfy_disclosure == "252" and view.vrfy_disclosure == "252"
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.note = "changed"  # type: ignore[misc]
