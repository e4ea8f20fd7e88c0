# What this module does: injects an exception (Ctrl-C by default) at an exact point of running
# code, so tests can walk through every point of a path instead of racing a timer against it.
# A point is a line run, or a function (not a generator) entered, in a source file under the
# given folders (finalizers aside): with sys.settrace, the N-th such event raises.
# `every_point` runs an attempt with N = 1, 2, ... until one finishes with nothing raised (the
# path has fewer points), so the count of points never has to be known, and a path whose length
# varies (a socket wait that loops) is still walked to its end. `SystemCallFailure` does the same
# for the system calls (os functions, file methods, open, fcntl) made while given code runs: the
# N-th fails with an OSError (a full disk by default) before it happens, as a real failure would.
from __future__ import annotations

import errno
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import mailmagic

PACKAGE = Path(mailmagic.__file__).resolve().parent
SESSION_AND_PROTOCOL = (str(PACKAGE / "session"), str(PACKAGE / "protocol"))
"""Where a send, a read or a fetch runs (the socket calls themselves are in session/)."""


class Interrupter:
    """``with Interrupter(n, roots):`` raises ``error()`` at the n-th point (see the module
    comment) reached inside the block in this thread; ``fired`` says whether it did."""

    def __init__(
        self,
        at: int,
        roots: Sequence[str] = SESSION_AND_PROTOCOL,
        error: Callable[[], BaseException] = KeyboardInterrupt,
        within: str | None = None,
    ) -> None:
        """``within`` names a function: only points while it runs count (its own, and those of
        the functions it calls)."""
        self.at, self.roots, self.error, self.within = at, tuple(roots), error, within
        self.count = 0
        self.fired = False
        self._previous: Any = None

    def __enter__(self) -> Interrupter:
        self._previous = sys.gettrace()
        sys.settrace(self._call)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(self._previous)  # Python unsets it by itself once it has raised

    def _call(self, frame: FrameType, event: str, arg: object) -> Any:
        if not frame.f_code.co_filename.startswith(self.roots):
            return None
        if self.within is not None and not _running(frame, self.within):
            return None
        if frame.f_code.co_name == "__del__":
            return None  # a finalizer runs whenever, and Python only prints what it raises
        if not frame.f_code.co_flags & inspect.CO_GENERATOR:  # a generator is also "called"
            self._tick()  # when it is collected: the same
        return self._line

    def _line(self, frame: FrameType, event: str, arg: object) -> Any:
        if event == "line":
            self._tick()
        return self._line

    def _tick(self) -> None:
        self.count += 1
        if self.count == self.at and not self.fired:
            self.fired = True
            raise self.error()


SYSTEM_MODULES = frozenset({"posix", "nt", "io", "_io", "fcntl"})
NEVER_FAIL = frozenset({"close", "getpid", "fspath", "strerror", "_path_normpath"})
"""No system call (close frees the descriptor even when it fails)."""


class SystemCallFailure:
    """``with SystemCallFailure(n, roots):`` fails the n-th system call made while code under
    ``roots`` is on the stack, with ``error()`` and before the call happens; ``fired`` says
    whether it came."""

    def __init__(
        self,
        at: int,
        roots: Sequence[str],
        error: Callable[[], BaseException] = lambda: OSError(
            errno.ENOSPC, os.strerror(errno.ENOSPC)
        ),
    ) -> None:
        self.at, self.roots, self.error = at, tuple(roots), error
        self.count = 0
        self.fired = False
        self._previous: Any = None

    def __enter__(self) -> SystemCallFailure:
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(self._previous)

    def _profile(self, frame: FrameType, event: str, arg: object) -> None:
        if event != "c_call" or not _system_call(arg) or not _under(frame, self.roots):
            return
        self.count += 1
        if self.count == self.at and not self.fired:
            self.fired = True
            raise self.error()


def _system_call(function: object) -> bool:
    if getattr(function, "__name__", "") in NEVER_FAIL:
        return False
    owner = getattr(function, "__self__", None)
    module = getattr(function, "__module__", None) or type(owner).__module__
    return module in SYSTEM_MODULES


def _under(frame: FrameType | None, roots: tuple[str, ...]) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith(roots):
            return True
        frame = frame.f_back
    return False


def _running(frame: FrameType | None, function: str) -> bool:
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


def every_point(attempt: Callable[[int], bool], limit: int = 50_000, step: int = 1) -> int:
    """Call ``attempt(n)`` for n = 1, 1 + step, ... until it returns False (it ran to the end
    with nothing raised); returns how many attempts were interrupted."""
    n = 1
    while n <= limit:
        if not attempt(n):
            return (n - 1) // step
        n += step
    raise AssertionError(f"the path still had points after {limit}: a loop that never ends?")
