"""Kiosk identity (issue #4): every kiosk request is signed with the kiosk's registered
key; unknown, revoked, forged, stale and replayed requests are refused generically and
traced precisely."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from cardreader.emulator.pki import Pki
from server.cli import main
from server.errors import AUTH_FAILED as GENERIC
from server.models import AuditEntry, Kiosk, KioskRequestSeen
from server.signin import kiosk_identity, request_signing
from server.signin.events import SigninFailure
from tests.server.cardkit import (
    CERT_TIME,
    CardPki,
    KioskClient,
    load_key,
    proof_body,
    read_card,
    register,
)
from tests.server.conftest import World

TARGET = "/api/v1/session"


def refused(world: World, r: Any, reason: str) -> AuditEntry:
    assert r.status_code == 401, r.get_json()
    assert r.get_json() == {
        "error": "unauthenticated",
        "reason": "authentication_failed",
        "message": GENERIC,
    }
    with world.rt.sessions() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.chain == "system").order_by(AuditEntry.seq.desc())
        ).first()
    assert entry is not None
    assert (entry.action, entry.outcome, entry.reason) == ("auth:kiosk", "denied", reason)
    assert entry.actor_kind == "kiosk"
    return entry


def send(world: World, headers: dict[str, str], token: str, body: bytes = b"") -> Any:
    # A body says what it is (the API boundary refuses one that does not, before anything
    # else), so that a tampered one reaches the signature check.
    return world.client.open(
        TARGET,
        method="GET",
        data=body,
        headers={**headers, "Authorization": f"Bearer {token}"},
        content_type="application/json" if body else None,
    )


@pytest.fixture
def token(world: World, kiosks: dict[str, KioskClient]) -> str:
    """A session bound to borne-1 (as a card sign-in there would open)."""
    return world.open("gp", kiosk="borne-1")


def test_a_signed_request_from_the_session_s_kiosk_passes(
    kiosks: dict[str, KioskClient], token: str
) -> None:
    assert kiosks["borne-1"].call("GET", "/session", token=token).status_code == 200


def test_callers_that_are_not_kiosks_still_work_without_kiosk_headers(
    world: World, kiosks: dict[str, KioskClient]
) -> None:
    assert world.call("GET", "marie", "/session").status_code == 200
    # An unbound session may also be used through a (verified) kiosk.
    assert kiosks["borne-2"].call("GET", "/session", token=world.tokens["marie"]).status_code == 200


def test_an_unknown_kiosk_is_refused(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient], token: str
) -> None:
    stranger = KioskClient(
        world.client, world.clock, "borne-x", load_key(test_pki.kiosks["borne-1"])
    )
    entry = refused(world, stranger.call("GET", "/session", token=token), "unknown_kiosk")
    assert entry.actor_name == "borne-x"


def test_a_kiosk_revoked_in_the_crl_is_refused_from_its_next_request(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient]
) -> None:
    register(world.app, test_pki, "borne-revoquee")
    kiosk = kiosks["borne-revoquee"]
    session = world.open("gp", kiosk="borne-revoquee")
    assert kiosk.call("GET", "/session", token=session).status_code == 200
    certificate = x509.load_pem_x509_certificate(
        test_pki.kiosks["borne-revoquee"].certificate_path.read_bytes()
    )
    test_pki.pki.revoke(certificate, now=CERT_TIME + timedelta(days=1))
    refused(world, kiosk.call("GET", "/session", token=session), "kiosk_revoked")
    # And a revoked certificate cannot be registered again under another name.
    rt = world.rt
    with rt.sessions() as s, pytest.raises(SigninFailure, match="kiosk_revoked"):
        kiosk_identity.register(
            rt.ctx(s), rt.trust, "borne-neuve", certificate.public_bytes(serialization.Encoding.PEM)
        )


def test_a_kiosk_revoked_by_the_operator_is_refused(
    world: World, kiosks: dict[str, KioskClient], token: str
) -> None:
    with world.rt.sessions() as s:
        kiosk = s.scalars(select(Kiosk).where(Kiosk.name == "borne-1")).one()
        kiosk.revoked_at = world.clock()
        s.commit()
    refused(world, kiosks["borne-1"].call("GET", "/session", token=token), "kiosk_revoked")


def test_a_kiosk_revoked_by_the_operator_may_get_challenges_for_seconds_but_not_sign_in(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient]
) -> None:
    borne = kiosks["borne-1"]
    challenge = borne.challenge()  # its row is now in the challenge route's directory
    with world.rt.sessions() as s:
        kiosk = s.scalars(select(Kiosk).where(Kiosk.name == "borne-1")).one()
        kiosk.revoked_at = world.clock()
        s.commit()
    fresh = borne.challenge()  # within the directory's few seconds: still answered
    for value in (challenge, fresh):
        body = proof_body(read_card(test_pki.card("medecin_generaliste-dupont"), value))
        refused(world, borne.call("POST", "/auth/card/signin", body), "kiosk_revoked")
    world.rt.kiosks = kiosk_identity.KioskDirectory(ttl=0)  # the few seconds have passed
    refused(world, borne.call("POST", "/auth/card/challenge"), "kiosk_revoked")


def test_an_expired_kiosk_certificate_is_refused(
    world: World, kiosks: dict[str, KioskClient], token: str
) -> None:
    world.clock.advance(days=366)
    r = kiosks["borne-1"].call("GET", "/session", token=world.open("gp", kiosk="borne-1"))
    refused(world, r, "kiosk_certificate_expired")


def test_missing_or_partial_kiosk_headers_are_refused(
    world: World, kiosks: dict[str, KioskClient], token: str
) -> None:
    headers = kiosks["borne-1"].headers("GET", TARGET, b"")
    for missing in request_signing.HEADERS[1:]:
        partial = {k: v for k, v in headers.items() if k != missing}
        refused(world, send(world, partial, token), "kiosk_signature_missing")


def test_a_signature_by_another_key_is_refused(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient], token: str
) -> None:
    impostor = KioskClient(
        world.client, world.clock, "borne-1", load_key(test_pki.kiosks["borne-2"])
    )
    refused(world, impostor.call("GET", "/session", token=token), "kiosk_signature_invalid")


def test_a_tampered_request_is_refused(
    world: World, kiosks: dict[str, KioskClient], token: str
) -> None:
    kiosk = kiosks["borne-1"]
    signed_for_other_path = kiosk.headers("GET", "/api/v1/dossiers/1", b"")
    refused(world, send(world, signed_for_other_path, token), "kiosk_signature_invalid")
    signed_other_body = kiosk.headers("GET", TARGET, b"{}")
    r = send(world, signed_other_body, token, json.dumps({"x": 1}).encode())
    refused(world, r, "kiosk_signature_invalid")
    garbage = kiosk.headers("GET", TARGET, b"") | {request_signing.HEADER_SIGNATURE: "%%%"}
    refused(world, send(world, garbage, token), "kiosk_signature_invalid")


@pytest.mark.parametrize("offset", [-31, 31])
def test_a_stale_or_future_date_is_refused(
    world: World, kiosks: dict[str, KioskClient], token: str, offset: int
) -> None:
    kiosk = kiosks["borne-1"]
    headers = request_signing.sign_request(
        kiosk.key, "borne-1", "GET", TARGET, b"", world.clock() + timedelta(seconds=offset)
    )
    refused(world, send(world, headers, token), "request_stale")
    within = request_signing.sign_request(
        kiosk.key,
        "borne-1",
        "GET",
        TARGET,
        b"",
        world.clock() + timedelta(seconds=30 if offset > 0 else -30),
    )
    assert send(world, within, token).status_code == 200
    bad_date = headers | {request_signing.HEADER_DATE: "yesterday"}
    refused(world, send(world, bad_date, token), "request_date_invalid")


@pytest.mark.parametrize(
    "shape",
    [
        "%Y-%m-%dT%H:%M:%S+00:00",
        "%Y-%m-%d %H:%M:%SZ",
        "%Y-%m-%dT%H:%M:%S.0Z",
        "%G-W%V-%uT%H:%M:%SZ",  # an ISO week date: same length, still not the format
        "%Y-%m-%dT%H:%M:%Sz",
    ],
)
def test_a_date_in_any_other_shape_is_refused(
    world: World, kiosks: dict[str, KioskClient], token: str, shape: str
) -> None:
    # The date is signed as sent, so a kiosk could sign any of these: only one is taken.
    kiosk = kiosks["borne-1"]
    date = world.clock().strftime(shape)
    headers = kiosk.headers("GET", TARGET, b"") | {request_signing.HEADER_DATE: date}
    headers[request_signing.HEADER_SIGNATURE] = base64.b64encode(
        kiosk.key.sign(
            request_signing.canonical_request(
                "borne-1", "GET", TARGET, date, headers[request_signing.HEADER_NONCE], b""
            ),
            ec.ECDSA(hashes.SHA256()),
        )
    ).decode()
    refused(world, send(world, headers, token), "request_date_invalid")


def test_a_replayed_request_is_refused(
    world: World, kiosks: dict[str, KioskClient], token: str
) -> None:
    headers = kiosks["borne-1"].headers("GET", TARGET, b"")
    assert send(world, headers, token).status_code == 200
    world.clock.advance(seconds=5)
    refused(world, send(world, headers, token), "request_replayed")


def test_a_replayed_challenge_request_writes_nothing_and_gets_only_a_fresh_challenge(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient]
) -> None:
    # Asking for a challenge changes nothing on the server, so its replay is not recorded
    # (no durable write per sign-in for it); the replayer gets a new challenge that only
    # a request signed by the same kiosk can use.
    target = "/api/v1/auth/card/challenge"
    headers = kiosks["borne-1"].headers("POST", target, b"")
    first = world.client.post(target, headers=headers)
    again = world.client.post(target, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["challenge"] != again.get_json()["challenge"]
    with world.rt.sessions() as s:
        assert s.scalars(select(KioskRequestSeen)).all() == []
    replayed = base64.b64decode(again.get_json()["challenge"])
    body = proof_body(read_card(test_pki.card("medecin_generaliste-dupont"), replayed))
    r = kiosks["borne-2"].call("POST", "/auth/card/signin", body)
    assert r.status_code == 401
    with world.rt.sessions() as s:
        last = s.scalars(
            select(AuditEntry).where(AuditEntry.chain == "system").order_by(AuditEntry.seq.desc())
        ).first()
    assert last is not None
    assert last.reason == "challenge_other_kiosk"


def test_a_replayed_sign_in_request_is_refused(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient]
) -> None:
    # Not by a replay record of the request (none is kept for it: nothing to gain), by
    # its challenge, which the first request spent.
    borne = kiosks["borne-1"]
    body = proof_body(read_card(test_pki.card("medecin_generaliste-dupont"), borne.challenge()))
    target = "/api/v1/auth/card/signin"
    raw = json.dumps(body).encode()
    headers = {**borne.headers("POST", target, raw), "Content-Type": "application/json"}
    assert world.client.post(target, data=raw, headers=headers).status_code == 201
    r = world.client.post(target, data=raw, headers=headers)
    assert r.status_code == 401
    with world.rt.sessions() as s:
        last = s.scalars(
            select(AuditEntry).where(AuditEntry.chain == "system").order_by(AuditEntry.seq.desc())
        ).first()
        assert s.scalars(select(KioskRequestSeen)).all() == []
    assert last is not None
    assert (last.action, last.reason) == ("auth:card", "challenge_replayed")


def test_registration_checks_the_certificate(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient], tmp_path: Path
) -> None:
    rogue = Pki.init(tmp_path / "rogue", now=CERT_TIME).issue_kiosk("borne-1", now=CERT_TIME)
    card = test_pki.card("patient-sophie-lefebvre")
    rt = world.rt
    for pem, reason in (
        (rogue.certificate_path.read_bytes(), "kiosk_certificate_untrusted"),
        (card.certificate_pem, "kiosk_certificate_invalid"),
    ):
        with rt.sessions() as s, pytest.raises(SigninFailure) as failure:
            kiosk_identity.register(rt.ctx(s), rt.trust, "borne-z", pem)
        assert failure.value.reason == reason


def test_the_kiosk_admin_commands(settings: dict[str, Any], app: Any, tmp_path: Path) -> None:
    # A PKI dated now: the CLI runs on the real clock.
    pki = Pki.init(tmp_path / "pki")
    device = pki.issue_kiosk("borne-cli")
    env = {"DMP_MASTER_KEY": settings["MASTER_KEY"], "DMP_PKI_DIR": str(tmp_path / "pki")}
    url = settings["DATABASE_URL"]

    def dmp(*args: str) -> Any:
        return CliRunner().invoke(main, ["kiosk-admin", *args], env=env)

    done = dmp("register", "--db", url, str(device.certificate_path), "borne-cli")
    assert done.exit_code == 0, done.output
    again = dmp("register", "--db", url, str(device.certificate_path), "borne-cli")
    assert again.exit_code != 0
    assert "already registered" in again.output
    listed = dmp("list", "--db", url)
    assert "borne-cli" in listed.output
    assert "active" in listed.output
    assert dmp("revoke", "--db", url, "borne-cli").exit_code == 0
    assert "revoked" in dmp("list", "--db", url).output
    assert dmp("revoke", "--db", url, "nope").exit_code != 0
    rogue = Pki.init(tmp_path / "rogue").issue_kiosk("borne-r")
    refused_cli = dmp("register", "--db", url, str(rogue.certificate_path), "borne-r")
    assert refused_cli.exit_code != 0
    assert "kiosk_certificate_untrusted" in refused_cli.output
    no_pki = dmp(
        "register", "--db", url, "--pki", str(tmp_path / "none"), str(rogue.certificate_path), "b"
    )
    assert "no PKI" in no_pki.output


def test_remembered_signatures_are_forgotten_after_the_skew_window(
    world: World, kiosks: dict[str, KioskClient], token: str
) -> None:
    for _ in range(3):
        assert kiosks["borne-1"].call("GET", "/session", token=token).status_code == 200
    rt = world.rt
    with rt.sessions() as s:
        kiosk = s.scalars(select(Kiosk).where(Kiosk.name == "borne-1")).one()
        verified = kiosk_identity.VerifiedKiosk(kiosk.id, kiosk.name)
        assert len(s.scalars(select(KioskRequestSeen)).all()) == 3
    world.clock.advance(seconds=31)
    with rt.sessions() as s:
        kiosk_identity.forget_expired(rt.ctx(s), verified)
        s.commit()
        assert s.scalars(select(KioskRequestSeen)).all() == []
