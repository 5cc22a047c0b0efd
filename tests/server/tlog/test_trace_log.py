"""The log over the trace in the database: every entry gets a leaf, checkpoints are signed
by the log's key, and the public proofs verify with nothing but the published key, the
entry and the checkpoint (what a patient's device or a witness holds)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from server.models import AuditEntry, LogLeaf
from server.services import audit, trace_log
from server.tlog import checkpoint, merkle
from server.tlog.merkle import ProofError
from server.tlog.note import Verifier
from tests.server.conftest import World

ORIGIN = "dmp-kiosk.invalid/trace"


def _text(client: Any, path: str) -> str:
    r = client.get(f"/api/v1{path}")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "text/plain"
    return str(r.get_data(as_text=True))


def _published(world: World) -> tuple[checkpoint.Checkpoint, Verifier]:
    verifier = Verifier.parse(_text(world.client, "/log/key"))
    signed = _text(world.client, "/log/checkpoint")
    return checkpoint.verify(signed, ORIGIN, [verifier]), verifier


def _entries(world: World) -> list[AuditEntry]:
    with world.rt.sessions() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _index_of(world: World, entry_id: int) -> int:
    with world.rt.sessions() as s:
        leaf = trace_log.leaf_of(s, entry_id)
        assert leaf is not None
        return leaf.idx


def _proof(world: World, path: str) -> list[bytes]:
    r = world.client.get(f"/api/v1{path}")
    assert r.status_code == 200, r.get_json()
    return [base64.b64decode(p) for p in r.get_json()["proof"]]


def _check_inclusion(world: World, entry: AuditEntry, head: checkpoint.Checkpoint) -> None:
    # What the patient's side recomputes from the entry it was shown, not a stored leaf.
    leaf = merkle.leaf_hash(trace_log.leaf_entry(entry.chain, entry.seq, entry.hash))
    index = _index_of(world, entry.id)
    proof = _proof(world, f"/log/proof/inclusion?index={index}&size={head.size}")
    merkle.verify_inclusion(leaf, index, head.size, proof, head.root)


def test_an_empty_log_says_so(world: World) -> None:
    r = world.client.get("/api/v1/log/checkpoint")
    assert r.status_code == 404
    assert r.get_json()["reason"] == "log_empty"


def test_every_trace_entry_is_in_the_signed_log(world: World, marie_dossier: int) -> None:
    world.deposit("gp", marie_dossier, title="Compte rendu")
    world.titles("marie", marie_dossier)
    added, size = trace_log.run(world.rt)
    entries = _entries(world)
    assert added == size == len(entries) >= 3
    head, _ = _published(world)
    assert head.size == len(entries)
    for entry in entries:
        _check_inclusion(world, entry, head)
    assert trace_log.run(world.rt) == (0, size)  # nothing new: no new checkpoint


def test_a_later_checkpoint_is_consistent_with_an_earlier_one(
    world: World, marie_dossier: int
) -> None:
    trace_log.run(world.rt, batch=2)  # several checkpoints on the way
    first, verifier = _published(world)
    for i in range(5):
        world.deposit("gp", marie_dossier, title=f"Courrier {i}")
    trace_log.run(world.rt, batch=3)
    second, _ = _published(world)
    assert second.size > first.size
    proof = _proof(world, f"/log/proof/consistency?from={first.size}&to={second.size}")
    merkle.verify_consistency(first.size, second.size, first.root, second.root, proof)
    # Every checkpoint is kept, for whoever holds an older one.
    older = _text(world.client, f"/log/checkpoints/{first.size}")
    assert checkpoint.verify(older, ORIGIN, [verifier]) == first


def _system_row(world: World, chain: str, entry_id: int) -> None:
    values = audit.TraceEntry(
        at=world.clock(),
        actor_kind="system",
        actor_id=0,
        actor_name="test",
        action=audit.SystemAction.DOSSIER_PURGE,
        mode="none",
        outcome="allowed",
        reason="test",
    ).values(chain, 1)
    row = {**values, "prev_hash": audit.GENESIS, "hash": audit.link_hash(audit.GENESIS, values)}
    with world.rt.sessions() as s:
        s.execute(insert(AuditEntry).values(id=entry_id, **row))
        s.commit()


def test_an_entry_committed_after_later_ones_still_reaches_the_log(world: World) -> None:
    # A transaction took its entry id before another one that committed first: when it
    # commits, the sequencer has already passed the later id.
    world.create("admissions", "marie")
    with world.rt.sessions() as s:
        top = s.scalar(select(func.max(AuditEntry.id)))
    assert top is not None
    _system_row(world, "test:early", top + 10)
    trace_log.run(world.rt)
    _system_row(world, "test:late", top + 5)
    assert trace_log.run(world.rt)[0] == 1
    head, _ = _published(world)
    late = next(e for e in _entries(world) if e.chain == "test:late")
    _check_inclusion(world, late, head)


def test_a_rewritten_entry_no_longer_proves_inclusion(world: World, marie_dossier: int) -> None:
    trace_log.run(world.rt)
    head, _ = _published(world)
    victim = world.trace("marie")[0]
    # An attacker with the database rewrites the entry and recomputes its link hash (and
    # would the rest of the chain): the log keeps the leaf it signed.
    with world.rt.sessions() as s:
        values = {name: getattr(victim, name) for name in audit.HASHED_FIELDS}
        values["actor_name"] = "Quelqu'un d'autre"
        forged = audit.link_hash(victim.prev_hash, values)
        s.execute(
            update(AuditEntry)
            .where(AuditEntry.id == victim.id)
            .values(actor_name="Quelqu'un d'autre", hash=forged)
        )
        s.commit()
    rewritten = next(e for e in world.trace("marie") if e.id == victim.id)
    with pytest.raises(ProofError):
        _check_inclusion(world, rewritten, head)


def test_the_log_holds_only_hashes(world: World, marie_dossier: int) -> None:
    trace_log.run(world.rt)
    with world.rt.sessions() as s:
        leaves = list(s.scalars(select(LogLeaf)))
    assert leaves
    assert all(len(leaf.leaf_hash) == 32 for leaf in leaves)
    signed = _text(world.client, "/log/checkpoint")
    assert "marie" not in signed.lower()
    assert "MARTIN" not in signed


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("/log/proof/inclusion?index=5&size=5", 422),
        ("/log/proof/inclusion?index=0&size=999", 404),
        ("/log/proof/inclusion?index=x&size=1", 422),
        ("/log/proof/inclusion?index=%D9%A1&size=1", 422),
        ("/log/proof/inclusion?index=0", 400),
        ("/log/proof/consistency?from=3&to=2", 422),
        ("/log/proof/consistency?from=0&to=2", 422),
        ("/log/proof/consistency?from=1&to=99999", 404),
        ("/log/checkpoints/999", 404),
        ("/log/checkpoints/99999999999999999999", 404),
    ],
)
def test_bad_proof_requests_are_clear_refusals(
    world: World, marie_dossier: int, query: str, status: int
) -> None:
    trace_log.run(world.rt)
    r = world.client.get(f"/api/v1{query}")
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.is_json
    assert r.get_json()["reason"]


def test_the_open_routes_are_the_log_routes_and_read_only(world: World) -> None:
    spec = world.client.get("/openapi.json").get_json()
    open_routes = {
        (method, path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if op.get("security") == [] and path.startswith("/api/v1/log/")
    }
    assert open_routes == {
        ("get", "/api/v1/log/checkpoint"),
        ("get", "/api/v1/log/checkpoints/{size}"),
        ("get", "/api/v1/log/key"),
        ("get", "/api/v1/log/proof/inclusion"),
        ("get", "/api/v1/log/proof/consistency"),
    }


def test_the_worker_appends_new_entries_to_the_log(world: World, marie_dossier: int) -> None:
    from server import worker

    done = worker.serve(world.rt, {}, poll_seconds=0.1, once=True)
    entries = _entries(world)
    assert done.logged == len(entries) > 0
    head, _ = _published(world)
    assert head.size == len(entries)


def test_a_history_page_carries_what_proves_each_line_in_the_log(
    world: World, marie_dossier: int
) -> None:
    """From the history page alone (and the pinned log key), the patient's side proves
    every line shown is in the signed log: each line's leaf is recomputed from what the
    page says (chain, seq, hash), never taken from the server's leaf table."""
    world.deposit("gp", marie_dossier, title="Compte rendu")
    path = f"/dossiers/{marie_dossier}/history"
    before = world.call("GET", "marie", path).get_json()
    assert before["checkpoint"] is None  # nothing sequenced yet: nothing to prove
    assert {e["log_index"] for e in before["entries"]} == {None}
    trace_log.run(world.rt)
    page = world.call("GET", "marie", path).get_json()
    verifier = Verifier.parse(_text(world.client, "/log/key"))
    head = checkpoint.verify(page["checkpoint"], ORIGIN, [verifier])
    sequenced = [e for e in page["entries"] if e["log_index"] is not None]
    # Every line but the reading of this very page (traced after the checkpoint).
    assert len(sequenced) == len(page["entries"]) - 1 >= 3
    for line in sequenced:
        leaf = merkle.leaf_hash(trace_log.leaf_entry(page["chain"], line["seq"], line["hash"]))
        index = line["log_index"]
        proof = _proof(world, f"/log/proof/inclusion?index={index}&size={head.size}")
        merkle.verify_inclusion(leaf, index, head.size, proof, head.root)
    # A line altered on its way to the patient no longer proves inclusion.
    line = sequenced[0]
    forged = merkle.leaf_hash(trace_log.leaf_entry(page["chain"], line["seq"], "0" * 64))
    proof = _proof(world, f"/log/proof/inclusion?index={line['log_index']}&size={head.size}")
    with pytest.raises(ProofError):
        merkle.verify_inclusion(forged, line["log_index"], head.size, proof, head.root)
