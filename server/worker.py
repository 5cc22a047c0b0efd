"""`dmp worker`: delivers the outbox (e-mail, SMS) until told to stop.

Several workers may run against one database (see server.services.outbox for why each
message is still sent once). SIGTERM or SIGINT ends the loop after the current batch.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from types import FrameType
from typing import TYPE_CHECKING

from server.delivery import Sender
from server.services import outbox

if TYPE_CHECKING:
    from server.api.runtime import Runtime

log = logging.getLogger("dmp.worker")


def run(
    rt: Runtime,
    senders: Mapping[str, Sender],
    stop: threading.Event,
    *,
    poll_seconds: float = 2.0,
    once: bool = False,
) -> int:
    """Delivers due messages until `stop` is set (or, with once, until none is due);
    returns how many were sent."""
    sent = 0
    while not stop.is_set():
        try:
            batch = outbox.run_once(rt, senders)
        except Exception:
            # The database may be away for a moment (restart, failover): wait and retry
            # rather than die, since nothing is lost while the rows stay in the outbox.
            log.exception("outbox pass failed")
            batch = 0
            if once:
                raise
        sent += batch
        if once and batch < outbox.BATCH:
            break
        if batch == 0:
            stop.wait(poll_seconds)  # returns at once when a signal sets stop
    return sent


def serve(rt: Runtime, senders: Mapping[str, Sender], *, poll_seconds: float, once: bool) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return run(rt, senders, stop, poll_seconds=poll_seconds, once=once)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
