"""The embedded demo's mailbox: the outbox worker delivers here instead of SMTP or SMS.

Only the demo uses it (a real deployment has real senders, server/delivery.py); it sits
behind the same `Sender` interface. Messages stay in memory and are shown in the demo
panel, so the visitor can read the one-time code the "SMS" carried.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class DemoMessage:
    recipient: str
    subject: str
    body: str


class DemoInbox:
    def __init__(self, keep: int = 5) -> None:
        self._messages: deque[DemoMessage] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)
        self._count = 0

    def send(self, recipient: str, subject: str, body: str) -> None:
        with self._lock:
            self._messages.appendleft(DemoMessage(recipient, subject, body))
            self._count += 1
            self.arrived.notify_all()

    def sent(self) -> int:
        """How many messages arrived so far (for `wait_after`)."""
        with self._lock:
            return self._count

    def wait_after(self, count: int, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until a message arrives after the `count`th, so
        that the page shown next lists it: the outbox worker delivers in the background."""
        with self._lock:
            self.arrived.wait_for(lambda: self._count > count, timeout)

    def latest(self) -> list[DemoMessage]:
        with self._lock:
            return list(self._messages)
