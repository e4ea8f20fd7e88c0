# What this module does: runs the chosen benchmarks (`python bench/run.py [a ... g] [--quick]`,
# all of them by default), prints one table of their results and rewrites bench/RESULTS.md: the
# machine (date, `uname -a`, CPU model, Python, Dovecot and curl versions, load average) and, per
# benchmark, measured numbers, baseline numbers, ratio, target and whether it was met.
#
# How it works: each bench_<key>_*.py module has `run(quick) -> Section`. RESULTS.md keeps one
# block per benchmark between `<!-- bench:KEY -->` markers, so running a subset replaces those
# blocks and keeps the others (each block says when and under what load it was measured).
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import time
from pathlib import Path

from common import ROOT, Section, load_average, machine, md_cell, text_table

MODULES = {
    "a": "bench_a_roundtrip",
    "b": "bench_b_download",
    "c": "bench_c_servers",
    "d": "bench_d_display",
    "e": "bench_e_memory",
    "f": "bench_f_widgets",
    "g": "bench_g_index",
}
RESULTS = ROOT / "RESULTS.md"
_BLOCK = re.compile(r"<!-- bench:(\w) -->\n.*?<!-- /bench:\1 -->\n", re.S)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python bench/run.py", description="Run mailmagic's benchmarks (bench/README.md)."
    )
    p.add_argument("benchmarks", nargs="*", metavar="{a,b,c,d,e,f,g}", help="default: all")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds")
    p.add_argument("--results", type=Path, default=RESULTS, help="where to write (RESULTS.md)")
    args = p.parse_args(argv)
    unknown = sorted(set(args.benchmarks) - set(MODULES))
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}: choose from {', '.join(MODULES)}")
    return args


def run_one(key: str, quick: bool) -> tuple[Section, str]:
    """Run one benchmark; return its section and a line on when and under what load."""
    load_before = load_average()
    started = time.time()
    section: Section = importlib.import_module(MODULES[key]).run(quick)
    took = time.time() - started
    stamp = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}"
        f"{' with --quick' if quick else ''} in {took:.0f} s; load average before "
        f"{load_before}, after {load_average()}."
    )
    return section, stamp


def table_rows(sections: list[Section]) -> list[list[str]]:
    rows = [["", "benchmark", "measured", "baseline", "ratio", "target", "met"]]
    for section in sections:
        for row in section.rows:
            ratio = f"{row.ratio:.2f}x"
            rows.append(
                [section.key, row.name, row.measured, row.baseline, ratio, row.target, row.verdict]
            )
    return rows


def markdown_block(section: Section, stamp: str) -> str:
    lines = [f"<!-- bench:{section.key} -->", f"## {section.key}. {section.title}", "", stamp, ""]
    lines += [
        "| benchmark | measured | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in section.rows:
        cells = [row.name, row.measured, row.baseline, f"{row.ratio:.2f}x", row.target, row.verdict]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    lines.append("")
    lines += [f"- {note}" for note in section.notes]
    lines += ["", f"<!-- /bench:{section.key} -->", ""]
    return "\n".join(lines)


def write_results(path: Path, blocks: dict[str, str]) -> None:
    """Rewrite RESULTS.md: this run's machine, this run's blocks, earlier blocks kept."""
    old = path.read_text() if path.exists() else ""
    kept = {match[1]: match[0] for match in _BLOCK.finditer(old)}
    kept.update(blocks)
    head = [
        "# mailmagic benchmark results",
        "",
        "Written by `python bench/run.py` (see bench/README.md). Every ratio compares with a "
        "baseline measured in the same run, on the same machine; each block below says when it "
        "was measured and how busy the machine was.",
        "",
        "## Machine (the latest run)",
        "",
    ]
    head += [f"- {name}: `{value}`" for name, value in machine().items()]
    head.append("")
    path.write_text("\n".join(head) + "\n" + "".join(kept[k] for k in sorted(kept)))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    chosen = args.benchmarks or list(MODULES)
    sections, blocks = [], {}
    for key in chosen:
        print(f"== {key}: {MODULES[key]} ({'quick' if args.quick else 'full'}) ...", flush=True)
        section, stamp = run_one(key, args.quick)
        sections.append(section)
        blocks[key] = markdown_block(section, stamp)
        print(text_table(table_rows([section])), "\n", stamp, "\n", flush=True)
    print(text_table(table_rows(sections)))
    write_results(args.results, blocks)
    print(f"\nwrote {os.path.relpath(args.results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
