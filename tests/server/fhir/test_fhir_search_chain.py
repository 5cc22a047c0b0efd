"""ITI-67 by INS on one load of the dossier (issue #12's performance point): the lookup
and the listing are still two decisions and two trace entries, in that order, the second
linked after the first, on an intact chain; the dossier is loaded and the chain's head
locked once; racing searches never fork the chain."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from server.fhir import params, service
from server.identifiers import ins_key
from server.models import AuditEntry
from server.policy import Action, Context, Decision, Mode, Obligation, Reason
from server.services import audit, guard, lookup
from server.signin import sessions
from tests.server.conftest import PATIENTS, World
from tests.server.fhir.fhirkit import BASE, INS_TEST_NIR, ids, outcome, search

MARIE = f"{INS_TEST_NIR}|{PATIENTS['marie'][0]}"


def _entry(e: AuditEntry) -> tuple[Any, ...]:
    return (e.action, e.outcome, e.mode, e.reason, e.actor_id, json.loads(e.detail))


def _intact(world: World) -> None:
    with world.rt.sessions() as s:
        assert list(audit.verify(s)) == []


def test_a_search_by_ins_traces_the_lookup_then_the_listing_as_the_two_requests_do(
    world: World, marie_dossier: int
) -> None:
    world.deposit("gp", marie_dossier)
    world.deposit("gp", marie_dossier, category="prescription", type_code="57833-6")
    query = {"patient.identifier": MARIE, "status": "current", "_count": "1"}
    before = len(world.trace("marie"))
    bundle = search(world, "gp", query).get_json()
    assert bundle["total"] == 2
    assert len(ids(bundle)) == 1
    ours = world.trace("marie")[before:]
    assert [e.seq for e in ours] == [before + 1, before + 2]
    assert ours[1].prev_hash == ours[0].hash  # the listing linked after the lookup
    # The same two entries as POST /dossiers/lookup followed by the search by Patient/id.
    r = world.call("POST", "gp", "/dossiers/lookup", {"ins": PATIENTS["marie"][0]})
    assert r.get_json()["dossier_id"] == marie_dossier
    by_id = {**query, "patient": f"Patient/{marie_dossier}"}
    del by_id["patient.identifier"]
    assert search(world, "gp", by_id).get_json()["total"] == 2
    twice = world.trace("marie")[before + 2 :]
    assert [_entry(e) for e in ours] == [_entry(e) for e in twice]
    assert [(e.action, e.outcome) for e in ours] == [
        ("dossier:lookup", "allowed"),
        ("document:list", "allowed"),
    ]
    assert json.loads(ours[1].detail) == {
        "all": True,
        "fhir": "ITI-67",
        "filters": ["status"],
        "matched": 2,
        "returned": 1,
    }
    _intact(world)


def test_a_refused_lookup_is_traced_and_answered_as_the_lookup_alone(
    world: World, marie_dossier: int
) -> None:
    before = len(world.trace("marie"))
    r = search(world, "jean", {"patient.identifier": MARIE})
    lookup = world.call("POST", "jean", "/dossiers/lookup", {"ins": PATIENTS["marie"][0]})
    assert lookup.status_code == 403
    outcome(r, 403, lookup.get_json()["reason"])
    ours = world.trace("marie")[before:]
    # One denial entry for both (identical denials count on one entry), no listing.
    assert [(e.action, e.outcome, e.reason) for e in ours] == [
        ("dossier:lookup", "denied", "not_a_party")
    ]
    _intact(world)


def test_a_refused_listing_after_an_allowed_lookup_is_the_listings_refusal(
    world: World, marie_dossier: int
) -> None:
    before = len(world.trace("marie"))
    r = search(world, "pharmacien", {"patient.identifier": MARIE})
    listing = world.call("GET", "pharmacien", f"/dossiers/{marie_dossier}/documents?all=true")
    outcome(r, listing.status_code, listing.get_json()["reason"])
    first = world.trace("marie")[before]
    # The refusal undoes what the request had begun, the lookup's entry with it.
    assert (first.action, first.outcome, first.reason) == (
        "document:list",
        "denied",
        "no_authorisation",
    )
    assert json.loads(first.detail)["fhir"] == "ITI-67"
    _intact(world)


def test_unknown_ins_and_patients_without_a_dossier_answer_as_the_lookup(
    world: World, marie_dossier: int
) -> None:
    unknown = "1850175000001"
    unknown += f"{ins_key(unknown):02d}"
    for ins in (unknown, PATIENTS["jean"][0]):  # no one's; a patient without a dossier
        r = search(world, "gp", {"patient.identifier": f"{INS_TEST_NIR}|{ins}"})
        lookup = world.call("POST", "gp", "/dossiers/lookup", {"ins": ins})
        outcome(r, lookup.status_code, lookup.get_json()["reason"])
    _intact(world)


@contextmanager
def _statements(world: World) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = world.rt.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_dossier_is_loaded_and_its_head_locked_once(world: World, marie_dossier: int) -> None:
    world.deposit("gp", marie_dossier)
    assert search(world, "gp", {"patient.identifier": MARIE}).status_code == 200
    with _statements(world) as seen:
        r = search(world, "gp", {"patient.identifier": MARIE, "status": "current"})
    assert r.status_code == 200
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    heads = [s for s in reads if "audit_heads" in s]
    assert len(heads) == 1, heads  # the one statement: dossier, patient, facts, head
    assert len([s for s in reads if "patients.ins =" in s]) == 1  # found by INS once
    # The JSON lookup takes the same path: one statement before its entry.
    with _statements(world) as seen:
        r = world.call("POST", "gp", "/dossiers/lookup", {"ins": PATIENTS["marie"][0]})
    assert r.status_code == 200
    assert len([s for s in seen if "audit_heads" in s and "SELECT" in s.upper()]) == 1


def test_concurrent_searches_by_ins_on_one_dossier_never_fork_its_chain(
    world: World, marie_dossier: int
) -> None:
    """Each search locks the head once and appends twice: racing searches queue on the
    lock instead of linking an entry to a head another search moved."""
    world.deposit("gp", marie_dossier)
    # A first access first: racing first accesses are not what this test is about.
    assert search(world, "gp", {"patient.identifier": MARIE}).status_code == 200
    before = len(world.trace("marie"))
    errors: list[Exception] = []
    threads_n, per_thread = 4, 10
    start = threading.Barrier(threads_n)
    pairs = [("patient.identifier", MARIE), ("status", "current")]

    def searcher() -> None:
        try:
            start.wait(timeout=30)
            for _ in range(per_thread):
                with world.rt.sessions() as s:
                    ctx = world.rt.ctx(s)
                    who = sessions.resolve(ctx, world.tokens["gp"])
                    query = params.parse(pairs, strict=True, base=BASE)
                    bundle = service.search(ctx, who, query, BASE)
                    assert bundle["total"] == 1
                    s.commit()
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    _intact(world)
    ours = world.trace("marie")[before:]
    assert len(ours) == 2 * threads_n * per_thread
    # Each search's two entries are adjacent: no other search came between them.
    actions = [e.action for e in ours]
    assert actions == ["dossier:lookup", "document:list"] * threads_n * per_thread


def test_after_hands_on_the_moved_head_never_the_used_one(world: World, marie_dossier: int) -> None:
    """`lookup.after`: the second decision appends after the head the first one left, or
    locks it again (None); a first access the first decision recorded is no longer one."""
    with world.rt.sessions() as s:
        ctx = world.rt.ctx(s)
        who = sessions.resolve(ctx, world.tokens["gp"])
        found = lookup.subject(ctx, who, Action.DOCUMENT_LIST, marie_dossier)
        assert found.head is not None
        assert found.loaded.first_access
        moved = audit.Head(found.head.chain, found.head.seq + 1, "f" * 64)
        plain = Decision(True, Reason.IDENTITY_LOOKUP)
        context = Context(now=ctx.now)
        granted = guard.Granted(plain, found.loaded.facts, context, None, moved)
        after = lookup.after(found, granted)
        assert after.head == moved
        assert after.loaded.first_access  # nothing recorded it
        first = Decision(
            True,
            Reason.MEDECIN_TRAITANT,
            Mode.MEDECIN_TRAITANT,
            frozenset({Obligation.NOTIFY_PATIENT_FIRST_ACCESS}),
        )
        after = lookup.after(found, guard.Granted(first, None, context, None, None))
        assert after.head is None  # not traced after this head: read again under the lock
        assert not after.loaded.first_access
        assert after.loaded.facts == found.loaded.facts
        s.rollback()
