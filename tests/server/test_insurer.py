"""The insurer's system (issue #12): a registered software with an institutional identity
and no card. It signs in with its pinned key (a signed challenge), deposits
reimbursement data, and reads nothing, through either door: each refusal is the
policy's (rule 2, `insurer_reads_nothing`) and traced on the patient's chain."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from server.models import ApiSession, AuditEntry, DenialRepeat
from server.signin import kiosk_identity, request_signing
from tests.server.cardkit import KioskClient
from tests.server.conftest import World, doc
from tests.server.softwarekit import SoftwareClient, detail, last_entry, new_key, register
from tests.server.test_software_terminal import GENERIC

MARIE_INS = "urn:oid:1.2.250.1.213.1.4.10|279035121518989"


@pytest.fixture
def cnam(world: World) -> SoftwareClient:
    """The insurer's system, registered as World's insurer account. No PKI: a registered
    software needs none."""
    key = new_key()
    register(world.app, "cnam-remboursements", "insurer", key, account="insurer")
    return SoftwareClient(world.client, world.clock, "cnam-remboursements", key)


@pytest.fixture
def token(cnam: SoftwareClient) -> str:
    r = cnam.insurer_sign_in()
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["token"])


def refused(world: World, r: Any, action: str, reason: str) -> AuditEntry:
    assert r.status_code == 401, r.get_json()
    assert r.get_json() == GENERIC
    entry = last_entry(world.app)
    assert (entry.action, entry.outcome, entry.reason) == (action, "denied", reason)
    return entry


def refusals(world: World, patient: str) -> int:
    """The insurer's refusals on a patient's chain, repeats folded into an entry counted."""
    chain = f"patient:{world.ids[patient]}"
    with world.rt.sessions() as s:
        entries = s.scalars(
            select(AuditEntry).where(
                AuditEntry.chain == chain,
                AuditEntry.outcome == "denied",
                AuditEntry.actor_kind == "insurer",
            )
        ).all()
        repeats = s.scalars(select(DenialRepeat).where(DenialRepeat.chain == chain)).all()
    return len(entries) + sum(r.repeats for r in repeats)


def last_on(world: World, patient: str) -> AuditEntry:
    return world.trace(patient)[-1]


def test_the_insurer_s_system_signs_in_with_its_key_and_deposits_reimbursement_data(
    world: World, cnam: SoftwareClient, marie_dossier: int
) -> None:
    r = cnam.insurer_sign_in()
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["kind"], r.get_json()["name"]) == ("insurer", "insurer")
    token = r.get_json()["token"]
    entry = last_entry(world.app)
    assert (entry.action, entry.outcome, entry.reason) == (
        "auth:terminal",
        "allowed",
        "terminal_signin",
    )
    assert (entry.actor_kind, entry.kiosk) == ("insurer", "cnam-remboursements")
    who = cnam.call("GET", "/session", token=token)
    assert (who.status_code, who.get_json()["kind"]) == (200, "insurer")
    found = cnam.call("POST", "/dossiers/lookup", {"ins": "279035121518989"}, token=token)
    assert found.status_code == 200, found.get_json()
    deposit = cnam.call(
        "POST",
        f"/dossiers/{marie_dossier}/documents",
        doc("remboursement", b"Remboursements 2026"),
        token=token,
    )
    assert deposit.status_code == 201, deposit.get_json()
    assert deposit.get_json()["author"]["kind"] == "insurer"
    traced = last_on(world, "marie")
    assert (traced.action, traced.outcome, traced.reason, traced.actor_kind) == (
        "document:deposit",
        "allowed",
        "insurer_deposit",
        "insurer",
    )
    assert traced.kiosk == "cnam-remboursements"
    with world.rt.sessions() as s:
        row = s.get(ApiSession, _hash(token))
        assert row is not None
        assert row.kiosk == "cnam-remboursements"


def test_the_insurer_reads_nothing_through_either_door_each_refusal_traced(
    world: World, cnam: SoftwareClient, token: str, marie_dossier: int
) -> None:
    logical_id = world.deposit("gp", marie_dossier)["logical_id"]
    d = f"/api/v1/dossiers/{marie_dossier}"
    reads = [
        f"{d}/documents",
        f"{d}/documents/{logical_id}",
        f"{d}/documents/{logical_id}/content",
        f"{d}/search?q=contenu",
        f"{d}/history",
        f"{d}",
        f"/fhir/R4/DocumentReference?{urlencode({'patient.identifier': MARIE_INS})}",
        f"/fhir/R4/DocumentReference?patient={marie_dossier}",
        f"/fhir/R4/DocumentReference/{logical_id}",
        f"/fhir/R4/Binary/{logical_id}",
    ]
    for target in reads:
        before = refusals(world, "marie")
        r = cnam.send("GET", target, token=token)
        assert r.status_code in (403, 404), (target, r.status_code)
        body = r.get_json()
        if target.startswith("/fhir/"):
            assert body["resourceType"] == "OperationOutcome", target
        else:
            assert body["reason"] in ("insurer_reads_nothing", "not_found"), (target, body)
        # Traced: a new entry, or (the same refusal again within the window,
        # services/denials.py) one more repeat of it.
        assert refusals(world, "marie") == before + 1, target
        last = last_on(world, "marie")
        assert (last.outcome, last.reason, last.actor_kind) == (
            "denied",
            "insurer_reads_nothing",
            "insurer",
        ), target
    # Anything but reimbursement data is refused as a deposit too.
    r = cnam.call("POST", f"{d[7:]}/documents", doc("compte_rendu"), token=token)
    assert (r.status_code, r.get_json()["reason"]) == (403, "insurer_reads_nothing")
    assert last_on(world, "marie").reason == "insurer_reads_nothing"


# ---- attacks ----------------------------------------------------------------------------


def test_a_forged_challenge_signature_is_refused_and_burns_the_challenge(
    world: World, cnam: SoftwareClient
) -> None:
    issued = cnam.call("POST", "/auth/terminal/challenge")
    assert issued.status_code == 201
    challenge = base64.b64decode(issued.get_json()["challenge"])
    forged = request_signing.sign_terminal_challenge(new_key(), cnam.name, challenge)
    body = {"challenge": issued.get_json()["challenge"], "signature": forged}
    entry = refused(
        world,
        cnam.call("POST", "/auth/terminal/signin", body),
        "auth:terminal",
        "terminal_signature_invalid",
    )
    assert entry.kiosk == cnam.name
    # The genuine signature of the same challenge comes too late: it was spent.
    genuine = request_signing.sign_terminal_challenge(cnam.key, cnam.name, challenge)
    body["signature"] = genuine
    refused(
        world,
        cnam.call("POST", "/auth/terminal/signin", body),
        "auth:terminal",
        "challenge_replayed",
    )
    # A signed request is no signed challenge: the schemes differ.
    fresh = cnam.call("POST", "/auth/terminal/challenge").get_json()["challenge"]
    as_request = cnam.headers("POST", "/api/v1/auth/terminal/signin", base64.b64decode(fresh))
    body = {"challenge": fresh, "signature": as_request[request_signing.HEADER_SIGNATURE]}
    refused(
        world,
        cnam.call("POST", "/auth/terminal/signin", body),
        "auth:terminal",
        "terminal_signature_invalid",
    )


def test_a_challenge_of_another_terminal_or_purpose_is_refused(
    world: World, cnam: SoftwareClient
) -> None:
    other_key = new_key()
    register(world.app, "cnam-2", "insurer", other_key, account="insurer")
    other = SoftwareClient(world.client, world.clock, "cnam-2", other_key)
    theirs = other.call("POST", "/auth/terminal/challenge").get_json()["challenge"]
    signature = request_signing.sign_terminal_challenge(
        cnam.key, cnam.name, base64.b64decode(theirs)
    )
    body = {"challenge": theirs, "signature": signature}
    refused(
        world,
        cnam.call("POST", "/auth/terminal/signin", body),
        "auth:terminal",
        "challenge_other_kiosk",
    )
    world.clock.advance(seconds=world.rt.settings["CHALLENGE_SECONDS"] + 1)
    late = other.insurer_sign_in()
    assert late.status_code == 201  # a fresh one works
    mine = cnam.call("POST", "/auth/terminal/challenge").get_json()["challenge"]
    world.clock.advance(seconds=world.rt.settings["CHALLENGE_SECONDS"] + 1)
    body = {
        "challenge": mine,
        "signature": request_signing.sign_terminal_challenge(
            cnam.key, cnam.name, base64.b64decode(mine)
        ),
    }
    refused(
        world,
        cnam.call("POST", "/auth/terminal/signin", body),
        "auth:terminal",
        "challenge_expired",
    )


def test_a_kiosk_or_a_professional_software_never_signs_in_as_the_insurer(
    world: World, cnam: SoftwareClient, kiosks: dict[str, KioskClient]
) -> None:
    borne = kiosks["borne-1"]
    entry = refused(
        world,
        borne.call("POST", "/auth/terminal/challenge"),
        "auth:terminal",
        "terminal_kind_refused",
    )
    assert (entry.kiosk, detail(entry)) == ("borne-1", {"kind": "kiosk"})
    # Its own challenge, signed by the kiosk's key: still not the insurer.
    mine = cnam.call("POST", "/auth/terminal/challenge").get_json()["challenge"]
    signature = request_signing.sign_terminal_challenge(
        borne.key, "borne-1", base64.b64decode(mine)
    )
    refused(
        world,
        borne.call("POST", "/auth/terminal/signin", {"challenge": mine, "signature": signature}),
        "auth:terminal",
        "terminal_kind_refused",
    )
    # The kiosk's key signing under the insurer's name: not the pinned key.
    posing = SoftwareClient(world.client, world.clock, cnam.name, borne.key)
    refused(world, posing.insurer_sign_in(), "auth:kiosk", "kiosk_signature_invalid")
    # A professional's software: no insurer session either, and no card through the
    # insurer's system.
    lgc_key = new_key()
    register(world.app, "lgc", "software", lgc_key)
    lgc = SoftwareClient(world.client, world.clock, "lgc", lgc_key)
    refused(world, lgc.insurer_sign_in(), "auth:terminal", "terminal_kind_refused")
    refused(world, cnam.call("POST", "/auth/card/challenge"), "auth:card", "terminal_kind_refused")


def test_the_insurer_s_session_lives_only_with_its_terminal_s_signature(
    world: World, cnam: SoftwareClient, token: str
) -> None:
    bare = world.client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
    assert (bare.status_code, bare.get_json()["reason"]) == (401, "session_invalid")
    entry = last_entry(world.app)
    assert (entry.reason, entry.actor_kind, detail(entry)) == (
        "session_other_terminal",
        "insurer",
        {"session_terminal": "cnam-remboursements"},
    )
    with world.rt.sessions() as s:
        assert kiosk_identity.revoke(world.rt.ctx(s), cnam.name) == 1
        s.commit()
    refused(world, cnam.call("GET", "/session", token=token), "auth:kiosk", "kiosk_revoked")
    refused(world, cnam.insurer_sign_in(), "auth:kiosk", "kiosk_revoked")


def test_malformed_sign_in_bodies_are_input_errors(world: World, cnam: SoftwareClient) -> None:
    for body in ({}, {"challenge": "!!", "signature": "AA=="}, [], {"challenge": "A" * 500}):
        r = cnam.call("POST", "/auth/terminal/signin", body)
        assert r.status_code in (400, 422), r.get_json()
    with world.rt.sessions() as s:
        opened = s.scalars(select(ApiSession).where(ApiSession.kiosk == cnam.name)).all()
    assert opened == []


def _hash(token: str) -> str:
    from server.signin.sessions import token_hash

    return token_hash(token)


def test_a_captured_sign_in_replayed_opens_no_second_session(
    world: World, cnam: SoftwareClient
) -> None:
    issued = cnam.call("POST", "/auth/terminal/challenge").get_json()["challenge"]
    signature = request_signing.sign_terminal_challenge(
        cnam.key, cnam.name, base64.b64decode(issued)
    )
    body = json.dumps({"challenge": issued, "signature": signature}).encode()
    target = "/api/v1/auth/terminal/signin"
    captured = cnam.headers("POST", target, body)

    def replay() -> Any:
        return world.client.post(
            target, data=body, headers=captured, content_type="application/json"
        )

    assert replay().status_code == 201
    refused(world, replay(), "auth:terminal", "challenge_replayed")
    with world.rt.sessions() as s:
        opened = s.scalars(select(ApiSession).where(ApiSession.kiosk == cnam.name)).all()
    assert len(opened) == 1
