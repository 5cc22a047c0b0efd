"""Fixtures for the card tests: a run-time TEST PKI and card files.

The fast tier runs in-process. The `pcsc` tier uses the `pcscd` fixture of
tests/conftest.py: a private pcscd of its own (tests/pcsc_stack.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from card_helpers import PIN, PUK, load_vectors

from cardreader.emulator import cardfile
from cardreader.emulator.cardfile import CardFile
from cardreader.emulator.pki import Pki
from cardreader.identity import ProfessionalIdentity
from cardreader.profile import CardKind


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.init(tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture(scope="session")
def vector_identities() -> dict[str, Any]:
    return load_vectors("card_exchanges.json")["identity"]


@pytest.fixture
def make_card(pki: Pki, vector_identities: dict[str, Any]) -> Callable[..., CardFile]:
    def make(kind: str = "patient", **overrides: Any) -> CardFile:
        raw = dict(vector_identities[kind]) | overrides
        identity = cardfile.identity_from_json(CardKind(kind), raw)
        professional = isinstance(identity, ProfessionalIdentity)
        return pki.issue_card(
            identity, pin=PIN if professional else None, puk=PUK if professional else None
        )

    return make


@pytest.fixture
def card_path(tmp_path: Path, make_card: Callable[..., CardFile]) -> Callable[[str], Path]:
    def write(kind: str) -> Path:
        path = tmp_path / f"{kind}.json"
        cardfile.save(make_card(kind), path)
        return path

    return write
