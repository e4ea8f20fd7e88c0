"""Tab completion for `%smtp`, `%pop3`, the first line of `%%smtp` / `%%pop3` cells and `%maillab`,
through IPython's `complete_command` hook (one per magic name; IPython 8.10 and 9 both call it for
line magics). Offered, in this order: the protocol verbs that make sense in the current
session's state, read from the protocol's transition table by the connection's `expected()` (after
MAIL FROM the first offer is `RCPT TO:`; in POP3's AUTHORIZATION `USER`, `APOP`, `CAPA`...), then
the control words and the options before a raw line; after a control word its options (from
registry.py), session names, the lab's listener names after `open lab`, and an option's choices;
after a verb the message numbers the session's maildrop knows (RETR, TOP, DELE, LIST, UIDL) or the
running lab's users (USER, APOP, VRFY, EXPN). Lines inside a `%%smtp` / `%%pop3` cell, which that
hook never sees, get the same through a context matcher (IPython 8.6+): the verbs that make sense
once the cell's lines above are sent, projected on a copy of the sans-I/O connection (each line
taken to succeed). Completion never sends anything and never raises: a completer that fails offers
nothing."""

from __future__ import annotations

import argparse
import copy
from dataclasses import dataclass
from typing import Any

from IPython.core.completer import SimpleCompletion

from mailmagic.magics.base import ProtocolMagics, cell_lines
from mailmagic.magics.context import LAB_LISTENERS, LISTENERS
from mailmagic.magics.lab import LabMagic
from mailmagic.magics.options import LINE_OPTIONS, VALUE_OPTIONS
from mailmagic.magics.registry import Commands, Word

HOOK = "complete_command"
# How a verb is typed: SMTP's MAIL and RCPT take their argument after a colon (RFC 5321 4.1.1.2).
_TYPED = {"MAIL": "MAIL FROM:", "RCPT": "RCPT TO:"}
_NUMBERED = frozenset({"RETR", "TOP", "DELE", "LIST", "UIDL"})  # RFC 1939 section 5
_USERS = frozenset({"USER", "APOP", "VRFY", "EXPN"})
_VALUED = frozenset(f"--{name}" for name in VALUE_OPTIONS)


@dataclass(frozen=True)
class Typed:
    """What is typed after the magic's name: the finished words and the one being typed."""

    words: list[str]
    current: str

    @classmethod
    def of(cls, text_until_cursor: str) -> Typed:
        words = text_until_cursor.split()[1:]  # drop %smtp / %%smtp
        if text_until_cursor[-1:].isspace() or not words:
            return cls(words, "")
        return cls(words[:-1], words[-1])


class MagicCompleter:
    """The ``complete_command`` hook of one protocol magic (see the module docstring)."""

    def __init__(self, magics: ProtocolMagics, cell: bool = False) -> None:
        self.magics, self.cell = magics, cell

    def __call__(self, shell: Any, event: Any) -> list[str]:
        """IPython calls a hook as a method of the shell: ``hook(shell, event)``."""
        try:
            return self.offers(Typed.of(str(event.text_until_cursor)))
        except Exception:  # a completer must never break the shell's Tab
            return []

    def offers(self, typed: Typed) -> list[str]:
        """What to offer for ``typed``, best first."""
        words, session = _after_line_options(typed.words)
        if words and words[-1] in _VALUED:
            return self._option_values(words[-1])
        if words and words[0] in self.magics.words and "--" not in typed.words:
            word = self.magics.words[words[0]]
            return _word_offers(word, words[1:], typed, self._positionals())
        if not words:
            return self._first(typed, session, raw="--" in typed.words)
        return [] if self.cell else self._arguments(words[0].upper(), session)

    def _first(self, typed: Typed, session: str | None, raw: bool) -> list[str]:
        if typed.current.startswith("-"):
            return [o for o in LINE_OPTIONS if not (self.cell and o == "--timeout")]
        verbs = [] if self.cell else self._verbs(session)
        words = [] if raw else self.magics.words.names()
        return [*verbs, *words]

    def in_cell(self, first_line: str, before: list[str], typed: Typed) -> list[str]:
        """For a line inside a ``%%smtp`` cell: the verbs that make sense once the cell's lines
        ``before`` it are sent (each taken to succeed), then a verb's arguments."""
        _, session = _after_line_options(first_line.split()[1:])
        if typed.words:
            return self._arguments(typed.words[0].upper(), session)
        return self._verbs(session, before)

    def _verbs(self, name: str | None, before: tuple[str, ...] | list[str] = ()) -> list[str]:
        session = self._session(name)
        if session is None or not session.is_open:
            return []
        conn = copy.deepcopy(session.conn)  # sans-I/O: a copy to send the cell's lines to
        for line in cell_lines("\n".join(before), lambda: conn.mode in ("text", "chunk")):
            try:
                conn.send(line)
            except Exception:  # a line the protocol refuses: stop projecting there
                break
        return [_TYPED.get(verb, verb) for verb in conn.expected()]

    def _arguments(self, verb: str, name: str | None) -> list[str]:
        session = self._session(name)
        if verb in _NUMBERED and session is not None:
            return [str(n) for n in session.maildrop.numbers]
        if verb in _USERS:
            return self._lab_users(verb)
        return []

    def _lab_users(self, verb: str) -> list[str]:
        lab = self.magics.context.lab
        if lab is None or not lab.running:
            return []
        lists = list(lab.directory.aliases) if verb == "EXPN" else []
        return [*lab.directory.users, *lists]

    def _option_values(self, option: str) -> list[str]:
        if option == "--session":
            return self._names()
        return ["250", "2xx", "5xx", "+OK", "-ERR"] if option == "--expect" else []

    def _session(self, name: str | None) -> Any:
        registry = self.magics.registry
        key = name or registry.current_name
        return next((s for s in registry if s.name == key), None)

    def _names(self) -> list[str]:
        return [s.name for s in self.magics.registry]

    def _positionals(self) -> dict[str, list[str]]:
        """What each positional of a control word takes: session names, or after ``open``
        a host (``lab``) and then, on the lab, this protocol's listeners."""
        listeners = [n for n in LAB_LISTENERS if n in LISTENERS[self.magics.protocol]]
        return {"name": self._names(), "host": ["lab"], "port": listeners}


class LabCompleter:
    """The ``complete_command`` hook of ``%maillab``: its words, then a word's options."""

    def __init__(self, magics: LabMagic) -> None:
        self.words: Commands = magics.words

    def __call__(self, shell: Any, event: Any) -> list[str]:
        """IPython calls a hook as a method of the shell: ``hook(shell, event)``."""
        try:
            typed = Typed.of(str(event.text_until_cursor))
            if not typed.words:
                return self.words.names()
            if typed.words[0] in self.words:
                return _word_offers(self.words[typed.words[0]], typed.words[1:], typed, {})
            return []
        except Exception:  # a completer must never break the shell's Tab
            return []


class CellCompleter:
    """A context matcher (IPython's v2 matcher API, in 8.6 and later) for the lines inside a
    ``%%smtp`` / ``%%pop3`` cell, which the ``complete_command`` hook never sees."""

    matcher_api_version = 2
    matcher_priority = 0.0
    matcher_identifier = "mailmagic.cell"

    def __init__(self, *magics: ProtocolMagics) -> None:
        self.completers = {f"%%{m.protocol.lower()}": MagicCompleter(m) for m in magics}
        self.__qualname__ = self.matcher_identifier  # IPython reads it, as of a function

    def __call__(self, context: Any) -> dict[str, Any]:
        """Inside one of our cells only protocol lines make sense: nothing else is offered."""
        lines = str(context.full_text).split("\n")
        completer = self.completers.get((lines[0].split() or [""])[0])
        if completer is None or context.cursor_line == 0:
            return {"completions": [], "suppress": False}
        try:
            typed = Typed.of(f"- {context.text_until_cursor}")  # as if after the magic's name
            offers = completer.in_cell(lines[0], lines[1 : context.cursor_line], typed)
        except Exception:  # a completer must never break the shell's Tab
            offers = []
        token = str(context.token).lower()
        found = [o for o in offers if o.lower().startswith(token)]
        return {
            "completions": [SimpleCompletion(o, type="command") for o in found],
            "suppress": True,
        }


def _after_line_options(words: list[str]) -> tuple[list[str], str | None]:
    """``words`` without the options before a raw line (a trailing one that waits for its
    value stays), and the session ``--session`` names."""
    session, i = None, 0
    while i < len(words) and words[i].startswith("--"):
        if words[i] in _VALUED and i + 1 < len(words):
            session = words[i + 1] if words[i] == "--session" else session
            i += 2
        elif words[i] in _VALUED:
            return words[i:], session
        else:
            i += 1
    return words[i:], session


def _word_offers(
    word: Word, after: list[str], typed: Typed, positionals: dict[str, list[str]]
) -> list[str]:
    """After a control word: its options, an option's choices, or what its positionals take."""
    parser = word.parser("")
    actions = {o: a for a in parser._actions for o in a.option_strings}
    last = actions.get(after[-1]) if after else None
    if last is not None and last.nargs != 0:
        return [str(c) for c in last.choices or getattr(last, "offers", [])]
    if typed.current.startswith("-"):
        return word.options("")
    wanted = [a for a in parser._actions if not a.option_strings]
    given = [w for i, w in enumerate(after) if not _is_option_or_value(after, i, actions)]
    if len(given) >= len(wanted):
        return word.options("")
    dest = wanted[len(given)].dest
    if dest == "port" and given[:1] != ["lab"]:
        return []  # a port number of another host: nothing to offer
    return positionals.get(dest, [])


def _is_option_or_value(words: list[str], i: int, actions: dict[str, argparse.Action]) -> bool:
    if words[i].startswith("-"):
        return True
    before = actions.get(words[i - 1]) if i else None
    return before is not None and before.nargs != 0


def hook_completers(
    ipython: Any, smtp: ProtocolMagics, pop3: ProtocolMagics, lab: LabMagic
) -> None:
    """Hook completion of %smtp, %%smtp, %pop3, %%pop3 and %maillab into ``ipython``."""
    for magics in (smtp, pop3):
        name = magics.protocol.lower()
        ipython.set_hook(HOOK, MagicCompleter(magics), str_key=f"%{name}")
        ipython.set_hook(HOOK, MagicCompleter(magics, cell=True), str_key=f"%%{name}")
    ipython.set_hook(HOOK, LabCompleter(lab), str_key="%maillab")
    ipython.Completer.custom_matchers.append(CellCompleter(smtp, pop3))


def unhook_completers(ipython: Any) -> None:
    """Take out every completer ``hook_completers`` put in."""
    dispatch = getattr(ipython, "strdispatchers", {}).get(HOOK)
    for chain in getattr(dispatch, "strs", {}).values():
        ours = (MagicCompleter, LabCompleter)
        chain.chain[:] = [(p, f) for p, f in chain.chain if not isinstance(unwrapped(f), ours)]
    matchers = getattr(getattr(ipython, "Completer", None), "custom_matchers", [])
    matchers[:] = [m for m in matchers if not isinstance(m, CellCompleter)]


def unwrapped(entry: Any) -> Any:
    """What ``set_hook`` was given: it binds the hook to the shell as a method."""
    return getattr(entry, "__func__", entry)
