"""`dmp retention run`: crypto-shredding that holds against a backup taken before the
purge, idempotent, resumable after a crash, safe from several hosts; injected clock."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from server.api.runtime import Runtime
from server.app import build_runtime
from server.crypto import Keyring, is_vaulted
from server.db import make_engine
from server.key_vault import KeyDestroyed
from server.models import AuditEntry, Document, DocumentContent, Dossier, SearchPosting
from server.retention import run
from server.search import indexer
from server.search.tokens import for_dossier
from tests.conftest import Clock
from tests.server.conftest import World

SECRET = "Sérologie positive, traitement par ténofovir"


def _purge_entries(world: World, patient: str) -> list[AuditEntry]:
    return [e for e in world.trace(patient) if e.action == "dossier:purge"]


def _close(world: World, dossier: int, *, delete: bool) -> dict[str, Any]:
    r = world.call(
        "POST", "marie", f"/dossiers/{dossier}/close", {"confirm": True, "delete": delete}
    )
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


@contextmanager
def copy_of_database(url: str) -> Iterator[str]:
    """A backup taken now, as an operator would: SQLite's online backup of the file,
    pg_dump restored into a database of our own (created and dropped here)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = Path(str(parsed.database)).with_name(f"backup-{uuid.uuid4().hex}.sqlite")
        src, dst = sqlite3.connect(str(parsed.database)), sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        yield f"sqlite:///{target}"
        target.unlink()
        return
    name = f"{parsed.database}_backup_{uuid.uuid4().hex[:8]}"
    admin = make_engine(str(parsed.set(database="postgres")))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        pg = ["-h", str(parsed.host), "-p", str(parsed.port or 5432), "-U", str(parsed.username)]
        dump = subprocess.run(
            ["pg_dump", *pg, "--no-owner", str(parsed.database)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["psql", *pg, "-q", "-v", "ON_ERROR_STOP=1", "-d", name],
            input=dump.stdout,
            check=True,
            capture_output=True,
        )
        yield str(parsed.set(database=name))
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _read_copy(url: str, dossier_id: int) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            wrapped = conn.scalar(select(Dossier.wrapped_key).where(Dossier.id == dossier_id))
            doc = conn.execute(
                select(Document.logical_id, Document.title, DocumentContent.nonce)
                .add_columns(DocumentContent.ciphertext)
                .join(DocumentContent, DocumentContent.document_id == Document.id)
                .where(Document.dossier_id == dossier_id)
            ).one()
            postings = set(
                conn.scalars(
                    select(SearchPosting.token).where(SearchPosting.dossier_id == dossier_id)
                )
            )
    finally:
        engine.dispose()
    return {"wrapped": wrapped, "doc": doc, "postings": postings}


def test_a_backup_taken_before_the_purge_reveals_no_content_afterwards(
    world: World, marie_dossier: int, settings: dict[str, Any]
) -> None:
    world.deposit("gp", marie_dossier, content=SECRET.encode(), title="Bilan")
    indexer.run(world.rt, threading.Event(), once=True)
    keyring = world.rt.keyring
    with copy_of_database(settings["DATABASE_URL"]) as backup:
        before = _read_copy(backup, marie_dossier)
        wrapped, doc = before["wrapped"], before["doc"]
        assert is_vaulted(wrapped)
        # The copy holds everything, and it opens while the dossier lives: the test can fail.
        opened = keyring.decrypt(wrapped, doc.nonce, doc.ciphertext, doc.logical_id)
        assert opened == SECRET.encode()
        term = for_dossier(keyring, wrapped).for_term("serologie", exact=True)
        assert term & before["postings"]

        _close(world, marie_dossier, delete=True)
        summary = run(world.rt)
        assert (summary.total, summary.keys_destroyed) == (1, 1)

        # The same copy, after the purge, the master key still at hand: nothing opens.
        after = _read_copy(backup, marie_dossier)
        assert after["wrapped"] == wrapped  # the backup did not change...
        with pytest.raises(KeyDestroyed):
            keyring.decrypt(wrapped, doc.nonce, doc.ciphertext, doc.logical_id)
        with pytest.raises(KeyDestroyed):  # ...but no search token can be computed again
            for_dossier(keyring, wrapped)
        with pytest.raises(KeyDestroyed):  # nor any other key derived from the dossier's
            keyring.dossier_key(wrapped, "export")
        assert not keyring.opens(wrapped)
        # Even a keyring built afresh from the master key and the vault directory.
        fresh = build_runtime(world.rt.settings)
        try:
            with pytest.raises(KeyDestroyed):
                fresh.keyring.decrypt(wrapped, doc.nonce, doc.ciphertext, doc.logical_id)
        finally:
            fresh.engine.dispose()
        # What the copy still shows, as docs/retention.md says: metadata in clear.
        assert after["doc"].title == "Bilan"


def test_a_legacy_key_is_moved_into_the_vault_and_then_shredded(
    world: World, marie_dossier: int, settings: dict[str, Any]
) -> None:
    """A dossier from before the vault: the master key alone opened its key. The run
    re-wraps it (same data key, documents still open), so the purge can destroy it."""
    master_only = Keyring(world.rt.keyring._master)
    with world.rt.sessions() as s:
        row = s.get(Dossier, marie_dossier)
        assert row is not None
        row.wrapped_key = master_only.new_wrapped_key()
        s.commit()
    d = world.deposit("gp", marie_dossier, content=b"ancien")
    assert run(world.rt).keys_moved == 1
    with world.rt.sessions() as s:
        row = s.get(Dossier, marie_dossier)
        assert row is not None
        assert row.wrapped_key is not None
        assert is_vaulted(row.wrapped_key)
    content = world.call(
        "GET", "marie", f"/dossiers/{marie_dossier}/documents/{d['logical_id']}/content"
    )
    assert (content.status_code, content.data) == (200, b"ancien")
    assert run(world.rt).keys_moved == 0  # idempotent


def test_retention_follows_the_injected_clock(
    world: World, marie_dossier: int, clock: Clock
) -> None:
    closed = _close(world, marie_dossier, delete=False)
    assert run(world.rt).total == 0
    clock.advance(days=3651)  # ten years (3652 days), less a day
    assert run(world.rt).total == 0
    until = closed["retention_until"]
    assert until.startswith("2036-06-14")
    clock.advance(days=1, seconds=1)
    summary = run(world.rt)
    assert summary.purged == {"deletion_requested": 0, "retention_expired": 1}
    assert [e.reason for e in _purge_entries(world, "marie")] == ["retention_expired"]


def test_a_run_is_idempotent_and_a_reopened_dossier_is_not_purged(
    world: World, marie_dossier: int
) -> None:
    lucia = world.create("admissions", "lucia")
    _close(world, marie_dossier, delete=True)
    r = world.call("POST", "lucia", f"/dossiers/{lucia}/close", {"confirm": True, "delete": True})
    assert r.status_code == 200
    # Lucia changes her mind before the run: her deletion request is withdrawn.
    assert world.call("POST", "lucia", f"/dossiers/{lucia}/reopen").status_code == 200
    assert run(world.rt).total == 1
    assert run(world.rt).total == 0
    assert len(_purge_entries(world, "marie")) == 1
    assert _purge_entries(world, "lucia") == []
    with world.rt.sessions() as s:
        assert s.get(Dossier, lucia).status == "active"  # type: ignore[union-attr]
    # A purged dossier cannot be reopened: there is nothing left to restore.
    r = world.call("POST", "marie", f"/dossiers/{marie_dossier}/reopen")
    assert (r.status_code, r.get_json()["reason"]) == (403, "dossier_purged")


def test_a_crash_after_the_key_went_is_finished_by_the_next_run(
    world: World, marie_dossier: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = world.deposit("gp", marie_dossier)
    _close(world, marie_dossier, delete=True)
    with world.rt.sessions() as s:
        wrapped = s.get(Dossier, marie_dossier).wrapped_key  # type: ignore[union-attr]
    assert wrapped is not None

    def crash(*_args: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr("server.retention.erase", crash)
    with pytest.raises(RuntimeError):
        run(world.rt)
    # In between: still closed and due, its rows there, its key gone for good.
    with world.rt.sessions() as s:
        row = s.get(Dossier, marie_dossier)
        assert row is not None
        assert row.status == "closed"
        assert s.scalar(select(func.count()).select_from(Document)) == 1
    assert not world.rt.keyring.opens(wrapped)
    r = world.call("GET", "marie", f"/dossiers/{marie_dossier}/documents/{d['logical_id']}/content")
    assert (r.status_code, r.get_json()["reason"]) == (410, "dossier_purged")
    assert _purge_entries(world, "marie") == []

    monkeypatch.undo()
    summary = run(world.rt)
    assert (summary.total, summary.keys_destroyed) == (1, 0)  # the key was gone already
    with world.rt.sessions() as s:
        assert s.get(Dossier, marie_dossier).status == "purged"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(Document)) == 0
    assert len(_purge_entries(world, "marie")) == 1


def _many_closed(world: World) -> list[int]:
    ids = [world.create("admissions", name) for name in ("marie", "lucia", "jean")]
    for patient, dossier in zip(("marie", "lucia", "jean"), ids, strict=True):
        world.deposit(patient, dossier, category="depose_patient")
        r = world.call(
            "POST", patient, f"/dossiers/{dossier}/close", {"confirm": True, "delete": True}
        )
        assert r.status_code == 200, r.get_json()
    return ids


def test_two_hosts_at_once_purge_each_dossier_exactly_once(
    world: World, settings: dict[str, Any], tmp_path: Path
) -> None:
    """Two `dmp retention run` processes started together, as two hosts' timers would."""
    ids = _many_closed(world)
    env = {
        **os.environ,
        "DMP_DATABASE_URL": settings["DATABASE_URL"],
        "DMP_MASTER_KEY": settings["MASTER_KEY"],
        "DMP_MASTER_KEY_FILE": settings["MASTER_KEY_FILE"],
        "DMP_RECEIPT_SIGNER_KEY_FILE": settings["RECEIPT_SIGNER_KEY_FILE"],
        "DMP_RECEIPT_SIGNER_CHAIN_FILE": settings["RECEIPT_SIGNER_CHAIN_FILE"],
    }
    command = [str(Path(sys.executable).parent / "dmp"), "retention", "run"]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    summaries = [out.decode().strip().splitlines()[-1] for out, _err in outputs]
    purged = sum(int(line.split()[0]) for line in summaries)
    assert purged == len(ids), summaries
    for patient in ("marie", "lucia", "jean"):
        assert len(_purge_entries(world, patient)) == 1
    with world.rt.sessions() as s:
        statuses = s.scalars(select(Dossier.status).where(Dossier.id.in_(ids)))
        assert set(statuses) == {"purged"}
        assert s.scalar(select(func.count()).select_from(Document)) == 0


def test_a_dossier_claimed_by_another_host_is_skipped_not_waited_for(
    world: World, settings: dict[str, Any]
) -> None:
    """PostgreSQL: a row another host holds is passed over (SKIP LOCKED) and purged by a
    later run. SQLite has one writer at a time: the second run simply waits its turn."""
    ids = _many_closed(world)
    if make_url(settings["DATABASE_URL"]).get_backend_name() == "sqlite":
        assert run(world.rt).total == len(ids)
        return
    other_host = make_engine(settings["DATABASE_URL"])
    try:
        with other_host.connect() as conn:
            conn.execute(select(Dossier.id).where(Dossier.id == ids[0]).with_for_update())
            summary = run(world.rt)
            assert (summary.total, summary.skipped) == (len(ids) - 1, 1)
            conn.rollback()
    finally:
        other_host.dispose()
    summary = run(world.rt)
    assert (summary.total, summary.skipped) == (1, 0)


def test_the_command_prints_progress_and_a_summary(
    world: World, marie_dossier: int, settings: dict[str, Any]
) -> None:
    from click.testing import CliRunner

    from dmp.cli import main

    _close(world, marie_dossier, delete=True)
    env = {
        "DMP_MASTER_KEY": settings["MASTER_KEY"],
        "DMP_MASTER_KEY_FILE": settings["MASTER_KEY_FILE"],
        "DMP_RECEIPT_SIGNER_KEY_FILE": settings["RECEIPT_SIGNER_KEY_FILE"],
        "DMP_RECEIPT_SIGNER_CHAIN_FILE": settings["RECEIPT_SIGNER_CHAIN_FILE"],
    }
    url = settings["DATABASE_URL"]
    out = CliRunner().invoke(main, ["retention", "run", "--db", url], env=env)
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert lines[0].startswith("1 dossier(s) due at ")
    assert lines[1] == f"[1/1] dossier {marie_dossier}: purged (deletion_requested)"
    assert lines[-1].startswith("1 dossier(s) purged (1 on request, 0 past retention), 1 key(s)")
    again = CliRunner().invoke(main, ["retention", "run", "--db", url, "--quiet"], env=env)
    assert again.output.strip().startswith("0 dossier(s) purged")
    # No identity and no content in what the command prints (it goes to cron mail).
    assert "DUPONT" not in out.output
    assert "279035121518989" not in out.output


def _runtime_at(settings: dict[str, Any], clock: Clock) -> Runtime:
    return build_runtime(settings, clock)


def test_deletion_asked_is_carried_out_within_three_months(
    world: World, marie_dossier: int, clock: Clock, settings: dict[str, Any]
) -> None:
    """A daily run carries out a request at the latest a day after it: far within the
    three months the law allows, whatever the clock says."""
    _close(world, marie_dossier, delete=True)
    clock.advance(days=1)
    later = _runtime_at(world.rt.settings, clock)
    try:
        assert run(later).purged["deletion_requested"] == 1
    finally:
        later.engine.dispose()
    assert _purge_entries(world, "marie")[0].at == clock.now


def test_a_process_pointed_at_another_vault_refuses_to_start(
    world: World, marie_dossier: int, settings: dict[str, Any], tmp_path: Path
) -> None:
    """Another vault would answer "dossier supprimé" for every dossier and purge nothing
    for real: refused at start, naming the setting."""
    from server.app import create_app
    from server.crypto import KeyMaterialError

    with pytest.raises(KeyMaterialError, match="KEY_VAULT_DIR"):
        create_app({**settings, "KEY_VAULT_DIR": str(tmp_path / "elsewhere")})
    assert world.call("GET", "marie", f"/dossiers/{marie_dossier}").status_code == 200
