# What this module does: holds the code to the house style (DESIGN.md rule 6) as part of the test
# suite: `ruff check`, `ruff format --check` and `mypy --strict` on the package must be clean, and
# every module of the package opens with a docstring that says what it does (rule 5), so that
# `help()` shows it.
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "mailmagic", "tests"), ("ruff", "format", "--check", "mailmagic", "tests")],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff_is_clean(command: tuple[str, ...]) -> None:
    done = run(*command)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    done = run("mypy", "--strict", "mailmagic")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "module", sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "mailmagic").rglob("*.py"))
)
def test_every_module_says_what_it_does(module: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / module).read_text()))
    assert doc, f"{module} opens with no docstring"
    assert len(doc.split(". ")[0].split()) >= 4, f"{module}: say what it does in a sentence"
