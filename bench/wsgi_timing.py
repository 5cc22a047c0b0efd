"""One request through a WSGI application, timed as a server times it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def timed_call(app: Callable[..., Any], environ: dict[str, Any]) -> tuple[float, int, bytes]:
    """Seconds the application spends on one request, from the WSGI call to the last
    byte of the answer (what gunicorn would time), with the status and body. The environ
    is built beforehand: building a request is client work."""
    status: list[str] = []

    def start_response(line: str, _headers: Any, _exc: Any = None) -> None:
        status.append(line)

    start = time.perf_counter()
    answer = app(environ, start_response)
    try:
        body = b"".join(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
    return time.perf_counter() - start, int(status[0].split()[0]), body
