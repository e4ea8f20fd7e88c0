# What this module does: benchmark (d), building the mailbox display of a 10,000-message listing
# against a 100-message one. The display is what a notebook shows for `%pop3` mailbox results:
# MailboxView's text/plain and text/html and the paged MailboxWidget (one HTML page in an Output,
# a row selector and a few buttons), together.
# Pagination (`displaylimit` rows a page) should make the big listing cost about what the small
# one does: target <= 2x. Second, the kernel-side cost of showing one reply (`r = %smtp NOOP`:
# a ReplyView) with `display()` in an in-process ipykernel, in a child process, against
# `display(HTML(...))` of the same HTML: target <= 1 ms (the ratio is shown beside it).
#
# How it works: a Pop3Session that never connects gets its maildrop filled directly (sizes and
# UIDs, as LIST and UIDL would leave them), so only the display is timed. Widgets are real
# ipywidgets objects; their comm is a recording stub, as in ipywidgets' own tests and
# tests/display/conftest.py, because there is no front end to talk to (the messages a widget
# would send are still built and serialised). Each build is timed alone; best of the rounds.
from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import comm
from common import Row, Samples, Section

from mailmagic.display.live import close_tree
from mailmagic.display.mailbox import MailboxView, MailboxWidget
from mailmagic.session.base import Settings
from mailmagic.session.pop3 import Pop3Session

DISPLAYLIMIT = 50
SMALL, BIG = 100, 10_000
TARGET = 2.0


class RecordingComm:
    """Stands in for a kernel's comm: records what a widget sends, opens nothing."""

    comm_id = "bench"
    kernel = "bench"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent = 0

    def open(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send(self, *args: Any, **kwargs: Any) -> None:
        self.sent += 1

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass


def listing(count: int) -> MailboxView:
    """A view of a session whose maildrop holds `count` messages, as LIST + UIDL leave it."""
    session = Pop3Session(f"mailbox-{count}", Settings("127.0.0.1", 1))
    drop = session.maildrop
    drop.sizes.update((n, 10_000 + n) for n in range(1, count + 1))
    drop.uids.update((n, f"1700000000.M{n:06d}P1Q{n}.lab") for n in range(1, count + 1))
    drop.count = count
    return MailboxView(session, DISPLAYLIMIT)


def build(view: MailboxView) -> float:
    """Seconds to build everything a notebook shows: the view (a snapshot of the maildrop),
    text, HTML and the widget."""
    started = time.perf_counter()
    view = MailboxView(view.session, view.displaylimit)  # the snapshot of the maildrop
    view.as_text()
    view.as_html()
    widget = MailboxWidget(view)
    seconds = time.perf_counter() - started
    _close(widget)
    return seconds


def _close(widget: MailboxWidget) -> None:
    close_tree(widget.box)


def parts(view: MailboxView) -> dict[str, float]:
    """The parts of one build, for the notes."""
    timings = {}
    started = time.perf_counter()
    view = MailboxView(view.session, view.displaylimit)
    timings["snapshot"] = time.perf_counter() - started
    for name, step in (("text", view.as_text), ("HTML", view.as_html)):
        started = time.perf_counter()
        step()
        timings[name] = time.perf_counter() - started
    started = time.perf_counter()
    widget = MailboxWidget(view)
    timings["widget"] = time.perf_counter() - started
    _close(widget)
    return timings


REPLY_TARGET_MS = 1.0


def reply_child(rounds: int) -> None:
    """In a child process (`python bench_d_display.py reply ROUNDS`): an in-process ipykernel,
    `display()` of a ReplyView of one SMTP reply and of a plain IPython HTML object of the same
    HTML, interleaved; prints the seconds of each as JSON."""
    from ipykernel.inprocess.manager import InProcessKernelManager
    from IPython.display import HTML, display

    from mailmagic.display.reply import ReplyView
    from mailmagic.protocol.smtp import Reply

    manager = InProcessKernelManager()
    manager.start_kernel()
    reply = Reply(250, ("2.0.0 OK",), None, b"250 2.0.0 OK\r\n", "NOOP")

    def shown_reply() -> float:
        started = time.perf_counter()
        display(ReplyView(reply, "NOOP", "s", "SMTP"))
        return time.perf_counter() - started

    def shown_html() -> float:
        html = ReplyView(reply, "NOOP", "s", "SMTP").as_html()
        started = time.perf_counter()
        display(HTML(html))
        return time.perf_counter() - started

    shown_reply(), shown_html()  # warm-up: imports, caches
    times: dict[str, list[float]] = {"reply": [], "html": []}
    for _ in range(rounds):
        times["reply"].append(shown_reply())
        times["html"].append(shown_html())
    manager.shutdown_kernel()
    print(json.dumps(times))


def reply_row(quick: bool) -> tuple[Row, str]:
    """The kernel-side cost of showing one reply, measured in a child process."""
    rounds = 50 if quick else 300
    command = [sys.executable, __file__, "reply", str(rounds)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    times = json.loads(done.stdout.strip().splitlines()[-1])
    reply, html = Samples("reply", times["reply"]), Samples("html", times["html"])

    def ms(value: float) -> str:
        return f"{value * 1000:.2f} ms"

    row = Row(
        "display() of one reply (ReplyView of 250 to NOOP), in-process kernel",
        ms(reply.best) + f" (median {ms(reply.median)})",
        ms(html.best) + f" display(HTML(...)) of the same HTML (median {ms(html.median)})",
        reply.best / html.best,
        f"<= {REPLY_TARGET_MS:g} ms (ratio shown for information)",
        reply.best * 1000 <= REPLY_TARGET_MS,
    )
    note = (
        f"Reply: best of {rounds} interleaved display() calls in an in-process ipykernel (a real "
        "kernel's shell, display publisher, comms and message serialisation, without the ZMQ "
        "sockets), in a child process; the cost is the kernel's, from display() to the last "
        "message queued. The reply is one HTML widget (one new model: the HTML; its Layout and "
        "HTMLStyle are the two every read-only HTML widget of the kernel shares, opened once) plus "
        "text/html and text/plain; the plain display is one display_data message."
    )
    return row, note


def run(quick: bool = False) -> Section:
    rounds = 5 if quick else 15
    saved = comm.create_comm
    comm.create_comm = RecordingComm
    try:
        views = {SMALL: listing(SMALL), BIG: listing(BIG)}
        for view in views.values():
            build(view)  # warm-up: imports, caches
        samples = {n: Samples(str(n)) for n in views}
        for _ in range(rounds):
            for n, view in views.items():
                samples[n].values.append(build(view))
        split = {n: parts(view) for n, view in views.items()}
    finally:
        comm.create_comm = saved
    small, big = samples[SMALL], samples[BIG]
    ratio = big.best / small.best

    def ms(value: float) -> str:
        return f"{value * 1000:.1f} ms"

    section = Section("d", "Display: a 10,000-message listing vs 100 messages, and one reply")
    section.rows.append(
        Row(
            f"MailboxView text + HTML + MailboxWidget, {BIG:,} messages",
            ms(big.best) + f" (median {ms(big.median)})",
            ms(small.best) + f" for {SMALL} messages (median {ms(small.median)})",
            ratio,
            f"<= {TARGET:g}x",
            ratio <= TARGET,
        )
    )
    row, note = reply_row(quick)
    section.rows.append(row)
    section.notes += [
        note,
        f"displaylimit {DISPLAYLIMIT} (one page of {DISPLAYLIMIT} rows either way); best of "
        f"{rounds} interleaved builds after a warm-up build.",
        "Parts of one build: "
        + "; ".join(
            f"{n:,} messages: " + ", ".join(f"{k} {ms(v)}" for k, v in split[n].items())
            for n in views
        )
        + ".",
    ]
    return section


if __name__ == "__main__":
    if sys.argv[1:2] != ["reply"]:
        raise SystemExit("usage: python bench/bench_d_display.py reply ROUNDS (run.py runs it)")
    reply_child(int(sys.argv[2]))
