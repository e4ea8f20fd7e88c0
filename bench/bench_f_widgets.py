# What this module does: benchmark (f), what the tutorials cost the browser. Each executed tutorial
# (notebooks/*.ipynb except 06, which needs real servers) runs twice in ONE kernel, as two Run Alls
# in a row would, and per run we count widget models (comm_open messages: every widget, Layout and
# Style is one), all comm messages, the bytes of every message sent to the front end, the updates
# sent to widgets of earlier cells (an output that changes after its cell ran), and the most
# widgets one displayed result cost. Targets (issue 11): at most 12 widgets per displayed result,
# no update to an earlier cell's output, and a second run no dearer than the first.
#
# How it works: nbclient's NotebookClient starts a kernel (cwd notebooks/, as the tests run them)
# and executes the cells one by one, twice, inside one `setup_kernel()`; `process_message` sees
# every IOPub message under each cell's request, including the comm messages a widget sends while
# a later cell runs. Bytes are the JSON of each message's content plus its binary buffers (what
# the kernel puts on the wire, without the envelope). A cell that raises is counted, not fatal.
# `python bench/bench_f_widgets.py --source DIR` measures another tree, DIR holding `mailmagic/`
# and `notebooks/` (e.g. `git archive HEAD mailmagic notebooks | tar -x -C DIR`): the kernel then
# imports DIR's mailmagic first (PYTHONPATH). With BENCH_F_BEFORE=DIR in the environment (and
# BENCH_F_BEFORE_LABEL naming it, e.g. a commit), `python bench/run.py f` adds DIR's rows, marked
# "before", to the same table: that is how RESULTS.md shows before and after.
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from common import REPO, Row, Section
from nbclient import NotebookClient

BUDGET = 12  # widget models per displayed result
SKIPPED = ("06-real-servers",)
RUNS = 2
DISPLAYS = ("display_data", "execute_result")


@dataclass
class Counts:
    """What one run of one notebook sent to the front end."""

    opens: int = 0
    comm_messages: int = 0
    octets: int = 0
    earlier_updates: int = 0
    results: int = 0
    errors: int = 0
    seconds: float = 0.0
    worst: int = 0  # the most widgets one displayed result cost
    per_cell: dict[int, list[int]] = field(default_factory=dict)  # cell: [opens, results]

    def add(self, msg: dict[str, Any], cell: int, owner: dict[str, int]) -> None:
        """Count one IOPub message sent while ``cell`` ran; ``owner``: comm id -> its cell."""
        kind, content = msg["header"]["msg_type"], msg["content"]
        self.octets += len(json.dumps(content, default=str))
        self.octets += sum(len(b) for b in msg.get("buffers") or ())
        mine = self.per_cell.setdefault(cell, [0, 0])
        if kind.startswith("comm_"):
            self.comm_messages += 1
        if kind == "comm_open":
            self.opens, mine[0] = self.opens + 1, mine[0] + 1
            owner[content["comm_id"]] = cell
        elif kind == "comm_msg" and owner.get(content["comm_id"], cell) < cell:
            self.earlier_updates += 1
        elif kind in DISPLAYS:
            self.results, mine[1] = self.results + 1, mine[1] + 1
        elif kind == "error":
            self.errors += 1

    def finish(self) -> None:
        """Work out the most widgets per displayed result over the cells."""
        self.worst = max((o // max(1, r) for o, r in self.per_cell.values()), default=0)


class CountingClient(NotebookClient):  # type: ignore[misc]
    """A NotebookClient that counts every IOPub message of the cells it runs."""

    def __init__(self, nb: Any, **kwargs: Any) -> None:
        super().__init__(nb, **kwargs)
        self.counts = Counts()
        self.owner: dict[str, int] = {}  # comm id -> the cell that opened it (both runs)
        self.run = 0

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        self.counts.add(msg, self.run * 10_000 + cell_index, self.owner)
        return super().process_message(msg, cell, cell_index)


def notebooks(tree: Path) -> list[Path]:
    """The executed tutorials of a tree, in order."""
    found = sorted((tree / "notebooks").glob("*.ipynb"))
    return [p for p in found if p.stem not in SKIPPED]


def measure(path: Path, source: Path | None = None, runs: int = RUNS) -> list[Counts]:
    """Run ``path`` ``runs`` times in one kernel; the counts of each run."""
    nb = nbformat.read(path, as_version=4)
    client = CountingClient(
        nb,
        timeout=300,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source), env.get("PYTHONPATH", "")])
    out = []
    with client.setup_kernel(env=env):
        for run in range(runs):
            client.counts, client.run = Counts(), run
            started = time.perf_counter()
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            client.counts.seconds = time.perf_counter() - started
            client.counts.finish()
            out.append(client.counts)
    return out


def describe(c: Counts) -> str:
    """One run's numbers, short."""
    return (
        f"{c.opens:,} widgets, {c.comm_messages:,} comm msgs, {c.octets / 1e6:.2f} MB, "
        f"{c.earlier_updates} earlier-cell updates, {c.worst} widgets max/result, "
        f"{c.seconds:.1f} s" + (f", {c.errors} errors" if c.errors else "")
    )


def row(name: str, counts: list[Counts]) -> Row:
    """A notebook's row: the last run against the first."""
    first, last = counts[0], counts[-1]
    ratio = last.opens / first.opens if first.opens else 1.0
    met = all(c.worst <= BUDGET and c.earlier_updates == 0 for c in counts)
    met = met and last.opens <= first.opens and last.octets <= first.octets * 1.05
    return Row(
        name,
        f"run {len(counts)}: {describe(last)}",
        f"run 1: {describe(first)}",
        ratio,
        f"<= {BUDGET} widgets/result, 0 earlier-cell updates, run 2 <= run 1",
        met,
    )


def measure_tree(section: Section, source: Path | None, quick: bool, label: str = "") -> None:
    """Add a row per executed notebook of ``source`` (None: this repository)."""
    paths = notebooks(source or REPO)
    for path in paths[:2] if quick else paths:
        print(f"   {path.stem}{label} ...", flush=True)
        section.rows.append(row(path.stem + label, measure(path, source)))


def run(quick: bool = False, source: Path | None = None) -> Section:
    section = Section("f", "Widgets, comm messages and bytes per tutorial, two runs in one kernel")
    before = os.environ.get("BENCH_F_BEFORE")
    if before:
        name = os.environ.get("BENCH_F_BEFORE_LABEL", before)
        measure_tree(section, Path(before).resolve(), quick, f", before ({name})")
        section.notes.append(f"Rows marked before: the tree of {name}, measured in the same run.")
    measure_tree(section, source, quick)
    section.notes += [
        f"Each notebook runs {RUNS} times in one kernel (nbclient, cells executed in order, "
        "allow_errors); ratio = widgets of the last run / widgets of the first.",
        "Widgets = comm_open messages (each widget, Layout and Style model is one); bytes = JSON "
        "content plus buffers of every IOPub message; earlier-cell updates = comm_msg sent to a "
        "widget opened by an earlier cell (an output changing after its cell ran); widgets "
        "max/result = the most widget models per displayed output in one cell.",
    ]
    return section


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python bench/bench_f_widgets.py", description=__doc__)
    p.add_argument("--source", type=Path, help="a tree with mailmagic/ and notebooks/")
    p.add_argument("--quick", action="store_true", help="the first two notebooks only")
    args = p.parse_args(argv)
    section = run(args.quick, args.source.resolve() if args.source else None)
    for r in section.rows:
        print(f"{r.name}\n  {r.baseline}\n  {r.measured}\n  met: {r.verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
