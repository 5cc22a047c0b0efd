"""The one definition of a trace entry's link hash, shared by the server and the patient's side.

Each entry's hash is SHA-256 over the previous entry's hash, a newline and a canonical
JSON encoding of the hashed fields (server/services/audit.py appends and verifies
chains with it). It lives here, with no database code, so that the kiosk's "Vérifier mon
historique" recomputes each line's hash from the very fields the history shows it, as
any outside software can (docs/transparency.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

# Every field the hash covers, in a fixed order; adding one means a new version.
HASHED_FIELDS = (
    "chain",
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_profession",
    "actor_structure",
    "action",
    "mode",
    "outcome",
    "reason",
    "target",
    "category",
    "detail",
    "kiosk",
)


def instant(moment: datetime) -> str:
    """A trace time as hashed: UTC, microseconds, a trailing Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hashed_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields as they enter the hash (times as `instant` text): what the
    history gives the patient's side for each line."""
    encoded = {}
    for name in HASHED_FIELDS:
        value = values[name]
        encoded[name] = instant(value) if isinstance(value, datetime) else value
    return encoded


def canonical(values: Mapping[str, Any]) -> bytes:
    return json.dumps(
        hashed_values(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def link_hash(prev_hash: str, values: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(values)).hexdigest()
