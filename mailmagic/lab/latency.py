"""Round-trip latency on the wire for the lab server (`lab.faults.latency(ms)`): a delay line in
each direction of a connection, between the socket and the server's protocol. Octets received at t
are handed to the protocol at t + rtt/2, octets the protocol writes at t reach the socket at
t + rtt/2; the order is kept and any number of chunks are in flight at once, so a client that
pipelines (RFC 2920, RFC 2449 section 6.6) waits about one round trip for a whole batch where one
command at a time waits one round trip per command. That is what `Faults.delay` (the server
thinking before each reply, one command after the other) cannot show.

`with_latency(factory, faults)` wraps a listener's protocol factory: a connection accepted while a
latency is set gets a `LatencyProtocol` around the server's own protocol, which sees a
`DelayedTransport` in place of the socket's; others are left as they are. On a delayed connection
the value is read for every chunk, so a new one (0 included) applies from the next octet on, and
never lets a chunk overtake one sent before it. STARTTLS and STLS swap the protocol above the
delayed transport (`set_protocol`), so TLS runs over the delay line; on the implicit-TLS listeners
the line sits above TLS (the handshake itself is not delayed)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from mailmagic.lab.faults import Faults

Factory = Callable[[], asyncio.BaseProtocol]
_EOF = object()  # the peer's end of input, passed along the line after the data before it
_CLOSE = object()  # the server closing, after the data it wrote before


class DelayLine:
    """Chunks handed to ``deliver`` ``delay()`` seconds after ``put``, in order, many in flight."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        delay: Callable[[], float],
        deliver: Callable[[Any], None],
    ) -> None:
        self._loop, self._delay, self._deliver = loop, delay, deliver
        self._queue: deque[tuple[float, Any]] = deque()
        self._last_due = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def in_flight(self) -> int:
        """Chunks put and not yet delivered."""
        return len(self._queue)

    def put(self, item: Any) -> None:
        """Deliver ``item`` after the delay now in force, never before an earlier item."""
        now = self._loop.time()
        due = max(now + self._delay(), self._last_due)
        self._last_due = due
        if not self._queue and due <= now:
            self._deliver(item)
            return
        self._queue.append((due, item))
        if self._timer is None:
            self._timer = self._loop.call_at(due, self._flush)

    def cancel(self) -> None:
        """Forget whatever is in flight (the connection is gone)."""
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _flush(self) -> None:
        self._timer = None
        now = self._loop.time()
        while self._queue and self._queue[0][0] <= now:
            self._deliver(self._queue.popleft()[1])
        if self._queue and self._timer is None:
            self._timer = self._loop.call_at(self._queue[0][0], self._flush)


def feed(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    """Hand ``data`` to a protocol, whether it reads with ``data_received`` or, as asyncio's
    SSLProtocol does, into buffers of its own (``get_buffer``/``buffer_updated``)."""
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = memoryview(data)
        while view:
            buffer = memoryview(protocol.get_buffer(len(view)))
            size = min(len(buffer), len(view))
            buffer[:size] = view[:size]
            protocol.buffer_updated(size)
            view = view[size:]
    elif isinstance(protocol, asyncio.Protocol):
        protocol.data_received(data)


class DelayedTransport(asyncio.Transport):
    """The transport the server's protocol writes to: each write (and the close after them)
    reaches the socket one half round trip later. The rest is the socket's transport."""

    _start_tls_compatible = True  # loop.start_tls (POP3 STLS) may layer TLS on it

    def __init__(self, real: asyncio.Transport, wire: LatencyProtocol) -> None:
        super().__init__()
        self._real, self._wire = real, wire
        self._closing = False
        self._out = DelayLine(asyncio.get_running_loop(), wire.half_rtt, self._arrive)

    def _arrive(self, item: Any) -> None:
        if item is _CLOSE:
            self._real.close()
        elif not self._real.is_closing():
            self._real.write(item)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if data and not self._closing:
            self._out.put(bytes(data))

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._out.put(_CLOSE)

    def abort(self) -> None:
        self._closing = True
        self._out.cancel()
        self._real.abort()

    def _force_close(self, exc: BaseException | None) -> None:  # what SSLProtocol calls on errors
        self.abort()

    def is_closing(self) -> bool:
        return self._closing or self._real.is_closing()

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self._real.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._real.set_write_buffer_limits(high, low)

    def pause_reading(self) -> None:
        self._real.pause_reading()

    def resume_reading(self) -> None:
        self._real.resume_reading()

    def is_reading(self) -> bool:
        return self._real.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._real.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._wire.inner = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._wire.inner


class LatencyProtocol(asyncio.Protocol):
    """Sits between the socket and the server's protocol (``inner``); see the module docstring."""

    def __init__(self, inner: asyncio.BaseProtocol, faults: Faults) -> None:
        self.inner, self._faults = inner, faults
        self._in: DelayLine | None = None
        self._transport: DelayedTransport | None = None

    def half_rtt(self) -> float:
        """Seconds one way: half the round trip in force now."""
        return self._faults.latency_ms / 2000

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._in = DelayLine(asyncio.get_running_loop(), self.half_rtt, self._arrive)
        self._transport = DelayedTransport(transport, self)
        self.inner.connection_made(self._transport)

    def _arrive(self, item: Any) -> None:
        if item is _EOF:
            readers = (asyncio.Protocol, asyncio.BufferedProtocol)
            if isinstance(self.inner, readers) and not self.inner.eof_received():
                self._close_now()
        elif isinstance(item, bytes):
            feed(self.inner, item)
        else:  # the connection was lost: (exception or None,)
            self.inner.connection_lost(item[0])

    def _close_now(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        assert self._in is not None
        self._in.put(data)

    def eof_received(self) -> bool:
        assert self._in is not None
        self._in.put(_EOF)
        # Keep the connection half open: the protocol above decides once the EOF reaches it. Above
        # TLS (implicit-TLS listeners) that is not ours to ask: TLS closes it, and warns on True.
        return self._transport is None or self._transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._transport._out.cancel()  # the socket is gone: nothing more can reach it
        if self._in is not None:
            self._in.put((exc,))

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def with_latency(factory: Factory, faults: Faults) -> Factory:
    """``factory``, with a `LatencyProtocol` around what it makes while a latency is set."""

    def make() -> asyncio.BaseProtocol:
        protocol = factory()
        return LatencyProtocol(protocol, faults) if faults.latency_ms > 0 else protocol

    return make
