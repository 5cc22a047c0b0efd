"""Creating, reading, closing and reopening dossiers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.errors import DmpError, InvalidInput, NotFound
from server.identifiers import IdentifierError, parse_ins
from server.models import Dossier, Patient, Professional, RepresentativeLink
from server.policy import Action, ActorKind, Context, decide, is_minor
from server.policy.model import DossierStatus
from server.services import audit, capabilities, guard, history, lookup, receipts, secret, views
from server.services.context import Ctx, Principal
from server.services.facts import load
from server.signin import copresence
from server.signin.copresence import Operation
from server.signin.events import SigninReason
from server.signin.kiosk_identity import VerifiedKiosk
from server.trust import TrustStore
from server.validation import day, email, flag, phone, reject_unknown, require_object, text

PATIENT_FIELDS = {
    "ins",
    "ins_oid",
    "birth_name",
    "first_names",
    "birth_date",
    "sex",
    "birth_place",
    "used_name",
    "email",
    "phone",
    "notify_channel",
}
CREATE_FIELDS = {"patient", "consent", "emergency", "medecin_traitant", "representatives"}


def find(ctx: Ctx, who: Principal, ins_value: Any, oid: str | None = None) -> dict[str, Any]:
    """The dossier id behind an INS, so that the INS never travels in URLs. `oid`: the
    identifier's system as FHIR names it (patient.identifier): an INS under another OID
    (a real one for a test identity) is another identifier, hence no one's."""
    found = find_subject(ctx, who, ins_value, oid)
    return {"dossier_id": found.dossier.id, "status": found.dossier.status}


def find_subject(
    ctx: Ctx, who: Principal, ins_value: Any, oid: str | None = None
) -> lookup.Subject:
    """`find`, decided and traced, answering the dossier as `lookup.subject` loads it (one
    statement: dossier, patient, facts, the chain's head under its lock), with the head as
    the lookup's entry left it: a request that goes on to a second decision on the same
    dossier (the FHIR search by INS: the listing) neither loads it again nor locks the
    head again (`listing.decide(subject=...)`)."""
    if not isinstance(ins_value, str):
        raise InvalidInput("ins_invalid", "INS attendu.")
    try:
        ins = parse_ins(ins_value, oid)
    except IdentifierError as exc:
        raise InvalidInput("ins_invalid", str(exc)) from None
    missing = NotFound("dossier_not_found", "Aucun dossier pour cet INS.")
    found = lookup.subject_by_ins(ctx, who, ins.matricule, oid)
    if found is None:
        same_ins = Patient.ins == ins.matricule
        condition = same_ins if oid is None else same_ins & (Patient.ins_oid == oid)
        patient = ctx.session.scalars(select(Patient).where(condition)).first()
        # Decided and traced like any lookup (on the person's chain if they are known,
        # else the system chain; never the INS itself): "none" only to whoever may learn
        # that a dossier exists, the usual refusal to anyone else.
        guard.refuse_missing(
            ctx,
            who,
            Action.DOSSIER_LOOKUP,
            None,
            patient,
            missing,
            subject_patient_id=patient.id if patient else None,
        )
    granted = guard.authorize(
        ctx,
        who,
        Action.DOSSIER_LOOKUP,
        found.dossier,
        found.patient,
        loaded=found.loaded,
        head=found.head,
        subject_patient_id=found.patient.id,
        missing=missing,
    )
    return lookup.after(found, granted)


@dataclass(frozen=True)
class Creation:
    """A creation request, read and checked (nothing looked up but who it names)."""

    fields: dict[str, Any]
    given: bool
    terminal: str | None
    emergency: dict[str, Any]
    named_mt: Any
    mt: Professional | None
    reps: list[Patient]
    reps_known: bool

    def terms(self) -> dict[str, Any]:
        """What a patient's card signs when the dossier is opened at a desk (co-presence):
        who, the consent, the terminal typed, the permissions and the people named; not
        the contact details, which no receipt keeps."""
        return {
            "patient": {
                k: str(self.fields[k])
                for k in ("ins", "ins_oid", "birth_name", "first_names", "birth_date")
            },
            "consent_given": self.given,
            "terminal": self.terminal or "",
            "emergency": {
                "bris_de_glace": flag(self.emergency, "bris_de_glace", True),
                "centre_15": flag(self.emergency, "centre_15", True),
            },
            "medecin_traitant": self.named_mt or None,
            "representatives": [rep.ins for rep in self.reps],
        }


def read_creation(ctx: Ctx, body: Any) -> Creation:
    data = require_object(body)
    reject_unknown(data, CREATE_FIELDS)
    identity = require_object(data.get("patient"))
    reject_unknown(identity, PATIENT_FIELDS)
    consent = require_object(data.get("consent", {}))
    reject_unknown(consent, {"given", "terminal"})
    emergency = require_object(data.get("emergency", {}))
    reject_unknown(emergency, {"bris_de_glace", "centre_15"})
    # Consent to creation is an explicit act: only a literal true counts as given.
    given = consent.get("given") is True
    terminal = text(consent, "terminal", max_len=100)
    fields = _patient_fields(ctx, identity)
    named_mt = data.get("medecin_traitant")
    mt = lookup.find_professional(ctx, named_mt) if named_mt else None
    reps, reps_known = _representatives(ctx, data.get("representatives", []))
    return Creation(fields, given, terminal, emergency, named_mt, mt, reps, reps_known)


def create(ctx: Ctx, who: Principal, body: Any) -> dict[str, Any]:
    return _create(ctx, who, read_creation(ctx, body), None)


def creation_draft(ctx: Ctx, who: Principal, kiosk: VerifiedKiosk, body: Any) -> dict[str, Any]:
    """What the patient's card and the desk's will sign before the dossier is opened."""
    terms = read_creation(ctx, body).terms()
    return copresence.prepare(ctx, who, kiosk, Operation.CREATE, None, terms)


def create_in_person(
    ctx: Ctx, trust: TrustStore, who: Principal, kiosk: VerifiedKiosk, body: Any
) -> dict[str, Any]:
    """A dossier opened at a desk: the request, and both cards' signatures of its draft.
    The patient card must be the patient's own, and the request what the cards signed."""
    data = require_object(body)
    request = data.get("request")
    proof_fields = {k: v for k, v in data.items() if k != "request"}
    creation = read_creation(ctx, request)
    known = ctx.session.scalars(
        select(Patient.id).where(Patient.ins == creation.fields["ins"])
    ).first()
    proof = copresence.verify(ctx, trust, who, kiosk, Operation.CREATE, None, proof_fields, known)
    if proof.terms != creation.terms():
        raise copresence.refused(who, Operation.CREATE, known, SigninReason.DRAFT_OTHER_TERMS)
    if proof.holder_ins != creation.fields["ins"]:
        raise copresence.refused(
            who, Operation.CREATE, known, SigninReason.PATIENT_CARD_OTHER_PERSON
        )
    return _create(ctx, who, creation, proof.receipt_part())


def _create(
    ctx: Ctx, who: Principal, creation: Creation, copresent: dict[str, Any] | None
) -> dict[str, Any]:
    fields, given, terminal = creation.fields, creation.given, creation.terminal
    emergency, named_mt, mt = creation.emergency, creation.named_mt, creation.mt
    reps, reps_known = creation.reps, creation.reps_known

    patient = ctx.session.scalars(select(Patient).where(Patient.ins == fields["ins"])).first()
    existing = (
        ctx.session.scalars(select(Dossier).where(Dossier.patient_id == patient.id)).first()
        if patient
        else None
    )
    facts = None
    if existing is not None and patient is not None and existing.status != "purged":
        facts = load(ctx.session, existing, patient, ctx.now).facts
    # Who is named (médecin traitant, representatives) is part of the decision, so that
    # a caller who may not create learns nothing of who is registered.
    mt_unknown = bool(named_mt) and mt is None
    decision = decide(
        who.actor,
        Action.DOSSIER_CREATE,
        facts,
        None,
        Context(
            now=ctx.now,
            consent_evidence=given,
            subject_patient_id=patient.id if patient else None,
            target_professional_id=mt.id if mt else None,
            target_profession=mt.profession if mt else None,
            unknown_target=mt_unknown or not reps_known,
        ),
        ctx.matrix,
    )
    if not decision.allowed:
        guard.record_denial(ctx, who, Action.DOSSIER_CREATE, decision, patient)
        missing = (
            lookup.no_professional()
            if mt_unknown
            else NotFound("representative_not_found", "Représentant légal inconnu.")
        )
        raise guard.refusal(who, Action.DOSSIER_CREATE, decision.reason, missing)
    patient_known = patient is not None
    if patient is None:
        patient = Patient(**fields, created_at=ctx.now)
        ctx.session.add(patient)
        ctx.session.flush()
    else:
        _check_same_identity(patient, fields)
        patient.email, patient.phone = fields["email"], fields["phone"]
        patient.notify_channel = fields["notify_channel"]
    row = existing or Dossier(patient_id=patient.id)
    row.status = "active"
    row.created_at = ctx.now
    row.consent_collected_by = who.ref
    row.consent_at = ctx.now
    row.consent_terminal = terminal or ""
    # Both emergency permissions are offered ticked at creation (domain.md).
    row.bris_de_glace_allowed = flag(emergency, "bris_de_glace", True)
    row.centre_15_allowed = flag(emergency, "centre_15", True)
    row.medecin_traitant_id = mt.id if mt else None
    row.closed_at = row.retention_until = row.deletion_requested_at = None
    row.wrapped_key = ctx.keyring.new_wrapped_key()
    ctx.session.add(row)
    ctx.session.flush()
    for rep in reps:
        ctx.session.add(
            RepresentativeLink(dossier_id=row.id, patient_id=rep.id, created_at=ctx.now)
        )
    audit.ensure_head(ctx.session, audit.chain_for(patient.id), patient.id)
    guard.trace(ctx, who, Action.DOSSIER_CREATE, decision, patient, detail={"terminal": terminal})
    subject = patient if patient_known else None

    def unfinished(error: DmpError) -> None:
        # Allowed, then failed (its receipt could not be signed): traced as not carried
        # out, on the patient's chain if they were known before, else on the system chain
        # (a new patient's row went with the rollback).
        failed = {"terminal": terminal, "decided": decision.reason.value}
        action = Action.DOSSIER_CREATE
        guard.trace(ctx, who, action, decision, subject, None, failed, failure=error.reason)

    ctx.unfinished = unfinished
    change: dict[str, Any] = {
        "consent": {"given": given, "collected_by": who.ref, "terminal": row.consent_terminal},
        "emergency": {
            "bris_de_glace": row.bris_de_glace_allowed,
            "centre_15": row.centre_15_allowed,
        },
        "medecin_traitant": receipts.professional_ref(mt),
        "representatives": [receipts.patient_ref(rep) for rep in reps],
    }
    if copresent is not None:
        change["copresence"] = copresent
    receipts.issue(ctx, who, Action.DOSSIER_CREATE, row, patient, change)
    return views.summary(ctx, row, patient, full=True)


def summary(ctx: Ctx, who: Principal, dossier_id: int) -> dict[str, Any]:
    row, patient = lookup.dossier(ctx, who, Action.DOSSIER_READ, dossier_id)
    granted = guard.authorize(ctx, who, Action.DOSSIER_READ, row, patient)
    full = who.actor.kind is ActorKind.PATIENT
    out = views.summary(ctx, row, patient, full=full)
    if full and who.actor.id == patient.id:
        # The home page's "Depuis votre dernière visite : 2 accès, dont 1 en urgence".
        out["since_last_visit"] = history.since_last_visit(ctx, patient.id)
        # And the accesses flagged for review she was not told of yet (issue 14).
        out["flagged_since_last_visit"] = history.flagged_since_last_visit(ctx, patient.id)
    if full and granted.facts is not None:
        out["actions"] = capabilities.allowed(who.actor, granted.facts, ctx.now, ctx.matrix)
    if not full:
        out["readable_categories"] = sorted(c.value for c in granted.decision.readable_categories)
        # The banner of a secret connection with a minor (issue 13), for this session only.
        out["secret_connection"] = secret.is_on(ctx, who, row.id)
        # Whether a secret connection can be offered (the policy's own age rule).
        out["minor"] = is_minor(patient.birth_date, ctx.now)
    return views.with_banner(out, granted)


def close(ctx: Ctx, who: Principal, dossier_id: int, body: Any) -> dict[str, Any]:
    delete = _choice(body)
    row, patient = _locked(ctx, who, Action.DOSSIER_CLOSE, dossier_id)
    granted = guard.authorize(
        ctx, who, Action.DOSSIER_CLOSE, row, patient, detail={"delete": delete}
    )
    return _closed(ctx, who, row, patient, delete, granted, {})


def _choice(body: Any) -> bool:
    """The closure asked for: confirmed, and whether the dossier is to be deleted."""
    data = require_object(body)
    reject_unknown(data, {"confirm", "delete"})
    if data.get("confirm") is not True:
        raise InvalidInput("confirmation_required", "La fermeture doit être confirmée.")
    return flag(data, "delete", False)


def close_draft(
    ctx: Ctx, who: Principal, kiosk: VerifiedKiosk, dossier_id: int, body: Any
) -> dict[str, Any]:
    """What the patient's card and the professional's will sign at the desk: this
    dossier closed, kept or to be deleted (co-presence, server/signin/copresence.py)."""
    terms = {"status": "closed", "deletion_requested": _choice(body)}
    return copresence.prepare(ctx, who, kiosk, Operation.CLOSE, dossier_id, terms)


def close_in_person(
    ctx: Ctx, trust: TrustStore, who: Principal, kiosk: VerifiedKiosk, dossier_id: int, body: Any
) -> dict[str, Any]:
    """A professional closes the dossier at the desk: the patient's choice, which the
    patient's card and the professional's both signed (the draft says keep or delete)."""
    row, patient = _locked(ctx, who, Action.DOSSIER_CLOSE, dossier_id)
    proof = copresence.verify(ctx, trust, who, kiosk, Operation.CLOSE, row.id, body, patient.id)
    if proof.holder_ins != patient.ins:
        raise copresence.refused(
            who, Operation.CLOSE, patient.id, SigninReason.PATIENT_CARD_OTHER_PERSON
        )
    delete = proof.terms.get("deletion_requested") is True
    granted = guard.authorize(
        ctx,
        who,
        Action.DOSSIER_CLOSE,
        row,
        patient,
        patient_present=True,
        detail={"delete": delete, "card_holder": patient.id},
    )
    extra = {"in_person": True, "copresence": proof.receipt_part()}
    return _closed(ctx, who, row, patient, delete, granted, extra)


def _locked(ctx: Ctx, who: Principal, action: Action, dossier_id: int) -> tuple[Dossier, Patient]:
    """The dossier row locked for this transaction, read again under the lock: closing,
    reopening and `dmp retention run` on another host are serialised, so a reopening
    never revives a dossier purged meanwhile (PostgreSQL: FOR UPDATE; SQLite: the
    transaction already holds the write lock)."""
    row, patient = lookup.dossier(ctx, who, action, dossier_id)
    ctx.session.refresh(row, with_for_update=True)
    return row, patient


def _closed(
    ctx: Ctx,
    who: Principal,
    row: Dossier,
    patient: Patient,
    delete: bool,
    granted: guard.Granted,
    extra: dict[str, Any],
) -> dict[str, Any]:
    row.status = "closed"
    row.closed_at = ctx.now
    # Kept ten years after closure, or deleted within three months when the patient asks.
    years = ctx.settings["RETENTION_YEARS"]
    row.retention_until = ctx.now + timedelta(days=round(365.25 * years))
    row.deletion_requested_at = ctx.now if delete else None
    receipt = receipts.issue(
        ctx,
        who,
        Action.DOSSIER_CLOSE,
        row,
        patient,
        {
            "status": "closed",
            "deletion_requested": delete,
            # A dossier to delete is not kept: its receipt names no retention date (the
            # row keeps one all the same, for a deletion withdrawn by a reopening).
            **({} if delete else {"retention_until": receipts.instant(row.retention_until)}),
            **extra,
        },
    )
    return _answer(ctx, who, row, patient, granted, receipt.receipt_id)


def reopen(ctx: Ctx, who: Principal, dossier_id: int) -> dict[str, Any]:
    row, patient = _locked(ctx, who, Action.DOSSIER_REOPEN, dossier_id)
    granted = guard.authorize(ctx, who, Action.DOSSIER_REOPEN, row, patient)
    row.status = "active"
    # Everything was kept while closed (documents, settings, care team): reopening only
    # lifts the closure, and a deletion asked for and not yet carried out is withdrawn.
    withdrawn = row.deletion_requested_at is not None
    row.closed_at = row.retention_until = row.deletion_requested_at = None
    receipt = receipts.issue(
        ctx,
        who,
        Action.DOSSIER_REOPEN,
        row,
        patient,
        {"status": "active", "deletion_request_withdrawn": withdrawn},
    )
    return _answer(ctx, who, row, patient, granted, receipt.receipt_id)


def _answer(
    ctx: Ctx,
    who: Principal,
    row: Dossier,
    patient: Patient,
    granted: guard.Granted,
    receipt_id: str,
) -> dict[str, Any]:
    full = who.actor.kind is ActorKind.PATIENT
    out = views.summary(ctx, row, patient, full=full)
    out["receipt_id"] = receipt_id
    if full and granted.facts is not None:
        # The facts as they are now, not as they were before the change.
        facts = replace(granted.facts, status=DossierStatus(row.status))
        out["actions"] = capabilities.allowed(who.actor, facts, ctx.now, ctx.matrix)
    return out


def _patient_fields(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    raw_ins = text(data, "ins", max_len=20) or ""
    try:
        ins = parse_ins(raw_ins, data.get("ins_oid"), test=ctx.settings["INS_TEST_OIDS"])
    except IdentifierError as exc:
        raise InvalidInput("ins_invalid", str(exc)) from None
    sex = text(data, "sex", max_len=1)
    if sex not in ("M", "F", "I"):
        raise InvalidInput("sex_invalid", "Sexe : M, F ou I.")
    place = text(data, "birth_place", max_len=5) or ""
    if len(place) != 5 or not (
        place.isascii() and place.replace("A", "0").replace("B", "0").isdigit()
    ):
        raise InvalidInput("birth_place_invalid", "Lieu de naissance : code INSEE à 5 caractères.")
    born = day(data, "birth_date")
    if born > ctx.now.date():
        raise InvalidInput("birth_date_invalid", "Date de naissance dans le futur.")
    channel = data.get("notify_channel", "email")
    if channel not in ("email", "sms", "none"):
        raise InvalidInput("notify_channel_invalid", "Canal de notification : email, sms ou none.")
    return {
        "ins": ins.matricule,
        "ins_oid": ins.oid,
        "birth_name": text(data, "birth_name", max_len=100),
        "first_names": text(data, "first_names", max_len=200),
        "birth_date": born,
        "sex": sex,
        "birth_place": place,
        "used_name": text(data, "used_name", max_len=100, required=False),
        "email": email(data),
        "phone": phone(data),
        "notify_channel": channel,
    }


def _check_same_identity(patient: Patient, fields: dict[str, Any]) -> None:
    # An INS names one person: different traits mean an identity error, never a merge.
    for name in ("birth_name", "birth_date", "sex"):
        if getattr(patient, name) != fields[name]:
            raise InvalidInput(
                "identity_mismatch", "Les traits d'identité ne correspondent pas à l'INS."
            )


def _representatives(ctx: Ctx, values: Any) -> tuple[list[Patient], bool]:
    """The representatives named, and whether every one of them is known (an unknown one
    is answered by the creation decision, not before it)."""
    if not isinstance(values, list) or len(values) > 4:
        raise InvalidInput("representatives_invalid", "Liste d'INS de représentants attendue.")
    found = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidInput("representatives_invalid", "INS de représentant invalide.")
        rep = ctx.session.scalars(select(Patient).where(Patient.ins == value)).first()
        if rep is not None:
            found.append(rep)
    return found, len(found) == len(values)
