"""Shared fixtures: the database under test (SQLite or PostgreSQL), the app, a clock,
and the private pcscd of the real-reader tests."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cardreader.emulator.pki import IssuedDevice, Pki
from server.db import make_engine
from server.migrate import upgrade
from server.models import Base
from tests import pcsc_stack

BACKEND = os.environ.get("DMP_TEST_DB", "sqlite")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of PostgreSQL itself run in the PostgreSQL pass only, reported as deselected
    (like the real-reader tests in that pass), never as skipped."""
    if BACKEND == "postgresql":
        return
    chosen, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("postgresql") else chosen).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = chosen


def pytest_report_header() -> str:
    return f"dmp database backend: {BACKEND}"


class Clock:
    """An injected clock the tests move by hand (time is never read from a global)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if BACKEND == "postgresql":
        url = os.environ.get("DMP_TEST_PG_URL")
        if not url:
            pytest.fail("DMP_TEST_DB=postgresql needs DMP_TEST_PG_URL (scripts/test sets it)")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    elif BACKEND == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'dmp.sqlite'}"
    else:
        pytest.fail(f"unknown DMP_TEST_DB={BACKEND!r} (sqlite or postgresql)")
    upgrade(url)
    return url


def wipe(url: str) -> None:
    engine = make_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - names from our metadata
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))


# Before the tests' clock (2026-06-15) and valid a year: the receipt signer's certificate
# holds at the fixed clock, and at the real time of the tests that run real servers.
RECEIPT_CERT_TIME = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def receipt_signer(tmp_path_factory: pytest.TempPathFactory) -> IssuedDevice:
    """The records server's receipt signer, from a TEST PKI of its own made at run time
    (a few EC keys: cheap, unlike the card PKI of the sign-in tests)."""
    pki = Pki.init(tmp_path_factory.mktemp("receipts") / "pki", now=RECEIPT_CERT_TIME)
    return pki.issue_receipt_signer("receipts-test", now=RECEIPT_CERT_TIME)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, receipt_signer: IssuedDevice) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url,
        "MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "MASTER_KEY_FILE": str(tmp_path / "unused.key"),
        "RECEIPT_SIGNER_KEY_FILE": str(receipt_signer.key_path),
        "RECEIPT_SIGNER_CHAIN_FILE": str(receipt_signer.chain_path),
    }


@pytest.fixture
def app(settings: dict[str, Any], clock: Clock, database_url: str) -> Iterator[Any]:
    from server.app import create_app

    wipe(database_url)
    application = create_app(settings, clock=clock)
    yield application
    application.extensions["dmp"].engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


# ---- the real PC/SC stack (the `pcsc` tests) ------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def pcsc_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Points every PC/SC client of this run (this process and its children) at the
    private pcscd's socket, never at the machine's. Set before any test runs because
    libpcsclite reads PCSCLITE_CSOCK_NAME once per process, at its first call."""
    directory = tmp_path_factory.mktemp("pcscd")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(pcsc_stack.SOCKET_VARIABLE, str(pcsc_stack.socket_path(directory)))
        yield directory


@pytest.fixture(scope="session")
def pcscd(pcsc_directory: Path) -> Iterator[pcsc_stack.Pcscd]:
    """Our own pcscd with the vpcd reader, started and ended here; a pcscd that serves
    the machine's real readers keeps running untouched beside it."""
    missing = pcsc_stack.missing_tools()
    if missing:
        pytest.fail(
            "the pcsc tier needs " + ", ".join(missing) + ": scripts/test installs them "
            "(apt-get install pcscd vsmartcard-vpcd swig libpcsclite-dev opensc)",
            pytrace=False,
        )
    daemon = pcsc_stack.Pcscd(pcsc_directory)
    daemon.start()
    try:
        if not pcsc_stack.wait_for(_vpcd_readers_listed, timeout=20):
            pytest.fail(
                f"this process does not see the private pcscd's readers: was a PC/SC "
                f"client used before {pcsc_stack.SOCKET_VARIABLE} was set? (see {daemon.log})",
                pytrace=False,
            )
        yield daemon
    finally:
        daemon.stop()


def _vpcd_readers_listed() -> bool:
    from cardreader import pcsc
    from cardreader.errors import CardError

    try:
        return pcsc_stack.READERS[0] in pcsc.list_readers()
    except CardError:
        return False
