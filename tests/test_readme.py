# What this module does: checks that every code block of README.md works as written. The
# ```python and plain ``` blocks are run, in order and unchanged, as notebook cells in a real
# IPython shell with the real lab server: none may raise, none may print an error (a UsageError
# is shown on stderr, not raised, so the output is captured and read), the server refuses nothing
# they send, and the message sent comes back over POP3. ```console and
# ```json blocks are sample output, not code. The ```bash set-up commands install everything and
# run the whole suite, so a test cannot run them; they are checked instead: the paths and the
# `notebook` extra they name exist, and CI (.ci/run) runs the same install-and-test command. The
# table of control words is the one the magics' registry generates (mailmagic/magics/).
from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mailmagic.magics import command_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
RUN = ("python", "")  # the fence languages that are code to run
SAMPLES = ("console", "json")  # output samples: nothing to run


def blocks(language: str) -> list[str]:
    """The README's fenced blocks of one language ("" for a plain fence), in order."""
    return [body for lang, body in FENCE.findall(README.read_text()) if lang == language]


def test_every_block_is_of_a_known_kind() -> None:
    kinds = {lang for lang, _ in FENCE.findall(README.read_text())}
    assert kinds <= {*RUN, *SAMPLES, "bash"}, kinds
    assert blocks("python") and blocks("") and blocks("bash")


@pytest.fixture
def shell(ipython_shell: InteractiveShell) -> Iterator[InteractiveShell]:
    """The shared shell; the README loads mailmagic itself, and this unloads it afterwards."""
    yield ipython_shell
    if "mailmagic" in ipython_shell.extension_manager.loaded:
        ipython_shell.run_line_magic("unload_ext", "mailmagic")  # closes sessions, stops the lab


def test_the_code_blocks_run_as_written(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    code = [body for lang, body in FENCE.findall(README.read_text()) if lang in RUN]
    for n, block in enumerate(code, 1):
        result = shell.run_cell(block)
        captured = capsys.readouterr()
        printed = captured.out + captured.err
        assert result.success, f"block {n} failed: {result.error_in_exec!r}\n{block}\n{printed}"
        assert not re.search(r"\w*Error\b", printed), f"block {n} printed an error:\n{printed}"
    for magic in ("smtp", "pop3"):  # and the server refused nothing the README sends
        transcript = shell.run_line_magic(magic, "transcript").as_text()
        assert not re.search(r"^S: (?:[45]\d\d|-ERR)", transcript, re.M), transcript
    assert "Message Body" in shell.run_line_magic("pop3", "RETR 1").body.decode()


def commands(block: str) -> Iterator[list[str]]:
    """The commands of a bash block: comments dropped, `&&` chains split, words shell-split."""
    for line in block.splitlines():
        for command in line.split("#", 1)[0].split("&&"):
            if command.strip():
                yield shlex.split(command)


def test_the_setup_commands_name_what_exists_and_ci_runs_them() -> None:
    (setup,) = blocks("bash")
    for words in commands(setup):
        for word in words[1:]:
            if "/" in word and not word.startswith(("-", ".[")):
                assert (ROOT / word).exists() or (ROOT / word.split("/")[0]).exists(), word
    pyproject = (ROOT / "pyproject.toml").read_text()  # no tomllib before Python 3.11
    assert 'pip install -e ".[notebook]"' in setup and re.search(r"^notebook = \[", pyproject, re.M)
    test_line = next(line for line in setup.splitlines() if "install-test-deps" in line)
    command = test_line.split("#", 1)[0].strip()
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()  # CI runs it as written
    assert "venv=.venv\n" in (ROOT / "scripts" / "install-test-deps").read_text()


def test_the_command_table_is_the_registry_s() -> None:
    """The README's table of control words is the one generated from the magics' registry; to
    update it, paste ``python -c "from mailmagic.magics import command_table as t; print(t())"``."""
    assert command_table() in README.read_text(), command_table()
