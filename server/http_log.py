"""Request lines logged without their query string, for werkzeug's built-in servers.

A query string can carry health content: the words of a document search
(`/dossiers/1/search?q=...`, the kiosk's own search page, FHIR `_content`). werkzeug's
default handler logs the whole request line; this one logs the path only, as the
gunicorn configuration does (`%(U)s`, config/gunicorn.conf.py). The kiosk, the online
space, `dmp server` and `dmp demo` all serve through it (werkzeug only: the kiosk may
import it, tests/kiosk/test_imports.py).
"""

from __future__ import annotations

from typing import Any

from werkzeug.serving import WSGIRequestHandler


def without_query(text: str) -> str:
    """Everything from the first `?` on dropped: `/path?q=words` -> `/path`."""
    return text.split("?", 1)[0]


class PathOnlyRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # werkzeug words the line from `path` (or `requestline` when the line was bad);
        # the response is already under way, so the request no longer needs either.
        if hasattr(self, "path"):
            self.path = without_query(self.path)
        self.requestline = without_query(getattr(self, "requestline", ""))
        super().log_request(code, size)

    def log_error(self, format: str, *args: Any) -> None:
        # http.server's errors quote the raw request line ("Bad request syntax (...)").
        cut = tuple(without_query(a) if isinstance(a, str) else a for a in args)
        super().log_error(format, *cut)
