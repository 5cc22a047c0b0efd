"""Forged sign-ins (issue 10, §2): each forgery the review found is refused with the one
generic 401 outward and its precise reason in the trace.

- A captured kiosk request replayed with its ECDSA signature malleated, or signed
  afresh: the replay record is keyed on what was signed, and only low-s signatures pass.
- A certificate issued by a CA of the bundle that does not issue that kind: each kind
  (patient card, professional card, kiosk) is taken only from its CA, with its EKU, its
  certificate policy and its key usage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from sqlalchemy import func, select

from cardreader.emulator.pki import KIOSK_CA, PATIENT_CA, PROFESSIONAL_CA, ROOT, SERVER_CA
from cardreader.profile import (
    EKU_KIOSK,
    EKU_POLICIES,
    EKU_PROFESSIONAL_CARD,
    KIND_AIDS,
    KIND_EKUS,
    POLICY_KIOSK,
    CardKind,
)
from cardreader.signature import card_serial, signed_message
from server.errors import AUTH_FAILED as GENERIC
from server.models import (
    ApiSession,
    AuditEntry,
    Base,
    Document,
    IdempotencyRecord,
    Kiosk,
    KioskRequestSeen,
    TotpCredential,
)
from server.services.history import REASONS_FR
from server.signin import kiosk_identity, request_signing
from server.signin.events import SigninFailure
from server.trust import fingerprint
from tests.server.cardkit import CERT_TIME, CardPki, KioskClient, proof_body, read_card
from tests.server.conftest import PATIENTS, World, doc

N = request_signing.P256_ORDER
GP_CARD = "medecin_generaliste-dupont"  # national id of World's "gp"
SOPHIE_CARD = "patient-sophie-lefebvre"  # INS of World's "marie"


def refused(world: World, r: Any, reason: str, action: str) -> AuditEntry:
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
    assert (entry.action, entry.outcome, entry.reason) == (action, "denied", reason)
    assert reason in REASONS_FR
    return entry


def count(world: World, model: Any) -> int:
    with world.rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def malleate(signature_b64: str) -> str:
    """The other valid signature of the same bytes: (r, n - s)."""
    r, s = decode_dss_signature(base64.b64decode(signature_b64))
    return base64.b64encode(encode_dss_signature(r, N - s)).decode()


# ---- 1. replays of kiosk-signed requests ------------------------------------------------


@pytest.fixture
def gp_at_borne(world: World, kiosks: dict[str, KioskClient]) -> str:
    return world.open("gp", kiosk="borne-1")


def test_a_replayed_deposit_with_a_malleated_signature_is_refused_and_writes_nothing(
    world: World, kiosks: dict[str, KioskClient], marie_dossier: int, gp_at_borne: str
) -> None:
    # The review's attack: a signed deposit without Idempotency-Key, captured and sent
    # again with (r, n - s). It created a second document.
    target = f"/api/v1/dossiers/{marie_dossier}/documents"
    raw = json.dumps(doc(title="Compte rendu unique")).encode()
    headers = {
        **kiosks["borne-1"].headers("POST", target, raw),
        "Authorization": f"Bearer {gp_at_borne}",
        "Content-Type": "application/json",
    }
    assert world.client.post(target, data=raw, headers=headers).status_code == 201
    documents = count(world, Document)
    seen = count(world, KioskRequestSeen)
    world.clock.advance(seconds=2)

    signature = headers[request_signing.HEADER_SIGNATURE]
    malleated = headers | {request_signing.HEADER_SIGNATURE: malleate(signature)}
    r = world.client.post(target, data=raw, headers=malleated)
    refused(world, r, "kiosk_signature_not_canonical", "auth:kiosk")
    # The same request signed afresh (another valid, low-s signature of the same bytes):
    # what was signed has been seen.
    key = kiosks["borne-1"].key
    signed = request_signing.canonical_request(
        "borne-1",
        "POST",
        target,
        headers[request_signing.HEADER_DATE],
        headers[request_signing.HEADER_NONCE],
        raw,
    )
    again = request_signing.low_s(key.sign(signed, ec.ECDSA(hashes.SHA256())))
    assert base64.b64encode(again).decode() != signature
    resigned = headers | {request_signing.HEADER_SIGNATURE: base64.b64encode(again).decode()}
    refused(
        world,
        world.client.post(target, data=raw, headers=resigned),
        "request_replayed",
        "auth:kiosk",
    )
    refused(
        world,
        world.client.post(target, data=raw, headers=headers),
        "request_replayed",
        "auth:kiosk",
    )
    assert count(world, Document) == documents
    assert count(world, KioskRequestSeen) == seen


def test_the_replay_record_holds_the_hash_of_what_was_signed(
    world: World, kiosks: dict[str, KioskClient], gp_at_borne: str
) -> None:
    headers = kiosks["borne-1"].headers("GET", "/api/v1/session", b"")
    r = world.client.get(
        "/api/v1/session", headers={**headers, "Authorization": f"Bearer {gp_at_borne}"}
    )
    assert r.status_code == 200
    signed = request_signing.canonical_request(
        "borne-1",
        "GET",
        "/api/v1/session",
        headers[request_signing.HEADER_DATE],
        headers[request_signing.HEADER_NONCE],
        b"",
    )
    with world.rt.sessions() as s:
        assert list(s.scalars(select(KioskRequestSeen.request_sha256))) == [
            hashlib.sha256(signed).hexdigest()
        ]


def test_two_honest_identical_requests_in_the_same_second_both_pass(
    world: World, kiosks: dict[str, KioskClient], gp_at_borne: str
) -> None:
    borne = kiosks["borne-1"]
    first = borne.headers("GET", "/api/v1/session", b"")
    second = borne.headers("GET", "/api/v1/session", b"")
    assert first[request_signing.HEADER_DATE] == second[request_signing.HEADER_DATE]
    assert first[request_signing.HEADER_NONCE] != second[request_signing.HEADER_NONCE]
    for headers in (first, second):
        r = world.client.get(
            "/api/v1/session", headers={**headers, "Authorization": f"Bearer {gp_at_borne}"}
        )
        assert r.status_code == 200
    assert count(world, KioskRequestSeen) == 2


@pytest.mark.parametrize("nonce", ["", "00" * 15, "00" * 17, "G" * 32, "AB" * 16, "é" * 32])
def test_a_request_without_a_valid_nonce_is_refused(
    world: World, kiosks: dict[str, KioskClient], gp_at_borne: str, nonce: str
) -> None:
    borne = kiosks["borne-1"]
    date = world.clock().strftime(request_signing.DATE_FORMAT)
    signed = request_signing.canonical_request(
        "borne-1", "GET", "/api/v1/session", date, nonce, b""
    )
    signature = request_signing.low_s(borne.key.sign(signed, ec.ECDSA(hashes.SHA256())))
    headers = {
        request_signing.HEADER_KIOSK: "borne-1",
        request_signing.HEADER_DATE: date,
        request_signing.HEADER_NONCE: nonce,
        request_signing.HEADER_SIGNATURE: base64.b64encode(signature).decode(),
        "Authorization": f"Bearer {gp_at_borne}",
    }
    r = world.client.get("/api/v1/session", headers=headers)
    refused(
        world, r, "kiosk_signature_missing" if not nonce else "request_nonce_invalid", "auth:kiosk"
    )


def test_the_kiosk_signer_produces_only_low_s_signatures() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    highs = 0
    for _ in range(64):
        headers = request_signing.sign_request(key, "k", "GET", "/", b"", CERT_TIME)
        signature = base64.b64decode(headers[request_signing.HEADER_SIGNATURE])
        assert request_signing.is_low_s(signature)
        # Still a valid signature of the request.
        key.public_key().verify(
            signature,
            request_signing.canonical_request(
                "k",
                "GET",
                "/",
                headers[request_signing.HEADER_DATE],
                headers[request_signing.HEADER_NONCE],
                b"",
            ),
            ec.ECDSA(hashes.SHA256()),
        )
        r, s = decode_dss_signature(signature)
        highs += not request_signing.is_low_s(encode_dss_signature(r, N - s))
    assert highs == 64  # every malleated twin is high-s, so the server refuses it


def test_low_s_turns_a_high_s_signature_into_its_valid_twin() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    message = b"some request"
    while True:
        signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
        if not request_signing.is_low_s(signature):
            break
    normal = request_signing.low_s(signature)
    assert request_signing.is_low_s(normal)
    assert normal != signature
    key.public_key().verify(normal, message, ec.ECDSA(hashes.SHA256()))
    assert request_signing.low_s(normal) == normal


def test_a_malleated_card_signature_of_a_spent_challenge_gains_nothing(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient]
) -> None:
    # Card sign-in keeps no replay record of the request (docs/sign-in.md): the challenge
    # is single use, whatever form the card's signature takes. Cards are not asked for
    # low-s signatures (a real card signs as it signs).
    borne = kiosks["borne-1"]
    body = proof_body(read_card(test_pki.card(GP_CARD), borne.challenge()))
    assert borne.call("POST", "/auth/card/signin", body).status_code == 201
    sessions_after = count(world, ApiSession)
    twin = body | {"signature": malleate(body["signature"])}
    r = borne.call("POST", "/auth/card/signin", twin)
    refused(world, r, "challenge_replayed", "auth:card")
    assert count(world, ApiSession) == sessions_after
    assert count(world, KioskRequestSeen) == 0


# ---- 2. each certificate kind from its own CA only --------------------------------------

_KEEP_POLICY = object()


def forge(
    test_pki: CardPki,
    ca: str,
    subject: x509.Name,
    eku: list[str],
    *,
    policy: object = _KEEP_POLICY,
    digital_signature: bool = True,
    is_ca: bool = False,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A leaf signed directly with the key of `ca` of the test PKI: by default like the
    PKI's own leaves of the kind `eku[-1]` names (its policy, CA:FALSE, digitalSignature)."""
    authority = test_pki.pki.authorities[ca]
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(120) | 1)
        .not_valid_before(CERT_TIME - timedelta(days=1))
        .not_valid_after(CERT_TIME + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=digital_signature,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=not digital_signature,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(e) for e in eku]), critical=False
        )
    )
    chosen = EKU_POLICIES[eku[-1]] if policy is _KEEP_POLICY else policy
    if chosen is not None:
        builder = builder.add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(str(chosen)), None)]
            ),
            critical=False,
        )
    return key, builder.sign(authority.key, hashes.SHA256())


def card_subject(test_pki: CardPki, card: str) -> x509.Name:
    return x509.load_pem_x509_certificate(test_pki.card(card).certificate_pem).subject


def card_sign_in(
    borne: KioskClient,
    kind: CardKind,
    key: ec.EllipticCurvePrivateKey,
    certificate: x509.Certificate,
) -> Any:
    """A sign-in with a card made of `key` and `certificate` (what a forged card sends)."""
    challenge = borne.challenge()
    serial = card_serial(certificate.serial_number)
    signature = key.sign(
        signed_message(KIND_AIDS[kind], serial, challenge), ec.ECDSA(hashes.SHA256())
    )
    return borne.call(
        "POST",
        "/auth/card/signin",
        {
            "kind": kind.value,
            "challenge": base64.b64encode(challenge).decode(),
            "serial": serial.hex(),
            "certificate": base64.b64encode(
                certificate.public_bytes(serialization.Encoding.DER)
            ).decode(),
            "signature": base64.b64encode(signature).decode(),
        },
    )


CARD_HOLDERS = {CardKind.PROFESSIONAL: GP_CARD, CardKind.PATIENT: SOPHIE_CARD}
CARD_CA = {CardKind.PROFESSIONAL: PROFESSIONAL_CA, CardKind.PATIENT: PATIENT_CA}
ISSUERS = (PATIENT_CA, PROFESSIONAL_CA, KIOSK_CA, SERVER_CA, ROOT)


@pytest.mark.parametrize("ca", ISSUERS)
@pytest.mark.parametrize("kind", list(CardKind))
def test_a_card_certificate_passes_only_from_the_ca_of_its_kind(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient], kind: CardKind, ca: str
) -> None:
    # The review's forgeries among these: a professional card signed by the kiosk CA and
    # a patient card signed by the professional CA, both with the right EKU.
    subject = card_subject(test_pki, CARD_HOLDERS[kind])
    key, certificate = forge(test_pki, ca, subject, [KIND_EKUS[kind]])
    r = card_sign_in(kiosks["borne-1"], kind, key, certificate)
    if ca == CARD_CA[kind]:
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["kind"] == kind.value
        return
    # The root issues CAs only: its leaf has no intermediate of the bundle above it.
    reason = "certificate_untrusted" if ca == ROOT else "certificate_wrong_issuer"
    refused(world, r, reason, "auth:card")


@pytest.mark.parametrize("kind", list(CardKind))
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"eku": "other kind"}, "wrong_card_kind"),
        ({"policy": None}, "certificate_policy_invalid"),
        ({"policy": POLICY_KIOSK}, "certificate_policy_invalid"),
        ({"policy": "other kind"}, "certificate_policy_invalid"),
        ({"digital_signature": False}, "certificate_usage_invalid"),
        ({"is_ca": True}, "certificate_usage_invalid"),
    ],
    ids=["eku", "no-policy", "kiosk-policy", "other-card-policy", "key-usage", "ca-true"],
)
def test_a_card_certificate_from_the_right_ca_needs_its_eku_policy_and_key_usage(
    world: World,
    test_pki: CardPki,
    kiosks: dict[str, KioskClient],
    kind: CardKind,
    change: dict[str, Any],
    reason: str,
) -> None:
    other = CardKind.PATIENT if kind is CardKind.PROFESSIONAL else CardKind.PROFESSIONAL
    options = dict(change)
    eku = [KIND_EKUS[other] if options.pop("eku", None) else KIND_EKUS[kind]]
    if options.get("policy") == "other kind":
        options["policy"] = EKU_POLICIES[KIND_EKUS[other]]
    subject = card_subject(test_pki, CARD_HOLDERS[kind])
    key, certificate = forge(test_pki, CARD_CA[kind], subject, eku, **options)
    refused(world, card_sign_in(kiosks["borne-1"], kind, key, certificate), reason, "auth:card")


KIOSK_EKUS = [x509.ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string, EKU_KIOSK]


def kiosk_subject(name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("ca", ISSUERS)
def test_a_kiosk_certificate_registers_only_from_the_kiosk_ca(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient], ca: str
) -> None:
    _key, certificate = forge(test_pki, ca, kiosk_subject("borne-z"), KIOSK_EKUS)
    rt = world.rt
    with rt.sessions() as s:
        if ca == KIOSK_CA:
            kiosk_identity.register(rt.ctx(s), rt.trust, "borne-z", pem(certificate))
            return
        with pytest.raises(SigninFailure) as failure:
            kiosk_identity.register(rt.ctx(s), rt.trust, "borne-z", pem(certificate))
    expected = "kiosk_certificate_untrusted" if ca == ROOT else "kiosk_certificate_wrong_issuer"
    assert failure.value.reason == expected


@pytest.mark.parametrize(
    ("ca", "options", "reason"),
    [
        (PROFESSIONAL_CA, {}, "kiosk_certificate_wrong_issuer"),
        (PATIENT_CA, {}, "kiosk_certificate_wrong_issuer"),
        (KIOSK_CA, {"policy": None}, "kiosk_certificate_policy_invalid"),
        (
            KIOSK_CA,
            {"policy": EKU_POLICIES[EKU_PROFESSIONAL_CARD]},
            "kiosk_certificate_policy_invalid",
        ),
        (KIOSK_CA, {"digital_signature": False}, "kiosk_certificate_invalid"),
    ],
)
def test_a_kiosk_pinned_with_a_certificate_outside_its_kind_is_refused_on_every_request(
    world: World,
    test_pki: CardPki,
    kiosks: dict[str, KioskClient],
    ca: str,
    options: dict[str, Any],
    reason: str,
) -> None:
    # As if pinned before this check existed (registration now refuses it): every
    # request checks the pinned certificate again.
    key, certificate = forge(test_pki, ca, kiosk_subject("borne-z"), KIOSK_EKUS, **options)
    with world.rt.sessions() as s:
        s.add(
            Kiosk(
                name="borne-z",
                cert_sha256=fingerprint(certificate),
                cert_pem=pem(certificate).decode("ascii"),
                registered_at=world.clock(),
            )
        )
        s.commit()
    forged = KioskClient(world.client, world.clock, "borne-z", key)
    refused(world, forged.call("POST", "/auth/card/challenge"), reason, "auth:kiosk")


# ---- 3. nothing secret in replay or idempotency records ---------------------------------

SECRET_FIELDS = {"secret", "otpauth_uri", "qr_png_base64", "token", "pending_token"}


def database_holds(world: World, needles: list[str | bytes]) -> list[str]:
    """Where any of `needles` appears in clear in any column of any row: table.column."""
    found = []
    with world.rt.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for column, value in row._mapping.items():
                    if value is None:
                        continue
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    for needle in needles:
                        wanted = needle if isinstance(needle, bytes) else needle.encode()
                        if wanted in raw:
                            found.append(f"{table.name}.{column}")
    return found


def test_an_idempotency_key_on_totp_enrolment_is_refused_and_nothing_is_written(
    world: World,
) -> None:
    r = world.call("POST", "marie", "/me/totp", **{"Idempotency-Key": "enrol-1"})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["reason"] == "idempotency_key_not_allowed"
    assert count(world, IdempotencyRecord) == 0
    assert count(world, TotpCredential) == 0
    assert world.call("POST", "marie", "/me/totp").status_code == 201


def test_the_openapi_document_offers_no_idempotency_key_where_an_answer_holds_a_secret(
    client: Any,
) -> None:
    spec = client.get("/openapi.json").get_json()
    offered = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            names = {p["name"] for p in operation["parameters"]}
            schema = operation["responses"][next(iter(operation["responses"]))]["content"]
            fields = set(next(iter(schema.values()))["schema"].get("properties", {}))
            if "Idempotency-Key" in names:
                offered.append((method, path))
                assert not fields & SECRET_FIELDS, (method, path)
    assert ("post", "/api/v1/me/totp/confirm") in offered
    assert ("post", "/api/v1/me/totp") not in offered


def test_no_secret_of_a_sign_in_or_an_enrolment_is_stored_in_clear(
    world: World, test_pki: CardPki, kiosks: dict[str, KioskClient]
) -> None:
    # Every route below is called with an Idempotency-Key: those that take one store their
    # answer, the others ignore it (public sign-in routes) or refuse it (enrolment).
    def key() -> dict[str, str]:
        return {"Idempotency-Key": secrets.token_hex(8)}

    password = "Batterie-cheval-42-agrafe"
    assert (
        world.call("PUT", "marie", "/me/password", {"password": password}, **key()).status_code
        == 200
    )
    assert world.call("POST", "marie", "/me/totp", **key()).status_code == 422
    enrolment = world.call("POST", "marie", "/me/totp").get_json()
    secret = enrolment["secret"]
    code = pyotp.TOTP(secret).at(world.clock.now)
    confirmed = world.call("POST", "marie", "/me/totp/confirm", {"code": code}, **key())
    assert confirmed.status_code == 200
    world.clock.advance(seconds=60)
    ins = PATIENTS["marie"][0]
    started = world.client.post(
        "/api/v1/signin/password", json={"ins": ins, "password": password}, headers=key()
    )
    assert started.status_code == 200, started.get_json()
    pending = started.get_json()["pending_token"]
    code = pyotp.TOTP(secret).at(world.clock.now)
    finished = world.client.post(
        "/api/v1/signin/otp",
        json={"pending_token": pending, "code": code, "method": "totp"},
        headers=key(),
    )
    assert finished.status_code == 200, finished.get_json()
    borne = kiosks["borne-1"]
    body = proof_body(read_card(test_pki.card(GP_CARD), borne.challenge()))
    card = borne.call("POST", "/auth/card/signin", body, **key())
    assert card.status_code == 201
    assert count(world, IdempotencyRecord) == 2  # the password change and the confirmation
    needles: list[str | bytes] = [
        secret,
        base64.b32decode(secret),  # the raw key
        enrolment["otpauth_uri"],
        enrolment["qr_png_base64"],
        password,
        pending,
        finished.get_json()["token"],
        card.get_json()["token"],
    ]
    assert database_holds(world, needles) == []
    assert "patients.ins" in database_holds(world, [ins])  # the scan does see what is there
