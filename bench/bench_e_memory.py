# What this module does: benchmark (e), the client's peak memory while it retrieves one 50 MB
# message from the lab server (running in a process of its own), as a ratio to the message size.
# Two ways in: `fetch()` into a Maildir (lean replies, the bulk path) and
# `Pop3Session.command("RETR 1")` (the interactive path: the reply keeps its body and raw bytes
# for display, its decoded lines made only when asked for, and the transcript keeps the raw reply).
# Target: peak <= 3x the message size.
#
# How it works: each measurement runs in a fresh child process (`python bench_e_memory.py child
# MODE PORT`), which imports, connects and logs in, then resets the kernel's high-water mark of
# its resident set (writing 5 to /proc/self/clear_refs, Linux 4.0+), retrieves the message and
# reads VmHWM from /proc/self/status: peak growth = VmHWM after - VmRSS before. That is what the
# process really held (allocator slack and fragmentation included), which is what matters to a
# notebook kernel. A second child per mode runs tracemalloc instead, whose peak counts the Python
# objects alone: where the two agree, the peak is the objects themselves; a gap is allocator
# overhead. (tracemalloc costs memory of its own, which is why it never shares a child with the
# RSS measurement. Where clear_refs is missing, ru_maxrss's growth is used, an upper bound.)
from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from common import ALICE, HOST, LINE, PASSWORD, Row, Section, running_lab, shared_folder

from mailmagic.lab.store import MailStore, pop3_size, to_lf
from mailmagic.session.base import Settings
from mailmagic.session.fetch import fetch
from mailmagic.session.pop3 import Pop3Session

MIB = 1 << 20
SIZE = 50 * MIB
TARGET = 3.0


def big_message(size: int) -> bytes:
    """About `size` octets (CRLF): a header, then 78-octet lines, every 1000th starting with '.'
    so dot-unstuffing has work to do."""
    head = b"From: bob@lab.test\r\nTo: alice@lab.test\r\nSubject: 50 MB\r\n\r\n"
    block = b"." + LINE[1:] + LINE * 999
    return head + block * ((size - len(head)) // len(block))


# --- the child -----------------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(mode: str, port: int) -> dict[str, object]:
    session = Pop3Session("bench-e", Settings(HOST, port, timeout=300))
    session.connect()
    session.login(ALICE, PASSWORD)
    way, how = mode.split("-")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as target:
        before = _status_kib("VmRSS")
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        reset = _reset_peak()
        if how == "tracemalloc":
            tracemalloc.start()
        started = time.perf_counter()
        if way == "fetch":
            octets = fetch(session, target, fmt="maildir").octets
        else:
            reply = session.command("RETR 1")
            octets = len(getattr(reply, "body", b""))
        seconds = time.perf_counter() - started
        traced = tracemalloc.get_traced_memory()[1] if how == "tracemalloc" else 0
        peak_kib = (
            _status_kib("VmHWM") - before
            if reset
            else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before)
        )
    session.close()
    return {
        "octets": octets,
        "seconds": seconds,
        "rss_peak": peak_kib * 1024,
        "traced_peak": traced,
        "clear_refs": reset,
    }


# --- the parent ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """What one child reported."""

    octets: int
    seconds: float
    rss_peak: int
    traced_peak: int
    clear_refs: bool


def measure(mode: str, port: int) -> Measured:
    command = [sys.executable, __file__, "child", mode, str(port)]
    here = Path(__file__).parent
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=here)
    if done.returncode != 0:
        raise RuntimeError(f"child {mode} failed:\n{done.stderr[-2000:]}")
    return Measured(**json.loads(done.stdout.strip().splitlines()[-1]))


def row(name: str, rss: Measured, traced: Measured, size: int) -> Row:
    ratio = rss.rss_peak / size
    return Row(
        name,
        f"peak RSS growth {rss.rss_peak / MIB:.1f} MiB; tracemalloc peak "
        f"{traced.traced_peak / MIB:.1f} MiB ({traced.traced_peak / size:.2f}x); "
        f"{rss.seconds:.2f} s",
        f"message {size / MIB:.1f} MiB ({size:,} octets)",
        ratio,
        f"<= {TARGET:g}x",
        ratio <= TARGET,
    )


def run(quick: bool = False) -> Section:
    size = 10 * MIB if quick else SIZE
    section = Section("e", f"RETR of a {size // MIB} MB message: the client's peak memory")
    with shared_folder("e") as root:
        data = big_message(size)
        MailStore(root, [ALICE]).deliver([ALICE], data)
        octets = pop3_size(to_lf(data))
        del data
        with running_lab(root, {ALICE: PASSWORD}) as lab:
            modes = ("fetch-rss", "fetch-tracemalloc", "command-rss", "command-tracemalloc")
            runs = {mode: measure(mode, lab.pop3) for mode in modes}
    for mode, result in runs.items():
        if result.octets != octets:
            raise RuntimeError(f"{mode} got {result.octets} octets, expected {octets}")
    section.rows += [
        row(
            "fetch() into a Maildir (lean replies)",
            runs["fetch-rss"],
            runs["fetch-tracemalloc"],
            octets,
        ),
        row(
            'Pop3Session.command("RETR 1") (full reply, transcript)',
            runs["command-rss"],
            runs["command-tracemalloc"],
            octets,
        ),
    ]
    reset = all(result.clear_refs for result in runs.values())
    section.notes += [
        "Ratio = growth of the child's resident set while retrieving / message size "
        + (
            "(VmHWM reset through /proc/self/clear_refs just before the RETR)."
            if reset
            else "(ru_maxrss growth: clear_refs was not available, so an upper bound)."
        ),
        "tracemalloc peak: Python objects only, from a separate child; the time shown is the "
        "RSS child's, from the first command to the last octet (fetch: CAPA, UIDL, LIST, RETR "
        "and writing the file).",
        "fetch() writes to a Maildir on /dev/shm (tmpfs pages are not counted in the RSS). "
        'command("RETR 1") keeps what the notebook display needs: the body and the raw reply '
        "(the same bytes object in the transcript); the decoded lines are made only when "
        "first asked for.",
    ]
    return section


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
    else:
        raise SystemExit("usage: python bench/run.py e   (this file's `child` mode is internal)")
