"""Issue 10, section 4: the services answer what the access rules say, on every path.

The policy table (tests/server/policy/test_policy_table.py) specifies `decide`; these
tests check that the services ask it, and ask it before any answer that depends on what
is stored: only a physician is médecin traitant, lists and reads by id agree, the
INVISIBLE_PATIENT label is never shown where it is not applied, and an unknown INS,
dossier, document or professional is decided and traced like anything else.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from server.models import AuditEntry, CareTeamMember, Document, Dossier, Professional
from server.policy import ActorKind
from server.services import audit
from server.signin import sessions
from tests.server.conftest import World, doc

ALL = "?all=true"

# Well formed (a logical id is a UUID) and nobody's: a malformed one is refused at the
# API boundary for what it is, before any lookup, which tells nothing of what exists.
NO_SUCH_DOCUMENT = "1e3f2d5f-850a-4d67-8762-127f13043944"


def _luhn_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def add_pro(world: World, name: str, profession: str, finess: str | None = None) -> str:
    """A professional beyond the conftest's, signed in as `name`; returns the national id."""
    rpps = f"1{len(world.ids):09d}"
    nid = "8" + rpps + _luhn_digit(rpps)
    with world.rt.sessions() as s:
        pro = Professional(
            national_id=nid,
            first_name=name.title(),
            last_name="Test",
            profession=profession,
            structure_finess=finess,
            active=True,
        )
        s.add(pro)
        s.flush()
        world.ids[name] = pro.id
        s.commit()
    with world.rt.sessions() as s:
        world.tokens[name] = sessions.open_session(
            world.rt.ctx(s), ActorKind.PROFESSIONAL, world.ids[name], None
        )
        s.commit()
    return nid


def _denied(r: Any, status: int, reason: str) -> None:
    assert (r.status_code, r.get_json()["reason"]) == (status, reason), r.get_json()


def _chain(world: World, chain: str) -> list[AuditEntry]:
    with world.rt.sessions() as s:
        query = select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
        return list(s.scalars(query))


# --- 1. only a physician is médecin traitant --------------------------------------------


@pytest.mark.parametrize("name", ["pharmacien", "infirmier", "admissions"])
def test_only_a_physician_can_be_named_medecin_traitant(
    world: World, marie_dossier: int, name: str
) -> None:
    path = f"/dossiers/{marie_dossier}/medecin-traitant"
    before = len(world.trace("marie"))
    r = world.call("PUT", "marie", path, {"national_id": world.nid(name)})
    _denied(r, 403, "not_a_physician")
    assert "médecin" in r.get_json()["message"]
    last = world.trace("marie")[before:]
    assert [(e.action, e.outcome, e.reason) for e in last] == [
        ("medecin_traitant:set", "denied", "not_a_physician")
    ]
    summary = world.call("GET", "marie", f"/dossiers/{marie_dossier}").get_json()
    assert summary["medecin_traitant"]["national_id"] == world.nid("gp")
    r = world.call("PUT", "marie", path, {"national_id": world.nid("specialist")})
    assert r.status_code == 200, r.get_json()


def test_a_dossier_cannot_be_created_with_a_non_physician_as_medecin_traitant(
    world: World,
) -> None:
    body = {
        "patient": {**_identity("jean")},
        "consent": {"given": True, "terminal": "t"},
        "medecin_traitant": world.nid("infirmier"),
    }
    _denied(world.call("POST", "admissions", "/dossiers", body), 403, "not_a_physician")
    r = world.call("POST", "admissions", "/dossiers/lookup", {"ins": _identity("jean")["ins"]})
    _denied(r, 404, "dossier_not_found")


def _identity(name: str) -> dict[str, Any]:
    from tests.server.conftest import identity

    return identity(name)


@pytest.mark.parametrize("name", ["pharmacien", "infirmier", "admissions"])
def test_a_non_physician_recorded_as_medecin_traitant_gets_no_such_rights(
    world: World, marie_dossier: int, name: str
) -> None:
    # A row from before the rule (or written straight into the database).
    world.deposit("gp", marie_dossier, category="compte_rendu", masked_ps=True)
    with world.rt.sessions() as s:
        row = s.get(Dossier, marie_dossier)
        assert row is not None
        row.medecin_traitant_id = world.ids[name]
        s.commit()
    d = f"/dossiers/{marie_dossier}"
    _denied(world.call("GET", name, d + "/documents"), 403, "no_authorisation")
    # ...and the patient can block them, which a médecin traitant cannot be.
    r = world.call("PUT", "marie", f"{d}/blocks/{world.nid(name)}")
    assert r.status_code == 200, r.get_json()
    _denied(world.call("GET", name, d), 403, "professional_blocked")


# --- 2. the list shows exactly what reading by id allows ---------------------------------


@pytest.fixture
def crowded(world: World, marie_dossier: int) -> int:
    """Marie's dossier with documents by many hands, and many kinds of readers."""
    d = f"/dossiers/{marie_dossier}"
    add_pro(world, "dentiste", "chirurgien_dentiste", "750000036")
    add_pro(world, "sage_femme", "sage_femme")
    add_pro(world, "radiologue", "medecin_specialiste")
    for name in ("dentiste", "radiologue", "infirmier", "sage_femme"):
        r = world.call("POST", "marie", d + "/care-team", {"national_id": _nid(world, name)})
        assert r.status_code == 201, r.get_json()
    world.call("POST", "marie", d + "/consents", {"national_id": world.nid("pharmacien")})
    world.call("POST", "admissions", d + "/care-team/join")
    world.deposit("gp", marie_dossier, category="compte_rendu", title="cr")
    world.deposit("gp", marie_dossier, category="compte_rendu", title="masque", masked_ps=True)
    world.deposit("gp", marie_dossier, category="synthese", title="cache", invisible_patient=True)
    world.deposit("dentiste", marie_dossier, category="certificat", title="certificat dentaire")
    world.deposit("radiologue", marie_dossier, category="imagerie", title="irm", masked_ps=True)
    world.deposit("pharmacien", marie_dossier, category="dispensation", title="dispensation")
    world.deposit("admissions", marie_dossier, category="gestion", title="admission")
    world.deposit("sage_femme", marie_dossier, category="certificat", title="declaration")
    world.deposit("marie", marie_dossier, category="depose_patient", title="mon document")
    # The radiologist leaves the care team: an author with no other relation.
    with world.rt.sessions() as s:
        member = s.scalars(
            select(CareTeamMember).where(
                CareTeamMember.dossier_id == marie_dossier,
                CareTeamMember.professional_id == world.ids["radiologue"],
            )
        ).one()
        s.delete(member)
        s.commit()
    return marie_dossier


def _nid(world: World, name: str) -> str:
    with world.rt.sessions() as s:
        pro = s.get(Professional, world.ids[name])
        assert pro is not None
        return pro.national_id


READERS = [
    "marie",
    "gp",
    "specialist",
    "radiologue",
    "dentiste",
    "sage_femme",
    "infirmier",
    "pharmacien",
    "admissions",
    "urgentiste",
    "regulateur",
    "travail",
    "insurer",
    "mutuelle",
    "jean",
]


@pytest.mark.parametrize("reader", READERS)
def test_the_list_shows_exactly_the_documents_readable_by_id(
    world: World, crowded: int, reader: str
) -> None:
    d = f"/dossiers/{crowded}"
    with world.rt.sessions() as s:
        ids = list(s.scalars(select(Document.logical_id).where(Document.dossier_id == crowded)))
    assert len(ids) == 9
    readable = {
        i for i in ids if world.call("GET", reader, f"{d}/documents/{i}").status_code == 200
    }
    r = world.call("GET", reader, d + "/documents" + ALL)
    listed = {x["logical_id"] for x in r.get_json()["documents"]} if r.status_code == 200 else set()
    assert listed == readable
    assert r.status_code == 200 or not readable


def test_an_author_lists_and_reads_what_they_wrote_and_nothing_else(
    world: World, crowded: int
) -> None:
    titles = set(world.titles("radiologue", crowded, ALL))
    assert titles == {"irm"}  # masked, and outside any relation: authorship alone
    assert "certificat dentaire" in world.titles("dentiste", crowded, ALL)
    assert "declaration" not in world.titles("dentiste", crowded, ALL)
    # The admissions desk reads no clinical category, but its own admission form.
    assert world.titles("admissions", crowded, ALL) == ["admission"]


# --- 3. INVISIBLE_PATIENT never on the patient's own deposit ---------------------------


def test_a_patient_deposit_cannot_be_hidden_from_the_patient(world: World, crowded: int) -> None:
    d = f"/dossiers/{crowded}/documents"
    mine = next(
        x
        for x in world.call("GET", "marie", d).get_json()["documents"]
        if x["title"] == "mon document"
    )
    r = world.call(
        "PATCH",
        "gp",
        f"{d}/{mine['logical_id']}/visibility",
        {"invisible_patient": True, "confirm": True},
    )
    _denied(r, 403, "patient_deposit_visible")
    assert world.call("GET", "marie", f"{d}/{mine['logical_id']}").status_code == 200


def test_no_label_claims_a_hiding_the_rules_do_not_apply(world: World, crowded: int) -> None:
    # A flag set before the rule: the patient still reads the document, so no label.
    with world.rt.sessions() as s:
        row = s.scalars(select(Document).where(Document.title == "mon document")).one()
        row.invisible_patient = True
        logical_id = row.logical_id
        s.commit()
    d = f"/dossiers/{crowded}/documents"
    shown = world.call("GET", "marie", f"{d}/{logical_id}").get_json()
    assert "Non visible par le patient" not in " ".join(shown["labels"])
    listed = next(
        x
        for x in world.call("GET", "marie", d).get_json()["documents"]
        if x["title"] == "mon document"
    )
    assert listed["labels"] == shown["labels"]
    hidden = next(
        x for x in world.call("GET", "gp", d).get_json()["documents"] if x["title"] == "cache"
    )
    assert hidden["labels"]  # a professional's document hidden from the patient keeps it


# --- 4. the policy decides before any 404 ----------------------------------------------

UNKNOWN_INS = "255081416802538"  # valid, nobody's


def test_an_unknown_ins_is_decided_and_traced_on_the_system_chain(world: World) -> None:
    before = len(_chain(world, "system"))
    r = world.call("POST", "admissions", "/dossiers/lookup", {"ins": UNKNOWN_INS})
    _denied(r, 404, "dossier_not_found")  # the desk may learn there is none, to create it
    entry = _chain(world, "system")[before:][-1]
    assert (entry.action, entry.outcome, entry.reason) == ("dossier:lookup", "denied", "not_found")
    assert UNKNOWN_INS not in entry.detail


def test_a_patient_cannot_tell_whether_someone_else_has_a_dossier(
    world: World, marie_dossier: int
) -> None:
    known = world.call("POST", "jean", "/dossiers/lookup", {"ins": _identity("marie")["ins"]})
    unknown = world.call("POST", "jean", "/dossiers/lookup", {"ins": UNKNOWN_INS})
    _denied(known, 403, "not_a_party")
    assert (unknown.status_code, unknown.get_json()) == (known.status_code, known.get_json())
    # About themself, a patient learns that they have no dossier yet (to open one).
    r = world.call("POST", "jean", "/dossiers/lookup", {"ins": _identity("jean")["ins"]})
    _denied(r, 404, "dossier_not_found")
    assert world.trace("jean")[-1].reason == "not_found"  # on their own chain


def test_unknown_and_foreign_dossier_ids_answer_alike(world: World, marie_dossier: int) -> None:
    before = len(_chain(world, "system"))
    for path in ("", "/documents", "/history", "/access"):
        known = world.call("GET", "urgentiste", f"/dossiers/{marie_dossier}{path}")
        unknown = world.call("GET", "urgentiste", f"/dossiers/99999{path}")
        assert known.status_code == unknown.status_code == 403
        assert known.get_json()["reason"] == unknown.get_json()["reason"], path
    refused = _chain(world, "system")[before:]
    # /history and /access are both the history right: one entry and a repeat.
    assert [(e.action, e.outcome) for e in refused] == [
        ("dossier:read", "denied"),
        ("document:list", "denied"),
        ("history:read", "denied"),
    ]


def test_an_unknown_document_is_decided_before_it_is_not_found(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}/documents"
    theirs = world.deposit("gp", marie_dossier)["logical_id"]
    # Unrelated: the same refusal for an existing and an unknown document.
    for who in ("urgentiste", "jean"):
        known = world.call("GET", who, f"{d}/{theirs}")
        unknown = world.call("GET", who, f"{d}/{NO_SUCH_DOCUMENT}")
        assert (known.status_code, known.get_json()) == (unknown.status_code, unknown.get_json())
    # Related: not found, and traced on the patient's chain.
    _denied(world.call("GET", "marie", f"{d}/{NO_SUCH_DOCUMENT}"), 404, "document_not_found")
    last = world.trace("marie")[-1]
    assert (last.action, last.reason) == ("document:read", "not_found")


def test_an_unknown_professional_is_decided_before_it_is_not_found(
    world: World, marie_dossier: int
) -> None:
    blocks = f"/dossiers/{marie_dossier}/blocks"
    _denied(world.call("PUT", "marie", f"{blocks}/810000000009"), 404, "professional_not_found")
    assert world.trace("marie")[-1].reason == "not_found"
    known = world.call("PUT", "jean", f"{blocks}/{world.nid('pharmacien')}")
    unknown = world.call("PUT", "jean", f"{blocks}/810000000009")
    _denied(known, 403, "not_a_party")
    assert unknown.get_json() == known.get_json()


def test_acting_on_a_hidden_document_answers_as_a_missing_one(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}/documents"
    world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/care-team",
        {"national_id": world.nid("infirmier")},
    )
    masked = world.deposit("gp", marie_dossier, masked_ps=True)["logical_id"]
    for method, suffix, body in (
        ("POST", "/archive", None),
        ("DELETE", "", None),
        ("PATCH", "/visibility", {"invisible_rep": True, "confirm": True}),
    ):
        hidden = world.call(method, "infirmier", f"{d}/{masked}{suffix}", body)
        unknown = world.call(method, "infirmier", f"{d}/{NO_SUCH_DOCUMENT}{suffix}", body)
        assert (hidden.status_code, hidden.get_json()) == (unknown.status_code, unknown.get_json())
        _denied(hidden, 404, "document_not_found")
    assert world.trace("marie")[-2].reason == "document_masked"  # the history knows why


def test_a_refused_depositor_learns_nothing_of_existing_unique_ids(
    world: World, marie_dossier: int
) -> None:
    world.deposit("gp", marie_dossier, unique_id="urn:oid:1.2.3.4")
    r = world.call(
        "POST",
        "urgentiste",
        f"/dossiers/{marie_dossier}/documents",
        doc(unique_id="urn:oid:1.2.3.4"),
    )
    _denied(r, 403, "no_authorisation")
    r = world.call(
        "POST", "gp", f"/dossiers/{marie_dossier}/documents", doc(unique_id="urn:oid:1.2.3.4")
    )
    _denied(r, 409, "unique_id_exists")


def test_a_visibility_request_that_changes_nothing_is_still_decided(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}/documents"
    logical_id = world.deposit("gp", marie_dossier)["logical_id"]
    r = world.call(
        "PATCH", "urgentiste", f"{d}/{logical_id}/visibility", {"masked_ps": False, "confirm": True}
    )
    _denied(r, 403, "no_authorisation")
    assert "title" not in r.get_json()


# --- 5. repeated identical denials: one entry per window, and a count -----------------


def test_repeated_identical_denials_do_not_grow_the_patients_history(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}"
    before = len(world.trace("marie"))
    for _ in range(30):
        _denied(world.call("GET", "jean", d), 403, "not_a_party")
    _denied(world.call("GET", "jean", d + "/history"), 403, "not_a_party")  # another action
    added = world.trace("marie")[before:]
    assert [(e.actor_name, e.action) for e in added] == [
        ("Jean ROUSSEAU", "dossier:read"),
        ("Jean ROUSSEAU", "history:read"),
    ]
    history = world.call("GET", "marie", d + "/history").get_json()["entries"]
    first = next(e for e in history if e["seq"] == added[0].seq)
    assert first["repeated"] == 29
    assert "répété 29 fois" in first["text"]
    assert next(e for e in history if e["seq"] == added[1].seq)["repeated"] == 0


def test_the_count_is_sealed_into_the_chain_by_the_next_window(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}"
    for _ in range(5):
        world.call("GET", "jean", d)
    opened = world.trace("marie")[-1]
    world.clock.advance(hours=25)
    world.tokens["jean"] = world.open("jean")
    before = len(world.trace("marie"))
    world.call("GET", "jean", d)
    world.call("GET", "jean", d)
    added = world.trace("marie")[before:]
    assert len(added) == 1
    assert json.loads(added[0].detail)["repeated_before"]["entry"] == opened.seq
    assert json.loads(added[0].detail)["repeated_before"]["repeats"] == 4
    with world.rt.sessions() as s:
        assert list(audit.verify(s)) == []


def test_probing_unknown_dossiers_adds_one_system_entry(world: World) -> None:
    before = len(_chain(world, "system"))
    for dossier_id in range(900, 920):
        world.call("GET", "jean", f"/dossiers/{dossier_id}")
    assert len(_chain(world, "system")) == before + 1


def test_an_allowed_action_refused_by_stored_data_is_still_traced(
    world: World, marie_dossier: int
) -> None:
    """A 409 after an allowed decision undoes the request, not its trace: the answer is
    traced as not carried out, with the request's reason, and the history explains it."""
    world.deposit("gp", marie_dossier, unique_id="urn:oid:1.2.3.9")
    before = len(world.trace("marie"))
    r = world.call(
        "POST", "gp", f"/dossiers/{marie_dossier}/documents", doc(unique_id="urn:oid:1.2.3.9")
    )
    _denied(r, 409, "unique_id_exists")
    entries = world.trace("marie")
    assert len(entries) == before + 1
    last = entries[-1]
    assert (last.action, last.outcome, last.reason) == (
        "document:deposit",
        "denied",
        "unique_id_exists",
    )
    assert json.loads(last.detail)["decided"] == "medecin_traitant"
    with world.rt.sessions() as s:
        assert s.scalars(select(Document).where(Document.dossier_id == marie_dossier)).all()
    history = world.call("GET", "marie", f"/dossiers/{marie_dossier}/history").get_json()
    shown = next(e for e in history["entries"] if e["seq"] == last.seq)
    assert "identifiant unique" in shown["text"]
