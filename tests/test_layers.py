# What this module does: holds the code to DESIGN.md's layers ("data flows down, never back up";
# rule 1, no I/O below session/) by reading every module's imports: protocol/ imports no socket,
# ssl, asyncio, threading or IPython and nothing above it; display/ opens no socket; mail/ (the
# message model) knows no widgets, sessions or display, and opens no socket; session/ knows
# nothing of IPython or display; only magics/ imports IPython's magic machinery. Within display/,
# no two modules import each other, directly or round a longer loop (lazy imports inside functions
# count too).
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mailmagic"
IO = {"socket", "ssl", "asyncio", "selectors", "threading", "subprocess", "urllib", "http"}
FORBIDDEN = {
    "protocol": IO
    | {
        "IPython",
        "ipywidgets",
        "mailmagic.session",
        "mailmagic.display",
        "mailmagic.lab",
        "mailmagic.magics",
    },
    "display": IO | {"mailmagic.magics"},
    "mail": IO
    | {
        "IPython",
        "ipywidgets",
        "mailmagic.display",
        "mailmagic.session",
        "mailmagic.lab",
        "mailmagic.magics",
    },
    "session": {"IPython", "ipywidgets", "mailmagic.display", "mailmagic.magics", "mailmagic.lab"},
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).glob("*.py"))


@pytest.mark.parametrize(
    ("layer", "path"),
    [(layer, path) for layer in FORBIDDEN for path in modules(layer)],
    ids=lambda v: v if isinstance(v, str) else v.name,
)
def test_layer_imports_stay_in_their_lane(layer: str, path: Path) -> None:
    bad = {
        name
        for name in imports(path)
        for banned in FORBIDDEN[layer]
        if name == banned or name.startswith(banned + ".")
    }
    assert not bad, f"{path.name} in {layer}/ imports {sorted(bad)}"


def test_every_layer_has_modules() -> None:
    assert all(modules(layer) for layer in FORBIDDEN)


def cycle_from(start: str, graph: dict[str, set[str]], path: tuple[str, ...] = ()) -> list[str]:
    """A loop of imports back to ``start`` (its modules in order), or [] if there is none."""
    for name in sorted(graph.get(path[-1] if path else start, set())):
        if name == start:
            return [start, *path, start]
        if name not in path:
            found = cycle_from(start, graph, (*path, name))
            if found:
                return found
    return []


def test_display_modules_import_no_loop() -> None:
    graph = {
        f"mailmagic.display.{path.stem}": {n for n in imports(path) if n.startswith("mailmagic.")}
        for path in modules("display")
    }
    loops = [loop for start in graph if (loop := cycle_from(start, graph))]
    assert not loops, " -> ".join(loops[0])
