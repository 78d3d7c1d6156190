"""Fan-out of live messages to websocket clients: one queue per subscriber, by topic.

Why bounded queues that drop the oldest: a stalled browser tab must never
slow the AMI reader or grow memory; the next full-state message repairs
whatever a slow client missed.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

WALL = "wall"


def agent_topic(username: str) -> str:
    return f"agent:{username}"


class Hub:
    def __init__(self, max_backlog: int = 200) -> None:
        self.max_backlog = max_backlog
        self._subscribers: dict[str, set[asyncio.Queue]] = defaultdict(set)

    def subscribe(self, topic: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(self.max_backlog)
        self._subscribers[topic].add(queue)
        return queue

    def unsubscribe(self, topic: str, queue: asyncio.Queue) -> None:
        self._subscribers[topic].discard(queue)
        if not self._subscribers[topic]:
            del self._subscribers[topic]

    def subscribers(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))

    def publish(self, topic: str, message: dict[str, Any]) -> int:
        """Deliver to every subscriber of ``topic``; returns how many got it."""
        queues = self._subscribers.get(topic, ())
        for queue in queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)
        return len(queues)


#: A web process whose wall just opened asks the process following the PBX to publish the live picture.
WALL_REFRESH = "wall:refresh"


class SharedHub(Hub):
    """A Hub whose messages also reach the subscribers of the service's other processes.

    ``bus`` is a :class:`callcenter.db.live_bus.LiveBus` (anything with
    ``send(topic, message)`` and ``on_message(receiver)``).  Local subscribers
    get a message at once; the others get it through the bus.
    """

    def __init__(self, bus, max_backlog: int = 200) -> None:
        super().__init__(max_backlog)
        self.bus = bus
        self._remote_handlers: dict[str, list] = defaultdict(list)
        bus.on_message(self._received)

    def publish(self, topic: str, message: dict[str, Any]) -> int:
        delivered = super().publish(topic, message)
        self.bus.send(topic, message)
        return delivered

    def subscribers(self, topic: str) -> int:
        """At least one: another process may hold a subscriber this one cannot count."""
        return max(1, super().subscribers(topic))

    def on_remote(self, topic: str, handler) -> None:
        """Call ``handler(message)`` for messages of ``topic`` published by another process."""
        self._remote_handlers[topic].append(handler)

    def _received(self, topic: str, message: dict[str, Any]) -> None:
        for handler in self._remote_handlers.get(topic, ()):
            handler(message)
        Hub.publish(self, topic, message)
