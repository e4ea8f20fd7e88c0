"""How views hear of changes (a maildrop learnt something, a transcript grew) without being kept
alive by what they watch: a subscriber holds its `Subscription`, the `Listeners` list only a weak
reference to it, so a subscriber that is closed or garbage-collected is never called again
(DESIGN.md: views never subscribe strongly)."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Subscription(Generic[P]):
    """One subscriber's callback; it is called while the subscriber holds this object."""

    def __init__(self, callback: Callable[P, None], close: Callable[[], None]) -> None:
        self.callback: Callable[P, None] | None = callback
        self._close = close

    def close(self) -> None:
        """Unsubscribe: the callback is never called again (closing twice does nothing)."""
        if self.callback is not None:
            self.callback = None
            self._close()


class Listeners(Generic[P]):
    """Callbacks to notify, each held only as long as its subscriber holds its Subscription."""

    def __init__(self) -> None:
        self._refs: dict[int, weakref.ref[Subscription[P]]] = {}
        self._ids = itertools.count()

    def subscribe(self, callback: Callable[P, None]) -> Subscription[P]:
        """Call ``callback`` on every notify until the returned Subscription is closed or
        dropped. Keep the Subscription for as long as the subscriber wants to hear."""
        key = next(self._ids)
        subscription = Subscription(callback, lambda: self._forget(key))
        self._refs[key] = weakref.ref(subscription, lambda _: self._forget(key))
        return subscription

    def _forget(self, key: int) -> None:
        self._refs.pop(key, None)

    def notify(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every live subscriber, in the order they subscribed."""
        for ref in list(self._refs.values()):
            subscription = ref()
            callback = subscription.callback if subscription is not None else None
            if callback is not None:
                callback(*args, **kwargs)

    def __len__(self) -> int:
        return len(self._refs)

    def __bool__(self) -> bool:
        return bool(self._refs)
