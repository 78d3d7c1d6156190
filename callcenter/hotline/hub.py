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
