"""The patient's access history, in plain French: who, as what, when, why, what, outcome."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from server.frenchtime import PARIS, fr_datetime
from server.labels import CATEGORIES, MODES
from server.models import AuditEntry, DenialRepeat, Document, LogLeaf, Receipt, ReviewCase
from server.policy import Action, Matrix
from server.services import audit, guard, lookup, trace_log, views
from server.services.context import Ctx, Principal
from server.tlog import links

DOCUMENT_TARGET = "document:"  # an entry's target naming a document by its logical id
# The parameters of an entry's detail that its line carries (no health content).
PARAMS = (
    "search",
    "summary",
    "read",
    "matched",
    "returned",
    "reason",
    "locked_until",
    "step",
    "op",
)

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
    "dossier:export": "a demandé l'export du dossier",
    # Card sign-in and kiosk identity (issue #4).
    "auth:card": "s'est identifié avec sa carte",
    "auth:kiosk": "a envoyé une requête de borne",
    # One-time codes and online sign-in (issue #4).
    "auth:otp": "a saisi un code de connexion",
    "auth:code_sent": "a demandé l'envoi d'un code de connexion",
    "auth:password": "a saisi son mot de passe",
    "auth:password_set": "a changé son mot de passe",
    "auth:totp_enrol": "a enregistré une application d'authentification",
    "auth:signin": "s'est connecté à son dossier",
    "auth:terminal": "s'est connecté en tant que système d'information",
    # The privacy officer's review of flagged accesses (docs/alerts.md).
    "review:read": "a examiné un accès signalé à votre dossier",
    "review:decide": "a rendu sa conclusion sur un accès signalé à votre dossier",
    "review:list": "a consulté la liste des accès signalés",
    # Who may act for whom (issue 13); the operation words the line (OPERATIONS).
    "representative:manage": "a modifié les représentants légaux",
    "delegation:manage": "a modifié les délégations",
}
# An export is decided at each step (docs/export.md), each worded for the patient.
EXPORT_VERBS = {
    "request": "a demandé l'export du dossier",
    "build": "a fait préparer l'export du dossier",
    "link": "a demandé le lien de téléchargement de l'export",
    "download": "a téléchargé l'export du dossier",
}
OPERATIONS = {
    ("representative:manage", "add"): "a ajouté un représentant légal",
    ("representative:manage", "remove"): "a retiré un représentant légal",
    ("delegation:manage", "give"): "a donné une délégation de lecture",
    ("delegation:manage", "revoke"): "a révoqué une délégation de lecture",
    ("delegation:manage", "list"): "a consulté ses délégations",
    ("document:archive", "unarchive"): "a désarchivé un document",
}
# A search is decided as a listing (the same rule) and traced as one, marked `search`,
# with how many documents matched and never the words (server/search/query.py).
SEARCH_VERB = "a fait une recherche dans les documents"
# A patient summary (FHIR $summary) is one read of every document it drew on, traced as
# one entry naming them (server/fhir/summary.py); a refused one is the listing's refusal.
SUMMARY_VERB = "a consulté la synthèse du dossier"
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
    "not_found": "introuvable (dossier, document ou professionnel inexistant)",
    "not_a_physician": "seul un médecin peut être désigné médecin traitant",
    "patient_deposit_visible": "un document déposé par le patient lui reste toujours visible",
    # Refused export downloads (docs/export.md): not policy decisions.
    "export_code_invalid": "code de téléchargement incorrect",
    "export_link_spent": "trop de codes incorrects : le lien de téléchargement ne sert plus",
    # The privacy officer's review rights (server/policy/review.py).
    "officer_of_establishment": "délégué à la protection des données de l'établissement",
    "not_an_officer": "réservé au délégué à la protection des données",
    "officer_without_establishment": "délégué sans établissement",
    "other_establishment": "accès signalé d'un autre établissement",
    "delegation_active": "délégation du patient",
    "delegation_expired": "la délégation avait pris fin",
    "delegation_revoked": "la délégation avait été révoquée",
    "secret_deposit_visible": (
        "en connexion secrète, un document doit rester invisible aux représentants légaux"
    ),
    # Reasons written by the purge job, which is not a policy decision.
    "retention_expired": "fin de la durée de conservation",
    "deletion_requested": "suppression demandée par le patient",
    # Card sign-in and kiosk refusals (issue #4): the kiosk only shows a generic message.
    "card_signin": "connexion par carte de professionnel de santé",
    "card_first_factor": "carte Vitale reconnue, en attente du code de connexion",
    "challenge_unknown": "défi de connexion inconnu",
    "challenge_replayed": "défi de connexion déjà utilisé",
    "challenge_expired": "défi de connexion expiré",
    "challenge_other_kiosk": "défi de connexion demandé par une autre borne",
    "certificate_malformed": "certificat de carte illisible",
    "certificate_untrusted": "carte non reconnue par l'autorité de certification",
    "certificate_expired": "carte expirée",
    "certificate_not_yet_valid": "carte pas encore valide",
    "certificate_revoked": "carte révoquée (opposition)",
    "certificate_usage_invalid": "certificat de carte non prévu pour la connexion",
    "revocation_unknown": "liste de révocation indisponible ou périmée",
    "wrong_card_kind": "type de carte inattendu (carte patient ou professionnel)",
    "certificate_wrong_issuer": "carte émise par une autorité qui n'émet pas ce type de carte",
    "certificate_policy_invalid": "certificat de carte hors de la politique de ce type de carte",
    "serial_mismatch": "numéro de carte incohérent avec son certificat",
    "signature_invalid": "signature de la carte invalide",
    "unknown_holder": "titulaire de la carte inconnu",
    "card_changed": "une autre carte a été présentée pendant la session",
    "copresence_draft_unknown": "consentement en personne : brouillon inconnu ou modifié",
    "copresence_draft_expired": "consentement en personne : brouillon expiré",
    "copresence_draft_replayed": "consentement en personne : brouillon déjà utilisé",
    "copresence_draft_other_operation": (
        "consentement en personne : brouillon d'une autre opération"
    ),
    "copresence_draft_other_dossier": "consentement en personne : brouillon d'un autre dossier",
    "copresence_draft_other_terms": "consentement en personne : demande différente du brouillon",
    "copresence_draft_other_kiosk": "consentement en personne : brouillon d'une autre borne",
    "copresence_draft_other_professional": (
        "consentement en personne : brouillon d'un autre professionnel"
    ),
    "professional_card_not_the_sessions": (
        "la carte du professionnel n'est pas celle de sa session"
    ),
    "patient_card_other_person": "carte d'une autre personne que celle qui consent",
    "unknown_kiosk": "borne ou logiciel inconnu",
    "kiosk_revoked": "borne ou logiciel révoqué",
    "kiosk_signature_missing": "requête de borne non signée",
    "kiosk_signature_invalid": "signature de la borne ou du logiciel invalide",
    "kiosk_certificate_untrusted": "certificat de borne non reconnu",
    "kiosk_certificate_expired": "certificat de borne expiré",
    "kiosk_certificate_not_yet_valid": "certificat de borne pas encore valide",
    "kiosk_certificate_invalid": "certificat de borne non prévu pour cet usage",
    "kiosk_certificate_wrong_issuer": "certificat de borne émis par une autre autorité",
    "kiosk_certificate_policy_invalid": "certificat de borne hors de la politique des bornes",
    "kiosk_signature_not_canonical": "signature de la borne sous une forme non canonique",
    "request_nonce_invalid": "requête de borne sans nonce valide",
    "request_date_invalid": "date de requête de borne illisible",
    "request_stale": "requête de borne trop ancienne ou horloge déréglée",
    "request_replayed": "requête de borne rejouée",
    # Registered software (issue #12): professional software, the insurer's system.
    "terminal_kind_refused": "ce terminal (borne ou logiciel) n'est pas enregistré pour cela",
    "terminal_signature_invalid": "signature du logiciel invalide",
    "session_other_terminal": "session présentée par un autre terminal que le sien",
    "terminal_signin": "connexion du système d'information de l'Assurance Maladie",
    # Sign-in refusals (issue #4): the caller only sees one generic message.
    "otp_invalid": "code de connexion incorrect",
    "otp_replayed": "code de connexion déjà utilisé",
    "otp_expired": "code de connexion expiré",
    "otp_locked": "trop d'essais : les codes de connexion sont verrouillés",
    "password_invalid": "mot de passe incorrect",
    "password_locked": "trop d'essais : la connexion par mot de passe est verrouillée",
    "pending_expired": "connexion commencée trop tôt : délai dépassé",
    "pending_used": "connexion déjà terminée",
    "pending_unknown": "connexion inconnue",
    "pending_wrong_kiosk": "code saisi sur une autre borne que celle où la carte a été lue",
    "unknown_ins": "INS inconnu",
    # An allowed action that stored data then refused (the request's own reason).
    "unique_id_exists": "un document porte déjà cet identifiant unique",
    "identity_mismatch": "l'identité ne correspond pas à celle du dossier",
    "content_unavailable": "contenu du document indisponible",
    "rate_limited": "trop de tentatives depuis la même adresse ou la même borne",
    "credentials_malformed": "informations de connexion incomplètes ou mal formées",
    # Sign-in successes, in the patient's words.
    "password_valid": "mot de passe correct, en attente du code de connexion",
    "password_set": "mot de passe modifié",
    "code_sent": "code de connexion envoyé",
    "totp_enrolment_started": "application d'authentification en cours d'enregistrement",
    "totp_confirmed": "application d'authentification confirmée",
    "signin_card_code": "connexion avec la carte Vitale et un code reçu",
    "signin_card_totp": "connexion avec la carte Vitale et l'application d'authentification",
    "signin_password_code": "connexion en ligne avec le mot de passe et un code reçu",
    "signin_password_totp": (
        "connexion en ligne avec le mot de passe et l'application d'authentification"
    ),
}
# An allowed action that could not be carried out (a unique id taken, a document's state):
# the reason is the API's, not the policy's.
UNFINISHED_FR = "la demande n'a pas pu aboutir"
PAGE = 200


def history(
    ctx: Ctx,
    who: Principal,
    dossier_id: int,
    *,
    before: int | None = None,
    limit: int = PAGE,
    words: bool = True,
) -> dict[str, Any]:
    """A page of the dossier's trace for this reader, newest first. `words`: each line's
    French sentence and the hashed values the patient's side recomputes; software reading
    AuditEvents (server/fhir/audit.py) uses neither, and a page is cheaper without."""
    row, patient = lookup.dossier(ctx, who, Action.HISTORY_READ, dossier_id)
    guard.authorize(ctx, who, Action.HISTORY_READ, row, patient)
    chain = audit.chain_for(patient.id)
    reader_is_holder = who.actor.id == patient.id
    # One query for the page and everything each line carries (issue #14: a page is a
    # handful of statements whatever its length, not one more per kind of annotation).
    # Plain rows, not ORM entities: a page is read, never changed, and 50 to 200 entities
    # in the identity map cost more than the query.
    fetched = ctx.session.execute(
        _page_query(before is not None, reader_is_holder),
        {"chain": chain, "before": before, "limit": limit},
    ).all()
    shown = [
        line
        for line in fetched
        if not line.hidden and (reader_is_holder or not _secret_from_representatives(line))
    ]
    items = []
    for line in shown:
        repeated = (line.repeats, line.last_at) if line.repeats else None
        item = render(line, ctx.matrix, repeated, words=words)
        # The holder's own actions, which the patient's page folds away (one line per
        # visit) so that professionals' accesses come first.
        item["own"] = line.actor_kind == "patient" and line.actor_id == patient.id
        # Every hashed field and the previous link, so that the patient's side recomputes
        # each line's hash from what it shows (server/tlog/history.py) instead of trusting it.
        if words:
            item["hashed"] = links.hashed_values(
                {name: getattr(line, name) for name in links.HASHED_FIELDS}
            )
            item["prev_hash"] = line.prev_hash
        # The line's place in the verifiable log, so that the patient's side can prove it
        # is in the log the witnesses see (/api/v1/log/proof/inclusion; docs/transparency.md).
        item["log_index"] = line.log_index
        item["receipt_id"] = line.receipt_id  # docs/receipts.md
        # A flagged access's review: its outcome and rules, never the officer's comment
        # nor their name (server/alerts, docs/alerts.md).
        item["review"] = (
            {"status": line.review_status, "rules": line.review_rules.split()}
            if line.review_status is not None
            else None
        )
        items.append(item)
    signed = trace_log.latest(ctx.session)
    # Paging follows what was read, not what is shown: a page whose lines are all hidden
    # from this reader still leads to the next.
    last = fetched[-1].seq if fetched else None
    more = last is not None and last > 1
    return {
        "entries": items,
        "next_before": last if more else None,
        "chain": chain,
        "checkpoint": signed.note if signed is not None else None,
    }


@functools.cache
def _page_query(has_before: bool, reader_is_holder: bool) -> Select[Any]:
    """A page of the chain `:chain` (before `:before`), newest first, at most `:limit`
    entries: each entry's columns with its log index, its receipt, its folded denials,
    its review, and whether it is hidden from this reader. Built once per shape: the
    request only binds its values.

    A document invisible to its reader does not exist for them, in the history either:
    its deposit, reads and flag changes are not shown to the patient while it is
    invisible to the patient (until the consultation where it is announced), nor to a
    minor's representatives while it is invisible to them or to the patient (domain.md:
    hidden from the patient "and representatives")."""
    hides: ColumnElement[bool] = Document.invisible_patient.is_(True)
    if not reader_is_holder:
        hides = or_(hides, Document.invisible_rep.is_(True))
    hidden = (
        select(Document.id)
        .where(
            AuditEntry.target.startswith(DOCUMENT_TARGET, autoescape=True),
            Document.logical_id == func.substr(AuditEntry.target, len(DOCUMENT_TARGET) + 1),
            hides,
        )
        .exists()
    )
    # A change may in principle carry more than one receipt: the first one issued.
    receipt = (
        select(Receipt.receipt_id)
        .where(Receipt.audit_entry_id == AuditEntry.id)
        .order_by(Receipt.id)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            *AuditEntry.__table__.c,
            LogLeaf.idx.label("log_index"),
            receipt.label("receipt_id"),
            DenialRepeat.repeats.label("repeats"),
            DenialRepeat.last_at.label("last_at"),
            ReviewCase.status.label("review_status"),
            ReviewCase.rules.label("review_rules"),
            hidden.label("hidden"),
        )
        .outerjoin(LogLeaf, LogLeaf.audit_entry_id == AuditEntry.id)
        .outerjoin(
            DenialRepeat,
            and_(
                DenialRepeat.chain == AuditEntry.chain,
                DenialRepeat.entry_seq == AuditEntry.seq,
                DenialRepeat.repeats > 0,
            ),
        )
        .outerjoin(ReviewCase, ReviewCase.audit_entry_id == AuditEntry.id)
        .where(AuditEntry.chain == bindparam("chain"))
    )
    if has_before:
        query = query.where(AuditEntry.seq < bindparam("before"))
    return query.order_by(AuditEntry.seq.desc()).limit(bindparam("limit"))


def _secret_from_representatives(entry: Any) -> bool:
    """What a professional did in secret connection with a minor (CSP art. L1111-5) is
    not shown to the minor's legal representatives, or the secret would be told by the
    history; the minor sees it."""
    return bool(json.loads(entry.detail or "{}").get("secret_connection"))


# The patient's own actions less than this apart are one visit (the kiosk folds them the
# same way: kiosk/history_words.py).
VISIT_GAP = timedelta(minutes=30)
# What counts as someone else's access, for the home page's "since your last visit":
# reading (an emergency opening is counted by the reads it allowed, made in its mode).
READS = ("dossier:read", "document:list", "document:read")
EMERGENCY_MODES = ("bris_de_glace", "centre_15")


def since_last_visit(ctx: Ctx, patient_id: int) -> dict[str, Any] | None:
    """What others did in the dossier since the holder's previous visit (their own
    actions less than VISIT_GAP apart are one visit; the current one is going on): how
    many accesses, how many in an emergency, how many refused attempts. None on a first
    visit. Counts only: the history page says who and what."""
    chain = audit.chain_for(patient_id)
    previous_end = previous_visit_end(ctx, patient_id)
    if previous_end is None:
        return None
    others = (
        select(AuditEntry.mode, AuditEntry.outcome)
        .where(
            AuditEntry.chain == chain,
            AuditEntry.at > previous_end,
            AuditEntry.action.in_(READS),
        )
        .where(~((AuditEntry.actor_kind == "patient") & (AuditEntry.actor_id == patient_id)))
    )
    accesses = emergency = refused = 0
    for mode, outcome in ctx.session.execute(others):
        if outcome == "denied":
            refused += 1
            continue
        accesses += 1
        emergency += mode in EMERGENCY_MODES
    return {
        "since": views.iso(previous_end),
        "accesses": accesses,
        "emergency": emergency,
        "refused": refused,
    }


def previous_visit_end(ctx: Ctx, patient_id: int) -> datetime | None:
    """When the holder's previous visit ended (their own actions less than VISIT_GAP
    apart are one visit, the current one going on); None on a first visit."""
    own = ctx.session.scalars(
        select(AuditEntry.at)
        .where(
            AuditEntry.chain == audit.chain_for(patient_id),
            AuditEntry.actor_kind == "patient",
            AuditEntry.actor_id == patient_id,
        )
        .order_by(AuditEntry.seq.desc())
        .limit(1000)
    ).all()
    start = ctx.now
    for at in own:
        if start - at > VISIT_GAP:
            return at
        start = at
    return None


# The home page names this many flagged accesses at most; the history has them all.
FLAGGED_SHOWN = 10


def _flagged_actor(matrix: Matrix, name: str, profession: str | None) -> dict[str, Any]:
    rules = matrix.rules_for(profession)
    return {
        "name": name,
        "profession": profession,
        "profession_label": {"fr": rules.label_fr, "en": rules.label_en} if rules else None,
    }


def flagged_since_last_visit(ctx: Ctx, patient_id: int) -> list[dict[str, Any]]:
    """The accesses flagged for review (server/alerts/) that the holder has not been shown
    yet: flagged, or given the officer's outcome, since their previous visit (all of
    them on a first visit: she was never told). Who, when, how and the review's state;
    never the officer's comment or name (as the history)."""
    previous_end = previous_visit_end(ctx, patient_id)
    news = (
        or_(ReviewCase.flagged_at > previous_end, ReviewCase.decided_at > previous_end)
        if previous_end is not None
        else ReviewCase.id.is_not(None)
    )
    found = ctx.session.execute(
        select(
            ReviewCase.status,
            ReviewCase.rules,
            ReviewCase.decided_at,
            AuditEntry.at,
            AuditEntry.action,
            AuditEntry.mode,
            AuditEntry.actor_name,
            AuditEntry.actor_profession,
        )
        .join(AuditEntry, AuditEntry.id == ReviewCase.audit_entry_id)
        .where(ReviewCase.patient_id == patient_id, news)
        .order_by(AuditEntry.at.desc(), ReviewCase.id.desc())
        .limit(FLAGGED_SHOWN)
    )
    return [
        {
            "at": views.iso(row.at),
            "action": row.action,
            "mode": row.mode,
            "actor": _flagged_actor(ctx.matrix, row.actor_name, row.actor_profession),
            "status": row.status,
            "rules": row.rules.split(),
            "decided_since": row.decided_at is not None
            and (previous_end is None or row.decided_at > previous_end),
        }
        for row in found
    ]


def render(
    e: Any, matrix: Matrix, repeated: tuple[int, datetime] | None = None, *, words: bool = True
) -> dict[str, Any]:
    """One entry, with its sentence in plain French unless `words` is False (software
    reading AuditEvents words nothing); `repeated`: identical denials folded into it (how
    many more, the last one's time), see services/denials.py."""
    detail = json.loads(e.detail or "{}")
    rules = matrix.rules_for(e.actor_profession) if e.actor_profession else None
    return {
        "seq": e.seq,
        "at": views.iso(e.at),
        "actor": {
            "kind": e.actor_kind,
            "name": e.actor_name,
            "profession": e.actor_profession,
            "profession_label": {"fr": rules.label_fr, "en": rules.label_en} if rules else None,
            "structure": e.actor_structure,
        },
        # What the patient's side needs to word the line itself, in its own language:
        # the codes above, and these parameters (no health content, never the words of
        # a search). `text` below is the server's French sentence, for API clients.
        "params": {key: detail[key] for key in PARAMS if key in detail},
        "action": e.action,
        "mode": e.mode,
        "outcome": e.outcome,
        "reason": e.reason,
        "category": e.category,
        "text": _sentence(e, matrix, repeated, detail) if words else None,
        "repeated": repeated[0] if repeated is not None else 0,
        "hash": e.hash,
    }


def _sentence(
    e: Any, matrix: Matrix, repeated: tuple[int, datetime] | None, detail: dict[str, Any]
) -> str:
    who = e.actor_name
    if e.actor_profession:
        rules = matrix.rules_for(e.actor_profession)
        who += f" ({rules.label_fr.lower() if rules else e.actor_profession}"
        who += f", structure {e.actor_structure})" if e.actor_structure else ")"
    verb = OPERATIONS.get((e.action, str(detail.get("op"))), VERBS.get(e.action, e.action))
    if e.mode == "delegate":
        who += " (délégation)"
    if e.action == Action.DOCUMENT_LIST and detail.get("search"):
        verb = SEARCH_VERB
    if detail.get("summary"):
        verb = SUMMARY_VERB
    if e.action == Action.DOSSIER_EXPORT:
        verb = EXPORT_VERBS.get(detail.get("step", ""), verb)
    sentence = f"Le {fr_datetime(e.at)}, {who} {verb}"
    if e.category:
        sentence += f" de la catégorie « {CATEGORIES[e.category][0]} »"
    if e.outcome == "allowed" and e.mode not in ("none", "patient"):
        sentence += f", au titre de : {MODES.get(e.mode, e.mode)}"
    if detail.get("reason"):
        sentence += f", motif déclaré : « {detail['reason']} »"
    sentence += f". Résultat : {OUTCOMES[e.outcome]}"
    if "matched" in detail:
        n = detail["matched"]
        sentence += f", {n} document{'s' if n > 1 else ''} trouvé{'s' if n > 1 else ''}"
    if "read" in detail:
        n = detail["read"]
        sentence += f", {n} document{'s' if n > 1 else ''} lu{'s' if n > 1 else ''}"
    if e.outcome == "denied":
        sentence += f" ({REASONS_FR.get(e.reason, UNFINISHED_FR)})"
    if repeated is not None:
        count, last = repeated
        sentence += f", répété {count} fois jusqu'au {fr_datetime(last)}"
    if detail.get("locked_until"):
        until = datetime.fromisoformat(detail["locked_until"])
        sentence += f", verrouillé jusqu'à {until.astimezone(PARIS).strftime('%H:%M')}"
    return sentence + "."
