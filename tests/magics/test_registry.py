# What this module does: tests of the command registry (mailmagic/magics/registry.py) and what is
# generated from it: every option of every control word has help text; `%smtp WORD --help`
# shows it; `%smtp --help`, `%pop3 --help`, `%maillab --help` and the `?` docstrings list every
# word with its summary and synopsis; misuse of a word is a one-line UsageError naming --help; a
# magic extends a shared word with options of its own (%smtp open --mx) and the other one does not.
from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from mailmagic import load_ipython_extension, unload_ipython_extension
from mailmagic.magics import MAGICS
from mailmagic.magics.registry import Commands, Help, Word
from tests.magics.shell import Shell, run

EVERY_WORD = [(m.words.magic, w) for m in MAGICS for w in m.words]


@pytest.fixture
def shell(ipython_shell: InteractiveShell) -> Iterator[InteractiveShell]:
    load_ipython_extension(ipython_shell)
    yield ipython_shell
    unload_ipython_extension(ipython_shell)


@pytest.mark.parametrize(("magic", "word"), EVERY_WORD, ids=lambda v: getattr(v, "name", v))
def test_every_word_is_declared_in_full(magic: str, word: Word) -> None:
    example = word.example_for(magic)
    assert word.summary and example.lstrip("%").startswith((f"{magic} {word.name}", "lab = %"))
    for action in word.parser(magic)._actions:
        assert action.help, f"%{magic} {word.name} {action.option_strings or action.dest}"


@pytest.mark.parametrize(("magic", "word"), EVERY_WORD, ids=lambda v: getattr(v, "name", v))
def test_word_help_shows_every_option_with_its_help(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str], magic: str, word: Word
) -> None:
    assert shell.run_line_magic(magic, f"{word.name} --help") is None
    printed = capsys.readouterr().out
    assert printed.startswith(f"usage: {word.synopsis(magic)}")
    flowing = " ".join(printed.split())  # argparse wraps its lines
    assert word.summary in flowing and f"example: {word.example_for(magic)}" in flowing
    for action in word.parser(magic)._actions:
        if action.help != argparse.SUPPRESS:
            assert str(action.help) in flowing


@pytest.mark.parametrize("magic", MAGICS, ids=lambda m: m.words.magic)
def test_help_and_docstring_list_every_word(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str], magic: type
) -> None:
    name = magic.words.magic
    shell.run_line_magic(name, "--help")
    printed = capsys.readouterr().out
    doc = shell.find_line_magic(name).__doc__
    for word in magic.words:
        for text in (printed, doc):
            assert f"  {word.name}" in text and word.summary in text
            assert word.synopsis(name) in text


def test_misuse_of_a_word_names_its_help(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError, match=r"^%smtp sessions: unrecognized arguments: x .*--help"):
        shell.run_line_magic("smtp", "sessions x")
    with pytest.raises(UsageError, match=r"%pop3 use: the following arguments are required"):
        shell.run_line_magic("pop3", "use")
    with pytest.raises(UsageError, match=r"%maillab frob: use start, stop, status"):
        shell.run_line_magic("maillab", "frob")
    with pytest.raises(UsageError, match=r"No closing quotation"):
        shell.run_line_magic("smtp", 'open "lab')


def test_a_registry_builds_on_others_and_keeps_the_order() -> None:
    base = Commands("")

    @base.word("one", "the first", "%x one")
    def one(magics: object, ns: argparse.Namespace, cell: str | None) -> str:
        return "one"

    mine = Commands("x", base)

    @mine.word("two", "the second", "%x two", lambda p: p.add_argument("n", help="a number"))
    def two(magics: object, ns: argparse.Namespace, cell: str | None) -> str:
        return ns.n

    assert mine.names() == ["one", "two"] and base.names() == ["one"]
    assert mine.parse("two", ["7"]).n == "7" and mine["two"].synopsis("x") == "%x two n"
    assert mine.markdown()[1] == "| `%x two n` | the second |"
    with pytest.raises(Help):
        mine.parse("two", ["--help"])


def test_a_registry_extends_a_shared_word_for_itself_only() -> None:
    base = Commands("")

    @base.word("one", "the first", "%x one", lambda p: p.add_argument("--a", help="shared"))
    def one(magics: object, ns: argparse.Namespace, cell: str | None) -> str:
        return "one"

    @base.word("two", "the second", "%x two")
    def two(magics: object, ns: argparse.Namespace, cell: str | None) -> str:
        return "two"

    mine, other = Commands("x", base), Commands("y", base)

    @mine.extend("one", "the first, more", "%x one --b 2", lambda p: p.add_argument("--b"))
    def more(magics: object, ns: argparse.Namespace, cell: str | None) -> str:
        return f"{ns.a} {ns.b}"

    assert mine.names() == ["one", "two"] and mine["one"].handler is more
    assert mine.parse("one", ["--a", "1", "--b", "2"]).b == "2"
    assert mine["one"].synopsis("x") == "%x one [--a A] [--b B]"
    assert other["one"].handler is one and base["one"].synopsis("y") == "%y one [--a A]"
    with pytest.raises(UsageError, match=r"unrecognized arguments: --b"):
        other.parse("one", ["--b", "2"])


@pytest.mark.parametrize("name", ["smtp", "pop3"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_the_control_words(
    ip: Shell, capsys: pytest.CaptureFixture[str], name: str, flag: str
) -> None:
    result, printed = run(ip.shell, f"%{name} {flag}", capsys)
    assert result.success and "unknown option" not in printed
    assert f"%{name} open [HOST|lab]" in printed and "Comments:" in printed
    doc = ip.shell.find_line_magic(name).__doc__
    assert "control words" in doc and "# standing alone as a word" in doc
