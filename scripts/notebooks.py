#!/usr/bin/env python
# What this module does: builds the tutorial notebooks from their sources. Each notebook is
# written as Markdown in notebooks/src/NN-name.md (prose, and ```python fenced blocks that become
# code cells), then converted to notebooks/NN-name.ipynb, executed top to bottom on a fresh kernel
# against the lab server, and saved with its outputs but without widget state (so GitHub and
# nbconvert show the text/html fallbacks).
#
#   python scripts/notebooks.py build [NAME ...]   convert, execute, save (all by default)
#   python scripts/notebooks.py check              fail if an .ipynb's cells differ from its .md
#
# Fence options: ```python hidden``` collapses the cell's input (a solution, shown on a click);
# a first line `<!-- execute: no -->` leaves the notebook unexecuted (the real-servers one).
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks" / "src"
OUTPUT = ROOT / "notebooks"
NO_EXECUTE = "<!-- execute: no -->"
_FENCE = re.compile(r"^```python(?P<options>[^\n]*)\n(?P<code>.*?)^```\s*$", re.M | re.S)
KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def cells_of(text: str) -> list[Any]:
    """The notebook cells of a Markdown source: prose between fences, code inside them."""
    cells: list[Any] = []
    position = 0
    for match in _FENCE.finditer(text):
        _add_markdown(cells, text[position : match.start()])
        cell = nbformat.v4.new_code_cell(match["code"].rstrip("\n"))
        if "hidden" in match["options"].split():
            cell.metadata["jupyter"] = {"source_hidden": True}
            cell.metadata["tags"] = ["solution"]
        cells.append(cell)
        position = match.end()
    _add_markdown(cells, text[position:])
    return cells


def _add_markdown(cells: list[Any], chunk: str) -> None:
    chunk = chunk.replace(NO_EXECUTE, "").strip("\n")
    if chunk.strip():
        cells.append(nbformat.v4.new_markdown_cell(chunk))


def notebook_of(source: Path) -> Any:
    """A fresh (unexecuted) notebook from one source file."""
    nb = nbformat.v4.new_notebook()
    nb.cells = cells_of(source.read_text(encoding="utf-8"))
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def executes(source: Path) -> bool:
    """False for sources marked `<!-- execute: no -->` (they need the internet)."""
    return not source.read_text(encoding="utf-8").startswith(NO_EXECUTE)


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
    """Convert, execute and save the named sources (all when none are named)."""
    for source in sorted(SOURCES.glob("*.md")):
        if names and source.stem not in names:
            continue
        nb = notebook_of(source)
        if executes(source):
            execute(nb, OUTPUT)
        target = OUTPUT / f"{source.stem}.ipynb"
        nbformat.write(nb, target)
        print(f"wrote {target.relative_to(ROOT)}")


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
