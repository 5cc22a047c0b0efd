"""The JSON API: one registry shared by the feature modules below."""

from __future__ import annotations

from flask import Blueprint

from server.api.registry import Registry

PREFIX = "/api/v1"
api = Registry(Blueprint("api", __name__, url_prefix=PREFIX))

# Feature modules register their routes on `api` when imported.
from server.api import (  # noqa: E402, F401
    access,
    auth_cards,
    auth_codes,
    auth_terminals,
    copresence,
    directory,
    documents,
    dossiers,
    exports,
    receipts,
    representation,
    reviews,
    search,
    secret,
    session,
    tlog,
)
