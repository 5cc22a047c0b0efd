"""Fixtures for the card tests: a run-time TEST PKI, card files, and the real PC/SC stack.

The fast tier runs in-process. The `pcsc` tier starts `pcscd --foreground` itself (the
test command installs pcscd and vsmartcard-vpcd); if they are missing, it fails loudly.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from card_helpers import PIN, PUK, Pcscd, load_vectors

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


# ---- the real PC/SC stack -------------------------------------------------------------


def _require_stack() -> None:
    missing = [tool for tool in ("pcscd", "opensc-tool") if shutil.which(tool) is None]
    if not Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists():
        missing.append("vsmartcard-vpcd")
    try:
        import smartcard  # noqa: F401
    except ImportError:
        missing.append("pyscard (pip install -e '.[pcsc]')")
    if missing:
        pytest.fail(
            "the pcsc tier needs " + ", ".join(missing) + ": scripts/test installs them "
            "(apt-get install pcscd vsmartcard-vpcd swig libpcsclite-dev opensc)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    _require_stack()
    daemon = Pcscd(None, tmp_path_factory.mktemp("pcscd") / "pcscd.log")
    daemon.start()
    yield daemon
    daemon.stop()
