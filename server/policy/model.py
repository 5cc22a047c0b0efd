"""The vocabulary of access decisions: who asks, for what, on what, and the answer.

Everything here is plain immutable data so that `decide` stays a pure function: the
services load rows, turn them into these facts, call `decide`, and trace the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Category(StrEnum):
    """The 11 document categories of the DMP (profession x category matrix columns)."""

    COMPTE_RENDU = "compte_rendu"
    SYNTHESE = "synthese"
    IMAGERIE = "imagerie"
    PRESCRIPTION = "prescription"
    DISPENSATION = "dispensation"
    PLAN_SOINS = "plan_soins"
    TRAITEMENT_ADMINISTRE = "traitement_administre"
    CERTIFICAT = "certificat"
    REMBOURSEMENT = "remboursement"
    DEPOSE_PATIENT = "depose_patient"
    GESTION = "gestion"


class ActorKind(StrEnum):
    PATIENT = "patient"  # a card/online holder; acts on their own dossier or as a representative
    PROFESSIONAL = "professional"  # CPS-like card holder
    INSURER = "insurer"  # the Assurance Maladie service account: writes reimbursements only
    THIRD_PARTY = "third_party"  # mutuelle, bank, employer, lab...: never any access
    # An establishment's délégué à la protection des données: reviews flagged accesses
    # (server/policy/review.py) and nothing else; `decide` refuses them every dossier act.
    PRIVACY_OFFICER = "privacy_officer"


class Action(StrEnum):
    """Permissions named `resource:action`, as in warehouse."""

    DOSSIER_CREATE = "dossier:create"
    # Find a dossier by INS: says that it exists and its id, nothing of its content, so
    # that a professional can then ask for consent or break the glass.
    DOSSIER_LOOKUP = "dossier:lookup"
    DOSSIER_READ = "dossier:read"  # summary: identity, status, settings the actor may see
    DOCUMENT_LIST = "document:list"
    DOCUMENT_READ = "document:read"
    DOCUMENT_DEPOSIT = "document:deposit"
    DOCUMENT_REPLACE = "document:replace"
    DOCUMENT_ARCHIVE = "document:archive"
    DOCUMENT_DELETE = "document:delete"
    DOCUMENT_MASK = "document:mask"  # set/clear MASQUE_PS
    DOCUMENT_PATIENT_VISIBILITY = "document:patient_visibility"  # set/clear INVISIBLE_PATIENT
    DOCUMENT_REP_VISIBILITY = "document:rep_visibility"  # set/clear INVISIBLE_REP_LEGAUX
    ACCESS_GRANT = "access:grant"  # grant a consultation consent, unblock a professional
    ACCESS_BLOCK = "access:block"  # block a professional
    CARE_TEAM_MANAGE = "care_team:manage"
    CARE_TEAM_JOIN = "care_team:join"  # admissions: the actor's own structure joins
    MEDECIN_TRAITANT_SET = "medecin_traitant:set"
    EMERGENCY_SETTINGS = "emergency:settings"
    BRIS_DE_GLACE = "emergency:bris_de_glace"
    CENTRE_15 = "emergency:centre_15"
    HISTORY_READ = "history:read"
    DOSSIER_CLOSE = "dossier:close"
    DOSSIER_REOPEN = "dossier:reopen"
    # Everything the caller may see, taken away (docs/export.md): the patient and a
    # minor's representatives only, on an active or a closed dossier.
    DOSSIER_EXPORT = "dossier:export"
    # Add or remove a minor's legal representative after creation (at a desk).
    REPRESENTATIVE_MANAGE = "representative:manage"
    # Give, list or revoke a time-boxed read delegation (the patient only).
    DELEGATION_MANAGE = "delegation:manage"


class DossierStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"
    PURGED = "purged"


class DocumentStatus(StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"
    ARCHIVED = "archived"
    DELETED = "deleted"


class Mode(StrEnum):
    """Under which title access was granted: shown in the patient's history."""

    NONE = "none"  # denials
    PATIENT = "patient"
    REPRESENTATIVE = "representative"
    MEDECIN_TRAITANT = "medecin_traitant"
    AUTHOR = "author"
    CARE_TEAM = "care_team"
    CONSENT = "consent"
    BRIS_DE_GLACE = "bris_de_glace"
    CENTRE_15 = "centre_15"
    ADMISSIONS = "admissions"
    INSURER = "insurer"
    DELEGATE = "delegate"  # an adult the patient delegated reading of some categories to


class Obligation(StrEnum):
    NOTIFY_PATIENT_FIRST_ACCESS = "notify_patient_first_access"
    NOTIFY_PATIENT_EMERGENCY = "notify_patient_emergency"
    NOTIFY_PATIENT_NEW_DOCUMENT = "notify_patient_new_document"
    SHOW_EMERGENCY_BANNER = "show_emergency_banner"


class Reason(StrEnum):
    """Why the answer is what it is. Every member must appear in the policy case table."""

    # allowed
    PATIENT_OWN_DOSSIER = "patient_own_dossier"
    REPRESENTATIVE_OF_MINOR = "representative_of_minor"
    MEDECIN_TRAITANT = "medecin_traitant"
    DOCUMENT_AUTHOR = "document_author"
    CARE_TEAM_MEMBER = "care_team_member"
    EXPLICIT_CONSENT = "explicit_consent"
    BRIS_DE_GLACE_ACTIVE = "bris_de_glace_active"
    CENTRE_15_ACTIVE = "centre_15_active"
    EMERGENCY_GRANTED = "emergency_granted"  # the act of breaking the glass itself
    CREATION_WITH_CONSENT = "creation_with_consent"
    ADMISSIONS_DESK = "admissions_desk"
    INSURER_DEPOSIT = "insurer_deposit"
    IDENTITY_LOOKUP = "identity_lookup"  # finding a dossier by INS, nothing more
    # The request names a dossier, document, professional or care-team member that does
    # not exist, and the caller is entitled to learn it (rule 5, "not found" in the docs).
    NOT_FOUND = "not_found"
    # denied
    DEFAULT_DENY = "default_deny"
    FORBIDDEN_ACTOR = "forbidden_actor"  # mutuelles, banks, employers, occupational medicine...
    INSURER_READS_NOTHING = "insurer_reads_nothing"
    NOT_A_PARTY = "not_a_party"  # a patient acting on someone else's dossier
    REPRESENTATIVE_OF_ADULT = "representative_of_adult"
    PROFESSIONAL_BLOCKED = "professional_blocked"
    NO_AUTHORISATION = "no_authorisation"  # neither care team, nor consent, nor emergency
    CATEGORY_NOT_ALLOWED = "category_not_allowed"  # profession x category matrix
    DOCUMENT_MASKED = "document_masked"
    INVISIBLE_TO_PATIENT = "invisible_to_patient"
    INVISIBLE_TO_REPRESENTATIVES = "invisible_to_representatives"
    DOSSIER_CLOSED = "dossier_closed"
    DOSSIER_PURGED = "dossier_purged"
    DOSSIER_EXISTS = "dossier_exists"
    CONSENT_MISSING = "consent_missing"
    EMERGENCY_NOT_ALLOWED = "emergency_not_allowed"  # the patient withdrew the permission
    EMERGENCY_REASON_MISSING = "emergency_reason_missing"
    NOT_A_REGULATOR = "not_a_regulator"
    NOT_THE_AUTHOR = "not_the_author"
    DOCUMENT_NOT_CURRENT = "document_not_current"
    DOCUMENT_DELETED = "document_deleted"
    MEDECIN_TRAITANT_NOT_BLOCKABLE = "medecin_traitant_not_blockable"
    NOT_AN_ELIGIBLE_PROFESSION = "not_an_eligible_profession"
    NOT_A_PHYSICIAN = "not_a_physician"  # only a physician can be the médecin traitant
    # INVISIBLE_PATIENT has no meaning on what the patient (or a representative) deposited.
    PATIENT_DEPOSIT_VISIBLE = "patient_deposit_visible"
    # Time-boxed delegation (server/policy/delegation.py).
    DELEGATION_ACTIVE = "delegation_active"  # allowed: within the delegated categories
    DELEGATION_EXPIRED = "delegation_expired"
    DELEGATION_REVOKED = "delegation_revoked"
    # Secret connection for minors: a deposit must be invisible to the representatives.
    SECRET_DEPOSIT_VISIBLE = "secret_deposit_visible"  # noqa: S105 (a reason, no password)


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: int  # patients.id for patients, professionals.id for professionals, 0 otherwise
    profession: str | None = None  # key of the access matrix, professionals only
    structure: str | None = None  # FINESS of the professional's structure


@dataclass(frozen=True, slots=True)
class DelegationFacts:
    """The caller's own delegation on a dossier (the services load only that one): read
    access to `categories` until `until`, unless revoked."""

    delegate_id: int  # patients.id of the adult the patient delegated to
    categories: frozenset[Category]
    until: datetime
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class DossierFacts:
    patient_id: int
    status: DossierStatus
    patient_birth_date: date
    medecin_traitant_id: int | None = None
    # The designated médecin traitant's profession: only a physician's designation counts
    # (a non-physician named before that rule existed gets no médecin traitant's rights).
    medecin_traitant_profession: str | None = None
    care_team: frozenset[int] = frozenset()  # professional ids
    care_team_structures: frozenset[str] = frozenset()  # FINESS: a whole hospital team
    blocked: frozenset[int] = frozenset()  # professional ids
    consents: frozenset[int] = frozenset()  # professional ids with a consent still valid at now
    representatives: frozenset[int] = frozenset()  # patient ids of legal representatives
    bris_de_glace_allowed: bool = True
    centre_15_allowed: bool = True
    # Professionals who authored a document of this dossier (the services load only the
    # caller's own authorship): their list shows at least what they wrote.
    authors: frozenset[int] = frozenset()
    # The calling patient's delegation on this dossier, if they are not its patient.
    delegation: DelegationFacts | None = None


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    category: Category
    status: DocumentStatus
    author_professional_id: int | None = None
    author_patient_id: int | None = None
    author_is_insurer: bool = False
    masked_ps: bool = False
    invisible_patient: bool = False
    invisible_rep: bool = False


@dataclass(frozen=True, slots=True)
class Context:
    now: datetime
    emergency: Mode | None = None  # BRIS_DE_GLACE or CENTRE_15 active for this session+dossier
    emergency_reason: str | None = None  # the stated reason when asking to break the glass
    consent_evidence: bool = False  # creation: the patient's consent was explicitly given
    # ACCESS_GRANT by a professional for themself: the patient (or a minor's representative)
    # is at the counter and their card signed a fresh challenge, checked by the caller.
    patient_present: bool = False
    first_access: bool = False  # the professional never accessed this dossier before
    # ACCESS_BLOCK/ACCESS_GRANT: who is targeted; MEDECIN_TRAITANT_SET: who is designated
    # (None clears the designation).
    target_professional_id: int | None = None
    # MEDECIN_TRAITANT_SET, and DOSSIER_CREATE naming a médecin traitant: the designated
    # professional's profession (None at creation: nobody is named).
    target_profession: str | None = None
    # The request names a professional, care-team member or document that does not exist:
    # answered NOT_FOUND to a caller who may act on the dossier, as a refusal to others.
    unknown_target: bool = False
    subject_patient_id: int | None = None  # DOSSIER_CREATE: whose dossier is to be created
    # A professional in "connexion secrète" with a minor (CSP art. L1111-5): every deposit
    # must be invisible to the legal representatives.
    secret_connection: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: Reason
    mode: Mode = Mode.NONE
    obligations: frozenset[Obligation] = field(default_factory=frozenset)
    # For DOSSIER_READ/DOCUMENT_LIST: categories the actor may read; the services drop the
    # rest before anything leaves the server (hidden fields are part of the decision).
    readable_categories: frozenset[Category] = frozenset()
