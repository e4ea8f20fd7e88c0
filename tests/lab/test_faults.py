# What this module does: tests of the fault-injection rules and the latency setting
# (mailmagic/lab/faults.py), without sockets; the servers' use of them is tested in test_smtp.py,
# test_pop3.py and (the latency) test_latency.py.
from __future__ import annotations

import pytest

from mailmagic.lab.faults import NO_FAULT, Action, Faults


def test_no_rules_no_fault() -> None:
    assert Faults().take("smtp", "RCPT") == NO_FAULT


def test_override_counts_down_then_disappears() -> None:
    faults = Faults()
    faults.override("smtp", "rcpt", "451 4.7.1 Greylisted", times=2)
    assert faults.take("smtp", "RCPT") == Action(reply="451 4.7.1 Greylisted")
    assert faults.take("pop3", "RCPT") == NO_FAULT
    assert faults.take("smtp", "Rcpt").reply == "451 4.7.1 Greylisted"
    assert faults.take("smtp", "RCPT") == NO_FAULT
    assert faults.rules == ()


def test_rules_combine_and_wildcards_match_every_command() -> None:
    faults = Faults()
    faults.delay("pop3", 100)
    faults.delay("pop3", 50, "RETR")
    faults.drop_after("pop3", "RETR")
    assert faults.take("pop3", "RETR") == Action(delay_ms=150, drop=True)
    assert faults.take("pop3", "STAT") == Action(delay_ms=100)


def test_clear_removes_everything() -> None:
    faults = Faults()
    faults.override("smtp", "DATA", "554 5.7.1 no")
    faults.clear()
    assert faults.take("smtp", "DATA") == NO_FAULT


@pytest.mark.parametrize("bad", [0, -3])
def test_times_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match="times must be 1 or more"):
        Faults().override("smtp", "RCPT", "451 4.7.1 x", times=bad)


def test_delay_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="0 ms or more"):
        Faults().delay("smtp", -1)


def test_latency_is_set_cleared_and_never_negative() -> None:
    faults = Faults()
    assert faults.latency_ms == 0 and faults.describe() == []
    faults.latency(40)
    assert faults.latency_ms == 40
    with pytest.raises(ValueError, match="latency must be 0 ms or more"):
        faults.latency(-1)
    assert faults.latency_ms == 40  # a refused value changes nothing
    faults.latency(0)
    assert faults.latency_ms == 0
    faults.latency(25)
    faults.clear()
    assert faults.latency_ms == 0


def test_describe_lists_the_latency_then_every_rule() -> None:
    faults = Faults()
    faults.latency(40)
    faults.override("smtp", "RCPT", "451 4.7.1 Greylisted", times=1)
    faults.delay("pop3", 200)
    faults.drop_after("smtp", "DATA")
    assert faults.describe() == [
        "latency: 40 ms round trip",
        "smtp RCPT: reply '451 4.7.1 Greylisted' (1 more time(s))",
        "pop3 *: delay 200 ms (always)",
        "smtp DATA: drop after (always)",
    ]
