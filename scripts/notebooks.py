#!/usr/bin/env python
# What this module does: builds the tutorial notebooks from their sources. Each tutorial is a
# jupytext pair (notebooks/jupytext.toml): the Markdown source notebooks/src/NN-name.md (prose,
# and ```python fenced code cells) and notebooks/NN-name.ipynb. The build reads each source with
# jupytext, executes it top to bottom on a fresh kernel against the lab server, and saves the
# notebook with its outputs but without widget state (so GitHub and nbconvert show the text/html
# fallbacks). With jupytext in JupyterLab, editing either file of a pair updates the other.
#
#   python scripts/notebooks.py build [NAME ...]   read, execute, save (all by default)
#   python scripts/notebooks.py check              fail if an .ipynb's cells differ from its .md
#
# A source whose first cell starts `<!-- execute: no -->` is saved unexecuted (the real-servers
# one, which needs the internet); solution cells are hidden with jupytext's cell metadata
# (```python jupyter={"source_hidden": true} tags=["solution"]).
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks" / "src"
OUTPUT = ROOT / "notebooks"
NO_EXECUTE = "<!-- execute: no -->"


def notebook_of(source: Path) -> Any:
    """A fresh (unexecuted) notebook from one source file."""
    return jupytext.read(source)


def executes(source: Path) -> bool:
    """False for sources marked `<!-- execute: no -->` (they need the internet)."""
    cells = notebook_of(source).cells
    return not (cells and cells[0].source.startswith(NO_EXECUTE))


def execute(nb: Any, folder: Path, timeout: int = 120) -> Any:
    """Run every cell on a fresh kernel in ``folder``; raises on the first error."""
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
        store_widget_state=False,
    )
    client.execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


def build(names: list[str]) -> None:
    """Read, execute and save the named sources (all when none are named)."""
    for source in sorted(SOURCES.glob("*.md")):
        if names and source.stem not in names:
            continue
        nb = notebook_of(source)
        target = OUTPUT / f"{source.stem}.ipynb"
        keep_cell_ids(nb, target)
        if executes(source):
            execute(nb, OUTPUT)
        nb.metadata.pop("jupytext", None)  # the pairing is notebooks/jupytext.toml's
        nbformat.write(nb, target)
        print(f"wrote {target.relative_to(ROOT)}")


def keep_cell_ids(nb: Any, target: Path) -> None:
    """Give unchanged cells the ids they have in the saved notebook (jupytext makes new ones),
    so a rebuild changes only what changed."""
    if not target.exists():
        return
    old = nbformat.read(target, as_version=4).cells
    for cell, before in zip(nb.cells, old, strict=False):  # cell by cell, in place
        if (cell.cell_type, cell.source) == (before.cell_type, before.source) and "id" in before:
            cell.id = before.id


def drift() -> list[str]:
    """Sources whose .ipynb is missing or has other cells than the .md says."""
    problems = []
    for source in sorted(SOURCES.glob("*.md")):
        target = OUTPUT / f"{source.stem}.ipynb"
        if not target.exists():
            problems.append(f"{target.name} is missing")
            continue
        built = [(c.cell_type, c.source) for c in nbformat.read(target, as_version=4).cells]
        wanted = [(c.cell_type, c.source) for c in notebook_of(source).cells]
        if built != wanted:
            problems.append(f"{target.name} differs from src/{source.name}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build or check the tutorial notebooks.")
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("names", nargs="*", help="source names without .md (build only)")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.names)
        return 0
    problems = drift()
    for problem in problems:
        print(problem, "- run: python scripts/notebooks.py build", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
