"""What sign-in traces: its actions and reasons as enums, who attempted, and its one failure.

Like the access side (`server.policy.Action` / `Reason`), every sign-in action and reason
is a member of an enum, so a misspelt one is a type error rather than a line of the
tamper-evident trace that the patient's history cannot explain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class SigninAction(StrEnum):
    CARD = "auth:card"  # a card signed a challenge (sign-in, re-signature, presence)
    KIOSK = "auth:kiosk"  # a kiosk-signed request
    OTP = "auth:otp"  # a one-time code typed
    CODE_SENT = "auth:code_sent"
    PASSWORD = "auth:password"  # noqa: S105 - an action name, not a secret
    PASSWORD_SET = "auth:password_set"  # noqa: S105
    TOTP_ENROL = "auth:totp_enrol"
    SIGNIN = "auth:signin"  # a pending sign-in finished (or refused)
    TERMINAL = "auth:terminal"  # a terminal's machine sign-in (the insurer's system)


class SigninReason(StrEnum):
    # Kiosk identity (kiosk_identity.py)
    KIOSK_SIGNATURE_MISSING = "kiosk_signature_missing"
    UNKNOWN_KIOSK = "unknown_kiosk"
    KIOSK_REVOKED = "kiosk_revoked"
    REQUEST_STALE = "request_stale"
    REQUEST_DATE_INVALID = "request_date_invalid"
    KIOSK_SIGNATURE_INVALID = "kiosk_signature_invalid"
    KIOSK_CERTIFICATE_INVALID = "kiosk_certificate_invalid"
    KIOSK_CERTIFICATE_UNTRUSTED = "kiosk_certificate_untrusted"
    KIOSK_CERTIFICATE_EXPIRED = "kiosk_certificate_expired"
    KIOSK_CERTIFICATE_NOT_YET_VALID = "kiosk_certificate_not_yet_valid"
    KIOSK_CERTIFICATE_WRONG_ISSUER = "kiosk_certificate_wrong_issuer"
    KIOSK_CERTIFICATE_POLICY_INVALID = "kiosk_certificate_policy_invalid"
    KIOSK_SIGNATURE_NOT_CANONICAL = "kiosk_signature_not_canonical"  # a high-s ECDSA one
    REQUEST_NONCE_INVALID = "request_nonce_invalid"
    REQUEST_REPLAYED = "request_replayed"
    REVOCATION_UNKNOWN = "revocation_unknown"
    # Software terminals (kiosk_identity.py, terminal_signin.py)
    TERMINAL_KIND_REFUSED = "terminal_kind_refused"  # e.g. a kiosk asking to sign in as insurer
    TERMINAL_SIGNATURE_INVALID = "terminal_signature_invalid"  # the challenge's signature
    SESSION_OTHER_TERMINAL = "session_other_terminal"  # a bound session shown elsewhere
    # Card challenges and certificates (challenges.py, card_signin.py, server/trust.py)
    CHALLENGE_UNKNOWN = "challenge_unknown"
    CHALLENGE_OTHER_KIOSK = "challenge_other_kiosk"
    CHALLENGE_EXPIRED = "challenge_expired"
    CHALLENGE_REPLAYED = "challenge_replayed"
    CERTIFICATE_MALFORMED = "certificate_malformed"
    CERTIFICATE_UNTRUSTED = "certificate_untrusted"
    CERTIFICATE_EXPIRED = "certificate_expired"
    CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"
    CERTIFICATE_REVOKED = "certificate_revoked"
    CERTIFICATE_USAGE_INVALID = "certificate_usage_invalid"
    CERTIFICATE_WRONG_ISSUER = "certificate_wrong_issuer"  # another CA of the bundle
    CERTIFICATE_POLICY_INVALID = "certificate_policy_invalid"
    WRONG_CARD_KIND = "wrong_card_kind"
    UNKNOWN_HOLDER = "unknown_holder"
    SERIAL_MISMATCH = "serial_mismatch"
    SIGNATURE_INVALID = "signature_invalid"
    CARD_CHANGED = "card_changed"
    # Consents signed in person by two cards (copresence.py)
    DRAFT_UNKNOWN = "copresence_draft_unknown"  # not a draft of this server, or altered
    DRAFT_EXPIRED = "copresence_draft_expired"
    DRAFT_REPLAYED = "copresence_draft_replayed"
    DRAFT_OTHER_OPERATION = "copresence_draft_other_operation"
    DRAFT_OTHER_DOSSIER = "copresence_draft_other_dossier"
    DRAFT_OTHER_TERMS = "copresence_draft_other_terms"  # the request is not what was signed
    DRAFT_OTHER_KIOSK = "copresence_draft_other_kiosk"
    DRAFT_OTHER_PROFESSIONAL = "copresence_draft_other_professional"
    PROFESSIONAL_CARD_NOT_SESSIONS = "professional_card_not_the_sessions"
    PATIENT_CARD_OTHER_PERSON = "patient_card_other_person"
    # Codes, passwords and pending sign-ins (pending.py, throttle.py, totp.py, sent_codes.py)
    RATE_LIMITED = "rate_limited"  # too many requests before sign-in from one caller
    CREDENTIALS_MALFORMED = "credentials_malformed"  # a sign-in field missing or malformed
    PENDING_UNKNOWN = "pending_unknown"
    PENDING_USED = "pending_used"
    PENDING_EXPIRED = "pending_expired"
    PENDING_WRONG_KIOSK = "pending_wrong_kiosk"
    OTP_INVALID = "otp_invalid"
    OTP_EXPIRED = "otp_expired"
    OTP_REPLAYED = "otp_replayed"
    OTP_LOCKED = "otp_locked"
    UNKNOWN_INS = "unknown_ins"
    PASSWORD_INVALID = "password_invalid"  # noqa: S105 - a reason, not a secret
    PASSWORD_LOCKED = "password_locked"  # noqa: S105
    # Successes
    CARD_SIGNIN = "card_signin"
    CARD_FIRST_FACTOR = "card_first_factor"
    TERMINAL_SIGNIN = "terminal_signin"
    PASSWORD_VALID = "password_valid"  # noqa: S105
    PASSWORD_SET = "password_set"  # noqa: S105
    CODE_SENT = "code_sent"
    TOTP_ENROLMENT_STARTED = "totp_enrolment_started"
    TOTP_CONFIRMED = "totp_confirmed"
    SIGNIN_CARD_CODE = "signin_card_code"
    SIGNIN_CARD_TOTP = "signin_card_totp"
    SIGNIN_PASSWORD_CODE = "signin_password_code"  # noqa: S105
    SIGNIN_PASSWORD_TOTP = "signin_password_totp"  # noqa: S105


@dataclass(frozen=True, slots=True)
class Holder:
    """Who the trace names as the actor of a sign-in attempt: a card's verified holder, or
    the patient whose pending sign-in or password it is."""

    kind: str  # server.policy.ActorKind value
    id: int
    name: str
    profession: str | None = None
    structure: str | None = None
    patient_id: int | None = None  # the chain the entry goes to (a patient's own events)


@dataclass(frozen=True, slots=True)
class Lock:
    """A factor locked by this failure (the lockout's end goes in the patient's history)."""

    reason: SigninReason
    until: datetime


@dataclass(eq=False)
class SigninFailure(Exception):
    """One failed sign-in check. Only its trace entry says which: outward, every failure is
    the same 401 (`refusal.refuse`). Raised where the check fails, traced in one place."""

    reason: SigninReason
    action: SigninAction = SigninAction.CARD
    holder: Holder | None = None
    kiosk: str | None = None  # the kiosk the attempt came from, as claimed or verified
    detail: dict[str, Any] = field(default_factory=dict)
    lock: Lock | None = None

    def __post_init__(self) -> None:
        Exception.__init__(self, self.reason.value)

    @property
    def patient_id(self) -> int | None:
        return self.holder.patient_id if self.holder is not None else None
