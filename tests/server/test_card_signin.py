"""Card sign-in (issue #4): real card signatures from the emulator, every check of the
server, one generic answer outward and the precise reason in the trace."""

from __future__ import annotations

import base64
import logging
import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from sqlalchemy import func, select

from cardreader.emulator.demo import DEMO_PIN, DEMO_PUK
from cardreader.emulator.pki import Pki
from cardreader.profile import CardKind
from server.errors import AUTH_FAILED as GENERIC
from server.models import (
    ApiSession,
    AuditEntry,
    CardBinding,
    CardChallenge,
    Kiosk,
    PendingSignIn,
)
from server.services.history import REASONS_FR, VERBS, render
from server.signin import challenges, sessions
from server.signin.events import SigninFailure
from server.trust import fingerprint
from tests.server.cardkit import CERT_TIME, CardPki, KioskClient, proof_body, read_card
from tests.server.conftest import World

GP_CARD = "medecin_generaliste-dupont"  # national id of World's "gp"
SOPHIE_CARD = "patient-sophie-lefebvre"  # INS of World's "marie"
UNKNOWN_PATIENT_CARD = "patient-marie-durand"  # an INS the World does not know


def generic(r: Any) -> None:
    assert r.status_code == 401, r.get_json()
    assert r.get_json() == {
        "error": "unauthenticated",
        "reason": "authentication_failed",
        "message": GENERIC,
    }


def chain(world: World, name: str) -> list[AuditEntry]:
    with world.rt.sessions() as s:
        return list(
            s.scalars(select(AuditEntry).where(AuditEntry.chain == name).order_by(AuditEntry.seq))
        )


def last_denial(world: World, chain_name: str = "system") -> AuditEntry:
    denied = [e for e in chain(world, chain_name) if e.outcome == "denied"]
    assert denied, f"no denial in {chain_name}"
    return denied[-1]


def refused(world: World, r: Any, reason: str, chain_name: str = "system") -> AuditEntry:
    generic(r)
    entry = last_denial(world, chain_name)
    assert entry.reason == reason
    assert entry.action in ("auth:card", "auth:kiosk")
    assert reason in REASONS_FR
    return entry


def count(world: World, model: Any) -> int:
    with world.rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# ---- the happy paths ------------------------------------------------------------------


def test_a_professional_card_opens_a_session_bound_to_card_and_kiosk(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    card = test_pki.card(GP_CARD)
    r = borne.sign_in(card)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["kind"] == "professional"
    assert body["resign_within_seconds"] == 120
    token = body["token"]
    who = borne.call("GET", "/session", token=token)
    assert who.status_code == 200
    assert who.get_json()["kind"] == "professional"
    assert who.get_json()["profession"] == "medecin_generaliste"
    certificate = x509.load_pem_x509_certificate(card.certificate_pem)
    with world.rt.sessions() as s:
        binding = s.get(CardBinding, sessions.token_hash(token))
        assert binding is not None
        assert binding.card_cert_sha256 == fingerprint(certificate)
        assert binding.card_serial == card.serial.hex()
        session_row = s.get(ApiSession, sessions.token_hash(token))
        assert session_row is not None
        assert session_row.kiosk == "borne-1"
    success = chain(world, "system")[-1]
    assert (success.action, success.outcome, success.reason) == (
        "auth:card",
        "allowed",
        "card_signin",
    )
    assert success.actor_kind == "professional"
    assert success.actor_id == world.ids["gp"]
    assert success.kiosk == "borne-1"


def test_a_card_session_needs_its_kiosk_signature(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient]
) -> None:
    token = kiosks["borne-1"].sign_in(test_pki.card(GP_CARD)).get_json()["token"]
    assert kiosks["borne-2"].call("GET", "/session", token=token).status_code == 401
    bare = world.client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
    assert bare.status_code == 401
    forged = world.client.get(
        "/api/v1/session",
        headers={"Authorization": f"Bearer {token}", "X-DMP-Kiosk": "borne-1"},
    )
    assert forged.status_code == 401
    assert kiosks["borne-1"].call("GET", "/session", token=token).status_code == 200


def test_a_patient_card_is_a_first_factor_only(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    sessions_before = count(world, ApiSession)
    card = test_pki.card(SOPHIE_CARD)
    r = borne.sign_in(card)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["kind"] == "patient"
    assert body["next"] == "one_time_code"
    assert "token" not in body
    assert count(world, ApiSession) == sessions_before  # no session before the code
    with world.rt.sessions() as s:
        pending = s.get(PendingSignIn, sessions.token_hash(body["pending_token"]))
        assert pending is not None
        assert pending.patient_id == world.ids["marie"]
        assert pending.first_factor == "card"
        assert pending.card_serial == card.serial.hex()
        certificate = x509.load_pem_x509_certificate(card.certificate_pem)
        assert pending.card_cert_sha256 == fingerprint(certificate)
        assert pending.kiosk_id is not None
        assert pending.expires_at == world.clock() + timedelta(seconds=300)
        assert pending.completed_at is None
    entry = chain(world, f"patient:{world.ids['marie']}")[-1]
    assert (entry.action, entry.outcome, entry.reason) == (
        "auth:card",
        "allowed",
        "card_first_factor",
    )
    text = render(entry, world.rt.matrix)["text"]
    assert VERBS["auth:card"] in text


def test_challenges_are_random_short_lived_and_written_only_when_used(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    r = borne.call("POST", "/auth/card/challenge")
    assert r.status_code == 201
    first = base64.b64decode(r.get_json()["challenge"])
    second = borne.challenge()
    assert len(first) == len(second) == challenges.SIZE
    nonce = slice(14, 30)  # after version, purpose, kiosk id and expiry
    assert len(first[nonce]) == challenges.NONCE_BYTES == 16  # 128 random bits
    assert first[nonce] != second[nonce]
    expires = world.clock.now.replace(microsecond=0) + timedelta(seconds=60)
    assert r.get_json()["expires_at"] == expires.isoformat().replace("+00:00", "Z")
    assert count(world, CardChallenge) == 0  # issuing writes nothing
    assert (
        borne.call(
            "POST", "/auth/card/signin", proof_body(read_card(test_pki.card(GP_CARD), first))
        ).status_code
        == 201
    )
    with world.rt.sessions() as s:
        rows = list(s.scalars(select(CardChallenge)))
    assert [(row.id, row.purpose, row.used_at, row.expires_at) for row in rows] == [
        (first[nonce].hex(), "signin", world.clock.now, expires)
    ]


@pytest.mark.parametrize(
    "position", [0, 1, 2, 9, 20, 40], ids=["version", "purpose", "kiosk", "expiry", "nonce", "tag"]
)
def test_an_altered_challenge_is_unknown(
    world: World, test_pki: CardPki, borne: KioskClient, position: int
) -> None:
    value = bytearray(borne.challenge())
    value[position] ^= 0x01
    body = proof_body(read_card(test_pki.card(GP_CARD), bytes(value)))
    refused(world, borne.call("POST", "/auth/card/signin", body), "challenge_unknown")


def test_a_challenge_serves_only_its_purpose_and_its_session(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    card = test_pki.card(GP_CARD)
    token = borne.sign_in(card).get_json()["token"]
    other = borne.sign_in(card).get_json()["token"]
    r = borne.call("POST", "/session/card/challenge", token=token)
    resign_challenge = base64.b64decode(r.get_json()["challenge"])
    body = proof_body(read_card(card, resign_challenge))
    refused(world, borne.call("POST", "/auth/card/signin", body), "challenge_unknown")
    body = proof_body(read_card(card, resign_challenge))
    del body["kind"]
    r = borne.call("POST", "/session/card/resign", body, token=other)
    refused(world, r, "challenge_unknown")
    body = proof_body(read_card(card, borne.challenge()))  # a sign-in challenge
    del body["kind"]
    refused(
        world, borne.call("POST", "/session/card/resign", body, token=token), "challenge_unknown"
    )


def test_of_two_concurrent_uses_of_a_challenge_exactly_one_passes(
    world: World, borne: KioskClient
) -> None:
    value = borne.challenge()
    rt = world.rt
    with rt.sessions() as s:
        kiosk_id = s.scalars(select(Kiosk.id).where(Kiosk.name == "borne-1")).one()
    outcome: dict[str, str] = {}
    with rt.sessions() as first, rt.sessions() as second:
        ctx = rt.ctx(first)
        challenges.spend(ctx, challenges.check(ctx, value, kiosk_id, "signin", None), None)

        def use_again() -> None:
            other = rt.ctx(second)
            try:
                challenge = challenges.check(other, value, kiosk_id, "signin", None)
                challenges.spend(other, challenge, None)
                outcome["second"] = "spent"
            except SigninFailure as refused_:
                outcome["second"] = refused_.reason

        worker = threading.Thread(target=use_again)
        worker.start()
        worker.join(0.5)
        assert worker.is_alive(), outcome  # it waits for the first transaction
        first.commit()
        worker.join(10)
        second.rollback()
    assert outcome == {"second": "challenge_replayed"}
    assert count(world, CardChallenge) == 1


# ---- every check fails safely ---------------------------------------------------------


def test_a_replayed_challenge_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    body = proof_body(read_card(test_pki.card(GP_CARD), borne.challenge()))
    assert borne.call("POST", "/auth/card/signin", body).status_code == 201
    refused(world, borne.call("POST", "/auth/card/signin", body), "challenge_replayed")


def test_an_expired_challenge_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    body = proof_body(read_card(test_pki.card(GP_CARD), borne.challenge()))
    world.clock.advance(seconds=61)
    refused(world, borne.call("POST", "/auth/card/signin", body), "challenge_expired")


def test_an_unknown_challenge_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    body = proof_body(read_card(test_pki.card(GP_CARD), b"\x01" * 32))
    refused(world, borne.call("POST", "/auth/card/signin", body), "challenge_unknown")


def test_a_challenge_asked_by_another_kiosk_is_refused(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient]
) -> None:
    body = proof_body(read_card(test_pki.card(GP_CARD), kiosks["borne-2"].challenge()))
    r = kiosks["borne-1"].call("POST", "/auth/card/signin", body)
    entry = refused(world, r, "challenge_other_kiosk")
    assert entry.actor_kind == "kiosk"
    assert entry.kiosk == "borne-1"


def test_a_signature_over_another_challenge_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    signed = read_card(test_pki.card(GP_CARD), borne.challenge())
    other = borne.challenge()
    body = proof_body(signed) | {"challenge": base64.b64encode(other).decode()}
    entry = refused(world, borne.call("POST", "/auth/card/signin", body), "signature_invalid")
    assert entry.actor_kind == "professional"  # the certificate is genuine: named


def test_a_card_from_another_pki_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient, tmp_path: Path
) -> None:
    rogue = Pki.init(tmp_path / "rogue", now=CERT_TIME)
    card = rogue.issue_card(
        test_pki.card(GP_CARD).identity, pin=DEMO_PIN, puk=DEMO_PUK, now=CERT_TIME
    )
    entry = refused(world, borne.sign_in(card), "certificate_untrusted")
    assert entry.actor_kind == "kiosk"  # an untrusted certificate names nobody


@pytest.mark.parametrize(
    ("issued", "reason"),
    [
        (CERT_TIME - timedelta(days=6 * 365), "certificate_expired"),
        (CERT_TIME + timedelta(days=30), "certificate_not_yet_valid"),
    ],
)
def test_a_card_outside_its_validity_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient, issued: Any, reason: str
) -> None:
    identity = test_pki.card(GP_CARD).identity
    card = test_pki.pki.issue_card(identity, pin=DEMO_PIN, puk=DEMO_PUK, now=issued)
    refused(world, borne.sign_in(card), reason)


def test_a_revoked_card_is_refused_and_its_session_ends_at_the_next_resign(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    identity = test_pki.card(GP_CARD).identity
    card = test_pki.pki.issue_card(identity, pin=DEMO_PIN, puk=DEMO_PUK, now=CERT_TIME)
    token = borne.sign_in(card).get_json()["token"]
    test_pki.pki.revoke(
        x509.load_pem_x509_certificate(card.certificate_pem), now=CERT_TIME + timedelta(days=1)
    )
    refused(world, borne.sign_in(card), "certificate_revoked")
    challenge = base64.b64decode(
        borne.call("POST", "/session/card/challenge", token=token).get_json()["challenge"]
    )
    body = proof_body(read_card(card, challenge))
    del body["kind"]
    refused(
        world, borne.call("POST", "/session/card/resign", body, token=token), "certificate_revoked"
    )
    assert borne.call("GET", "/session", token=token).status_code == 401


@pytest.mark.parametrize(
    ("card_name", "declared"),
    [(GP_CARD, CardKind.PATIENT), (SOPHIE_CARD, CardKind.PROFESSIONAL)],
)
def test_a_card_of_the_other_kind_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient, card_name: str, declared: CardKind
) -> None:
    auth = read_card(test_pki.card(card_name), borne.challenge())
    r = borne.call("POST", "/auth/card/signin", proof_body(auth, kind=declared))
    refused(world, r, "wrong_card_kind")
    assert count(world, PendingSignIn) == 0


def test_a_serial_that_is_not_the_certificate_s_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    auth = read_card(test_pki.card(GP_CARD), borne.challenge())
    body = proof_body(auth) | {"serial": test_pki.card("pharmacien-moreau").serial.hex()}
    refused(world, borne.call("POST", "/auth/card/signin", body), "serial_mismatch")


def test_a_card_of_an_unknown_holder_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    refused(world, borne.sign_in(test_pki.card(UNKNOWN_PATIENT_CARD)), "unknown_holder")


def test_a_patient_card_failure_goes_to_the_patient_s_trace(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    signed = read_card(test_pki.card(SOPHIE_CARD), borne.challenge())
    body = proof_body(signed) | {"challenge": base64.b64encode(borne.challenge()).decode()}
    r = borne.call("POST", "/auth/card/signin", body)
    entry = refused(world, r, "signature_invalid", f"patient:{world.ids['marie']}")
    assert entry.actor_kind == "patient"
    assert "signature de la carte invalide" in render(entry, world.rt.matrix)["text"]


def test_sign_in_without_kiosk_signature_is_refused(world: World, kiosks: Any) -> None:
    for path in ("/api/v1/auth/card/challenge", "/api/v1/auth/card/signin"):
        refused(world, world.client.post(path, json={}), "kiosk_signature_missing")


def test_malformed_proofs_are_input_errors(borne: KioskClient) -> None:
    for body in ({}, {"kind": "x"}, {"kind": "patient", "challenge": "!!", "serial": "00"}, []):
        r = borne.call("POST", "/auth/card/signin", body)
        assert r.status_code == 422, r.get_json()


def test_without_a_pki_sign_in_says_so_and_the_server_still_runs(
    world: World, test_pki: CardPki, tmp_path: Path
) -> None:
    from tests.server.cardkit import load_key, use_pki

    use_pki(world.app, tmp_path / "no-pki")
    kiosk = KioskClient(world.client, world.clock, "borne-1", load_key(test_pki.kiosks["borne-1"]))
    r = kiosk.call("POST", "/auth/card/challenge")
    assert r.status_code == 503
    assert r.get_json()["reason"] == "pki_not_configured"
    assert "PKI non configurée" in r.get_json()["message"]
    assert world.call("GET", "gp", "/session").status_code == 200


# ---- the session's life: re-signature and removal ---------------------------------------


def resign(borne: KioskClient, card: Any, token: str) -> Any:
    r = borne.call("POST", "/session/card/challenge", token=token)
    assert r.status_code == 200, r.get_json()
    body = proof_body(read_card(card, base64.b64decode(r.get_json()["challenge"])))
    del body["kind"]
    return borne.call("POST", "/session/card/resign", body, token=token)


def test_a_timely_re_signature_keeps_the_session(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    card = test_pki.card(GP_CARD)
    token = borne.sign_in(card).get_json()["token"]
    for _ in range(3):
        world.clock.advance(seconds=100)
        r = resign(borne, card, token)
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["resigned"] is True
    assert borne.call("GET", "/session", token=token).status_code == 200


def test_a_missed_re_signature_ends_the_session(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    token = borne.sign_in(test_pki.card(GP_CARD)).get_json()["token"]
    world.clock.advance(seconds=119)
    assert borne.call("GET", "/session", token=token).status_code == 200
    world.clock.advance(seconds=1)
    assert borne.call("GET", "/session", token=token).status_code == 401
    # Too late: a signature now cannot revive it.
    assert borne.call("POST", "/session/card/challenge", token=token).status_code == 401


def test_a_re_signature_by_another_card_ends_the_session(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    token = borne.sign_in(test_pki.card(GP_CARD)).get_json()["token"]
    refused(world, resign(borne, test_pki.card("urgentiste-roux"), token), "card_changed")
    assert borne.call("GET", "/session", token=token).status_code == 401


def test_a_re_signature_challenge_is_single_use(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    card = test_pki.card(GP_CARD)
    token = borne.sign_in(card).get_json()["token"]
    challenge = borne.call("POST", "/session/card/challenge", token=token).get_json()["challenge"]
    body = proof_body(read_card(card, base64.b64decode(challenge)))
    del body["kind"]
    assert borne.call("POST", "/session/card/resign", body, token=token).status_code == 200
    r = borne.call("POST", "/session/card/resign", body, token=token)
    refused(world, r, "challenge_replayed")


def test_card_removal_ends_the_session(world: World, test_pki: CardPki, borne: KioskClient) -> None:
    token = borne.sign_in(test_pki.card(GP_CARD)).get_json()["token"]
    r = borne.call("POST", "/session/card/removed", token=token)
    assert r.status_code == 200
    assert r.get_json() == {"ended": True}
    assert borne.call("GET", "/session", token=token).status_code == 401


def test_card_routes_refuse_sessions_not_opened_by_card(world: World, borne: KioskClient) -> None:
    r = borne.call("POST", "/session/card/removed", token=world.tokens["gp"])
    assert r.status_code == 422
    assert world.call("GET", "gp", "/session").status_code == 200


# ---- no secret in any log -------------------------------------------------------------


def test_no_pin_puk_key_or_token_reaches_the_logs(
    world: World, test_pki: CardPki, borne: KioskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="cardreader.apdu")
    card = test_pki.card(GP_CARD)
    r = borne.sign_in(card)  # VERIFY PIN, reads, INTERNAL AUTHENTICATE, server checks
    assert r.status_code == 201
    token = r.get_json()["token"]
    assert borne.call("GET", "/session", token=token).status_code == 200
    records = caplog.records
    assert any(rec.name == "cardreader.apdu" for rec in records)  # the trace did run
    text = "\n".join(f"{rec.name} {rec.getMessage()}" for rec in records)
    for secret in (DEMO_PIN, DEMO_PUK):
        # As digits on their own, and as the ASCII hex an APDU dump would show.
        assert not re.search(rf"(?<![0-9A-Fa-f]){secret}(?![0-9A-Fa-f])", text), secret
        assert secret.encode().hex() not in text.lower()
    key_body = b"".join(card.private_key_pem.splitlines()[1:-1]).decode()
    kiosk_key = test_pki.kiosks["borne-1"].key_path.read_text().splitlines()[1]
    for secret in (key_body[:40], key_body[-40:], kiosk_key, token):
        assert secret not in text
