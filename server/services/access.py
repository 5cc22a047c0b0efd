"""The patient's levers on who may see the dossier, and the emergency access itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from server.errors import InvalidInput, NotFound
from server.identifiers import IdentifierError, parse_finess
from server.models import (
    Block,
    CareTeamMember,
    ConsultationConsent,
    Dossier,
    EmergencyAccess,
    FirstAccess,
    Patient,
    Professional,
    RepresentativeLink,
)
from server.policy import Action, Mode
from server.policy.age import is_minor
from server.services import guard, lookup, receipts, views
from server.services.context import Ctx, Principal
from server.signin import copresence
from server.signin.copresence import Operation
from server.signin.events import SigninReason
from server.signin.kiosk_identity import VerifiedKiosk
from server.trust import TrustStore
from server.validation import flag, reject_unknown, require_object, text


def overview(ctx: Ctx, who: Principal, dossier_id: int) -> dict[str, Any]:
    """Who has access and who has read: the patient's view of their dossier's openness."""
    row, patient = lookup.dossier(ctx, who, Action.HISTORY_READ, dossier_id)
    granted = guard.authorize(
        ctx, who, Action.HISTORY_READ, row, patient, detail={"view": "access"}
    )
    facts = granted.facts
    if facts is None:  # authorize always loads the facts of an existing dossier
        raise NotFound("dossier_not_found", "Dossier introuvable.")

    def ref(pid: int | None) -> dict[str, Any] | None:
        return views.professional_ref(ctx, pid)

    consents = ctx.session.scalars(
        select(ConsultationConsent).where(
            ConsultationConsent.dossier_id == row.id, ConsultationConsent.expires_at > ctx.now
        )
    )
    readers = ctx.session.scalars(
        select(FirstAccess).where(FirstAccess.dossier_id == row.id).order_by(FirstAccess.at)
    )
    team = ctx.session.scalars(select(CareTeamMember).where(CareTeamMember.dossier_id == row.id))
    return {
        "medecin_traitant": ref(facts.medecin_traitant_id),
        "care_team": [
            {
                "id": m.id,
                "professional": ref(m.professional_id),
                "structure": m.structure_finess,
                "structure_name": views.structure_name(ctx, m.structure_finess),
                "added_at": views.iso(m.added_at),
            }
            for m in team
        ],
        "consents": [
            {"professional": ref(c.professional_id), "expires_at": views.iso(c.expires_at)}
            for c in consents
        ],
        "blocked": [ref(pid) for pid in sorted(facts.blocked)],
        "have_read": [
            {"professional": ref(r.professional_id), "first_at": views.iso(r.at)} for r in readers
        ],
        "emergency": {
            "bris_de_glace": row.bris_de_glace_allowed,
            "centre_15": row.centre_15_allowed,
        },
    }


def _authorize_on(
    ctx: Ctx, who: Principal, action: Action, dossier_id: int, national_id: Any, op: str
) -> tuple[Dossier, Patient, Professional]:
    """Block, unblock and consent all act on one professional of one dossier."""
    row, patient = lookup.dossier(ctx, who, action, dossier_id)
    pro = lookup.professional(ctx, who, action, row, patient, national_id, {"op": op})
    guard.authorize(
        ctx,
        who,
        action,
        row,
        patient,
        target_professional_id=pro.id,
        detail={"professional": pro.national_id, "op": op},
    )
    return row, patient, pro


def block(ctx: Ctx, who: Principal, dossier_id: int, national_id: str) -> dict[str, Any]:
    action = Action.ACCESS_BLOCK
    row, patient, pro = _authorize_on(ctx, who, action, dossier_id, national_id, "block")
    if ctx.session.get(Block, (row.id, pro.id)) is None:
        ctx.session.add(Block(dossier_id=row.id, professional_id=pro.id, created_at=ctx.now))
    receipts.issue(ctx, who, action, row, patient, {"blocked": receipts.professional_ref(pro)})
    return {"blocked": views.professional_ref(ctx, pro.id)}


def unblock(ctx: Ctx, who: Principal, dossier_id: int, national_id: str) -> dict[str, Any]:
    action = Action.ACCESS_GRANT
    row, patient, pro = _authorize_on(ctx, who, action, dossier_id, national_id, "unblock")
    ctx.session.execute(
        delete(Block).where(Block.dossier_id == row.id, Block.professional_id == pro.id)
    )
    receipts.issue(ctx, who, action, row, patient, {"unblocked": receipts.professional_ref(pro)})
    return {"unblocked": views.professional_ref(ctx, pro.id)}


def grant_consent(ctx: Ctx, who: Principal, dossier_id: int, body: Any) -> dict[str, Any]:
    data = require_object(body)
    reject_unknown(data, {"national_id"})
    row, patient, pro = _authorize_on(
        ctx, who, Action.ACCESS_GRANT, dossier_id, data.get("national_id"), "consent"
    )
    expires = ctx.now + timedelta(seconds=ctx.settings["CONSENT_SECONDS"])
    ctx.session.add(
        ConsultationConsent(
            dossier_id=row.id,
            professional_id=pro.id,
            granted_at=ctx.now,
            expires_at=expires,
            granted_by=who.ref,
        )
    )
    consent: dict[str, Any] = {"professional": receipts.professional_ref(pro)}
    consent |= {"in_person": False, "expires_at": receipts.instant(expires)}
    receipts.issue(ctx, who, Action.ACCESS_GRANT, row, patient, {"consent": consent})
    return {"professional": views.professional_ref(ctx, pro.id), "expires_at": views.iso(expires)}


def consent_draft(
    ctx: Ctx, who: Principal, kiosk: VerifiedKiosk, dossier_id: int
) -> dict[str, Any]:
    """What the patient's card and the professional's will sign at the counter: a
    consultation consent to this professional, for CONSENT_SECONDS (copresence.py)."""
    terms = {"consent": "consultation", "duration_seconds": int(ctx.settings["CONSENT_SECONDS"])}
    return copresence.prepare(ctx, who, kiosk, Operation.CONSENT, dossier_id, terms)


def grant_consent_in_person(
    ctx: Ctx, trust: TrustStore, who: Principal, kiosk: VerifiedKiosk, dossier_id: int, body: Any
) -> dict[str, Any]:
    """The patient at the counter consents to this professional reading their dossier:
    their card and the professional's both signed the consent's draft (copresence.py).
    The patient, or the legal representative of a minor, counts; anyone else's card is
    no evidence, and is refused like a forged one."""
    row, patient = lookup.dossier(ctx, who, Action.ACCESS_GRANT, dossier_id)
    proof = copresence.verify(ctx, trust, who, kiosk, Operation.CONSENT, row.id, body, patient.id)
    holder = ctx.session.scalars(select(Patient).where(Patient.ins == proof.holder_ins)).first()
    present = holder is not None and (
        holder.id == patient.id
        or (
            is_minor(patient.birth_date, ctx.now)
            and ctx.session.get(RepresentativeLink, (row.id, holder.id)) is not None
        )
    )
    if holder is None or not present:
        raise copresence.refused(
            who, Operation.CONSENT, patient.id, SigninReason.PATIENT_CARD_OTHER_PERSON
        )
    guard.authorize(
        ctx,
        who,
        Action.ACCESS_GRANT,
        row,
        patient,
        target_professional_id=who.actor.id,
        patient_present=True,
        detail={"op": "consent_in_person", "card_holder": holder.id},
    )
    expires = ctx.now + timedelta(seconds=int(proof.terms["duration_seconds"]))
    ctx.session.add(
        ConsultationConsent(
            dossier_id=row.id,
            professional_id=who.actor.id,
            granted_at=ctx.now,
            expires_at=expires,
            granted_by=who.ref,
        )
    )
    consent = {
        "professional": receipts.professional_ref(ctx.session.get(Professional, who.actor.id)),
        "in_person": True,
        "card_holder": holder.id,
        "expires_at": receipts.instant(expires),
    }
    change = {"consent": consent, "copresence": proof.receipt_part()}
    receipts.issue(ctx, who, Action.ACCESS_GRANT, row, patient, change)
    return {
        "professional": views.professional_ref(ctx, who.actor.id),
        "expires_at": views.iso(expires),
    }


def add_care_team(ctx: Ctx, who: Principal, dossier_id: int, body: Any) -> dict[str, Any]:
    data = require_object(body)
    reject_unknown(data, {"national_id", "structure_finess"})
    row, patient = lookup.dossier(ctx, who, Action.CARE_TEAM_MANAGE, dossier_id)
    pro: Professional | None = None
    finess = None
    if data.get("national_id") is not None:
        pro = lookup.professional(
            ctx, who, Action.CARE_TEAM_MANAGE, row, patient, data["national_id"]
        )
    elif data.get("structure_finess") is not None:
        finess = _finess(data)
    else:
        raise InvalidInput("member_required", "Un professionnel ou une structure est attendu.")
    guard.authorize(
        ctx,
        who,
        Action.CARE_TEAM_MANAGE,
        row,
        patient,
        detail={"professional": pro.national_id if pro else None, "structure": finess},
    )
    member = CareTeamMember(
        dossier_id=row.id,
        professional_id=pro.id if pro else None,
        structure_finess=finess,
        added_at=ctx.now,
        added_by=who.ref,
    )
    ctx.session.add(member)
    ctx.session.flush()
    added: dict[str, Any] = {"member_id": member.id, "structure": finess}
    added["professional"] = receipts.professional_ref(pro)
    receipts.issue(ctx, who, Action.CARE_TEAM_MANAGE, row, patient, {"care_team_added": added})
    return {
        "id": member.id,
        "professional": views.professional_ref(ctx, member.professional_id),
        "structure": finess,
    }


def join_care_team(ctx: Ctx, who: Principal, dossier_id: int) -> dict[str, Any]:
    """An admission: the admitting structure's team joins the patient's care team."""
    row, patient = lookup.dossier(ctx, who, Action.CARE_TEAM_JOIN, dossier_id)
    guard.authorize(
        ctx, who, Action.CARE_TEAM_JOIN, row, patient, detail={"structure": who.actor.structure}
    )
    if who.actor.structure is None:
        raise InvalidInput("structure_missing", "Votre carte ne porte pas de structure.")
    exists = ctx.session.scalar(
        select(CareTeamMember.id).where(
            CareTeamMember.dossier_id == row.id,
            CareTeamMember.structure_finess == who.actor.structure,
        )
    )
    if exists is None:
        ctx.session.add(
            CareTeamMember(
                dossier_id=row.id,
                structure_finess=who.actor.structure,
                added_at=ctx.now,
                added_by=who.ref,
            )
        )
    joined: dict[str, Any] = {"structure": who.actor.structure, "admission": True}
    joined["already_member"] = exists is not None
    receipts.issue(ctx, who, Action.CARE_TEAM_JOIN, row, patient, {"care_team_added": joined})
    return {"structure": who.actor.structure}


def remove_care_team(ctx: Ctx, who: Principal, dossier_id: int, member_id: int) -> dict[str, Any]:
    action, detail = Action.CARE_TEAM_MANAGE, {"remove": member_id}
    row, patient = lookup.dossier(ctx, who, action, dossier_id)
    member = ctx.session.get(CareTeamMember, member_id)
    if member is None or member.dossier_id != row.id:
        guard.refuse_missing(
            ctx, who, action, row, patient, lookup.no_member(), detail=detail, unknown_target=True
        )
    guard.authorize(ctx, who, action, row, patient, detail=detail)
    removed = {
        "member_id": member.id,
        "professional": receipts.professional_ref(
            ctx.session.get(Professional, member.professional_id)
            if member.professional_id is not None
            else None
        ),
        "structure": member.structure_finess,
    }
    ctx.session.delete(member)
    receipts.issue(ctx, who, action, row, patient, {"care_team_removed": removed})
    return {"removed": member_id}


def set_medecin_traitant(ctx: Ctx, who: Principal, dossier_id: int, body: Any) -> dict[str, Any]:
    data = require_object(body)
    reject_unknown(data, {"national_id"})
    action = Action.MEDECIN_TRAITANT_SET
    row, patient = lookup.dossier(ctx, who, action, dossier_id)
    pro = None
    if data.get("national_id"):
        pro = lookup.professional(ctx, who, action, row, patient, data["national_id"])
    # The policy checks that the designated professional is a physician (matrix data).
    guard.authorize(
        ctx,
        who,
        action,
        row,
        patient,
        target_professional_id=pro.id if pro else None,
        target_profession=pro.profession if pro else None,
        detail={"professional": pro.national_id if pro else None},
    )
    previous = row.medecin_traitant_id
    row.medecin_traitant_id = pro.id if pro else None
    if pro is not None:
        # The médecin traitant cannot be blocked: designating one lifts a former block.
        ctx.session.execute(
            delete(Block).where(Block.dossier_id == row.id, Block.professional_id == pro.id)
        )
    change = {
        "previous": receipts.professional_ref(
            ctx.session.get(Professional, previous) if previous is not None else None
        ),
        "designated": receipts.professional_ref(pro),
    }
    receipts.issue(ctx, who, action, row, patient, {"medecin_traitant": change})
    return {"medecin_traitant": views.professional_ref(ctx, row.medecin_traitant_id)}


def set_emergency_settings(ctx: Ctx, who: Principal, dossier_id: int, body: Any) -> dict[str, Any]:
    data = require_object(body)
    reject_unknown(data, {"bris_de_glace", "centre_15"})
    row, patient = lookup.dossier(ctx, who, Action.EMERGENCY_SETTINGS, dossier_id)
    bdg = flag(data, "bris_de_glace", row.bris_de_glace_allowed)
    c15 = flag(data, "centre_15", row.centre_15_allowed)
    guard.authorize(
        ctx,
        who,
        Action.EMERGENCY_SETTINGS,
        row,
        patient,
        detail={"bris_de_glace": bdg, "centre_15": c15},
    )
    before = {"bris_de_glace": row.bris_de_glace_allowed, "centre_15": row.centre_15_allowed}
    row.bris_de_glace_allowed, row.centre_15_allowed = bdg, c15
    after = {"bris_de_glace": bdg, "centre_15": c15}
    receipts.issue(
        ctx,
        who,
        Action.EMERGENCY_SETTINGS,
        row,
        patient,
        {"emergency": {"previous": before, "now": after}},
    )
    return after


def emergency_access(ctx: Ctx, who: Principal, dossier_id: int, body: Any) -> dict[str, Any]:
    data = require_object(body)
    reject_unknown(data, {"mode", "reason"})
    mode = data.get("mode")
    if mode not in (Mode.BRIS_DE_GLACE.value, Mode.CENTRE_15.value):
        raise InvalidInput("mode_invalid", "Mode : bris_de_glace ou centre_15.")
    reason = data.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise InvalidInput("reason_invalid", "Motif invalide (500 caractères au plus).")
    action = Action.BRIS_DE_GLACE if mode == Mode.BRIS_DE_GLACE.value else Action.CENTRE_15
    row, patient = lookup.dossier(ctx, who, action, dossier_id)
    # The stated reason is part of the trace: the patient reads why the glass was broken.
    guard.authorize(
        ctx,
        who,
        action,
        row,
        patient,
        emergency_reason=reason,
        detail={"reason": (reason or "").strip()},
    )
    until = ctx.now + timedelta(seconds=ctx.settings["BRIS_DE_GLACE_SECONDS"])
    ctx.session.add(
        EmergencyAccess(
            session_hash=who.session_hash,
            dossier_id=row.id,
            professional_id=who.actor.id,
            mode=mode,
            reason=(reason or "").strip(),
            started_at=ctx.now,
            expires_at=until,
        )
    )
    return {
        "mode": mode,
        "until": views.iso(until),
        "banner": views.EMERGENCY_BANNER,
    }


def _finess(data: dict[str, Any]) -> str:
    try:
        return parse_finess(text(data, "structure_finess", max_len=9) or "")
    except IdentifierError as exc:
        raise InvalidInput("finess_invalid", str(exc)) from None
