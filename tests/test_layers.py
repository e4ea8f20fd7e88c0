# What this module does: holds the code to DESIGN.md's layers ("data flows down, never back up";
# rule 1, no I/O below session/) by reading every module's imports: protocol/ imports no socket,
# ssl, asyncio, threading or IPython and nothing above it; display/ opens no socket; session/ knows
# nothing of IPython or display; only magics.py imports IPython's magic machinery.
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
