"""Helpers shared by the card tests (a plain module: conftest cannot be imported)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.pcsc_stack import READERS, Pcscd, wait_for

VECTORS = Path(__file__).parent / "vectors"
PIN = "1234"
PUK = "12345678"
READER_0, READER_1 = READERS

__all__ = ["PIN", "PUK", "READER_0", "READER_1", "VECTORS", "Pcscd", "load_vectors", "wait_for"]


def load_vectors(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data
