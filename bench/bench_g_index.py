# What this module does: benchmark (g), the Parquet index of a mailbox past memory
# (mailmagic/index.py). It indexes Maildirs of 20,000 and 200,000 generated messages and reports
# (1) the indexing process's peak memory at both sizes and their ratio (target <= 1.2x: memory
# flat in the message count) and (2) its throughput against the plain stdlib loop over the same
# Maildir, `mailbox.Maildir` + `email.parser.BytesHeaderParser` (target >= 1x).
#
# How it works:
# - The Maildirs are written straight into cur/ on tmpfs (/dev/shm): one file per message, LF line
#   ends, about 4 KB each, headers like real mail (RFC 2047 names and subjects, folded To and
#   References, threads through In-Reply-To and References, a List-Id on some, an
#   Authentication-Results on all, a bad date on one in 1,000).
# - Every measurement runs in a fresh child process (`python bench_g_index.py child MODE FOLDER`),
#   so one measurement's memory never hides another's. The peak is the child's ru_maxrss (the
#   kernel's high-water mark of its resident set: interpreter, pyarrow and all, allocator slack
#   included), and its growth over the RSS measured after the imports. A second child per size
#   runs tracemalloc, whose peak counts the Python objects alone.
# - Throughput: the index (mailmagic.index.index into a Parquet file on tmpfs) and the baseline
#   loop run in alternating children, `rounds` times on each Maildir; the best round counts. The
#   baseline only parses: it decodes nothing and writes nothing, but reads each whole file
#   (the stdlib parser reads to the end even with headersonly); the index reads the header block.
from __future__ import annotations

import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from common import Row, Samples, Section, rate

SIZES = (20_000, 200_000)
QUICK_SIZES = (2_000, 20_000)
MEMORY_TARGET = 1.2
RATE_TARGET = 1.0
SENDERS = [f"person{n}@example{n % 7}.org" for n in range(40)] + [
    "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@lab.test>",
    '"Ada Lovelace" <ada@lab.test>',
]
BODY = (b"x" * 76 + b"\n") * 50  # about 3.9 KB


def message(n: int, rng: random.Random) -> bytes:
    """One generated message (LF line ends) whose headers look like real mail."""
    root = rng.randrange(max(1, n)) if n and rng.random() < 0.4 else n
    subject = f"Re: topic {root}" if root != n else f"topic {n}"
    if n % 97 == 0:
        subject = "=?utf-8?b?R3LDvMOfZQ==?= " + subject
    date = f"{1 + n % 28:d} Nov 2026 {n % 24:02d}:{n % 60:02d}:00 +0100"
    head = [
        f"Return-Path: <{rng.choice(SENDERS).split('<')[-1].strip('>')}>",
        "Received: from mx.example.org by mx.lab.test with ESMTPS id abc; " + date,
        "Authentication-Results: mx.lab.test;\n spf=pass smtp.mailfrom=example.org;\n dkim=pass",
        f"From: {rng.choice(SENDERS)}",
        "To: alice@lab.test,\n bob@lab.test",
        "Cc: team@lab.test" if n % 3 == 0 else "X-Priority: 3",
        f"Subject: {subject}",
        f"Date: {'not a date' if n % 1000 == 999 else 'Mon, ' + date}",
        f"Message-ID: <m{n}@example.org>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if root != n:
        head += [f"In-Reply-To: <m{root}@example.org>", f"References: <m{root}@example.org>"]
    if n % 5 == 0:
        head.append("List-Id: Lab talk <talk.lab.test>")
    return "\n".join(head).encode() + b"\n\n" + BODY


def make_maildir(folder: Path, count: int) -> Path:
    """A Maildir of ``count`` generated messages, written directly into cur/."""
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rng = random.Random(count)
    for n in range(count):
        (folder / "cur" / f"1764000000.M{n}P1.bench:2,S").write_bytes(message(n, rng))
    return folder


# --- the child -----------------------------------------------------------------------------------


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _baseline(folder: str) -> int:
    import email.parser
    import mailbox

    box = mailbox.Maildir(folder, factory=None, create=False)
    parser = email.parser.BytesHeaderParser()
    count = 0
    for key in box.iterkeys():
        with box.get_file(key) as f:
            parser.parse(f)
        count += 1
    return count


def _index(folder: str) -> int:
    import pyarrow.parquet as pq

    from mailmagic.index import index

    with tempfile.TemporaryDirectory(dir="/dev/shm") as out:
        rows: int = pq.ParquetFile(index(folder, Path(out) / "i.parquet")).metadata.num_rows
    return rows


def child(mode: str, folder: str) -> dict[str, float]:
    import email.parser  # noqa: F401  # imports are not what is measured, in either mode
    import mailbox  # noqa: F401

    import pyarrow

    import mailmagic.index  # noqa: F401

    pyarrow.array([0])  # pyarrow's first conversion imports pandas (when installed): not measured
    way, how = mode.split("-")
    before = _rss_kib()
    if how == "tracemalloc":
        tracemalloc.start()
    started = time.perf_counter()
    count = _index(folder) if way == "index" else _baseline(folder)
    seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] if how == "tracemalloc" else 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    growth = (peak - before) * 1024
    return {
        "count": count,
        "seconds": seconds,
        "peak": peak * 1024,
        "growth": growth,
        "traced": traced,
    }


# --- the parent ----------------------------------------------------------------------------------


def measure(mode: str, folder: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "child", mode, str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {mode} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def mib(octets: float) -> str:
    return f"{octets / (1 << 20):.1f} MiB"


def sized(folder: Path, count: int, rounds: int) -> dict[str, object]:
    """Every measurement on one Maildir: memory (rss and tracemalloc), and timed rounds."""
    index_runs, base_runs = Samples("index"), Samples("baseline")
    memory: dict[str, float] = {}
    for _ in range(rounds):
        for samples, mode in ((index_runs, "index-rss"), (base_runs, "baseline-rss")):
            got = measure(mode, folder)
            if got["count"] != count:
                raise RuntimeError(f"{mode} saw {got['count']} messages, not {count}")
            samples.values.append(got["seconds"])
            if mode == "index-rss":
                memory = got if not memory or got["peak"] < memory["peak"] else memory
            else:
                memory["baseline_growth"] = got["growth"]
    memory["traced"] = measure("index-tracemalloc", folder)["traced"]
    return {"index": index_runs, "baseline": base_runs, "memory": memory}


def run(quick: bool = False) -> Section:
    sizes = QUICK_SIZES if quick else SIZES
    section = Section("g", "The Parquet index of a mailbox past memory: peak memory and throughput")
    results: dict[int, dict[str, object]] = {}
    root = Path(tempfile.mkdtemp(prefix="mailmagic-bench-g-", dir="/dev/shm"))
    try:
        for count in sizes:
            folder = make_maildir(root / str(count), count)
            results[count] = sized(folder, count, 3 if count == sizes[0] else 1)
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    small, large = (results[c]["memory"] for c in sizes)
    assert isinstance(small, dict) and isinstance(large, dict)
    ratio = large["peak"] / small["peak"]
    section.rows.append(
        Row(
            f"peak memory of index(), {sizes[1]:,} messages",
            f"{mib(large['peak'])} (growth {mib(large['growth'])}, tracemalloc "
            f"{mib(large['traced'])})",
            f"{mib(small['peak'])} at {sizes[0]:,} (growth {mib(small['growth'])}, tracemalloc "
            f"{mib(small['traced'])})",
            ratio,
            f"<= {MEMORY_TARGET:g}x",
            ratio <= MEMORY_TARGET,
        )
    )
    for count in sizes:
        section.rows.append(rate_row(count, results[count]))
    section.notes += notes(sizes, results)
    return section


def rate_row(count: int, result: dict[str, object]) -> Row:
    mine, base = result["index"], result["baseline"]
    assert isinstance(mine, Samples) and isinstance(base, Samples)
    ratio = base.best / mine.best
    return Row(
        f"index() throughput, {count:,} messages",
        f"{rate(count, mine.best)} (median {rate(count, mine.median)})",
        f"{rate(count, base.best)} Maildir + BytesHeaderParser (median {rate(count, base.median)})",
        ratio,
        f">= {RATE_TARGET:g}x",
        ratio >= RATE_TARGET,
    )


def notes(sizes: tuple[int, int], results: dict[int, dict[str, object]]) -> list[str]:
    peaks = []
    for count in sizes:
        memory = results[count]["memory"]
        assert isinstance(memory, dict)
        peaks.append(f"{mib(memory['baseline_growth'])} at {count:,}")
    return [
        "Generated Maildirs on tmpfs (/dev/shm), written directly into cur/: about 4.5 KB a "
        "message, LF line ends, RFC 2047 names and subjects, folded fields, threads, List-Id, "
        "Authentication-Results, a bad date in 1,000.",
        "Each value comes from a fresh child process. Peak = the child's ru_maxrss (interpreter "
        "and pyarrow included); growth = that minus the RSS after the imports; tracemalloc = the "
        "peak of Python objects alone (another child). index() writes row groups of 10,000 rows.",
        f"Throughput: best of {3} alternating child runs at {sizes[0]:,} messages, one at "
        f"{sizes[1]:,}. The baseline loop only parses (no decoding, no output) but reads every "
        "whole file; index() reads the header blocks only, decodes them and writes Parquet.",
        "The baseline's own memory growth (mailbox.Maildir keeps a table of every key): "
        + ", ".join(peaks)
        + ".",
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
    else:
        section = run("--quick" in sys.argv)
        for row in section.rows:
            print(
                " | ".join([row.name, row.measured, row.baseline, f"{row.ratio:.2f}x", row.verdict])
            )
        print("\n".join(section.notes))
