"""The patient's access history, in plain French: who, as what, when, why, what, outcome."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from server.frenchtime import fr_datetime
from server.labels import CATEGORIES, MODES
from server.models import AuditEntry
from server.policy import Action, Matrix
from server.services import audit, guard, lookup, views
from server.services.context import Ctx, Principal

VERBS = {
    "dossier:create": "a créé le dossier",
    "dossier:read": "a consulté le résumé du dossier",
    "dossier:lookup": "a recherché le dossier par l'INS",
    "document:list": "a consulté la liste des documents",
    "document:read": "a consulté un document",
    "document:deposit": "a ajouté un document",
    "document:replace": "a remplacé un document par une nouvelle version",
    "document:archive": "a archivé un document",
    "document:delete": "a supprimé un document",
    "document:mask": "a modifié le masquage d'un document",
    "document:patient_visibility": "a modifié la visibilité d'un document pour le patient",
    "document:rep_visibility": (
        "a modifié la visibilité d'un document pour les représentants légaux"
    ),
    "access:grant": "a donné un accès",
    "access:block": "a bloqué un professionnel",
    "care_team:manage": "a modifié l'équipe de soins",
    "care_team:join": "a enregistré une admission (équipe de soins)",
    "medecin_traitant:set": "a désigné le médecin traitant",
    "emergency:settings": "a modifié les autorisations d'accès en urgence",
    "emergency:bris_de_glace": "a déclenché un accès en urgence (bris de glace)",
    "emergency:centre_15": "a déclenché un accès du centre 15",
    "history:read": "a consulté l'historique des accès",
    "dossier:close": "a fermé le dossier",
    "dossier:reopen": "a rouvert le dossier",
    "dossier:purge": "a effacé le contenu du dossier",
}
OUTCOMES = {"allowed": "autorisé", "denied": "refusé"}
# Every reason, in the patient's words (a test checks none is missing).
REASONS_FR = {
    "patient_own_dossier": "titulaire du dossier",
    "representative_of_minor": "représentant légal d'un mineur",
    "medecin_traitant": "médecin traitant",
    "document_author": "auteur du document",
    "care_team_member": "membre de l'équipe de soins",
    "explicit_consent": "consentement du patient",
    "bris_de_glace_active": "accès en urgence en cours",
    "centre_15_active": "régulation du centre 15 en cours",
    "emergency_granted": "accès en urgence accordé",
    "creation_with_consent": "création avec le consentement du patient",
    "admissions_desk": "bureau des admissions",
    "insurer_deposit": "versement par l'Assurance Maladie",
    "identity_lookup": "recherche du dossier par l'INS",
    "default_deny": "action non permise",
    "forbidden_actor": "organisme sans aucun droit d'accès",
    "insurer_reads_nothing": "l'Assurance Maladie ne lit pas les documents",
    "not_a_party": "personne sans lien avec ce dossier",
    "representative_of_adult": "le patient est majeur : la représentation légale a pris fin",
    "professional_blocked": "vous aviez bloqué ce professionnel",
    "no_authorisation": "ni équipe de soins, ni consentement, ni urgence",
    "category_not_allowed": "catégorie de document non autorisée pour sa profession",
    "document_masked": "document masqué aux professionnels",
    "invisible_to_patient": "document pas encore visible par le patient",
    "invisible_to_representatives": "document non visible par les représentants légaux",
    "dossier_closed": "dossier fermé",
    "dossier_purged": "dossier supprimé",
    "dossier_exists": "un dossier existait déjà",
    "consent_missing": "consentement du patient absent",
    "emergency_not_allowed": "vous n'aviez pas autorisé l'accès en urgence",
    "emergency_reason_missing": "motif d'urgence manquant",
    "not_a_regulator": "réservé aux médecins régulateurs du centre 15",
    "not_the_author": "seul l'auteur peut faire cela",
    "document_not_current": "document déjà remplacé ou archivé",
    "document_deleted": "document supprimé",
    "medecin_traitant_not_blockable": "le médecin traitant ne peut pas être bloqué",
    "not_an_eligible_profession": "profession sans aucun droit d'accès au dossier",
    # Reasons written by the purge job, which is not a policy decision.
    "retention_expired": "fin de la durée de conservation",
    "deletion_requested": "suppression demandée par le patient",
}
PAGE = 200


def history(
    ctx: Ctx, who: Principal, dossier_id: int, *, before: int | None = None
) -> dict[str, Any]:
    row, patient = lookup.dossier(ctx, dossier_id)
    guard.authorize(ctx, who, Action.HISTORY_READ, row, patient)
    query = select(AuditEntry).where(AuditEntry.chain == audit.chain_for(patient.id))
    if before is not None:
        query = query.where(AuditEntry.seq < before)
    entries = ctx.session.scalars(query.order_by(AuditEntry.seq.desc()).limit(PAGE)).all()
    items = [render(e, ctx.matrix) for e in entries]
    more = bool(entries) and entries[-1].seq > 1
    return {"entries": items, "next_before": entries[-1].seq if more else None}


def render(e: AuditEntry, matrix: Matrix) -> dict[str, Any]:
    detail = json.loads(e.detail or "{}")
    who = e.actor_name
    if e.actor_profession:
        rules = matrix.rules_for(e.actor_profession)
        who += f" ({rules.label_fr.lower() if rules else e.actor_profession}"
        who += f", structure {e.actor_structure})" if e.actor_structure else ")"
    sentence = f"Le {fr_datetime(e.at)}, {who} {VERBS.get(e.action, e.action)}"
    if e.category:
        sentence += f" de la catégorie « {CATEGORIES[e.category][0]} »"
    if e.outcome == "allowed" and e.mode not in ("none", "patient"):
        sentence += f", au titre de : {MODES.get(e.mode, e.mode)}"
    if detail.get("reason"):
        sentence += f", motif déclaré : « {detail['reason']} »"
    sentence += f". Résultat : {OUTCOMES[e.outcome]}"
    if e.outcome == "denied":
        sentence += f" ({REASONS_FR[e.reason]})"
    return {
        "seq": e.seq,
        "at": views.iso(e.at),
        "actor": {
            "kind": e.actor_kind,
            "name": e.actor_name,
            "profession": e.actor_profession,
            "structure": e.actor_structure,
        },
        "action": e.action,
        "mode": e.mode,
        "outcome": e.outcome,
        "reason": e.reason,
        "category": e.category,
        "text": sentence + ".",
        "hash": e.hash,
    }
