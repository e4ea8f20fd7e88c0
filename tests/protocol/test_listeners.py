# What this module does: tests of mailmagic/protocol/listeners.py: subscribers are called in order
# while they hold their subscription, and never again once they close it or drop it.
from __future__ import annotations

import gc

from mailmagic.protocol.listeners import Listeners


def test_listeners_are_held_weakly_and_end_when_closed() -> None:
    listeners, heard = Listeners[[str]](), list[tuple[str, str]]()
    kept = listeners.subscribe(lambda text: heard.append(("kept", text)))
    for _ in range(50):  # subscribers that went away without unsubscribing
        listeners.subscribe(lambda text: heard.append(("dropped", text)))
    gc.collect()
    assert len(listeners) == 1
    listeners.notify("one")
    assert heard == [("kept", "one")]
    kept.close()
    kept.close()  # closing twice does nothing
    listeners.notify("two")
    assert heard == [("kept", "one")] and len(listeners) == 0 and not listeners


def test_subscribers_are_called_in_the_order_they_subscribed() -> None:
    listeners, heard = Listeners[[]](), list[int]()
    subscriptions = [listeners.subscribe(lambda n=n: heard.append(n)) for n in range(5)]
    listeners.notify()
    assert heard == [0, 1, 2, 3, 4] and len(subscriptions) == 5


def test_a_subscriber_may_close_itself_while_being_called() -> None:
    listeners, heard = Listeners[[]](), list[str]()

    def once() -> None:
        heard.append("once")
        subscription.close()

    subscription = listeners.subscribe(once)
    other = listeners.subscribe(lambda: heard.append("other"))
    listeners.notify()
    listeners.notify()
    assert heard == ["once", "other", "other"] and other.callback is not None
