# What this module does: holds the tutorial notebooks (notebooks/, built by scripts/notebooks.py)
# to their promises: each one except the real-servers notebook runs top to bottom on a fresh
# kernel against the lab server; the saved notebooks match their sources, carry outputs but no
# widget state and no secret; every command of the seed walkthroughs is executed somewhere; the
# real-servers notebook stays valid; and a fresh virtual environment made from binder/ alone
# runs them.
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SEED_SMTP = (
    "HELO",
    "EHLO",
    "MAIL",
    "RCPT",
    "DATA",
    "RSET",
    "VRFY",
    "EXPN",
    "HELP",
    "NOOP",
    "TURN",
    "QUIT",
)
SEED_POP3 = ("USER", "PASS", "STAT", "LIST", "RETR", "TOP", "DELE", "QUIT")
LAB_SECRETS = ("alice-password", "bob-password")


def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebooks", ROOT / "scripts" / "notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NB = builder()
SOURCES = sorted((NOTEBOOKS / "src").glob("*.md"))
EXECUTED = [s for s in SOURCES if NB.executes(s)]


def saved(source: Path) -> Any:
    return nbformat.read(NOTEBOOKS / f"{source.stem}.ipynb", as_version=4)


def test_the_tutorials_are_all_there_and_match_their_sources() -> None:
    assert [s.stem[:2] for s in SOURCES] == ["01", "02", "03", "04", "05", "06", "07", "08"]
    assert NB.drift() == []


@pytest.mark.parametrize("source", EXECUTED, ids=lambda s: s.stem)
def test_notebook_runs_top_to_bottom_on_a_fresh_kernel(source: Path, tmp_path: Path) -> None:
    nb = saved(source)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    NB.execute(nb, tmp_path)  # raises CellExecutionError on the first failing cell
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_saved_notebook_has_outputs_no_widget_state_and_no_secret(source: Path) -> None:
    nb = saved(source)
    text = (NOTEBOOKS / f"{source.stem}.ipynb").read_text(encoding="utf-8")
    assert "widgets" not in nb.metadata
    assert "application/vnd.jupyter.widget-state+json" not in text
    for secret in LAB_SECRETS:
        assert secret not in text
    assert not re.search(r'"(PASS|AUTH PLAIN|AUTH LOGIN) [^*<"\\]{3,}', text)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if NB.executes(source):
        assert all(c.outputs for c in code if c.source.startswith("%")), "run the build script"
        assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    else:
        assert not any(c.outputs for c in code)


def test_saved_progress_bars_say_how_they_ended() -> None:
    (source,) = [s for s in SOURCES if s.stem.startswith("07")]
    bars = [
        str(o["data"]["text/plain"])
        for cell in saved(source).cells
        for o in cell.get("outputs", [])
        if o.output_type == "display_data" and "msg/s" in str(o["data"].get("text/plain", ""))
    ]
    assert bars and all(bar.startswith(("sent ", "fetched ")) and "100%" in bar for bar in bars)


def sent_lines(magic: str) -> list[str]:
    """Every protocol line the notebooks send with %magic or %%magic."""
    lines: list[str] = []
    for source in SOURCES:
        for cell in saved(source).cells:
            if cell.cell_type != "code":
                continue
            body = cell.source.splitlines()
            if body and body[0].startswith(f"%%{magic}"):
                lines += body[1:]
            lines += [
                m.group(1) for m in re.finditer(rf"%{magic} (?:--\S+ \S+ )*(.+)", cell.source)
            ]
    return [line.strip() for line in lines]


@pytest.mark.parametrize(("magic", "verbs"), [("smtp", SEED_SMTP), ("pop3", SEED_POP3)])
def test_every_seed_command_is_executed_somewhere(magic: str, verbs: tuple[str, ...]) -> None:
    first_words = {line.split(" ", 1)[0].upper() for line in sent_lines(magic) if line}
    missing = [verb for verb in verbs if verb not in first_words]
    assert not missing, f"no notebook sends {missing} with %{magic}"


def test_the_real_servers_notebook_stays_valid() -> None:
    (source,) = [s for s in SOURCES if not NB.executes(s)]
    nb = saved(source)
    nbformat.validate(nb)
    transform = TransformerManager().transform_cell
    for cell in nb.cells:
        if cell.cell_type == "code":
            compile(transform(cell.source), source.name, "exec")


# Installing Binder's requirements into a new environment downloads JupyterLab and its
# dependencies: this test gets a budget of its own, and every step it runs shares that budget.
BINDER_BUDGET = 600


@pytest.mark.timeout(BINDER_BUDGET)
def test_a_fresh_environment_from_binder_runs_the_notebooks(tmp_path: Path) -> None:
    deadline = time.monotonic() + BINDER_BUDGET - 10  # pytest-timeout stays the backstop
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    install = [str(python), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"]
    run(install, env, deadline)
    run(["bash", "binder/postBuild"], env, deadline)
    config = (tmp_path / "home" / ".jupyter" / "jupyter_server_config.py").read_text()
    assert "01-start-here.ipynb" in config
    for source in EXECUTED:
        copy = tmp_path / f"{source.stem}.ipynb"
        copy.write_bytes((NOTEBOOKS / copy.name).read_bytes())
        run([str(venv / "bin" / "jupyter"), "execute", "--inplace", str(copy)], env, deadline)
        outputs = json.dumps([c.get("outputs", []) for c in nbformat.read(copy, 4).cells])
        assert '"output_type": "error"' not in outputs


def run(command: list[str], env: dict[str, str], deadline: float) -> None:
    left = deadline - time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=left)
    assert done.returncode == 0, (
        f"{' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
