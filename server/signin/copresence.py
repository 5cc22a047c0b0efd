"""Co-presence: a consent given in person, signed by the patient's card and the
professional's card over the consent's own content (docs/receipts.md, "Co-presence").

1. `prepare`: the professional's kiosk asks for a *draft*: canonical JSON saying which
   operation will be consented (its terms), on which dossier (or for which identity, at
   a creation), by which professional and which card of theirs (the session's), at which
   terminal, when and until when, with a random nonce. Nothing is written: the draft
   comes back with an HMAC tag (key derived from the master key, purpose
   "copresence-draft"), as card challenges do (challenges.py).
2. Both cards sign `copresence_challenge(draft)` (DMP-COPRESENCE/1 || SHA-256(draft)),
   each through `signed_message(aid, serial, challenge)` as at sign-in.
3. `verify`: the tag, the operation, the terminal, the professional and their card, the
   dossier, the expiry, single use (the nonce is spent in `card_challenges`, in the
   consent's transaction), then each card's certificate chain, kind, revocation and
   signature. The patient card's holder (their INS) is handed back for the use case to
   check against who may consent. Every failure is a SigninFailure with its precise
   reason, traced on the dossier patient's chain (the professional as actor) and
   answered with one generic 403 (CopresenceRefused).

The receipt of the consent carries the draft, both signatures and both certificates
with their issuing CAs (`Attestation.receipt_part`): anyone verifies all three
signatures offline with openssl.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import constant_time, hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cardreader.profile import CARD_SERIAL_LENGTH, KIND_AIDS, KIND_EKUS, CardKind
from cardreader.signature import card_serial, copresence_challenge, signed_message
from server.db import core
from server.errors import InvalidInput
from server.models import CardBinding, CardChallenge, Professional, table_of
from server.policy import ActorKind
from server.services.context import Ctx, Principal
from server.signin.events import Holder, SigninFailure, SigninReason
from server.signin.kiosk_identity import VerifiedKiosk
from server.trust import TrustError, TrustStore, der_fingerprint

DRAFT_FORMAT = "dmp-kiosk-copresence/1"
KEY_PURPOSE = "copresence-draft"
SPENT_PURPOSE = "copresence"  # card_challenges.purpose of a used draft's nonce
NONCE_BYTES = 16
TAG_BYTES = 32
MAX_DRAFT = 16_384
_MAX_CERTIFICATE = 4096
_MAX_SIGNATURE = 80
_T = table_of(CardChallenge)
_SPEND = {
    "postgresql": postgresql_insert(_T).on_conflict_do_nothing().returning(_T.c.id),
    "sqlite": sqlite_insert(_T).on_conflict_do_nothing().returning(_T.c.id),
}
Fail = Callable[..., SigninFailure]
_TRUST_REASONS = {"wrong_certificate_kind": SigninReason.WRONG_CARD_KIND}


class Operation(StrEnum):
    """What the cards consent to: the receipt's `action` of the change it makes."""

    CONSENT = "access:grant"  # consultation consent at the counter
    CREATE = "dossier:create"  # a dossier opened at a desk
    REPRESENTATIVE = "representative:manage"  # a minor's representative named at a desk
    CLOSE = "dossier:close"  # a dossier closed at a desk, the patient's choice


@dataclass(frozen=True, slots=True)
class CardSignature:
    kind: CardKind
    serial: bytes
    certificate_der: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Attestation:
    """A checked co-presence: the draft's bytes and content, and both cards."""

    draft: bytes
    content: dict[str, Any]
    patient_card: CardSignature
    patient_card_issuer: bytes  # DER of the intermediate CA that issued it
    professional_card: CardSignature
    professional_card_issuer: bytes
    holder_ins: str  # the patient card's holder, as its certificate names them

    @property
    def terms(self) -> dict[str, Any]:
        terms = self.content.get("terms")
        return terms if isinstance(terms, dict) else {}

    def receipt_part(self) -> dict[str, Any]:
        """What the receipt carries, in base64 (standard alphabet, as `base64 -d` reads)."""

        def card(signed: CardSignature, issuer: bytes) -> dict[str, Any]:
            return {
                "serial": signed.serial.hex(),
                "certificate": _b64(signed.certificate_der),
                "issuer": _b64(issuer),
                "signature": _b64(signed.signature),
            }

        return {
            "draft": _b64(self.draft),
            "challenge": _b64(copresence_challenge(self.draft)),
            "patient_card": card(self.patient_card, self.patient_card_issuer),
            "professional_card": card(self.professional_card, self.professional_card_issuer),
        }


def prepare(
    ctx: Ctx,
    who: Principal,
    kiosk: VerifiedKiosk,
    operation: Operation,
    dossier_id: int | None,
    terms: dict[str, Any],
) -> dict[str, Any]:
    """A draft of the consent for both cards to sign; reads the session's card binding,
    writes nothing."""
    binding = _binding(ctx, who, kiosk)
    pro = ctx.session.get(Professional, who.actor.id)
    if pro is None:
        raise InvalidInput("not_a_card_session", "Cette session n'a pas été ouverte par carte.")
    expires = ctx.now + timedelta(seconds=int(ctx.settings["CHALLENGE_SECONDS"]))
    content = {
        "format": DRAFT_FORMAT,
        "operation": operation.value,
        "dossier_id": dossier_id,
        "terms": terms,
        "professional": {
            "id": pro.id,
            "national_id": pro.national_id,
            "name": f"{pro.first_name} {pro.last_name}",
            "profession": pro.profession,
            "structure": pro.structure_finess,
            "card": {
                "serial": binding.card_serial,
                "certificate_sha256": binding.card_cert_sha256,
            },
        },
        "terminal": {"id": kiosk.id, "name": kiosk.name},
        "prepared_at": _instant(ctx.now),
        "expires_at": _instant(expires),
        "nonce": secrets.token_urlsafe(NONCE_BYTES),
    }
    draft = canonical(content)
    return {
        "draft": _b64(draft),
        "tag": _b64(_tag(ctx, draft)),
        "challenge": _b64(copresence_challenge(draft)),
        "expires_at": _instant(expires),
    }


def verify(
    ctx: Ctx,
    trust: TrustStore,
    who: Principal,
    kiosk: VerifiedKiosk,
    operation: Operation,
    dossier_id: int | None,
    body: Any,
    subject_patient_id: int | None,
) -> Attestation:
    """The checked attestation, its draft spent; SigninFailure otherwise. Failures are
    traced on `subject_patient_id`'s chain (the system chain when None), naming the
    professional of the session."""
    actor = _actor(who, subject_patient_id)

    def fail(reason: SigninReason, **detail: Any) -> SigninFailure:
        return SigninFailure(reason, holder=actor, detail={"op": operation.value, **detail})

    draft, tag, patient_card, pro_card = _parse(body)
    if not constant_time.bytes_eq(tag, _tag(ctx, draft)):
        raise fail(SigninReason.DRAFT_UNKNOWN)
    content = json.loads(draft)  # the server made these bytes: they parse
    binding = _binding(ctx, who, kiosk)
    if content.get("terminal", {}).get("id") != kiosk.id:
        raise fail(SigninReason.DRAFT_OTHER_KIOSK)
    expires = datetime.fromisoformat(str(content["expires_at"]))
    _spend(ctx, kiosk, str(content["nonce"]), expires, fail)
    if content.get("operation") != operation.value:
        raise fail(SigninReason.DRAFT_OTHER_OPERATION)
    professional = content.get("professional", {})
    if (
        professional.get("id") != who.actor.id
        or professional.get("card", {}).get("certificate_sha256") != binding.card_cert_sha256
    ):
        raise fail(SigninReason.DRAFT_OTHER_PROFESSIONAL)
    if content.get("dossier_id") != dossier_id:
        raise fail(SigninReason.DRAFT_OTHER_DOSSIER)
    if expires <= ctx.now:
        raise fail(SigninReason.DRAFT_EXPIRED)
    challenge = copresence_challenge(draft)
    pro_issuer, pro_sha, _pro_ins = _check_card(ctx, trust, pro_card, challenge, fail)
    if pro_sha != binding.card_cert_sha256:
        raise fail(SigninReason.PROFESSIONAL_CARD_NOT_SESSIONS, card="professional")
    patient_issuer, _sha, ins = _check_card(ctx, trust, patient_card, challenge, fail)
    return Attestation(draft, content, patient_card, patient_issuer, pro_card, pro_issuer, ins)


def refused(
    who: Principal, operation: Operation, subject_patient_id: int | None, reason: SigninReason
) -> SigninFailure:
    """A check the use case makes on a verified attestation (who holds the patient card,
    the terms), refused like the others."""
    return SigninFailure(
        reason, holder=_actor(who, subject_patient_id), detail={"op": operation.value}
    )


def _actor(who: Principal, subject_patient_id: int | None) -> Holder:
    """The trace names the professional, on the chain of the patient concerned."""
    return Holder(
        ActorKind.PROFESSIONAL.value,
        who.actor.id,
        who.name,
        who.actor.profession,
        who.actor.structure,
        patient_id=subject_patient_id,
    )


def canonical(content: dict[str, Any]) -> bytes:
    """As a receipt's (services/receipts.py): sorted keys, no spaces, UTF-8."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _check_card(
    ctx: Ctx,
    trust: TrustStore,
    signed: CardSignature,
    challenge: bytes,
    fail: Fail,
) -> tuple[bytes, str, str]:
    """(issuer DER, certificate SHA-256, holder identifier) of a card whose certificate
    chains to the PKI, of the expected kind, unrevoked, that signed `challenge`."""
    which = signed.kind.value
    try:
        certificate = trust.parsed_der(signed.certificate_der)
    except ValueError:
        raise fail(SigninReason.CERTIFICATE_MALFORMED, card=which) from None
    sha = der_fingerprint(signed.certificate_der)
    try:
        trust.verify(certificate, ctx.now, KIND_EKUS[signed.kind], sha256=sha)
    except TrustError as exc:
        reason = _TRUST_REASONS.get(exc.reason) or SigninReason(exc.reason)
        raise fail(reason, card=which) from None
    if card_serial(certificate.serial_number) != signed.serial:
        raise fail(SigninReason.SERIAL_MISMATCH, card=which)
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != (
        "secp256r1"
    ):
        raise fail(SigninReason.CERTIFICATE_USAGE_INVALID, card=which)
    message = signed_message(KIND_AIDS[signed.kind], signed.serial, challenge)
    try:
        public_key.verify(signed.signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise fail(SigninReason.SIGNATURE_INVALID, card=which) from None
    names = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    holder = str(names[0].value) if len(names) == 1 else ""
    issuer = trust.issuer(certificate).public_bytes(serialization.Encoding.DER)
    return issuer, sha, holder


def _spend(ctx: Ctx, kiosk: VerifiedKiosk, nonce: str, expires: datetime, fail: Fail) -> None:
    """Single use: the nonce's row goes in with the consent's transaction (or with the
    refusal's trace, which is committed): a second use finds it."""
    conn = core(ctx.session)
    first = conn.execute(
        _SPEND[conn.dialect.name].values(
            id=nonce,
            kiosk_id=kiosk.id,
            purpose=SPENT_PURPOSE,
            session_hash=None,
            created_at=ctx.now,
            expires_at=expires,
            used_at=ctx.now,
        )
    ).first()
    if first is None:
        raise fail(SigninReason.DRAFT_REPLAYED)


def _binding(ctx: Ctx, who: Principal, kiosk: VerifiedKiosk) -> CardBinding:
    binding = ctx.session.get(CardBinding, who.session_hash)
    if (
        who.actor.kind is not ActorKind.PROFESSIONAL
        or binding is None
        or binding.kiosk_id != kiosk.id
    ):
        raise InvalidInput("not_a_card_session", "Cette session n'a pas été ouverte par carte.")
    return binding


def _parse(body: Any) -> tuple[bytes, bytes, CardSignature, CardSignature]:
    """Malformed input is a 422 (nothing was checked yet), as for a card sign-in."""
    if not isinstance(body, dict) or set(body) - {
        "draft",
        "tag",
        "patient_card",
        "professional_card",
    }:
        raise InvalidInput("body_invalid", "Corps attendu : draft, tag et les deux cartes.")
    draft = _unb64(body.get("draft"), "draft", 2, MAX_DRAFT)
    tag = _unb64(body.get("tag"), "tag", TAG_BYTES, TAG_BYTES)
    return (
        draft,
        tag,
        _card(body.get("patient_card"), CardKind.PATIENT, "patient_card"),
        _card(body.get("professional_card"), CardKind.PROFESSIONAL, "professional_card"),
    )


def _card(value: Any, kind: CardKind, name: str) -> CardSignature:
    if not isinstance(value, dict) or set(value) != {"serial", "certificate", "signature"}:
        raise InvalidInput(f"{name}_invalid", f"« {name} » : serial, certificate, signature.")
    serial = value.get("serial")
    if not isinstance(serial, str) or len(serial) != 2 * CARD_SERIAL_LENGTH:
        raise InvalidInput("serial_invalid", "Champ « serial » invalide (hexadécimal attendu).")
    try:
        raw_serial = bytes.fromhex(serial)
    except ValueError:
        raise InvalidInput(
            "serial_invalid", "Champ « serial » invalide (hexadécimal attendu)."
        ) from None
    return CardSignature(
        kind,
        raw_serial,
        _unb64(value.get("certificate"), "certificate", 1, _MAX_CERTIFICATE),
        _unb64(value.get("signature"), "signature", 8, _MAX_SIGNATURE),
    )


def _unb64(value: Any, name: str, low: int, high: int) -> bytes:
    if isinstance(value, str) and len(value) <= 2 * high:
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            raw = b""
        if low <= len(raw) <= high:
            return raw
    raise InvalidInput(f"{name}_invalid", f"Champ « {name} » invalide (base64 attendu).")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _tag(ctx: Ctx, draft: bytes) -> bytes:
    mac = hmac.HMAC(ctx.keyring.derive_key(KEY_PURPOSE), hashes.SHA256())
    mac.update(draft)
    return mac.finalize()


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
