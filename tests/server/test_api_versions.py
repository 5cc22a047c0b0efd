"""A document's version history and the diff of two versions, through the API: who
deposited each version, when and why it was replaced; each version shown only to those
who may read it; reads traced; bad requests answered 4xx, never 500."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from server import ocr_worker
from server.models import AuditEntry, Document
from tests.server import scans
from tests.server.conftest import World, doc
from tests.server.test_ocr_worker import add_text_row, deposit_scan


def later(world: World, **delta: float) -> None:
    """Moves the clock, and opens new sessions for everyone (the old ones would expire)."""
    world.clock.advance(**delta)
    for name in world.tokens:
        world.tokens[name] = world.open(name)


def replace(
    world: World, who: str, dossier_id: int, logical_id: str, content: bytes, **extra: Any
) -> Any:
    return world.call(
        "POST",
        who,
        f"/dossiers/{dossier_id}/documents/{logical_id}/replace",
        doc(content=content, **extra),
    )


def replaced(
    world: World, who: str, dossier_id: int, logical_id: str, content: bytes, **extra: Any
) -> str:
    r = replace(world, who, dossier_id, logical_id, content, **extra)
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["logical_id"])


def versions(world: World, who: str, dossier_id: int, logical_id: str) -> Any:
    return world.call("GET", who, f"/dossiers/{dossier_id}/documents/{logical_id}/versions")


def diff(world: World, who: str, dossier_id: int, logical_id: str, against: str | None) -> Any:
    query = f"?against={against}" if against is not None else ""
    return world.call("GET", who, f"/dossiers/{dossier_id}/documents/{logical_id}/diff{query}")


V1 = b"Compte rendu\nTension 15/9\nAmlodipine 5 mg\nA revoir dans 3 mois\n"
V2 = b"Compte rendu\nTension 15/9\nAmlodipine 10 mg\nA revoir dans 3 mois\n"
V3 = b"Compte rendu\nTension 13/8\nAmlodipine 10 mg\nA revoir dans 3 mois\nBilan sanguin\n"


@pytest.fixture
def three(world: World, marie_dossier: int) -> list[str]:
    """Three versions by Dr gp, a day apart, each replacement with its reason."""
    first = world.deposit("gp", marie_dossier, content=V1, title="Consultation")["logical_id"]
    later(world, days=1)
    second = replaced(world, "gp", marie_dossier, first, V2, replace_reason="Erreur de posologie")
    later(world, days=1)
    third = replaced(world, "gp", marie_dossier, second, V3, replace_reason="Bilan ajouté")
    return [first, second, third]


def test_every_version_with_its_author_date_and_reason(
    world: World, marie_dossier: int, three: list[str]
) -> None:
    for named in three:  # any version names the whole history
        r = versions(world, "marie", marie_dossier, named)
        assert r.status_code == 200, r.get_json()
        listed = r.get_json()["versions"]
        assert [v["logical_id"] for v in listed] == three
    assert [v["version"] for v in listed] == [1, 2, 3]
    assert [v["status"] for v in listed] == ["superseded", "superseded", "current"]
    assert [v["replace_reason"] for v in listed] == [
        "Erreur de posologie",
        "Bilan ajouté",
        None,
    ]
    assert [v["submitted_at"][:10] for v in listed] == ["2026-06-15", "2026-06-16", "2026-06-17"]
    for v in listed:
        assert v["author"] == {
            "kind": "professional",
            "name": "Gp Test",
            "profession": "medecin_generaliste",
        }
        assert v["text_status"] == "ready"  # plain text compares as it is


def test_the_reason_is_sealed_at_rest(world: World, marie_dossier: int, three: list[str]) -> None:
    with world.rt.sessions() as s:
        stored = s.scalars(select(Document.replace_reason).where(Document.logical_id == three[0]))
        sealed = stored.one()
    assert sealed is not None
    assert b"posologie" not in sealed


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("x" * 501, "replace_reason_invalid"),
        ("   ", "replace_reason_invalid"),
        ("a\x00b", "replace_reason_invalid"),
        (12, "replace_reason_invalid"),
    ],
)
def test_a_bad_reason_is_refused_and_nothing_is_written(
    world: World, marie_dossier: int, reason: Any, expected: str
) -> None:
    first = world.deposit("gp", marie_dossier, content=V1)["logical_id"]
    r = replace(world, "gp", marie_dossier, first, V2, replace_reason=reason)
    assert (r.status_code, r.get_json()["reason"]) == (422, expected)
    listed = versions(world, "gp", marie_dossier, first).get_json()["versions"]
    assert [(v["status"], v["replace_reason"]) for v in listed] == [("current", None)]


def test_a_reason_belongs_to_a_replacement_not_a_deposit(world: World, marie_dossier: int) -> None:
    r = world.call(
        "POST", "gp", f"/dossiers/{marie_dossier}/documents", doc(replace_reason="Pourquoi ?")
    )
    assert (r.status_code, r.get_json()["reason"]) == (422, "unknown_field")


def test_a_replacement_without_a_reason_has_none(world: World, marie_dossier: int) -> None:
    first = world.deposit("gp", marie_dossier, content=V1)["logical_id"]
    replaced(world, "gp", marie_dossier, first, V2)
    listed = versions(world, "gp", marie_dossier, first).get_json()["versions"]
    assert [v["replace_reason"] for v in listed] == [None, None]


def test_a_masked_old_version_is_not_shown_to_who_may_not_read_it(
    world: World, marie_dossier: int
) -> None:
    world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/consents",
        {"national_id": world.nid("infirmier")},
    )
    world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/care-team",
        {"national_id": world.nid("specialist")},
    )
    old = world.deposit("specialist", marie_dossier, content=V1, masked_ps=True)["logical_id"]
    new = replaced(world, "specialist", marie_dossier, old, V2, replace_reason="Dose corrigée")

    def seen(who: str, named: str) -> list[str]:
        r = versions(world, who, marie_dossier, named)
        assert r.status_code == 200, r.get_json()
        return [v["logical_id"] for v in r.get_json()["versions"]]

    assert seen("infirmier", new) == [new]  # the masked version stays out, and its reason
    assert "Dose corrigée" not in versions(world, "infirmier", marie_dossier, new).get_data(
        as_text=True
    )
    r = versions(world, "infirmier", marie_dossier, old)  # named: as reading it, not found
    assert (r.status_code, r.get_json()["reason"]) == (404, "document_not_found")
    r = diff(world, "infirmier", marie_dossier, new, old)
    assert (r.status_code, r.get_json()["reason"]) == (404, "document_not_found")
    assert seen("gp", new) == [old, new]  # médecin traitant
    assert seen("specialist", new) == [old, new]  # author
    assert seen("marie", new) == [old, new]  # the patient
    r = diff(world, "marie", marie_dossier, new, old)
    assert r.status_code == 200


def test_a_version_hidden_from_the_patient_is_not_in_her_history(
    world: World, marie_dossier: int
) -> None:
    old = world.deposit("gp", marie_dossier, content=V1, invisible_patient=True)["logical_id"]
    new = replaced(world, "gp", marie_dossier, old, V2)
    listed = versions(world, "marie", marie_dossier, new).get_json()["versions"]
    assert [v["logical_id"] for v in listed] == [new]
    r = diff(world, "marie", marie_dossier, new, old)
    assert r.status_code == 403
    assert r.get_json()["reason"] == "invisible_to_patient"


def test_the_diff_shows_removed_and_added_lines(
    world: World, marie_dossier: int, three: list[str]
) -> None:
    r = diff(world, "gp", marie_dossier, three[2], three[0])
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["from"] == {"logical_id": three[0], "version": 1}  # oldest first, whichever
    assert body["to"] == {"logical_id": three[2], "version": 3}  # of the two is named
    assert body["truncated"] is False
    assert [(line["op"], line["text"]) for line in body["lines"]] == [
        ("same", "Compte rendu"),
        ("removed", "Tension 15/9"),
        ("removed", "Amlodipine 5 mg"),
        ("added", "Tension 13/8"),
        ("added", "Amlodipine 10 mg"),
        ("same", "A revoir dans 3 mois"),
        ("added", "Bilan sanguin"),
    ]
    same = diff(world, "gp", marie_dossier, three[1], three[1]).get_json()["lines"]
    assert {line["op"] for line in same} == {"same"}


def test_a_long_text_is_compared_in_part_and_says_so(world: World, marie_dossier: int) -> None:
    long = "".join(f"ligne {n}\n" for n in range(3000)).encode()
    first = world.deposit("gp", marie_dossier, content=long)["logical_id"]
    second = replaced(world, "gp", marie_dossier, first, long + b"fin\n")
    body = diff(world, "gp", marie_dossier, second, first).get_json()
    assert body["truncated"] is True
    assert len(body["lines"]) == 2000


def test_reads_are_traced(world: World, marie_dossier: int, three: list[str]) -> None:
    before = len(world.trace("marie"))
    assert versions(world, "gp", marie_dossier, three[1]).status_code == 200
    assert diff(world, "gp", marie_dossier, three[1], three[0]).status_code == 200
    entries = world.trace("marie")[before:]
    got = [(e.action, e.outcome, e.target, json.loads(e.detail)["part"]) for e in entries]
    assert got == [
        ("document:read", "allowed", f"document:{three[1]}", "versions"),
        ("document:read", "allowed", f"document:{three[1]}", "diff"),
        ("document:read", "allowed", f"document:{three[0]}", "diff"),
    ]


def test_bad_against_is_a_4xx_never_a_500(
    world: World, marie_dossier: int, three: list[str]
) -> None:
    other_dossier = world.create("admissions", "jean", medecin_traitant=world.nid("gp"))
    elsewhere = world.deposit("gp", other_dossier, content=V1)["logical_id"]
    unrelated = world.deposit("gp", marie_dossier, content=V1)["logical_id"]
    cases = [
        (elsewhere, 404, "document_not_found"),  # another dossier's document
        (str(uuid.uuid4()), 404, "document_not_found"),  # nothing
        (unrelated, 422, "not_a_version"),  # same dossier, another document
        ("pas-un-uuid", 422, "against_invalid"),
        ("", 422, "against_invalid"),
        (None, 422, "against_required"),
    ]
    before = len(world.trace("marie"))
    for against, status, reason in cases:
        r = diff(world, "gp", marie_dossier, three[2], against)
        assert (r.status_code, r.get_json()["reason"]) == (status, reason), against
    traced = [(e.action, e.outcome, e.reason) for e in world.trace("marie")[before:]]
    # Decided and traced like reading a missing document (the second identical refusal is
    # counted on the first's entry); the one that exists but is another document is
    # traced as a read that was not carried out.
    assert traced == [
        ("document:read", "denied", "not_found"),
        ("document:read", "denied", "not_a_version"),
    ]
    r = versions(world, "gp", marie_dossier, elsewhere)  # named in the wrong dossier
    assert (r.status_code, r.get_json()["reason"]) == (404, "document_not_found")


def test_an_unrelated_professional_learns_nothing(
    world: World, marie_dossier: int, three: list[str]
) -> None:
    r = versions(world, "pharmacien", marie_dossier, three[0])
    assert (r.status_code, r.get_json()["reason"]) == (403, "no_authorisation")
    r = diff(world, "pharmacien", marie_dossier, three[0], str(uuid.uuid4()))
    assert (r.status_code, r.get_json()["reason"]) == (403, "no_authorisation")
    with world.rt.sessions() as s:
        refused = s.scalars(
            select(AuditEntry).where(AuditEntry.actor_id == world.ids["pharmacien"])
        ).all()
    assert {e.outcome for e in refused} == {"denied"}


def test_a_scan_compares_once_its_text_is_read(world: World, marie_dossier: int) -> None:
    first = deposit_scan(world, marie_dossier, scans.photo(["Allergie : pénicilline"]))
    r = replace(
        world,
        "gp",
        marie_dossier,
        first,
        scans.photo(["Allergie : pénicilline", "Asthme léger"]),
        mime_type="image/png",
        replace_reason="Antécédent ajouté",
    )
    assert r.status_code == 201
    second = r.get_json()["logical_id"]
    listed = versions(world, "gp", marie_dossier, second).get_json()["versions"]
    assert [v["text_status"] for v in listed] == ["pending", "pending"]
    r = diff(world, "gp", marie_dossier, second, first)
    assert (r.status_code, r.get_json()["reason"]) == (409, "text_pending")
    assert "en cours de lecture" in r.get_json()["message"]
    assert [o.status for o in ocr_worker.run_once(world.rt, batch=2)] == ["ready", "ready"]
    r = diff(world, "gp", marie_dossier, second, first)
    assert r.status_code == 200, r.get_json()
    lines = [(line["op"], line["text"].lower()) for line in r.get_json()["lines"]]
    assert ("added", "asthme léger") in lines
    assert ("same", "allergie : pénicilline") in lines


@pytest.mark.parametrize(
    ("status", "reason"), [(None, "text_unavailable"), ("failed", "text_failed")]
)
def test_a_version_without_text_cannot_be_compared(
    world: World, marie_dossier: int, status: str | None, reason: str
) -> None:
    first = world.deposit("gp", marie_dossier, content=scans.photo(), mime_type="image/png")[
        "logical_id"
    ]
    add_text_row(world, first, status)  # the deposit left it pending: OCR gave up, or none
    second = replaced(world, "gp", marie_dossier, first, V1)
    before = len(world.trace("marie"))
    r = diff(world, "gp", marie_dossier, second, first)
    assert (r.status_code, r.get_json()["reason"]) == (409, reason)
    traced = world.trace("marie")[before:]
    assert traced[-1].outcome == "denied"  # the read that could not be carried out
    assert traced[-1].reason == reason
