"""Recording a session to a cassette (`%smtp open HOST PORT --record PATH`; the format is
protocol/cassette.py's, documented in docs/cassettes.md). A `Recorder` listens to the session's
transcript, so it writes what the transcript holds: secrets already masked, TLS upgrades as notes.
It writes as the session goes, one line at a time, flushed, so a crash loses nothing already seen.
It never overwrites: the file is created new (an existing one is refused), and the recording ends
with the first connection, at the first note that it closed (a reconnect is not recorded). As every
transcript subscriber, the recorder is heard only while it is held (protocol/listeners.py): keep
the `Recorder` for as long as the recording should go on (the magics keep it with the session)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import IO, Any

from mailmagic.protocol.cassette import Event, Header, event_line, header_line
from mailmagic.protocol.listeners import Subscription
from mailmagic.session.base import Session, SessionError
from mailmagic.session.transcript import Entry

_DIRECTION = {"client": "c", "server": "s", "note": "note"}
_ENDS = ("closed", "broken", "replaced")  # the notes of Session.close and Session._fail


class Recorder:
    """Writes one session's transcript to a new cassette file as it grows."""

    def __init__(self, path: Path, out: IO[str], start: float) -> None:
        self.path = path
        self._out: IO[str] | None = out
        self._start = start
        self._subscription: Subscription[[Entry]] | None = None

    @classmethod
    def start(cls, session: Session[Any, Any], path: str | Path, server: str) -> Recorder:
        """Create ``path`` (refusing an existing file), write the header, and follow
        ``session``'s transcript from now on. Raises SessionError if the file cannot be made."""
        target = Path(path).expanduser()
        try:
            out = target.open("x", encoding="utf-8")
        except FileExistsError:
            raise SessionError(
                f"{target} exists: a recording never overwrites one; give a new file name "
                "(or delete the old one first)"
            ) from None
        except OSError as error:
            raise SessionError(f"cannot record to {target}: {error.strerror or error}") from None
        now = datetime.datetime.now(datetime.timezone.utc)
        note = "recorded by mailmagic: secrets masked (***), as in the session's transcript"
        when = now.isoformat(timespec="seconds")
        recorder = cls(target, out, now.timestamp())
        recorder._write(header_line(Header(session.protocol.lower(), server, when, note=note)))
        recorder._subscription = session.transcript.listeners.subscribe(recorder.add)
        return recorder

    @property
    def recording(self) -> bool:
        """True until the recorded connection has closed (or ``stop`` was called)."""
        return self._out is not None

    def add(self, entry: Entry) -> None:
        """Write one transcript entry: a line group becomes one event a line."""
        if self._out is None:
            return
        t = max(0.0, entry.time - self._start)
        direction = _DIRECTION[entry.direction]
        for line in entry.text.removesuffix("\r\n").split("\r\n"):
            self._write(event_line(Event(t, direction, line)))  # type: ignore[arg-type]
        if entry.direction == "note" and entry.text.startswith(_ENDS):
            self.stop()

    def stop(self) -> None:
        """Stop recording and close the file (safe to call twice)."""
        out, self._out = self._out, None
        if self._subscription is not None:
            self._subscription.close()
        if out is not None:
            out.close()

    def _write(self, line: str) -> None:
        assert self._out is not None
        self._out.write(line + "\n")
        self._out.flush()
