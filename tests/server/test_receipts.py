"""Signed receipts (issue 13, docs/receipts.md): one per consent-bearing change, with the
right canonical content, read only by the dossier's patient and representatives."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from cardreader.emulator.pki import Pki
from server.app import create_app
from server.models import AuditEntry, DenialRepeat, Dossier, Receipt
from server.receipt_signer import ReceiptSignerError
from tests.conftest import wipe
from tests.server.conftest import PATIENTS, World, identity

Change = Callable[[World, int], Any]


def receipts_of(world: World, dossier_id: int, who: str = "marie") -> list[dict[str, Any]]:
    r = world.call("GET", who, f"/dossiers/{dossier_id}/receipts")
    assert r.status_code == 200, r.get_json()
    lines: list[dict[str, Any]] = r.get_json()["receipts"]
    return lines


def content_of(world: World, receipt_id: str, who: str = "marie") -> dict[str, Any]:
    r = world.call("GET", who, f"/receipts/{receipt_id}")
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "application/json"
    found: dict[str, Any] = json.loads(r.data)
    return found


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _member(world: World, d: int) -> int:
    body = {"national_id": world.nid("infirmier")}
    return int(_ok(world.call("POST", "marie", f"/dossiers/{d}/care-team", body), 201)["id"])


def _masked(world: World, d: int) -> str:
    doc = world.deposit("gp", d, category="compte_rendu", title="Titre qui reste hors du reçu")
    logical_id = str(doc["logical_id"])
    body = {"masked_ps": True, "confirm": True}
    _ok(world.call("PATCH", "marie", f"/dossiers/{d}/documents/{logical_id}/visibility", body))
    return logical_id


def _closed(world: World, d: int) -> None:
    body = {"confirm": True, "delete": True}
    _ok(world.call("POST", "marie", f"/dossiers/{d}/close", body))


# Each change: (what to do, the action the receipt names, what its "change" must hold).
CHANGES: dict[str, tuple[Change, str, Callable[[World, dict[str, Any]], None]]] = {
    "block": (
        lambda w, d: _ok(w.call("PUT", "marie", f"/dossiers/{d}/blocks/{w.nid('specialist')}")),
        "access:block",
        lambda w, c: _is(c["blocked"]["national_id"], w.nid("specialist")),
    ),
    "unblock": (
        lambda w, d: _ok(w.call("DELETE", "marie", f"/dossiers/{d}/blocks/{w.nid('specialist')}")),
        "access:grant",
        lambda w, c: _is(c["unblocked"]["national_id"], w.nid("specialist")),
    ),
    "consent": (
        lambda w, d: _ok(
            w.call(
                "POST", "marie", f"/dossiers/{d}/consents", {"national_id": w.nid("pharmacien")}
            ),
            201,
        ),
        "access:grant",
        lambda w, c: _is(
            (c["consent"]["professional"]["national_id"], c["consent"]["in_person"]),
            (w.nid("pharmacien"), False),
        ),
    ),
    "care team added": (
        _member,
        "care_team:manage",
        lambda w, c: _is(c["care_team_added"]["professional"]["national_id"], w.nid("infirmier")),
    ),
    "care team removed": (
        lambda w, d: _ok(w.call("DELETE", "marie", f"/dossiers/{d}/care-team/{_member(w, d)}")),
        "care_team:manage",
        lambda w, c: _is(c["care_team_removed"]["professional"]["national_id"], w.nid("infirmier")),
    ),
    "admission joins the care team": (
        lambda w, d: _ok(w.call("POST", "admissions", f"/dossiers/{d}/care-team/join")),
        "care_team:join",
        lambda w, c: _is(c["care_team_added"]["structure"], "920000049"),
    ),
    "medecin traitant changed": (
        lambda w, d: _ok(
            w.call(
                "PUT",
                "marie",
                f"/dossiers/{d}/medecin-traitant",
                {"national_id": w.nid("specialist")},
            )
        ),
        "medecin_traitant:set",
        lambda w, c: _is(
            (
                c["medecin_traitant"]["previous"]["national_id"],
                c["medecin_traitant"]["designated"]["national_id"],
            ),
            (w.nid("gp"), w.nid("specialist")),
        ),
    ),
    "emergency permission withdrawn": (
        lambda w, d: _ok(
            w.call("PUT", "marie", f"/dossiers/{d}/emergency-settings", {"bris_de_glace": False})
        ),
        "emergency:settings",
        lambda w, c: _is(
            c["emergency"],
            {
                "previous": {"bris_de_glace": True, "centre_15": True},
                "now": {"bris_de_glace": False, "centre_15": True},
            },
        ),
    ),
    "document masked": (
        _masked,
        "document:mask",
        lambda w, c: _is(
            (c["visibility"]["flags"], c["visibility"]["now"]["masked_ps"]),
            ({"masked_ps": True}, True),
        ),
    ),
    "closure with deletion request": (
        _closed,
        "dossier:close",
        lambda w, c: _is((c["status"], c["deletion_requested"]), ("closed", True)),
    ),
    "reopening": (
        lambda w, d: (
            _closed(w, d),
            _ok(w.call("POST", "marie", f"/dossiers/{d}/reopen")),
        ),
        "dossier:reopen",
        lambda w, c: _is(c, {"status": "active", "deletion_request_withdrawn": True}),
    ),
}


def _is(found: Any, expected: Any) -> None:
    assert found == expected


def test_creation_gives_one_receipt_naming_consent_terminal_and_actor(
    world: World, marie_dossier: int
) -> None:
    (line,) = receipts_of(world, marie_dossier)
    assert line["action"] == "dossier:create"
    content = content_of(world, line["receipt_id"])
    assert content["receipt_id"] == line["receipt_id"]
    assert content["format"] == "dmp-kiosk-receipt/3"
    assert content["issued_at"] == "2026-06-15T10:00:00.000000Z"
    ins, birth_name, first_names, born, _sex, _place = PATIENTS["marie"]
    assert content["dossier"] == {
        "id": marie_dossier,
        "patient": {
            "ins": ins,
            "ins_oid": "1.2.250.1.213.1.4.10",
            "birth_name": birth_name,
            "first_names": first_names,
            "birth_date": born,
        },
    }
    assert content["actor"] == {
        "kind": "professional",
        "id": world.ids["admissions"],
        "name": "Admissions Test",
        "national_id": world.nid("admissions"),
        "profession": "admissions",
        "structure": "920000049",
    }
    assert content["mode"] == "admissions"
    assert content["change"] == {
        "consent": {
            "given": True,
            "collected_by": f"professional:{world.ids['admissions']}",
            "terminal": "test-kiosk",
        },
        "emergency": {"bris_de_glace": True, "centre_15": True},
        "medecin_traitant": {
            "national_id": world.nid("gp"),
            "name": "Gp Test",
            "profession": "medecin_generaliste",
        },
        "representatives": [],
    }
    # The receipt belongs to the creation's own trace entry.
    with world.rt.sessions() as s:
        entry = s.get(AuditEntry, content["trace_entry"]["id"])
        assert entry is not None
        assert (entry.action, entry.outcome, entry.seq) == ("dossier:create", "allowed", 1)
    assert content["trace_entry"]["seq"] == line["trace_seq"] == 1


@pytest.mark.parametrize("name", CHANGES)
def test_each_consent_bearing_change_gives_exactly_one_receipt(
    world: World, marie_dossier: int, name: str
) -> None:
    act, action, check = CHANGES[name]
    before = {line["receipt_id"] for line in receipts_of(world, marie_dossier)}
    act(world, marie_dossier)
    new = [line for line in receipts_of(world, marie_dossier) if line["receipt_id"] not in before]
    # Two steps make two changes (a member added, then removed; a closure, then the
    # reopening): the receipt of the change under test is the last one.
    assert len(new) == (2 if name in ("reopening", "care team removed") else 1)
    line = new[-1]
    assert line["action"] == action
    content = content_of(world, line["receipt_id"])
    assert content["action"] == action
    assert content["dossier"]["id"] == marie_dossier
    check(world, content["change"])
    with world.rt.sessions() as s:
        entry = s.get(AuditEntry, content["trace_entry"]["id"])
        assert entry is not None
        assert entry.chain == f"patient:{world.ids['marie']}"
        assert (entry.action, entry.outcome) == (action, "allowed")
    # What the receipt holds is the change, never a document's title or content.
    assert (
        b"Titre qui reste" not in world.call("GET", "marie", f"/receipts/{line['receipt_id']}").data
    )


def test_the_content_is_canonical_json(world: World, marie_dossier: int) -> None:
    (line,) = receipts_of(world, marie_dossier)
    raw = world.call("GET", "marie", f"/receipts/{line['receipt_id']}").data
    parsed = json.loads(raw)
    assert raw == json.dumps(
        parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    with world.rt.sessions() as s:
        stored = s.scalars(select(Receipt).where(Receipt.receipt_id == line["receipt_id"])).one()
        assert stored.content == raw


def test_a_replayed_write_gives_no_second_receipt(world: World, marie_dossier: int) -> None:
    """A retry carrying the same Idempotency-Key replays the first answer: the change was
    made once, and has one receipt."""
    path = f"/dossiers/{marie_dossier}/blocks/{world.nid('specialist')}"
    first = world.call("PUT", "marie", path, **{"Idempotency-Key": "k-1"})
    again = world.call("PUT", "marie", path, **{"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [line["action"] for line in receipts_of(world, marie_dossier)] == [
        "dossier:create",
        "access:block",
    ]


def test_a_refused_change_gives_no_receipt(world: World, marie_dossier: int) -> None:
    before = receipts_of(world, marie_dossier)
    # The médecin traitant cannot be blocked; a pharmacist cannot block anyone.
    assert (
        world.call(
            "PUT", "marie", f"/dossiers/{marie_dossier}/blocks/{world.nid('gp')}"
        ).status_code
        == 403
    )
    path = f"/dossiers/{marie_dossier}/blocks/{world.nid('specialist')}"
    assert world.call("PUT", "pharmacien", path).status_code == 403
    assert receipts_of(world, marie_dossier) == before


def test_a_minors_representative_reads_the_receipts_naming_them(world: World) -> None:
    leo = world.create("admissions", "leo", representatives=[PATIENTS["marie"][0]])
    (line,) = receipts_of(world, leo, who="marie")
    content = content_of(world, line["receipt_id"], who="marie")
    assert [rep["ins"] for rep in content["change"]["representatives"]] == [PATIENTS["marie"][0]]
    assert receipts_of(world, leo, who="leo") == [line]


@pytest.mark.parametrize("who", ["jean", "gp", "admissions", "insurer", "mutuelle"])
def test_nobody_else_reads_receipts_and_each_refusal_is_traced(
    world: World, marie_dossier: int, who: str
) -> None:
    """Another patient, the médecin traitant, the desk that collected the consent, the
    insurer, a mutuelle: refused, and traced on Marie's chain."""
    (line,) = receipts_of(world, marie_dossier)
    rid = line["receipt_id"]
    listing = world.call("GET", who, f"/dossiers/{marie_dossier}/receipts")
    assert listing.status_code == 403
    assert listing.get_json()["error"] == "forbidden"
    for path in (f"/receipts/{rid}", f"/receipts/{rid}/signature"):
        r = world.call("GET", who, path)
        # Not theirs answers like unknown: a refusal would confirm the receipt exists.
        assert r.status_code == 404
        assert r.get_json()["reason"] == "receipt_not_found"
    (denied,) = [
        e
        for e in world.trace("marie")
        if e.action == "history:read" and e.outcome == "denied" and e.actor_id == world.ids[who]
    ]
    assert json.loads(denied.detail)["view"] == "receipts"
    # The two identical refusals that followed count on that entry (services/denials.py).
    with world.rt.sessions() as s:
        folded = s.get(DenialRepeat, (denied.chain, denied.seq))
        assert folded is not None
        assert folded.repeats == 2


def test_reads_by_the_patient_are_traced(world: World, marie_dossier: int) -> None:
    (line,) = receipts_of(world, marie_dossier)
    content_of(world, line["receipt_id"])
    assert (
        world.call("GET", "marie", f"/receipts/{line['receipt_id']}/signature").status_code == 200
    )
    reads = [
        json.loads(e.detail)
        for e in world.trace("marie")
        if e.action == "history:read" and e.outcome == "allowed"
    ]
    assert [r.get("view") for r in reads] == ["receipts", "receipt", "receipt_signature"]


def test_anonymous_callers_are_refused(world: World, marie_dossier: int) -> None:
    (line,) = receipts_of(world, marie_dossier)
    for path in (
        f"/api/v1/dossiers/{marie_dossier}/receipts",
        f"/api/v1/receipts/{line['receipt_id']}",
        f"/api/v1/receipts/{line['receipt_id']}/signature",
    ):
        r = world.client.get(path)
        assert r.status_code == 401
        assert r.get_json()["reason"] == "session_invalid"


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/receipts/short", 404, "receipt_id_invalid"),
        ("/receipts/" + "A" * 23, 404, "receipt_id_invalid"),
        ("/receipts/" + "%C3%A9" * 22, 404, "receipt_id_invalid"),
        ("/receipts/" + "A" * 21 + "%00", 404, "receipt_id_invalid"),
        ("/receipts/" + "A" * 22, 404, "receipt_not_found"),
        ("/receipts/" + "A" * 22 + "/signature", 404, "receipt_not_found"),
        ("/receipts/short/signature", 404, "receipt_id_invalid"),
        ("/dossiers/99999/receipts", 403, "not_a_party"),
        ("/dossiers/99999999999/receipts", 404, "not_found"),
    ],
)
def test_bad_ids_answer_clear_json(
    world: World, marie_dossier: int, path: str, status: int, reason: str
) -> None:
    r = world.call("GET", "marie", path)
    assert r.status_code == status
    assert r.get_json()["reason"] == reason


def test_the_certificate_route_is_public_and_runs_up_to_the_root(
    world: World, settings: dict[str, Any]
) -> None:
    r = world.client.get("/api/v1/receipts/certificate")
    assert r.status_code == 200
    assert r.mimetype == "application/x-pem-file"
    with open(settings["RECEIPT_SIGNER_CHAIN_FILE"], "rb") as fh:
        assert r.data == fh.read()
    assert r.data.count(b"BEGIN CERTIFICATE") == 3  # signer, server CA, root


def test_the_routes_are_in_the_openapi_document(client: Any) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/dossiers/{dossier_id}/receipts"]
    assert "get" in paths["/api/v1/receipts/{receipt_id}"]
    assert "get" in paths["/api/v1/receipts/{receipt_id}/signature"]
    assert paths["/api/v1/receipts/certificate"]["get"]["security"] == []


# ---- without a signer ------------------------------------------------------------------


@pytest.fixture
def unsigned(settings: dict[str, Any], clock: Any, database_url: str) -> Any:
    wipe(database_url)
    app = create_app(
        {**settings, "RECEIPT_SIGNER_KEY_FILE": "", "RECEIPT_SIGNER_CHAIN_FILE": ""}, clock=clock
    )
    yield app
    app.extensions["dmp"].engine.dispose()


def test_without_a_signer_no_consent_change_is_made(unsigned: Any, clock: Any) -> None:
    world = World(unsigned, unsigned.test_client(), clock)
    body = {"patient": identity("marie"), "consent": {"given": True, "terminal": "t"}}
    r = world.call("POST", "admissions", "/dossiers", body)
    assert r.status_code == 503
    assert r.get_json()["reason"] == "receipt_signer_not_configured"
    with world.rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Dossier)) == 0
    # The refused creation is traced as not carried out, with the reason (World made
    # Marie's patient row: the trace is on her chain).
    (entry,) = [e for e in world.trace("marie") if e.action == "dossier:create"]
    assert (entry.outcome, entry.reason) == ("denied", "receipt_signer_not_configured")
    assert world.client.get("/api/v1/receipts/certificate").status_code == 503


def test_a_misconfigured_signer_stops_the_server_at_startup(
    app: Any, settings: dict[str, Any], tmp_path: Any
) -> None:
    chain = settings["RECEIPT_SIGNER_CHAIN_FILE"]
    with pytest.raises(ReceiptSignerError, match="both"):
        create_app({**settings, "RECEIPT_SIGNER_CHAIN_FILE": ""})
    with pytest.raises(ReceiptSignerError, match="unreadable"):
        create_app({**settings, "RECEIPT_SIGNER_KEY_FILE": str(tmp_path / "missing.pem")})
    # The chain alone, without the root: a verifier could not anchor it.
    with open(chain, "rb") as fh:
        pems = fh.read().split(b"-----END CERTIFICATE-----\n")
    cut = tmp_path / "cut.pem"
    cut.write_bytes(b"-----END CERTIFICATE-----\n".join(pems[:2]) + b"-----END CERTIFICATE-----\n")
    with pytest.raises(ReceiptSignerError, match="self-signed root"):
        create_app({**settings, "RECEIPT_SIGNER_CHAIN_FILE": str(cut)})
    # A kiosk's key and certificate: not a document signer.
    kiosk = Pki.init(tmp_path / "pki").issue_kiosk("borne-x")
    with pytest.raises(ReceiptSignerError, match="document signing"):
        create_app(
            {
                **settings,
                "RECEIPT_SIGNER_KEY_FILE": str(kiosk.key_path),
                "RECEIPT_SIGNER_CHAIN_FILE": str(kiosk.chain_path),
            }
        )
    with pytest.raises(ReceiptSignerError, match="does not match"):
        create_app({**settings, "RECEIPT_SIGNER_KEY_FILE": str(kiosk.key_path)})


def test_consent_in_person_gives_one_receipt_naming_the_card_holder(
    world: World, test_pki: Any, borne: Any, marie_dossier: int
) -> None:
    from tests.server.test_copresence import SPECIALIST_CARD, draft, sign_in, signed

    token = sign_in(borne, test_pki, SPECIALIST_CARD)
    before = receipts_of(world, marie_dossier)
    path = f"/dossiers/{marie_dossier}/consents/in-person"
    r = borne.call(
        "POST", path, signed(test_pki, draft(borne, token, path + "/draft")), token=token
    )
    assert r.status_code == 201, r.get_json()
    after = receipts_of(world, marie_dossier)
    assert len(after) == len(before) + 1
    # A card-relayed route answers with its receipt too (server/api/runtime.py).
    assert r.get_json()["receipt_id"] == after[-1]["receipt_id"]
    content = content_of(world, after[-1]["receipt_id"])
    assert content["action"] == "access:grant"
    assert content["terminal"] == "borne-1"
    consent = content["change"]["consent"]
    assert consent["in_person"] is True
    assert consent["card_holder"] == world.ids["marie"]
    assert consent["professional"]["national_id"] == world.nid("specialist")
