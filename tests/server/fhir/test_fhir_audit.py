"""The patient's access history as FHIR AuditEvents (issue #14): the history's decision
and trace, every entry as a valid AuditEvent, paging back through years of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from server.models import AuditEntry
from server.services import trace_log
from tests.server.conftest import World
from tests.server.fhir.fhirkit import follow, get, valid


def events(world: World, who: str | None, query: str) -> Any:
    return get(world, who, f"/AuditEvent?{query}")


def test_the_patient_reads_her_history_as_audit_events(world: World, marie_dossier: int) -> None:
    world.deposit("gp", marie_dossier, title="Compte rendu")
    world.call("GET", "pharmacien", f"/dossiers/{marie_dossier}/documents")  # refused
    r = events(world, "marie", f"patient=Patient/{marie_dossier}")
    assert r.status_code == 200, r.get_json()
    bundle = valid(r.get_json())
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
    found = [e["resource"] for e in bundle["entry"]]
    assert found, bundle
    for event in found:
        valid(event)
        assert event["entity"][0]["what"]["reference"] == f"Patient/{marie_dossier}"
    deposit = next(e for e in found if e["subtype"][0]["code"] == "document:deposit")
    assert (deposit["action"], deposit["outcome"]) == ("C", "0")
    assert deposit["agent"][0]["role"][0]["text"] == "Médecin généraliste"
    assert deposit["purposeOfEvent"][0]["text"] == "medecin_traitant"
    refused = next(e for e in found if e["outcome"] == "4")
    assert refused["subtype"][0]["code"] == "document:list"
    assert refused["outcomeDesc"]  # the reason's code
    # Newest first, as the history page.
    assert [e["recorded"] for e in found] == sorted((e["recorded"] for e in found), reverse=True)


def test_reading_it_is_decided_and_traced_as_reading_the_history(
    world: World, marie_dossier: int
) -> None:
    def reads() -> int:
        with world.rt.sessions() as s:
            return int(
                s.scalar(select(func.count()).where(AuditEntry.action == "history:read")) or 0
            )

    before = reads()
    assert events(world, "marie", f"patient=Patient/{marie_dossier}").status_code == 200
    assert reads() == before + 1
    for who in ("gp", "pharmacien"):
        r = events(world, who, f"patient=Patient/{marie_dossier}")
        assert r.status_code == 403, r.get_json()
        assert r.get_json()["resourceType"] == "OperationOutcome"
    assert reads() == before + 3  # the refusals are traced too
    assert events(world, None, f"patient=Patient/{marie_dossier}").status_code == 401


def test_paging_goes_back_through_the_history_without_gaps(
    world: World, marie_dossier: int
) -> None:
    for n in range(7):
        world.deposit("gp", marie_dossier, title=f"Note {n}")
    seen: list[str] = []
    r = events(world, "marie", f"patient=Patient/{marie_dossier}&_count=4")
    while True:
        assert r.status_code == 200, r.get_json()
        bundle = valid(r.get_json())
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            break
        r = follow(world, "marie", following[0])
    sequence = [int(i.rsplit("-", 1)[1]) for i in seen]
    # Each page's own reading adds an entry at the top; going back, none is skipped.
    assert sequence == sorted(sequence, reverse=True)
    assert sequence[-1] == 1
    assert len(set(sequence)) == len(sequence)


def test_bad_parameters_are_an_operation_outcome(world: World, marie_dossier: int) -> None:
    for query, reason in (
        ("", "patient_required"),
        ("patient=Patient/abc", "patient_invalid"),
        (f"patient=Patient/{marie_dossier}&_count=0", "count_invalid"),
        (f"patient=Patient/{marie_dossier}&_count=\u0661\u0662", "count_invalid"),
        (f"patient=Patient/{marie_dossier}&_before=99999999999999999999", "before_invalid"),
        (f"patient=Patient/{marie_dossier}&date=2026", "date_invalid"),
    ):
        r = events(world, "marie", query)
        assert r.status_code == 400, (query, r.get_json())
        outcome = r.get_json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert reason in str(outcome), (query, outcome)


def test_a_page_costs_the_same_statements_whatever_its_length(
    world: World, marie_dossier: int
) -> None:
    # Issue #14: a page and every annotation of its lines (log index, receipt, folded
    # denials, review, documents hidden from the reader) come from one query, so a page
    # of 20 lines runs as many statements as a page of 2 (no query per line or per kind).
    for n in range(20):
        world.deposit("gp", marie_dossier, title=f"Note {n}")
        world.call("GET", "pharmacien", f"/dossiers/{marie_dossier}/documents")  # refused
    trace_log.run(world.rt)  # the lines get their log index

    def statements(count: int) -> int:
        seen: list[str] = []

        def note(*args: Any) -> None:
            seen.append(args[2])

        sa_event.listen(world.rt.engine, "before_cursor_execute", note)
        try:
            r = events(world, "marie", f"patient=Patient/{marie_dossier}&_count={count}")
        finally:
            sa_event.remove(world.rt.engine, "before_cursor_execute", note)
        assert r.status_code == 200, r.get_json()
        assert len(r.get_json()["entry"]) == count
        return len(seen)

    # The floor of every traced read (the session; the chain's head, the entry and the
    # head's update; BEGIN on SQLite), the decision's dossier and facts, the page, and the
    # latest signed checkpoint: nine. Before the annotations were folded into the page's
    # query it was fourteen.
    assert statements(2) == statements(20) <= 9
