"""The listing's hot path (issue #2): Core statements that must say exactly what the ORM
path says, on both backends. The facts, the locked head, the documents as the API shows
them, the chain under concurrent listings, and the pool's idle ping."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from server.db import make_engine
from server.models import (
    Block,
    CareTeamMember,
    ConsultationConsent,
    Document,
    EmergencyAccess,
    FirstAccess,
    RepresentativeLink,
)
from server.policy import Action, ActorKind, Mode
from server.services import audit, documents, lookup, views
from server.services.facts import load
from server.services.listing import LISTINGS
from server.services.listing import document as listed
from server.signin import sessions
from tests.server.conftest import World


def _principal(world: World, s: Any, name: str) -> Any:
    return sessions.resolve(world.rt.ctx(s), world.tokens[name])


def _facts_world(world: World, dossier_id: int) -> str:
    """Every kind of fact on Marie's dossier; returns the urgentiste's session hash."""
    ids, now = world.ids, world.clock()
    token = world.tokens["urgentiste"]
    hashed = sessions.token_hash(token)
    with world.rt.sessions() as s:
        s.add_all(
            [
                CareTeamMember(
                    dossier_id=dossier_id,
                    professional_id=ids["infirmier"],
                    added_at=now,
                    added_by="patient:1",
                ),
                CareTeamMember(
                    dossier_id=dossier_id,
                    structure_finess="920000049",
                    added_at=now,
                    added_by="patient:1",
                ),
                Block(dossier_id=dossier_id, professional_id=ids["specialist"], created_at=now),
                ConsultationConsent(
                    dossier_id=dossier_id,
                    professional_id=ids["pharmacien"],
                    granted_at=now,
                    expires_at=now + timedelta(hours=1),
                    granted_by="patient:1",
                ),
                ConsultationConsent(  # expired: not a fact any more
                    dossier_id=dossier_id,
                    professional_id=ids["travail"],
                    granted_at=now - timedelta(days=2),
                    expires_at=now - timedelta(days=1),
                    granted_by="patient:1",
                ),
                RepresentativeLink(dossier_id=dossier_id, patient_id=ids["jean"], created_at=now),
                FirstAccess(dossier_id=dossier_id, professional_id=ids["regulateur"], at=now),
            ]
        )
        for mode, minutes in (("centre_15", 30), ("bris_de_glace", 90), ("centre_15", -5)):
            s.add(
                EmergencyAccess(
                    session_hash=hashed,
                    dossier_id=dossier_id,
                    professional_id=ids["urgentiste"],
                    mode=mode,
                    reason="test",
                    started_at=now - timedelta(minutes=10),
                    expires_at=now + timedelta(minutes=minutes),
                )
            )
        s.commit()
    return hashed


def test_subject_loads_the_same_facts_as_load_and_locks_the_head(
    world: World, marie_dossier: int
) -> None:
    hashed = _facts_world(world, marie_dossier)
    ids = world.ids
    with world.rt.sessions() as s:
        ctx = world.rt.ctx(s)
        for name in ("urgentiste", "regulateur", "marie"):
            who = _principal(world, s, name)
            subject = lookup.subject(ctx, who, Action.DOCUMENT_LIST, marie_dossier)
            pro = who.actor.kind is ActorKind.PROFESSIONAL
            row, patient = lookup.dossier(ctx, who, Action.DOCUMENT_LIST, marie_dossier)
            expected = load(
                s,
                row,
                patient,
                ctx.now,
                professional_id=who.actor.id if pro else None,
                session_hash=who.session_hash if pro else None,
            )
            assert subject.loaded == expected
            assert subject.head is not None
            assert subject.head.chain == audit.chain_for(patient.id)
            head = audit.locked_head(s, subject.head.chain)
            assert head == subject.head
            s.rollback()
        facts = subject.loaded.facts
        assert facts.care_team == {ids["infirmier"]}
        assert facts.care_team_structures == {"920000049"}
        assert facts.blocked == {ids["specialist"]}
        assert facts.consents == {ids["pharmacien"]}
        assert facts.representatives == {ids["jean"]}
        who = _principal(world, s, "urgentiste")
        urgentiste = lookup.subject(ctx, who, Action.DOCUMENT_LIST, marie_dossier).loaded
        assert who.session_hash == hashed
        assert urgentiste.emergency is not None
        assert urgentiste.emergency.mode is Mode.BRIS_DE_GLACE  # the latest-ending grant
        assert urgentiste.emergency.until == world.clock() + timedelta(minutes=90)
        assert urgentiste.first_access
        regulateur = lookup.subject(
            ctx, _principal(world, s, "regulateur"), Action.DOCUMENT_LIST, marie_dossier
        )
        assert not regulateur.loaded.first_access
        assert regulateur.loaded.emergency is None


def test_listed_documents_are_shown_as_the_orm_view_shows_them(
    world: World, marie_dossier: int
) -> None:
    d = marie_dossier
    first = world.deposit("gp", d, category="compte_rendu")
    r = world.call(
        "POST",
        "gp",
        f"/dossiers/{d}/documents/{first['logical_id']}/replace",
        {**_doc_body(), "title": "Version 2"},
    )
    assert r.status_code == 201
    world.deposit("marie", d, category="depose_patient")
    world.deposit("insurer", d, category="remboursement")
    world.deposit("gp", d, category="synthese", masked_ps=True)
    with world.rt.sessions() as s:
        ctx = world.rt.ctx(s)
        params = {"dossier_id": d, "category": None}
        rows = list(s.connection().execute(LISTINGS[True, False], params))
        orm = {doc.logical_id: doc for doc in s.scalars(select(Document))}
        assert {row.logical_id for row in rows} == set(orm)
        for row in rows:
            assert listed(row) == views.document(ctx, orm[row.logical_id])


def _doc_body() -> dict[str, Any]:
    from tests.server.conftest import doc

    return doc(category="compte_rendu")


def test_concurrent_listings_of_one_dossier_never_fork_its_chain(
    world: World, marie_dossier: int
) -> None:
    """The head is locked by the statement that loads the dossier: listings racing on one
    dossier queue on it instead of linking two entries to the same predecessor."""
    world.deposit("gp", marie_dossier)
    # A first access first: two racing first accesses both find none and both record it,
    # and the second answers 409 (as before the hot path; not what this test is about).
    assert world.titles("gp", marie_dossier)
    errors: list[Exception] = []
    start = threading.Barrier(4)

    def lister() -> None:
        try:
            start.wait(timeout=30)
            for _ in range(15):
                with world.rt.sessions() as s:
                    ctx = world.rt.ctx(s)
                    who = _principal(world, s, "gp")
                    documents.list_documents(ctx, who, marie_dossier)
                    s.commit()
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=lister) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with world.rt.sessions() as s:
        assert list(audit.verify(s)) == []
    listings = [e for e in world.trace("marie") if e.action == "document:list"]
    assert len(listings) == 61


@pytest.mark.postgresql  # SQLite has no server connection to lose
def test_a_pooled_connection_killed_while_idle_is_replaced(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        other = make_engine(database_url)
        with other.connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        other.dispose()
        # Make the pooled connection look idle for long enough to be pinged.
        for record in list(engine.pool._pool.queue):  # type: ignore[attr-defined]
            record.info["dmp_idle_since"] = 0.0
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()
