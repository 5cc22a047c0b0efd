"""Rate limits on the routes that anyone may call before signing in.

A refused sign-in must cost the server little: without a limit, every unauthenticated
attempt wrote a durable trace entry and an unknown INS cost an argon2 hash (a fuzzer wrote
2,247 entries in 270 s). Each caller key (the client address, the kiosk it claims to be)
has a token bucket; past it, the request is answered 429 before any database work.

The first refusal of an episode is traced on the system chain, with the number refused
since the previous one: the trace says that someone was held back, without one line per
attempt. The buckets live in the server process (each process limits on its own: with N
processes a caller gets at most N times the rate, still bounded), so a restart forgets
them, which only ever lets a caller start again at the burst.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from threading import Lock

_MAX_KEYS = 100_000  # beyond this the least recently seen keys are forgotten


@dataclass
class _Bucket:
    tokens: float
    at: datetime
    refused: int = 0  # refused since the last traced refusal
    limited: bool = False  # inside an episode of refusals (already traced)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    trace: bool = False  # the first refusal of an episode: trace it
    refused_before: int = 0  # refusals not traced since the previous traced one
    retry_after: int = 0  # seconds until one more request is allowed


class RateLimiter:
    def __init__(self, per_minute: float, burst: int) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = Lock()

    def check(self, key: str, now: datetime) -> Verdict:
        with self._lock:
            bucket = self._buckets.pop(key, None)
            if bucket is None:
                bucket = _Bucket(self._burst, now)
            elapsed = max((now - bucket.at).total_seconds(), 0.0)
            bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
            bucket.at = now
            self._buckets[key] = bucket
            if len(self._buckets) > _MAX_KEYS:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                bucket.limited = False
                return Verdict(True)
            wait = math.ceil((1.0 - bucket.tokens) / self._rate) if self._rate > 0 else 60
            if bucket.limited:
                bucket.refused += 1
                return Verdict(False, retry_after=wait)
            bucket.limited = True
            before, bucket.refused = bucket.refused, 0
            return Verdict(False, trace=True, refused_before=before, retry_after=wait)
