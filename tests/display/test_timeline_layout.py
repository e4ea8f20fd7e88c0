# What this module does: tests of where a session's sequence diagram puts things
# (mailmagic/display/timeline_layout.py), on transcripts built by hand with chosen time stamps:
# pipelined commands leave as several arrows before the first reply comes back while one at a
# time alternates; y grows with time, to scale; arrows meet the server lane halfway through the
# round trip; long idle gaps become breaks that say how long they were; TLS stretches become
# bands; labels never overlap; and the text timeline reads "+0.000 C: EHLO me".
from __future__ import annotations

import itertools

import pytest

from mailmagic.display.timeline_layout import (
    BREAK,
    CLIENT_X,
    LINE,
    MAX_GAP,
    SCALE,
    SERVER_X,
    first_line,
    layout,
    text_lines,
)
from mailmagic.session.transcript import Entry

T0 = 1_700_000_000.0
RTT = 0.040  # a realistic round trip, as the tutorial's delay fault sets it


def c(t: float, line: str, tls: bool = False) -> Entry:
    return Entry("client", f"{line}\r\n".encode(), T0 + t, tls)


def s(t: float, line: str, rtt: float | None = RTT, tls: bool = False) -> Entry:
    return Entry("server", f"{line}\r\n".encode(), T0 + t, tls, rtt)


def note(t: float, text: str, tls: bool = False) -> Entry:
    return Entry("note", text.encode(), T0 + t, tls)


RCPTS = 4
ONE_AT_A_TIME = tuple(
    e
    for i in range(RCPTS)
    for e in (c(i * RTT, "RCPT TO:<alice@lab.test>"), s((i + 1) * RTT, "250 2.1.5 OK"))
)
PIPELINED = (
    *(c(0.0001 * i, "RCPT TO:<alice@lab.test>") for i in range(RCPTS)),
    *(s(RTT + 0.0001 * i, "250 2.1.5 OK", RTT) for i in range(RCPTS)),
)


def directions(entries: tuple[Entry, ...]) -> list[str]:
    """The arrows' directions ordered by when they leave (client end for commands, server end
    for replies): what the eye reads down the page."""
    arrows = layout(entries).arrows
    return [a.direction for a in sorted(arrows, key=lambda a: a.y1)]


def test_pipelined_commands_are_all_in_flight_before_the_first_reply() -> None:
    arrows = layout(PIPELINED).arrows
    commands = [a for a in arrows if a.direction == "client"]
    replies = [a for a in arrows if a.direction == "server"]
    assert len(commands) == len(replies) == RCPTS
    first_reply_home = min(a.y2 for a in replies)  # when the first reply reaches the client
    assert all(a.y1 < first_reply_home for a in commands)
    assert directions(PIPELINED) == ["client"] * RCPTS + ["server"] * RCPTS


def test_one_at_a_time_alternates() -> None:
    assert directions(ONE_AT_A_TIME) == ["client", "server"] * RCPTS


def test_y_grows_with_time_to_scale() -> None:
    arrows = layout(ONE_AT_A_TIME).arrows
    ends = [a.y1 if a.direction == "client" else a.y2 for a in arrows]  # at the client lane
    assert ends == sorted(ends)
    times = [e.time - T0 for e in ONE_AT_A_TIME]
    assert [y - ends[0] for y in ends] == pytest.approx([t * SCALE for t in times], abs=1e-3)


def test_arrows_meet_the_server_halfway_through_the_round_trip() -> None:
    command, reply = layout((c(0, "NOOP"), s(RTT, "250 2.0.0 OK"))).arrows
    assert (command.x1, command.x2) == (CLIENT_X, SERVER_X)
    assert (reply.x1, reply.x2) == (SERVER_X, CLIENT_X)
    assert command.y2 == pytest.approx(reply.y1)
    assert command.y2 - command.y1 == pytest.approx(RTT / 2 * SCALE)


def test_a_long_idle_gap_is_a_break_that_says_how_long() -> None:
    entries = (c(0, "NOOP"), s(RTT, "250 OK"), c(12.3, "QUIT"), s(12.3 + RTT, "221 Bye"))
    lay = layout(entries)
    (gap,) = lay.gaps
    assert gap.seconds == pytest.approx(12.3 - RTT) and "12.3 s" in gap.text
    assert gap.y2 - gap.y1 == BREAK
    assert lay.height < (12.3 * SCALE) / 10  # not twelve thousand pixels of nothing
    assert any("12.3 s" in line for line in text_lines(entries))
    assert not layout(entries[:2]).gaps and MAX_GAP > RTT


def test_tls_stretches_are_bands_from_where_tls_starts() -> None:
    entries = (
        c(0, "STARTTLS"),
        s(RTT, "220 Ready to start TLS"),
        note(RTT + 0.005, "TLS started: TLSv1.3", tls=True),
        c(RTT + 0.006, "EHLO me", tls=True),
        s(2 * RTT + 0.006, "250 OK", tls=True),
    )
    lay = layout(entries)
    (band,) = lay.bands
    (note_y,) = lay.notes
    assert band.y1 == pytest.approx(note_y) and band.y2 >= max(a.y2 for a in lay.arrows)
    assert not layout(entries[:2]).bands


def test_labels_of_a_column_never_overlap_and_moved_ones_point_back() -> None:
    lay = layout(PIPELINED)
    for kind in ("client", "server"):
        ys = [label.y for label in lay.labels if label.kind == kind]
        assert all(b - a >= LINE for a, b in itertools.pairwise(ys))
    assert any(label.leader is not None for label in lay.labels)
    assert lay.height > max(label.y for label in lay.labels)


def test_labels_and_text_give_the_first_line_and_how_many_more() -> None:
    ehlo = s(RTT, "250-lab.test\r\n250-PIPELINING\r\n250 HELP")
    assert first_line(ehlo) == "250-lab.test (+2 lines)"
    entries = (note(0, "connected to 127.0.0.1:25"), c(0.001, "EHLO me"), ehlo, c(0.05, "PASS ***"))
    assert text_lines(entries) == [
        "+0.000 [connected to 127.0.0.1:25]",
        "+0.001 C: EHLO me",
        "+0.040 S: 250-lab.test (+2 lines)",
        "+0.050 C: PASS ***",
    ]
    assert any(label.text.endswith("(+2 lines)") for label in layout(entries).labels)


def test_nothing_recorded_lays_out_an_empty_diagram() -> None:
    lay = layout(())
    assert not lay.arrows and not lay.labels and lay.height > 0
    assert text_lines(()) == []
