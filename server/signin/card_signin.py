"""Card sign-in: server challenges, card signature and certificate checks, card sessions.

The flow (docs/sign-in.md): a kiosk asks for a challenge (32 random bytes, single use,
CHALLENGE_SECONDS, bound to that kiosk); the card signs signed_message(AID, serial,
challenge); the kiosk relays the signature, the serial and the certificate; the server
alone verifies all of it. A professional card signs only after VERIFY, so a valid
signature proves the PIN without the PIN ever leaving the kiosk. A patient card has no
PIN: it is only the first factor, and the sign-in waits for a one-time code
(PendingSignIn).

Every failure raises SigninFailure with the precise check; `trace.refuse` turns it into
one generic answer and a trace entry.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import bindparam, insert, select

from cardreader.profile import CARD_SERIAL_LENGTH, KIND_AIDS, KIND_EKUS, CardKind
from cardreader.signature import card_serial, signed_message
from server.db import core
from server.errors import InvalidInput
from server.models import CardBinding, Patient, PendingSignIn, Professional, table_of
from server.policy import ActorKind
from server.services.context import Ctx, Principal
from server.signin import challenges, sessions, trace
from server.signin.events import Holder, SigninAction, SigninFailure, SigninReason
from server.signin.kiosk_identity import TerminalKind, VerifiedKiosk, forget_expired
from server.trust import TrustError, TrustStore, der_fingerprint

SIGNIN = "signin"
RESIGN = "resign"
_MAX_CERTIFICATE = 4096
_MAX_SIGNATURE = 80  # a DER P-256 signature is at most 72 bytes
_PURGE_ONE_IN_64 = 4  # first challenge byte below 4: 4/256
_CARD_TRUST_REASONS = {"wrong_certificate_kind": SigninReason.WRONG_CARD_KIND}
_PRO = table_of(Professional)
_PAT = table_of(Patient)
# Core, built once: a sign-in is a handful of statements and the ORM's per-statement
# cost was most of its time (bench/signin_bench.py, docs/sign-in.md).
_PROFESSIONAL_BY_ID = select(
    _PRO.c.id,
    _PRO.c.first_name,
    _PRO.c.last_name,
    _PRO.c.profession,
    _PRO.c.structure_finess,
    _PRO.c.active,
).where(_PRO.c.national_id == bindparam("identifier"))
_PATIENT_BY_INS = select(_PAT.c.id, _PAT.c.first_names, _PAT.c.birth_name).where(
    _PAT.c.ins == bindparam("identifier")
)


@dataclass(frozen=True, slots=True)
class CardProof:
    kind: CardKind
    challenge: bytes
    serial: bytes
    certificate_der: bytes
    signature: bytes


def issue_challenge(
    ctx: Ctx, kiosk: VerifiedKiosk, purpose: str, session_hash: str | None = None
) -> dict[str, Any]:
    """A challenge bound to the kiosk (and session): nothing is written (challenges.py)."""
    _card_terminal(kiosk)
    value, expires = challenges.issue(ctx, kiosk.id, purpose, session_hash)
    return {"challenge": base64.b64encode(value).decode(), "expires_at": _iso(expires)}


def parse_proof(body: Any, *, kind: CardKind | None = None) -> CardProof:
    """The kiosk's relay of what the card produced; malformed input is a 422, not an
    authentication failure (nothing was checked yet)."""
    if not isinstance(body, dict):
        raise InvalidInput("body_invalid", "Le corps doit être un objet JSON.")
    if kind is None:
        try:
            kind = CardKind(str(body.get("kind")))
        except ValueError:
            raise InvalidInput("kind_invalid", "Type de carte inconnu.") from None
    serial = _hex(body.get("serial"), "serial", CARD_SERIAL_LENGTH)
    return CardProof(
        kind=kind,
        challenge=_b64(body.get("challenge"), "challenge", 16, 64),
        serial=serial,
        certificate_der=_b64(body.get("certificate"), "certificate", 1, _MAX_CERTIFICATE),
        signature=_b64(body.get("signature"), "signature", 8, _MAX_SIGNATURE),
    )


def sign_in(ctx: Ctx, trust: TrustStore, kiosk: VerifiedKiosk, proof: CardProof) -> dict[str, Any]:
    _consume(ctx, kiosk, proof.challenge, SIGNIN, None)
    _card_terminal(kiosk, proof.kind)
    holder, sha = _verify(ctx, trust, proof)
    serial_hex = proof.serial.hex()
    detail = {"card_serial": serial_hex, "card_cert_sha256": sha}
    if proof.kind is CardKind.PROFESSIONAL:
        token = sessions.open_card_session(
            ctx, ActorKind.PROFESSIONAL, holder.id, kiosk.name, kiosk.id, sha, serial_hex
        )
        trace.record(
            ctx,
            SigninAction.CARD,
            SigninReason.CARD_SIGNIN,
            holder=holder,
            kiosk=kiosk.name,
            allowed=True,
            detail=detail,
        )
        return {
            "kind": "professional",
            "token": token,
            "name": holder.name,
            "expires_at": _iso(ctx.now + timedelta(seconds=ctx.settings["SESSION_MAX_SECONDS"])),
            "resign_within_seconds": ctx.settings["RESIGN_SECONDS"],
        }
    # Patient: the card is the first factor only; the one-time code completes it.
    pending = secrets.token_urlsafe(32)
    expires = ctx.now + timedelta(seconds=ctx.settings["PENDING_SIGNIN_SECONDS"])
    ctx.session.execute(
        insert(PendingSignIn).values(
            token_hash=sessions.token_hash(pending),
            patient_id=holder.id,
            first_factor="card",
            kiosk_id=kiosk.id,
            card_cert_sha256=sha,
            card_serial=serial_hex,
            created_at=ctx.now,
            expires_at=expires,
        )
    )
    trace.record(
        ctx,
        SigninAction.CARD,
        SigninReason.CARD_FIRST_FACTOR,
        holder=holder,
        kiosk=kiosk.name,
        allowed=True,
        detail=detail,
    )
    return {
        "kind": "patient",
        "pending_token": pending,
        "expires_at": _iso(expires),
        "next": "one_time_code",
    }


def resign_challenge(ctx: Ctx, who: Principal, kiosk: VerifiedKiosk) -> dict[str, Any]:
    _binding(ctx, who, kiosk)
    return issue_challenge(ctx, kiosk, RESIGN, who.session_hash)


def resign(
    ctx: Ctx, trust: TrustStore, who: Principal, kiosk: VerifiedKiosk, body: Any
) -> dict[str, Any]:
    """A fresh signature by the same card keeps a card session alive RESIGN_SECONDS more;
    a card that fails its re-signature ends the session at once."""
    binding = _binding(ctx, who, kiosk)
    # A privacy officer holds a professional card (the CPE profile of non-clinical staff).
    on_pro_card = who.actor.kind in (ActorKind.PROFESSIONAL, ActorKind.PRIVACY_OFFICER)
    kind = CardKind.PROFESSIONAL if on_pro_card else CardKind.PATIENT
    proof = parse_proof(body, kind=kind)
    try:
        _consume(ctx, kiosk, proof.challenge, RESIGN, who.session_hash)
        holder, sha = _verify(ctx, trust, proof)
        if sha != binding.card_cert_sha256 or holder.id != who.actor.id:
            raise SigninFailure(SigninReason.CARD_CHANGED, holder=holder)
    except SigninFailure:
        sessions.end_session(ctx, who)
        raise
    binding.last_signature_at = ctx.now
    return {
        "resigned": True,
        "resign_within_seconds": ctx.settings["RESIGN_SECONDS"],
    }


def card_removed(ctx: Ctx, who: Principal, kiosk: VerifiedKiosk) -> dict[str, Any]:
    """The kiosk saw the card leave the reader: the session ends now."""
    _binding(ctx, who, kiosk)
    sessions.end_session(ctx, who)
    return {"ended": True}


def _card_terminal(kiosk: VerifiedKiosk, signs_in: CardKind | None = None) -> None:
    """Which terminal relays which card. The insurer's system holds no reader. A
    professional's software signs professionals in (and shows a patient's card for an
    in-person consent), but no patient signs in to her own dossier through her doctor's
    software: she has her own session (kiosk, or online). The online space has no reader
    at all: it relays patients' password sign-ins only (docs/online.md)."""
    refused = kiosk.kind in (TerminalKind.INSURER, TerminalKind.ONLINE) or (
        kiosk.kind is TerminalKind.SOFTWARE and signs_in is CardKind.PATIENT
    )
    if refused:
        raise SigninFailure(
            SigninReason.TERMINAL_KIND_REFUSED,
            SigninAction.CARD,
            detail={"kind": kiosk.kind.value},
        )


def _binding(ctx: Ctx, who: Principal, kiosk: VerifiedKiosk | None) -> CardBinding:
    binding = ctx.session.get(CardBinding, who.session_hash)
    if binding is None or kiosk is None or binding.kiosk_id != kiosk.id:
        raise InvalidInput("not_a_card_session", "Cette session n'a pas été ouverte par carte.")
    return binding


def _consume(
    ctx: Ctx, kiosk: VerifiedKiosk, value: bytes, purpose: str, session_hash: str | None
) -> None:
    """Checks the challenge and spends it in this transaction (single use)."""
    challenge = challenges.check(ctx, value, kiosk.id, purpose, session_hash)
    if challenge.nonce[0] < _PURGE_ONE_IN_64:
        # Housekeeping on a random 1/64 of sign-ins keeps both tables small without a
        # DELETE on every one (the rows are harmless until then: their dates fail).
        challenges.forget_expired(ctx)
        forget_expired(ctx, kiosk)
    challenges.spend(ctx, challenge, session_hash)


def _verify(ctx: Ctx, trust: TrustStore, proof: CardProof) -> tuple[Holder, str]:
    """The card's holder and the certificate's SHA-256, once every check of the
    certificate and the signature has passed."""
    try:
        certificate = trust.parsed_der(proof.certificate_der)
    except ValueError:
        raise SigninFailure(SigninReason.CERTIFICATE_MALFORMED) from None
    sha = der_fingerprint(proof.certificate_der)
    try:
        trust.verify(certificate, ctx.now, KIND_EKUS[proof.kind], sha256=sha)
    except TrustError as exc:
        raise SigninFailure(
            _CARD_TRUST_REASONS.get(exc.reason) or SigninReason(exc.reason)
        ) from None
    # From here the certificate is genuine: its holder may be named in the trace.
    holder = _holder(ctx, certificate, proof.kind)
    if card_serial(certificate.serial_number) != proof.serial:
        raise SigninFailure(SigninReason.SERIAL_MISMATCH, holder=holder)
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != (
        "secp256r1"
    ):
        raise SigninFailure(SigninReason.CERTIFICATE_USAGE_INVALID, holder=holder)
    message = signed_message(KIND_AIDS[proof.kind], proof.serial, proof.challenge)
    try:
        public_key.verify(proof.signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SigninFailure(SigninReason.SIGNATURE_INVALID, holder=holder) from None
    return holder, sha


def _holder(ctx: Ctx, certificate: x509.Certificate, kind: CardKind) -> Holder:
    attributes = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    identifier = str(attributes[0].value) if len(attributes) == 1 else ""
    conn = core(ctx.session)
    if kind is CardKind.PROFESSIONAL:
        pro = conn.execute(_PROFESSIONAL_BY_ID, {"identifier": identifier}).first()
        if pro is None or not pro.active:
            raise SigninFailure(SigninReason.UNKNOWN_HOLDER)
        return Holder(
            ActorKind.PROFESSIONAL.value,
            pro.id,
            f"{pro.first_name} {pro.last_name}",
            pro.profession,
            pro.structure_finess,
        )
    patient = conn.execute(_PATIENT_BY_INS, {"identifier": identifier}).first()
    if patient is None:
        raise SigninFailure(SigninReason.UNKNOWN_HOLDER)
    name = f"{patient.first_names.split()[0]} {patient.birth_name}"
    return Holder(ActorKind.PATIENT.value, patient.id, name, patient_id=patient.id)


def _b64(value: Any, name: str, low: int, high: int) -> bytes:
    if isinstance(value, str) and len(value) <= 2 * high:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if low <= len(raw) <= high:
            return raw
    raise InvalidInput(f"{name}_invalid", f"Champ « {name} » invalide (base64 attendu).")


def _hex(value: Any, name: str, size: int) -> bytes:
    if isinstance(value, str) and len(value) == 2 * size:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    raise InvalidInput(f"{name}_invalid", f"Champ « {name} » invalide (hexadécimal attendu).")


def _iso(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))
