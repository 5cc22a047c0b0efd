"""Documents through the API: filtering, lifecycle, flags, limits, idempotency, encryption."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from sqlalchemy import func, select

from server.models import AuditEntry, Document, DocumentContent, DocumentEntry, Dossier
from tests.server import content_samples as samples
from tests.server.conftest import World, doc


def count(world: World, model: Any) -> int:
    with world.rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def grant(world: World, dossier_id: int, pro: str) -> None:
    r = world.call(
        "POST", "marie", f"/dossiers/{dossier_id}/consents", {"national_id": world.nid(pro)}
    )
    assert r.status_code == 201


def test_deposit_then_read_back_the_exact_bytes(world: World, marie_dossier: int) -> None:
    body = b"Compte rendu : tension 12/8, poursuite du traitement."
    meta = world.deposit("gp", marie_dossier, content=body, title="Consultation")
    assert meta["size"] == len(body)
    assert "sha256" not in meta  # nothing derived from the content in clear (below)
    assert meta["status"] == "current"
    assert meta["version"] == 1
    assert meta["author"]["profession"] == "medecin_generaliste"
    r = world.call(
        "GET", "marie", f"/dossiers/{marie_dossier}/documents/{meta['logical_id']}/content"
    )
    assert r.status_code == 200
    assert r.data == body
    # RFC 3230: the SHA-256 of the bytes served, base64, computed at read.
    assert (
        r.headers["Digest"] == "sha-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    )
    # At rest: no plain digest of the content, a fingerprint keyed by the dossier's key.
    with world.rt.sessions() as s:
        stored = s.scalars(select(Document).where(Document.logical_id == meta["logical_id"])).one()
        wrapped = s.get(Dossier, marie_dossier).wrapped_key
        assert stored.sha256 != hashlib.sha256(body).hexdigest()
        assert stored.sha256 == world.rt.keyring.fingerprint(wrapped, body)
    assert r.mimetype == "text/plain"
    assert r.headers["Cache-Control"] == "no-store"


def test_content_is_encrypted_at_rest(world: World, marie_dossier: int) -> None:
    secret = b"Diagnostic confidentiel: lymphome"
    world.deposit("gp", marie_dossier, content=secret)
    with world.rt.sessions() as s:
        stored = s.scalars(select(DocumentContent)).one()
        assert secret not in stored.ciphertext
        assert len(stored.ciphertext) == len(secret) + 16


def test_a_ciphertext_moved_to_another_document_does_not_decrypt(
    world: World, marie_dossier: int
) -> None:
    a = world.deposit("gp", marie_dossier, content=b"A")
    b = world.deposit("gp", marie_dossier, content=b"B")
    with world.rt.sessions() as s:
        rows = {d.logical_id: d.id for d in s.scalars(select(Document))}
        ca = s.get(DocumentContent, rows[a["logical_id"]])
        cb = s.get(DocumentContent, rows[b["logical_id"]])
        assert ca is not None
        assert cb is not None
        cb.nonce, cb.ciphertext = ca.nonce, ca.ciphertext
        s.commit()
    r = world.call("GET", "gp", f"/dossiers/{marie_dossier}/documents/{b['logical_id']}/content")
    assert r.status_code == 500  # authenticated decryption refuses the swapped row
    assert r.get_json() == {
        "error": "internal_error",
        "reason": "internal_error",
        "message": "Erreur interne.",
    }


def test_the_pharmacist_sees_only_what_the_matrix_allows(world: World, marie_dossier: int) -> None:
    for category in ("compte_rendu", "prescription", "certificat"):
        world.deposit("gp", marie_dossier, category=category, title=category)
    grant(world, marie_dossier, "specialist")
    world.deposit("specialist", marie_dossier, category="imagerie", title="imagerie")
    grant(world, marie_dossier, "pharmacien")
    world.deposit("pharmacien", marie_dossier, category="dispensation", title="dispensation")
    r = world.call("POST", "gp", f"/dossiers/{marie_dossier}/documents", doc("dispensation"))
    assert (r.status_code, r.get_json()["reason"]) == (
        403,
        "category_not_allowed",
    )  # GPs do not dispense
    seen = set(world.titles("pharmacien", marie_dossier))
    rules = world.rt.matrix.rules_for("pharmacien")
    assert seen == {
        c
        for c in ("compte_rendu", "prescription", "dispensation", "imagerie", "certificat")
        if c in {x.value for x in rules.read}
    }
    assert "prescription" in seen
    assert "imagerie" not in seen
    assert len(world.titles("gp", marie_dossier)) == 5  # the médecin traitant sees everything


def test_a_category_outside_the_matrix_reads_as_not_found(world: World, marie_dossier: int) -> None:
    grant(world, marie_dossier, "specialist")
    img = world.deposit("specialist", marie_dossier, category="imagerie")
    grant(world, marie_dossier, "pharmacien")
    r = world.call("GET", "pharmacien", f"/dossiers/{marie_dossier}/documents/{img['logical_id']}")
    assert r.status_code == 404
    entry = world.trace("marie")[-1]
    assert (entry.outcome, entry.reason) == (
        "denied",
        "category_not_allowed",
    )  # the truth is traced


def test_masked_documents_are_hidden_from_professionals_but_not_the_mt_or_author(
    world: World, marie_dossier: int
) -> None:
    grant(world, marie_dossier, "infirmier")
    world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/care-team",
        {"national_id": world.nid("specialist")},
    )
    masked = world.deposit("specialist", marie_dossier, title="masqué", masked_ps=True)
    world.deposit("specialist", marie_dossier, title="visible")
    assert world.titles("infirmier", marie_dossier) == ["visible"]
    assert world.titles("gp", marie_dossier) == ["visible", "masqué"]  # médecin traitant
    assert world.titles("specialist", marie_dossier) == ["visible", "masqué"]  # author
    listed = world.call("GET", "marie", f"/dossiers/{marie_dossier}/documents").get_json()[
        "documents"
    ]
    assert listed[1]["labels"] == ["Masqué aux professionnels"]
    r = world.call(
        "GET", "infirmier", f"/dossiers/{marie_dossier}/documents/{masked['logical_id']}/content"
    )
    assert r.status_code == 404


def test_invisible_to_patient_until_a_professional_reveals_it(
    world: World, marie_dossier: int
) -> None:
    hidden = world.deposit("gp", marie_dossier, title="annonce", invisible_patient=True)
    assert world.titles("marie", marie_dossier) == []
    r = world.call("GET", "marie", f"/dossiers/{marie_dossier}/documents/{hidden['logical_id']}")
    assert (r.status_code, r.get_json()["reason"]) == (403, "invisible_to_patient")
    path = f"/dossiers/{marie_dossier}/documents/{hidden['logical_id']}/visibility"
    assert (
        world.call(
            "PATCH", "marie", path, {"invisible_patient": False, "confirm": True}
        ).status_code
        == 403
    )
    r = world.call("PATCH", "gp", path, {"invisible_patient": False, "confirm": True})
    assert r.status_code == 200
    assert r.get_json()["entry_uuid"] != hidden["entry_uuid"]  # a new metadata version
    assert world.titles("marie", marie_dossier) == ["annonce"]


def test_representatives_of_a_minor_and_their_limits(world: World) -> None:
    leo = world.create(
        "gp", "leo", representatives=["279035121518989"], medecin_traitant=world.nid("gp")
    )
    world.deposit("gp", leo, title="vaccins")
    world.deposit("gp", leo, title="secret", invisible_rep=True)
    assert world.titles("marie", leo) == ["vaccins"]  # his mother, as representative
    assert sorted(world.titles("leo", leo)) == ["secret", "vaccins"]
    assert world.call("GET", "jean", f"/dossiers/{leo}/documents").status_code == 403
    world.clock.advance(days=365 * 12)  # Léo comes of age
    world.tokens["marie"] = world.open("marie")
    r = world.call("GET", "marie", f"/dossiers/{leo}/documents")
    assert (r.status_code, r.get_json()["reason"]) == (403, "representative_of_adult")


def test_two_years_by_default_everything_on_request(world: World, marie_dossier: int) -> None:
    world.deposit("gp", marie_dossier, title="ancien")
    world.clock.advance(days=3 * 365)
    world.tokens["gp"] = world.open("gp")
    archived = world.deposit("gp", marie_dossier, title="archivé")
    world.call(
        "POST", "gp", f"/dossiers/{marie_dossier}/documents/{archived['logical_id']}/archive"
    )
    world.deposit("gp", marie_dossier, title="récent")
    assert world.titles("gp", marie_dossier) == ["récent"]
    assert world.titles("gp", marie_dossier, "?all=true") == ["récent", "archivé", "ancien"]
    assert world.titles("gp", marie_dossier, "?all=true&category=prescription") == []
    assert (
        world.call("GET", "gp", f"/dossiers/{marie_dossier}/documents?all=maybe").status_code == 422
    )
    assert (
        world.call("GET", "gp", f"/dossiers/{marie_dossier}/documents?category=x").status_code
        == 422
    )


def test_replace_keeps_the_old_version_linked_both_ways(world: World, marie_dossier: int) -> None:
    old = world.deposit("gp", marie_dossier, title="v1")
    r = world.call(
        "POST",
        "gp",
        f"/dossiers/{marie_dossier}/documents/{old['logical_id']}/replace",
        doc(title="v2"),
    )
    assert r.status_code == 201
    new = r.get_json()
    assert (new["version"], new["replaces"]) == (2, old["logical_id"])
    assert world.titles("gp", marie_dossier) == ["v2"]
    everything = world.call("GET", "gp", f"/dossiers/{marie_dossier}/documents?all=true").get_json()
    old_now = next(d for d in everything["documents"] if d["logical_id"] == old["logical_id"])
    assert old_now["status"] == "superseded"
    assert old_now["replaced_by"] == new["logical_id"]
    assert "Remplacé par une version plus récente" in old_now["labels"]
    again = world.call(
        "POST", "gp", f"/dossiers/{marie_dossier}/documents/{old['logical_id']}/replace", doc()
    )
    assert (again.status_code, again.get_json()["reason"]) == (403, "document_not_current")
    other = world.call(
        "POST",
        "gp",
        f"/dossiers/{marie_dossier}/documents/{new['logical_id']}/replace",
        doc(category="prescription"),
    )
    assert (other.status_code, other.get_json()["reason"]) == (422, "category_mismatch")


def test_the_metadata_says_whether_the_caller_may_replace_this_version(
    world: World, marie_dossier: int
) -> None:
    """The kiosk offers a replacement only where the rules allow it (issue 11): the
    author of a current version, not the médecin traitant who reads it, not the patient,
    not once it is superseded; asking is not a traced replacement."""
    grant(world, marie_dossier, "specialist")
    mine = world.deposit("specialist", marie_dossier, title="v1")
    path = f"/dossiers/{marie_dossier}/documents/{mine['logical_id']}"

    def may_replace(who: str, at: str = path) -> Any:
        r = world.call("GET", who, at)
        assert r.status_code == 200, r.get_json()
        return r.get_json()["may_replace"]

    before = len(world.trace("marie"))
    assert may_replace("specialist") is True
    assert [e.action for e in world.trace("marie")[before:]] == ["document:read"]
    assert may_replace("gp") is False  # the médecin traitant reads it, only the author replaces
    assert may_replace("marie") is False
    r = world.call("POST", "specialist", path + "/replace", doc(title="v2"))
    assert r.status_code == 201
    assert may_replace("specialist") is False  # superseded: the new version is replaced instead
    newer = f"/dossiers/{marie_dossier}/documents/{r.get_json()['logical_id']}"
    assert may_replace("specialist", newer) is True
    own = world.deposit("marie", marie_dossier, category="depose_patient", title="photo")
    assert may_replace("marie", f"/dossiers/{marie_dossier}/documents/{own['logical_id']}") is True
    # The listing is unchanged: the capability is a property of one reading, not of a list.
    listed = world.call("GET", "specialist", f"/dossiers/{marie_dossier}/documents").get_json()
    assert all("may_replace" not in d for d in listed["documents"])


def test_only_the_author_deletes_and_deletion_is_logical(world: World, marie_dossier: int) -> None:
    world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/care-team",
        {"national_id": world.nid("specialist")},
    )
    d = world.deposit("specialist", marie_dossier)
    path = f"/dossiers/{marie_dossier}/documents/{d['logical_id']}"
    assert world.call("DELETE", "gp", path).get_json()["reason"] == "not_the_author"
    assert world.call("DELETE", "marie", path).get_json()["reason"] == "not_the_author"
    assert world.call("DELETE", "specialist", path).get_json()["status"] == "deleted"
    assert world.titles("gp", marie_dossier, "?all=true") == []
    assert count(world, Document) == 1
    assert count(world, DocumentContent) == 1
    assert count(world, DocumentEntry) == 2  # deposit + deletion


def test_patients_deposit_their_own_documents_only_in_their_category(
    world: World, marie_dossier: int
) -> None:
    mine = world.deposit(
        "marie",
        marie_dossier,
        category="depose_patient",
        mime_type="image/png",
        content=samples.photo("PNG"),
    )
    assert mine["author"] == {"kind": "patient"}
    r = world.call("POST", "marie", f"/dossiers/{marie_dossier}/documents", doc("compte_rendu"))
    assert (r.status_code, r.get_json()["reason"]) == (403, "category_not_allowed")
    r = world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/documents",
        doc("depose_patient", invisible_patient=True),
    )
    assert (r.status_code, r.get_json()["reason"]) == (422, "flag_not_allowed")


@pytest.mark.parametrize(
    ("patch", "status", "reason"),
    [
        ({"category": "ordonnance"}, 422, "category_invalid"),
        ({"type_code": "abc"}, 422, "type_code_invalid"),
        ({"mime_type": "application/x-msdownload"}, 422, "mime_type_invalid"),
        ({"content_base64": "***"}, 422, "content_invalid"),
        ({"content_base64": ""}, 422, "content_required"),
        ({"masked_ps": True, "invisible_patient": True}, 422, "flags_incompatible"),
        ({"masked_ps": "yes"}, 422, "masked_ps_invalid"),
        ({"created_at": "yesterday"}, 422, "created_at_invalid"),
        ({"title": "x" * 301}, 422, "title_invalid"),
        ({"colour": "blue"}, 422, "unknown_field"),
    ],
)
def test_bad_deposits_get_a_clear_4xx_and_write_nothing(
    world: World, marie_dossier: int, patch: dict[str, Any], status: int, reason: str
) -> None:
    traces = count(world, AuditEntry)
    r = world.call("POST", "gp", f"/dossiers/{marie_dossier}/documents", {**doc(), **patch})
    assert (r.status_code, r.get_json()["reason"]) == (status, reason)
    assert count(world, Document) == 0
    assert count(world, AuditEntry) == traces


def test_patient_uploads_are_capped_at_the_configured_size(
    world: World, marie_dossier: int, app: Any
) -> None:
    limit = app.extensions["dmp"].settings["MAX_PATIENT_UPLOAD_BYTES"]
    assert limit == 5 * 1024 * 1024
    r = world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/documents",
        doc("depose_patient", content=b"x" * (limit + 1)),
    )
    assert (r.status_code, r.get_json()["reason"]) == (413, "content_too_large")
    assert (
        world.call(
            "POST",
            "marie",
            f"/dossiers/{marie_dossier}/documents",
            doc("depose_patient", content=b"x" * limit),
        ).status_code
        == 201
    )
    assert count(world, Document) == 1


def test_a_retried_deposit_with_the_same_key_creates_one_document(
    world: World, marie_dossier: int
) -> None:
    path = f"/dossiers/{marie_dossier}/documents"
    first = world.call("POST", "gp", path, doc(title="une fois"), **{"Idempotency-Key": "k-1"})
    second = world.call("POST", "gp", path, doc(title="une fois"), **{"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count(world, Document) == 1
    clash = world.call("POST", "gp", path, doc(title="autre"), **{"Idempotency-Key": "k-1"})
    assert (clash.status_code, clash.get_json()["reason"]) == (409, "idempotency_key_reused")
    # Keys are per actor: another caller's key never replays someone else's answer.
    world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/consents",
        {"national_id": world.nid("specialist")},
    )
    other = world.call(
        "POST", "specialist", path, doc(title="une fois"), **{"Idempotency-Key": "k-1"}
    )
    assert other.status_code == 201
    assert count(world, Document) == 2


def test_a_duplicate_unique_id_is_a_conflict(world: World, marie_dossier: int) -> None:
    world.deposit("gp", marie_dossier, unique_id="1.2.250.1.999.1")
    r = world.call(
        "POST", "gp", f"/dossiers/{marie_dossier}/documents", doc(unique_id="1.2.250.1.999.1")
    )
    assert (r.status_code, r.get_json()["reason"]) == (409, "unique_id_exists")


def test_visibility_changes_need_confirmation(world: World, marie_dossier: int) -> None:
    d = world.deposit("gp", marie_dossier)
    path = f"/dossiers/{marie_dossier}/documents/{d['logical_id']}/visibility"
    assert (
        world.call("PATCH", "marie", path, {"masked_ps": True}).get_json()["reason"]
        == "confirmation_required"
    )
    assert world.call("PATCH", "marie", path, {"confirm": True}).get_json()["reason"] == "no_change"
    r = world.call("PATCH", "marie", path, {"masked_ps": True, "confirm": True})
    assert r.get_json()["flags"]["masked_ps"] is True
    r = world.call("PATCH", "gp", path, {"invisible_patient": True, "confirm": True})
    assert (r.status_code, r.get_json()["reason"]) == (422, "flags_incompatible")
    assert (
        world.call("PATCH", "marie", path, {"masked_ps": False, "confirm": True}).status_code == 200
    )


def test_the_insurer_writes_reimbursements_and_reads_nothing(
    world: World, marie_dossier: int
) -> None:
    assert (
        world.deposit("insurer", marie_dossier, category="remboursement")["author"]["kind"]
        == "insurer"
    )
    r = world.call("POST", "insurer", f"/dossiers/{marie_dossier}/documents", doc("compte_rendu"))
    assert r.get_json()["reason"] == "insurer_reads_nothing"
    r = world.call("GET", "insurer", f"/dossiers/{marie_dossier}/documents")
    assert (r.status_code, r.get_json()["reason"]) == (403, "insurer_reads_nothing")


@pytest.mark.parametrize("who", ["mutuelle", "travail"])
def test_forbidden_actors_get_nothing_whatever_they_present(
    world: World, marie_dossier: int, who: str
) -> None:
    for method, path in (("GET", ""), ("GET", "/documents"), ("GET", "/history")):
        r = world.call(method, who, f"/dossiers/{marie_dossier}{path}")
        assert r.status_code == 403
    r = world.call("POST", who, f"/dossiers/{marie_dossier}/documents", doc("remboursement"))
    assert r.status_code == 403
    assert all(
        e.outcome == "denied"
        for e in world.trace("marie")
        if e.actor_name.startswith(who.title()[:4])
    )


def test_professionals_without_any_title_are_refused(world: World, marie_dossier: int) -> None:
    r = world.call("GET", "pharmacien", f"/dossiers/{marie_dossier}/documents")
    assert (r.status_code, r.get_json()["reason"]) == (403, "no_authorisation")
