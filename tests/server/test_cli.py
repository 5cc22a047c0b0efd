"""The `dmp` commands other issues and checks rely on: db upgrade, seed-demo, purge, audit."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select

from cardreader.emulator import demo as demo_cards
from dmp.cli import main
from server.app import create_app
from server.crypto import KeyMaterialError
from server.db import make_engine
from server.models import (
    AuditEntry,
    Document,
    DocumentContent,
    Dossier,
    MasterKeyCheck,
    Patient,
)
from tests.server.conftest import World


def dmp(settings: dict[str, Any], *args: str) -> Any:
    env = {
        "DMP_MASTER_KEY": settings["MASTER_KEY"],
        "DMP_RECEIPT_SIGNER_KEY_FILE": settings["RECEIPT_SIGNER_KEY_FILE"],
        "DMP_RECEIPT_SIGNER_CHAIN_FILE": settings["RECEIPT_SIGNER_CHAIN_FILE"],
    }
    return CliRunner().invoke(main, list(args), env=env)


def test_seed_demo_loads_activity_whose_traces_verify(app: Any, settings: dict[str, Any]) -> None:
    url = settings["DATABASE_URL"]
    assert dmp(settings, "db", "upgrade", "--db", url).exit_code == 0
    seeded = dmp(settings, "db", "seed-demo", "--db", url)
    assert seeded.exit_code == 0, seeded.output
    with app.extensions["dmp"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(Patient)) == len(demo_cards.PATIENTS)
        outcomes = set(s.scalars(select(AuditEntry.outcome)))
        assert outcomes == {"allowed", "denied"}  # the story includes refusals
    again = dmp(settings, "db", "seed-demo", "--if-empty", "--db", url)
    assert "already present" in again.output
    verified = dmp(settings, "audit", "verify", "--db", url)
    assert verified.exit_code == 0
    assert "all intact" in verified.output


def test_demo_session_prints_a_working_token(app: Any, settings: dict[str, Any]) -> None:
    url = settings["DATABASE_URL"]
    dmp(settings, "db", "seed-demo", "--db", url)
    out = dmp(settings, "db", "demo-session", "--db", url, "810002813839")
    token = out.output.strip()
    r = app.test_client().get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
    assert r.get_json()["profession"] == "medecin_generaliste"
    unknown = dmp(settings, "db", "demo-session", "--db", url, "nobody")
    assert unknown.exit_code != 0


def test_purge_destroys_the_key_and_contents_but_keeps_the_trace(
    world: World, marie_dossier: int, settings: dict[str, Any]
) -> None:
    d = world.deposit("gp", marie_dossier)
    world.call(
        "POST", "marie", f"/dossiers/{marie_dossier}/close", {"confirm": True, "delete": True}
    )
    trace_before = len(world.trace("marie"))
    out = dmp(settings, "db", "purge", "--db", settings["DATABASE_URL"])
    assert out.output.strip() == "1 dossier(s) purged"
    with world.rt.sessions() as s:
        row = s.get(Dossier, marie_dossier)
        assert row is not None
        assert (row.status, row.wrapped_key) == ("purged", None)
        assert s.scalar(select(func.count()).select_from(DocumentContent)) == 0
    entries = world.trace("marie")
    assert len(entries) == trace_before + 1
    assert entries[-1].action == "dossier:purge"
    with world.rt.sessions() as s:  # metadata gone too
        assert s.scalar(select(func.count()).select_from(Document)) == 0
    r = world.call("GET", "marie", f"/dossiers/{marie_dossier}/documents/{d['logical_id']}/content")
    assert (r.status_code, r.get_json()["reason"]) == (403, "dossier_purged")
    # To anyone but its patient a purged dossier is no dossier at all (issue 10).
    r = world.call("GET", "gp", f"/dossiers/{marie_dossier}")
    assert (r.status_code, r.get_json()["reason"]) == (403, "no_authorisation")
    # A purged dossier does not stop the patient from starting afresh.
    assert world.create("admissions", "marie") == marie_dossier
    assert world.titles("marie", marie_dossier, "?all=true") == []


def test_purge_keeps_dossiers_still_within_retention(
    world: World, marie_dossier: int, settings: dict[str, Any]
) -> None:
    world.call("POST", "marie", f"/dossiers/{marie_dossier}/close", {"confirm": True})
    assert (
        dmp(settings, "db", "purge", "--db", settings["DATABASE_URL"]).output.strip()
        == "0 dossier(s) purged"
    )


def test_a_server_refuses_to_start_with_a_key_that_does_not_open_its_database(
    app: Any, settings: dict[str, Any], tmp_path: Path
) -> None:
    # `dmp db seed-demo` from one directory, `dmp server` from another: each makes its
    # own var/master.key.
    url = settings["DATABASE_URL"]
    assert dmp(settings, "db", "seed-demo", "--db", url).exit_code == 0
    other = tmp_path / "elsewhere" / "master.key"
    env = {"DMP_MASTER_KEY_FILE": str(other), "DMP_MASTER_KEY": ""}
    started = CliRunner().invoke(main, ["server", "--db", url, "--port", "0"], env=env)
    assert started.exit_code == 1
    assert f"key file {other}" in started.output
    assert "DMP_MASTER_KEY_FILE" in started.output
    with pytest.raises(KeyMaterialError, match="MASTER_KEY setting"):
        create_app({**settings, "MASTER_KEY": base64.b64encode(bytes(32)).decode()})
    create_app(settings).extensions["dmp"].engine.dispose()  # the right key starts


def test_an_empty_database_is_bound_to_the_key_of_its_first_start(
    app: Any, settings: dict[str, Any], database_url: str
) -> None:
    # No dossier yet: the first start (the `app` fixture) recorded its key, and a
    # server with another key is refused before it seals anything with it.
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert (
            conn.scalar(
                select(func.count()).select_from(MasterKeyCheck).where(MasterKeyCheck.id == 1)
            )
            == 1
        )
        assert conn.scalar(select(func.count()).select_from(Dossier)) == 0
    engine.dispose()
    other = {**settings, "MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    with pytest.raises(KeyMaterialError, match="first opened with"):
        create_app(other)
    create_app(settings).extensions["dmp"].engine.dispose()  # the same key starts again


def test_a_database_filled_before_the_check_record_is_bound_to_its_dossiers_key(
    marie_dossier: int, settings: dict[str, Any], database_url: str
) -> None:
    # A database filled before migration 0007: dossiers, no check record. A wrong key
    # is refused and binds nothing; the right key then writes the record.
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(delete(MasterKeyCheck).where(MasterKeyCheck.id == 1))
    other = {**settings, "MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    with pytest.raises(KeyMaterialError):
        create_app(other)
    with engine.connect() as conn:
        assert (
            conn.scalar(
                select(func.count()).select_from(MasterKeyCheck).where(MasterKeyCheck.id == 1)
            )
            == 0
        )
    create_app(settings).extensions["dmp"].engine.dispose()
    with engine.connect() as conn:
        assert (
            conn.scalar(
                select(func.count()).select_from(MasterKeyCheck).where(MasterKeyCheck.id == 1)
            )
            == 1
        )
    engine.dispose()
