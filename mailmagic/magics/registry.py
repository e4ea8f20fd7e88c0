"""The command registry of a magic, after IPython's @magic_arguments: each control word is declared
once, on its handler (name, a one-line summary, an example, and an argparse spec with a help string
for every option). Everything else is generated from it: the word's parser and `%smtp WORD --help`,
the list `%smtp --help` prints and the magic's `?` docstring, the README's command table, and the
words and options tab completion offers."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from IPython.core.error import UsageError

Handler = Callable[[Any, argparse.Namespace, "str | None"], Any]
Arguments = Callable[[argparse.ArgumentParser], None]
_H = TypeVar("_H", bound=Handler)


class Help(Exception):
    """argparse printed --help; nothing more to do."""


class Parser(argparse.ArgumentParser):
    """argparse that reports misuse as a one-line UsageError and never exits the kernel."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise Help()


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """The argument spec of a word that takes none."""


@dataclass(frozen=True)
class Word:
    """One control word: its name, what it does, an example, its handler and its options."""

    name: str
    summary: str
    example: str
    handler: Handler
    arguments: Arguments = no_arguments
    cell: bool = False  # the cell is part of the command (sendmail's message body)

    def parser(self, magic: str) -> Parser:
        """A fresh parser of this word for ``%magic`` (with ``-h``/``--help``)."""
        prog = f"%{'%' if self.cell else ''}{magic} {self.name}"
        example = f"example: {self.example_for(magic)}"
        raw = argparse.RawDescriptionHelpFormatter  # the summary is one line: never re-wrapped
        p = Parser(prog=prog, description=self.summary, epilog=example, formatter_class=raw)
        self.arguments(p)
        p.usage = " ".join([prog, *synopsis_parts(p)]).replace("%", "%%")  # argparse formats it
        return p

    def synopsis(self, magic: str) -> str:
        """``%smtp open [HOST|lab] [PORT|listener] [--name N] ...``: the word and its options."""
        return str(self.parser(magic).usage).replace("%%", "%")

    def example_for(self, magic: str) -> str:
        """The example, with ``{magic}`` (in the words both magics share) filled in."""
        return self.example.replace("{magic}", magic)

    def options(self, magic: str) -> list[str]:
        """The word's option strings (``--name``, ``--tls``...), for completion."""
        actions = self.parser(magic)._actions
        shown = [a for a in actions if a.help != argparse.SUPPRESS]
        return [o for a in shown for o in a.option_strings if o.startswith("--")]


def synopsis_parts(p: argparse.ArgumentParser) -> list[str]:
    """Positionals first (as typed after the word), then the options, groups as ``[a | b]``."""
    groups = {id(a): g for g in p._mutually_exclusive_groups for a in g._group_actions}
    parts, seen = [], set()
    for action in sorted(p._actions, key=lambda a: bool(a.option_strings)):
        group = groups.get(id(action))
        hidden = action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction)
        if hidden or id(group) in seen:
            continue
        if group is not None:
            seen.add(id(group))
            parts.append(f"[{' | '.join(_option(a) for a in group._group_actions)}]")
        else:
            parts.append(_one(action))
    return parts


def _one(action: argparse.Action) -> str:
    if not action.option_strings:
        name = str(action.metavar or action.dest)
        return f"[{name}]" if action.nargs in ("?", "*") else name
    text = _option(action) + ("..." if isinstance(action, argparse._AppendAction) else "")
    return text if action.required else f"[{text}]"


def _option(action: argparse.Action) -> str:
    if action.nargs == 0:
        return action.option_strings[0]
    return f"{action.option_strings[0]} {action.metavar or action.dest.upper()}"


class Commands:
    """The control words of one magic, in the order they are listed."""

    def __init__(self, magic: str, *bases: Commands) -> None:
        self.magic = magic
        self._words: dict[str, Word] = {w.name: w for b in bases for w in b}

    def word(
        self,
        name: str,
        summary: str,
        example: str,
        arguments: Arguments = no_arguments,
        cell: bool = False,
    ) -> Callable[[_H], _H]:
        """Declare the decorated method as the handler of ``name``."""

        def declare(handler: _H) -> _H:
            self._words[name] = Word(name, summary, example, handler, arguments, cell)
            return handler

        return declare

    def extend(self, name: str, summary: str, example: str, more: Arguments) -> Callable[[_H], _H]:
        """Declare the decorated method as the handler of the shared word ``name`` in this magic
        only, with the shared word's options and then ``more``: options one protocol has and the
        other has not (``%smtp open --mx``). The word keeps its place in the listing."""
        shared = self._words[name]

        def arguments(p: argparse.ArgumentParser) -> None:
            shared.arguments(p)
            more(p)

        return self.word(name, summary, example, arguments, shared.cell)

    def __iter__(self) -> Iterator[Word]:
        return iter(self._words.values())

    def __contains__(self, name: object) -> bool:
        return name in self._words

    def __getitem__(self, name: str) -> Word:
        return self._words[name]

    def names(self) -> list[str]:
        return list(self._words)

    def parse(self, name: str, args: list[str]) -> argparse.Namespace:
        """``args`` parsed by ``name``'s parser; UsageError on misuse, Help after --help."""
        return self._words[name].parser(self.magic).parse_args(args)

    def listing(self, title: str) -> str:
        """Every word with its summary and synopsis: ``%smtp --help`` and ``%smtp?``."""
        width = max(len(name) for name in self._words)
        lines = [title]
        for w in self:
            synopsis = w.synopsis(self.magic)
            lines += [f"  {w.name:<{width}}  {w.summary}", f"  {'':<{width}}  {synopsis}"]
        return "\n".join(lines)

    def markdown(self) -> list[str]:
        """The rows of the README's command table for this magic (pipes escaped for Markdown)."""
        return [f"| `{_cell(w.synopsis(self.magic))}` | {_cell(w.summary)} |" for w in self]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
