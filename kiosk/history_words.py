"""The access history in the patient's words, worded by the kiosk in its own language.

The records server answers each trace line as codes and parameters (action, mode,
outcome, reason, the actor, `own` for the holder's own actions, `params`); this module
turns a page of them into days of lines: professionals' accesses first among the day's
lines in time order, the patient's own actions folded into one line per visit, identical
consecutive events folded with a count, emergency accesses and refusals marked, one time
per line and one date per day, no internal words ("au titre de", INS, codes, FINESS).
Nothing is hidden: each folded line keeps its detail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kiosk.i18n import PARIS
from kiosk.labels import CATEGORIES

# action -> (French past, French infinitive, English past, English infinitive). The past
# forms avoid agreeing with anyone's gender ("a présenté sa carte", not "s'est
# identifié(e)"); "sa"/"son"/"their" become "votre"/"your" for the patient's own lines.
ACTIONS: dict[str, tuple[str, str, str, str]] = {
    "dossier:create": (
        "a créé votre dossier",
        "créer votre dossier",
        "created your record",
        "create your record",
    ),
    "dossier:read": (
        "a consulté le résumé de votre dossier",
        "consulter le résumé de votre dossier",
        "viewed your record's summary",
        "view your record's summary",
    ),
    "dossier:lookup": (
        "a retrouvé votre dossier à partir de votre identité",
        "retrouver votre dossier",
        "looked up your record from your identity",
        "look up your record",
    ),
    "document:list": (
        "a consulté la liste de vos documents",
        "consulter la liste de vos documents",
        "viewed your list of documents",
        "view your list of documents",
    ),
    "document:read": (
        "a ouvert un document",
        "ouvrir un document",
        "opened a document",
        "open a document",
    ),
    "document:deposit": (
        "a ajouté un document",
        "ajouter un document",
        "added a document",
        "add a document",
    ),
    "document:replace": (
        "a remplacé un document par une nouvelle version",
        "remplacer un document",
        "replaced a document with a new version",
        "replace a document",
    ),
    "document:archive": (
        "a archivé un document",
        "archiver un document",
        "archived a document",
        "archive a document",
    ),
    "document:delete": (
        "a supprimé un document",
        "supprimer un document",
        "deleted a document",
        "delete a document",
    ),
    "document:mask": (
        "a modifié le masquage d'un document",
        "masquer un document",
        "changed whether a document is hidden from professionals",
        "hide a document",
    ),
    "document:patient_visibility": (
        "a modifié la visibilité d'un document pour vous",
        "modifier la visibilité d'un document",
        "changed whether you can see a document",
        "change a document's visibility",
    ),
    "document:rep_visibility": (
        "a modifié la visibilité d'un document pour vos représentants légaux",
        "modifier la visibilité d'un document",
        "changed whether your legal representatives can see a document",
        "change a document's visibility",
    ),
    "access:grant": (
        "a donné un accès à votre dossier",
        "donner un accès à votre dossier",
        "gave access to your record",
        "give access to your record",
    ),
    "access:block": (
        "a bloqué un professionnel",
        "bloquer un professionnel",
        "blocked a professional",
        "block a professional",
    ),
    "care_team:manage": (
        "a modifié votre équipe de soins",
        "modifier votre équipe de soins",
        "changed your care team",
        "change your care team",
    ),
    "care_team:join": (
        "a enregistré votre admission (équipe de soins)",
        "enregistrer une admission",
        "recorded your admission (care team)",
        "record an admission",
    ),
    "medecin_traitant:set": (
        "a désigné votre médecin traitant",
        "désigner votre médecin traitant",
        "named your regular doctor",
        "name your regular doctor",
    ),
    "emergency:settings": (
        "a modifié les autorisations d'accès en urgence",
        "modifier les autorisations d'accès en urgence",
        "changed the emergency access settings",
        "change the emergency access settings",
    ),
    "emergency:bris_de_glace": (
        "a ouvert votre dossier en urgence (bris de glace)",
        "ouvrir votre dossier en urgence",
        "opened your record in an emergency (break-the-glass)",
        "open your record in an emergency",
    ),
    "emergency:centre_15": (
        "a ouvert votre dossier depuis le centre 15 (SAMU)",
        "ouvrir votre dossier depuis le centre 15",
        "opened your record from the emergency call centre (SAMU)",
        "open your record from the emergency call centre",
    ),
    "history:read": (
        "a consulté l'historique des accès",
        "consulter l'historique des accès",
        "read the access history",
        "read the access history",
    ),
    "dossier:close": (
        "a fermé votre dossier",
        "fermer votre dossier",
        "closed your record",
        "close your record",
    ),
    "dossier:reopen": (
        "a rouvert votre dossier",
        "rouvrir votre dossier",
        "reopened your record",
        "reopen your record",
    ),
    "dossier:export": (
        "a demandé l'export de votre dossier",
        "exporter votre dossier",
        "asked for an export of your record",
        "export your record",
    ),
    "dossier:purge": (
        "a effacé le contenu de votre dossier",
        "effacer le contenu de votre dossier",
        "erased your record's content",
        "erase your record's content",
    ),
    "auth:card": (
        "a présenté sa carte",
        "présenter sa carte",
        "presented their card",
        "present their card",
    ),
    "auth:kiosk": ("a utilisé une borne", "utiliser une borne", "used a kiosk", "use a kiosk"),
    "auth:otp": (
        "a saisi un code de connexion",
        "saisir un code de connexion",
        "entered a sign-in code",
        "enter a sign-in code",
    ),
    "auth:code_sent": (
        "a demandé l'envoi d'un code de connexion",
        "demander un code de connexion",
        "asked for a sign-in code",
        "ask for a sign-in code",
    ),
    "auth:password": (
        "a saisi son mot de passe",
        "saisir son mot de passe",
        "entered their password",
        "enter their password",
    ),
    "auth:password_set": (
        "a changé son mot de passe",
        "changer son mot de passe",
        "changed their password",
        "change their password",
    ),
    "auth:totp_enrol": (
        "a enregistré une application d'authentification",
        "enregistrer une application d'authentification",
        "set up an authenticator app",
        "set up an authenticator app",
    ),
    "auth:signin": (
        "a ouvert une session sur votre dossier",
        "ouvrir une session sur votre dossier",
        "signed in to your record",
        "sign in to your record",
    ),
    # A registered software (the insurer's system) signing in with its own key.
    "auth:terminal": (
        "s'est connecté en tant que système d'information",
        "se connecter en tant que système d'information",
        "signed in as an information system",
        "sign in as an information system",
    ),
    # The establishment's privacy officer reviewing a flagged access (docs/alerts.md).
    "review:read": (
        "a examiné un accès signalé à votre dossier",
        "examiner un accès signalé à votre dossier",
        "reviewed a flagged access to your record",
        "review a flagged access to your record",
    ),
    "review:decide": (
        "a rendu sa conclusion sur un accès signalé à votre dossier",
        "conclure sur un accès signalé à votre dossier",
        "gave their conclusion on a flagged access to your record",
        "conclude on a flagged access to your record",
    ),
    "review:list": (
        "a consulté la liste des accès signalés",
        "consulter la liste des accès signalés",
        "viewed the list of flagged accesses",
        "view the list of flagged accesses",
    ),
    # Who may act for whom (issue 13); OPERATIONS words each operation.
    "representative:manage": (
        "a modifié vos représentants légaux",
        "modifier vos représentants légaux",
        "changed your legal representatives",
        "change your legal representatives",
    ),
    "delegation:manage": (
        "a modifié vos délégations",
        "modifier vos délégations",
        "changed your delegations",
        "change your delegations",
    ),
}
SEARCH = (
    "a fait une recherche dans vos documents",
    "faire une recherche dans vos documents",
    "searched your documents",
    "search your documents",
)
# A patient summary (FHIR $summary): one read of every document it drew on, with their
# number in `params.read`; a refused one is a refused listing, marked `summary`.
SUMMARY = (
    "a consulté la synthèse de votre dossier",
    "consulter la synthèse de votre dossier",
    "viewed your record's summary of care",
    "view your record's summary of care",
)

# (action, params["op"]) -> the same four forms, for actions whose operation says more.
OPERATIONS: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("representative:manage", "add"): (
        "a ajouté un représentant légal",
        "ajouter un représentant légal",
        "added a legal representative",
        "add a legal representative",
    ),
    ("representative:manage", "remove"): (
        "a retiré un représentant légal",
        "retirer un représentant légal",
        "removed a legal representative",
        "remove a legal representative",
    ),
    ("delegation:manage", "give"): (
        "a donné une délégation de lecture",
        "donner une délégation de lecture",
        "gave a reading delegation",
        "give a reading delegation",
    ),
    ("delegation:manage", "revoke"): (
        "a révoqué une délégation de lecture",
        "révoquer une délégation de lecture",
        "revoked a reading delegation",
        "revoke a reading delegation",
    ),
    ("delegation:manage", "list"): (
        "a consulté ses délégations",
        "consulter ses délégations",
        "viewed their delegations",
        "view their delegations",
    ),
    # Taking a document out of the archive is decided as archiving (docs/fhir.md).
    ("document:archive", "unarchive"): (
        "a désarchivé un document",
        "désarchiver un document",
        "took a document out of the archive",
        "take a document out of the archive",
    ),
}
# Said after the name of someone reading by the patient's delegation.
DELEGATE_MARK = {"fr": "délégation", "en": "delegation"}

# How an allowed access was allowed (mode), when it says something to the patient.
MODES: dict[str, tuple[str, str]] = {
    "representative": ("comme votre représentant légal", "as your legal representative"),
    "medecin_traitant": ("comme médecin traitant", "as your regular doctor"),
    "author": ("comme auteur du document", "as the document's author"),
    "care_team": ("comme membre de votre équipe de soins", "as a member of your care team"),
    "consent": ("avec votre consentement", "with your consent"),
    "bris_de_glace": ("en urgence (bris de glace)", "in an emergency (break-the-glass)"),
    "centre_15": ("depuis le centre 15 (SAMU)", "from the emergency call centre (SAMU)"),
    "admissions": ("au bureau des admissions", "at the admissions desk"),
}
EMERGENCY_MODES = frozenset({"bris_de_glace", "centre_15"})
# A flagged access, as the privacy officer's review stands (server/alerts/reviews.py).
REVIEWS: dict[str, tuple[str, str]] = {
    "a_traiter": (
        "Accès signalé comme inhabituel : il sera examiné par le délégué à la protection "
        "des données de l'établissement",
        "Access flagged as unusual: the facility's data protection officer will review it",
    ),
    "en_cours": (
        "Accès signalé comme inhabituel : examen en cours",
        "Access flagged as unusual: review in progress",
    ),
    "justifiee": (
        "Accès signalé comme inhabituel, examiné : justifié",
        "Access flagged as unusual, reviewed: justified",
    ),
    "non_justifiee": (
        "Accès signalé comme inhabituel, examiné : non justifié",
        "Access flagged as unusual, reviewed: not justified",
    ),
}
EMERGENCY_ACTIONS = frozenset({"emergency:bris_de_glace", "emergency:centre_15"})

# Why an attempt was refused, in the patient's words.
REASONS: dict[str, tuple[str, str]] = {
    # The privacy officer's review rights (server/policy/review.py).
    "officer_of_establishment": (
        "délégué à la protection des données de l'établissement",
        "the facility's data protection officer",
    ),
    "not_an_officer": (
        "réservé au délégué à la protection des données",
        "reserved for the data protection officer",
    ),
    "officer_without_establishment": (
        "délégué sans établissement",
        "an officer with no facility",
    ),
    "other_establishment": (
        "accès signalé d'un autre établissement",
        "a flagged access of another facility",
    ),
    "default_deny": ("action non permise", "action not allowed"),
    "forbidden_actor": (
        "organisme sans aucun droit d'accès",
        "an organisation with no right of access",
    ),
    "insurer_reads_nothing": (
        "l'Assurance Maladie ne lit pas les documents",
        "the health insurer does not read documents",
    ),
    "not_a_party": ("personne sans lien avec ce dossier", "someone with no link to this record"),
    "representative_of_adult": (
        "le patient est majeur : la représentation légale a pris fin",
        "the patient is an adult: legal representation has ended",
    ),
    "professional_blocked": (
        "vous aviez bloqué ce professionnel",
        "you had blocked this professional",
    ),
    "no_authorisation": (
        "ni équipe de soins, ni consentement, ni urgence",
        "no care team, no consent, no emergency",
    ),
    "category_not_allowed": (
        "catégorie de document non autorisée pour sa profession",
        "a document category their profession may not read",
    ),
    "document_masked": (
        "document masqué aux professionnels",
        "a document hidden from professionals",
    ),
    "invisible_to_patient": (
        "document pas encore visible par vous",
        "a document not yet visible to you",
    ),
    "invisible_to_representatives": (
        "document non visible par les représentants légaux",
        "a document not visible to legal representatives",
    ),
    "dossier_closed": ("dossier fermé", "the record is closed"),
    "dossier_purged": ("dossier supprimé", "the record was deleted"),
    "dossier_exists": ("un dossier existait déjà", "a record already existed"),
    "consent_missing": ("votre consentement manquait", "your consent was missing"),
    "emergency_not_allowed": (
        "vous n'aviez pas autorisé l'accès en urgence",
        "you had not allowed emergency access",
    ),
    "emergency_reason_missing": ("motif d'urgence manquant", "no emergency reason given"),
    "not_a_regulator": (
        "réservé aux médecins régulateurs du centre 15",
        "reserved to the emergency call centre's doctors",
    ),
    "not_the_author": ("seul l'auteur peut faire cela", "only the author may do that"),
    "document_not_current": (
        "document déjà remplacé ou archivé",
        "the document was already replaced or archived",
    ),
    "document_deleted": ("document supprimé", "the document was deleted"),
    "medecin_traitant_not_blockable": (
        "le médecin traitant ne peut pas être bloqué",
        "your regular doctor cannot be blocked",
    ),
    "not_an_eligible_profession": (
        "profession sans aucun droit d'accès au dossier",
        "a profession with no right of access to the record",
    ),
    "not_found": ("introuvable", "not found"),
    "not_a_physician": (
        "seul un médecin peut être désigné médecin traitant",
        "only a doctor can be named regular doctor",
    ),
    "patient_deposit_visible": (
        "un document que vous avez déposé vous reste toujours visible",
        "a document you deposited always stays visible to you",
    ),
    # Sign-in attempts on the patient's own chain (their card, their codes).
    "retention_expired": ("fin de la durée de conservation", "the retention period ended"),
    "deletion_requested": ("suppression demandée par vous", "deletion you asked for"),
    "challenge_unknown": ("défi de connexion inconnu", "unknown sign-in challenge"),
    "challenge_replayed": ("défi de connexion déjà utilisé", "sign-in challenge already used"),
    "challenge_expired": ("défi de connexion expiré", "sign-in challenge expired"),
    "challenge_other_kiosk": (
        "défi de connexion demandé par une autre borne",
        "sign-in challenge asked for by another kiosk",
    ),
    "certificate_malformed": ("certificat de carte illisible", "unreadable card certificate"),
    "certificate_untrusted": (
        "carte non reconnue par l'autorité de certification",
        "card not recognised by the certification authority",
    ),
    "certificate_expired": ("carte expirée", "expired card"),
    "certificate_not_yet_valid": ("carte pas encore valide", "card not yet valid"),
    "certificate_revoked": (
        "carte révoquée (opposition)",
        "revoked card (reported lost or stolen)",
    ),
    "certificate_usage_invalid": (
        "certificat de carte non prévu pour la connexion",
        "card certificate not meant for signing in",
    ),
    "revocation_unknown": (
        "liste de révocation indisponible ou périmée",
        "revocation list unavailable or out of date",
    ),
    "wrong_card_kind": ("type de carte inattendu", "unexpected kind of card"),
    "certificate_wrong_issuer": (
        "carte émise par une autorité qui n'émet pas ce type de carte",
        "card issued by an authority that does not issue this kind of card",
    ),
    "certificate_policy_invalid": (
        "certificat de carte hors de la politique de ce type de carte",
        "card certificate outside this kind of card's policy",
    ),
    "serial_mismatch": (
        "numéro de carte incohérent avec son certificat",
        "card number not matching its certificate",
    ),
    "signature_invalid": ("signature de la carte invalide", "invalid card signature"),
    "unknown_holder": ("titulaire de la carte inconnu", "unknown card holder"),
    "card_changed": (
        "une autre carte a été présentée pendant la session",
        "another card was presented during the session",
    ),
    "copresence_draft_unknown": (
        "consentement en personne : brouillon inconnu ou modifié",
        "consent in person: unknown or altered draft",
    ),
    "copresence_draft_expired": (
        "consentement en personne : brouillon expiré",
        "consent in person: draft expired",
    ),
    "copresence_draft_replayed": (
        "consentement en personne : brouillon déjà utilisé",
        "consent in person: draft already used",
    ),
    "copresence_draft_other_operation": (
        "consentement en personne : brouillon d'une autre opération",
        "consent in person: draft for another operation",
    ),
    "copresence_draft_other_dossier": (
        "consentement en personne : brouillon d'un autre dossier",
        "consent in person: draft for another record",
    ),
    "copresence_draft_other_terms": (
        "consentement en personne : demande différente du brouillon",
        "consent in person: request differs from the draft",
    ),
    "copresence_draft_other_kiosk": (
        "consentement en personne : brouillon d'une autre borne",
        "consent in person: draft from another kiosk",
    ),
    "copresence_draft_other_professional": (
        "consentement en personne : brouillon d'un autre professionnel",
        "consent in person: draft for another professional",
    ),
    "professional_card_not_the_sessions": (
        "la carte du professionnel n'est pas celle de sa session",
        "the professional's card is not the one of their session",
    ),
    "patient_card_other_person": (
        "carte d'une autre personne que celle qui consent",
        "card of someone other than the person consenting",
    ),
    "unknown_kiosk": ("borne inconnue", "unknown kiosk"),
    "kiosk_revoked": ("borne révoquée", "revoked kiosk"),
    "terminal_kind_refused": (
        "ce terminal (borne ou logiciel) n'est pas enregistré pour cela",
        "this terminal (kiosk or software) is not registered for that",
    ),
    "terminal_signature_invalid": ("signature du logiciel invalide", "invalid software signature"),
    "session_other_terminal": (
        "session présentée par un autre terminal que le sien",
        "session shown by another terminal than its own",
    ),
    "kiosk_signature_missing": ("requête de borne non signée", "unsigned kiosk request"),
    "kiosk_signature_invalid": ("signature de la borne invalide", "invalid kiosk signature"),
    "kiosk_certificate_untrusted": (
        "certificat de borne non reconnu",
        "kiosk certificate not recognised",
    ),
    "kiosk_certificate_expired": ("certificat de borne expiré", "expired kiosk certificate"),
    "kiosk_certificate_not_yet_valid": (
        "certificat de borne pas encore valide",
        "kiosk certificate not yet valid",
    ),
    "kiosk_certificate_invalid": (
        "certificat de borne non prévu pour cet usage",
        "kiosk certificate not meant for this use",
    ),
    "kiosk_certificate_wrong_issuer": (
        "certificat de borne émis par une autre autorité",
        "kiosk certificate issued by another authority",
    ),
    "kiosk_certificate_policy_invalid": (
        "certificat de borne hors de la politique des bornes",
        "kiosk certificate outside the kiosks' policy",
    ),
    "kiosk_signature_not_canonical": (
        "signature de la borne sous une forme non canonique",
        "kiosk signature in a non-canonical form",
    ),
    "request_nonce_invalid": (
        "requête de borne sans nonce valide",
        "kiosk request without a valid nonce",
    ),
    "request_date_invalid": ("date de requête de borne illisible", "unreadable kiosk request date"),
    "request_stale": (
        "requête de borne trop ancienne ou horloge déréglée",
        "kiosk request too old, or a clock out of time",
    ),
    "request_replayed": ("requête de borne rejouée", "replayed kiosk request"),
    "otp_invalid": ("code de connexion incorrect", "wrong sign-in code"),
    "export_code_invalid": ("code de téléchargement incorrect", "wrong download code"),
    "export_link_spent": (
        "trop de codes incorrects : le lien de téléchargement ne sert plus",
        "too many wrong codes: the download link no longer works",
    ),
    "otp_replayed": ("code de connexion déjà utilisé", "sign-in code already used"),
    "otp_expired": ("code de connexion expiré", "sign-in code expired"),
    "otp_locked": (
        "trop d'essais : les codes de connexion sont verrouillés",
        "too many tries: sign-in codes are locked",
    ),
    "password_invalid": ("mot de passe incorrect", "wrong password"),
    "password_locked": (
        "trop d'essais : la connexion par mot de passe est verrouillée",
        "too many tries: password sign-in is locked",
    ),
    "pending_expired": (
        "connexion commencée trop tôt : délai dépassé",
        "sign-in started too long ago",
    ),
    "pending_used": ("connexion déjà terminée", "sign-in already completed"),
    "pending_unknown": ("connexion inconnue", "unknown sign-in"),
    "pending_wrong_kiosk": (
        "code saisi sur une autre borne que celle où la carte a été lue",
        "code entered at another kiosk than the one that read the card",
    ),
    "unknown_ins": ("INS inconnu", "unknown national health identifier"),
    "unique_id_exists": (
        "un document porte déjà cet identifiant unique",
        "a document already has this unique identifier",
    ),
    "identity_mismatch": (
        "l'identité ne correspond pas à celle du dossier",
        "the identity does not match the record's",
    ),
    "content_unavailable": ("contenu du document indisponible", "document content unavailable"),
    "rate_limited": (
        "trop de tentatives depuis la même adresse ou la même borne",
        "too many tries from the same address or kiosk",
    ),
    "credentials_malformed": (
        "informations de connexion incomplètes ou mal formées",
        "incomplete or malformed sign-in details",
    ),
    "delegation_expired": ("la délégation avait pris fin", "the delegation had ended"),
    "delegation_revoked": (
        "la délégation avait été révoquée",
        "the delegation had been revoked",
    ),
    "secret_deposit_visible": (
        "en connexion secrète, un document doit rester invisible aux représentants légaux",
        "in a secret connection, a document must stay hidden from legal representatives",
    ),
}
UNFINISHED = ("la demande n'a pas pu aboutir", "the request could not be completed")

DAYS = (
    ("lundi", "Monday"),
    ("mardi", "Tuesday"),
    ("mercredi", "Wednesday"),
    ("jeudi", "Thursday"),
    ("vendredi", "Friday"),
    ("samedi", "Saturday"),
    ("dimanche", "Sunday"),
)
MONTHS = (
    ("janvier", "January"),
    ("février", "February"),
    ("mars", "March"),
    ("avril", "April"),
    ("mai", "May"),
    ("juin", "June"),
    ("juillet", "July"),
    ("août", "August"),
    ("septembre", "September"),
    ("octobre", "October"),
    ("novembre", "November"),
    ("décembre", "December"),
)
# Own actions less than this apart belong to one visit.
VISIT_GAP = timedelta(minutes=30)

# The patient's own changes, most significant first, as a visit's line names them after
# "Vous avez consulté votre dossier" / "You consulted your record": (French once, French
# more than once, English once, English more than once), then what the change's signed
# receipt proves (French, English), the label of its "Voir le reçu" button. Keyed by
# action, or "action:op" when the operation says more. Reading, signing in and asking
# for an export change nothing: a visit of those alone keeps VISIT_READ.
CHANGES: dict[str, tuple[tuple[str, str, str, str], tuple[str, str]]] = {
    "dossier:close": (
        ("fermé votre dossier", "fermé votre dossier", "closed your record", "closed your record"),
        ("dossier fermé", "record closed"),
    ),
    "dossier:reopen": (
        (
            "rouvert votre dossier",
            "rouvert votre dossier",
            "reopened your record",
            "reopened your record",
        ),
        ("dossier rouvert", "record reopened"),
    ),
    "access:block": (
        (
            "bloqué un professionnel",
            "bloqué des professionnels",
            "blocked a professional",
            "blocked professionals",
        ),
        ("professionnel bloqué", "professional blocked"),
    ),
    "access:grant": (
        (
            "donné un accès à votre dossier",
            "donné des accès à votre dossier",
            "gave access to your record",
            "gave access to your record",
        ),
        ("accès donné", "access given"),
    ),
    "delegation:manage:give": (
        (
            "donné une délégation de lecture",
            "donné des délégations de lecture",
            "gave a reading delegation",
            "gave reading delegations",
        ),
        ("délégation donnée", "delegation given"),
    ),
    "delegation:manage:revoke": (
        (
            "révoqué une délégation de lecture",
            "révoqué des délégations de lecture",
            "revoked a reading delegation",
            "revoked reading delegations",
        ),
        ("délégation révoquée", "delegation revoked"),
    ),
    "emergency:settings": (
        (
            "modifié les autorisations d'accès en urgence",
            "modifié les autorisations d'accès en urgence",
            "changed the emergency access settings",
            "changed the emergency access settings",
        ),
        ("accès en urgence modifiés", "emergency access changed"),
    ),
    "document:mask": (
        (
            "modifié le masquage d'un document",
            "modifié le masquage de documents",
            "changed whether a document is hidden from professionals",
            "changed whether documents are hidden from professionals",
        ),
        ("masquage d'un document", "document hidden or shown"),
    ),
    "document:patient_visibility": (
        (
            "modifié la visibilité d'un document",
            "modifié la visibilité de documents",
            "changed who can see a document",
            "changed who can see documents",
        ),
        ("visibilité d'un document", "document visibility"),
    ),
    "document:rep_visibility": (
        (
            "modifié la visibilité d'un document",
            "modifié la visibilité de documents",
            "changed who can see a document",
            "changed who can see documents",
        ),
        ("visibilité d'un document", "document visibility"),
    ),
    "medecin_traitant:set": (
        (
            "désigné votre médecin traitant",
            "désigné votre médecin traitant",
            "named your regular doctor",
            "named your regular doctor",
        ),
        ("médecin traitant désigné", "regular doctor named"),
    ),
    "care_team:manage": (
        (
            "modifié votre équipe de soins",
            "modifié votre équipe de soins",
            "changed your care team",
            "changed your care team",
        ),
        ("équipe de soins modifiée", "care team changed"),
    ),
    "document:deposit": (
        ("ajouté un document", "ajouté des documents", "added a document", "added documents"),
        ("document ajouté", "document added"),
    ),
    "document:replace": (
        (
            "remplacé un document",
            "remplacé des documents",
            "replaced a document",
            "replaced documents",
        ),
        ("document remplacé", "document replaced"),
    ),
    "document:archive": (
        (
            "archivé un document",
            "archivé des documents",
            "archived a document",
            "archived documents",
        ),
        ("document archivé", "document archived"),
    ),
    "document:delete": (
        (
            "supprimé un document",
            "supprimé des documents",
            "deleted a document",
            "deleted documents",
        ),
        ("document supprimé", "document deleted"),
    ),
    "auth:password_set": (
        (
            "changé votre mot de passe",
            "changé votre mot de passe",
            "changed your password",
            "changed your password",
        ),
        ("mot de passe changé", "password changed"),
    ),
    "auth:totp_enrol": (
        (
            "enregistré une application d'authentification",
            "enregistré une application d'authentification",
            "set up an authenticator app",
            "set up an authenticator app",
        ),
        ("application d'authentification enregistrée", "authenticator app set up"),
    ),
}
VISIT_READ = ("consulté votre dossier", "consulted your record")
# A visit's changes named at most this many; the others are said as OTHER_CHANGES.
NAMED_CHANGES = 2
OTHER_CHANGES = ("fait d'autres modifications", "made other changes")
# Elided "de" (French): before a vowel or a mute h ("tenté d'exporter").
_ELIDED = frozenset("aeiouhàâäéèêëîïôöùûüœæAEIOUHÀÂÄÉÈÊËÎÏÔÖÙÛÜŒÆ")


def de(words: str) -> str:
    """French "de" before `words`: "d'exporter", "d'Anne", "de consulter"."""
    return f"d'{words}" if words[:1] in _ELIDED else f"de {words}"


@dataclass
class Line:
    time: str  # HH:MM, Paris time (the day is the heading)
    text: str
    kind: str = "access"  # access | own | denied | emergency
    count: int = 1
    detail: list[str] = field(default_factory=list)  # folded lines, "HH:MM text"
    receipts: list[str] = field(default_factory=list)  # signed receipts of its changes
    # What each receipt proves, in the page's language ("" when the line says it all).
    receipt_labels: list[str] = field(default_factory=list)
    # A flagged access under review (docs/alerts.md): its status code and the words.
    review: str | None = None
    review_text: str = ""


@dataclass
class Day:
    label: str
    lines: list[Line]


def _local(at: str) -> datetime:
    moment = datetime.fromisoformat(at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(PARIS)


def day_label(moment: datetime, lang: str) -> str:
    weekday, month = DAYS[moment.weekday()], MONTHS[moment.month - 1]
    if lang == "en":
        return f"{weekday[1]} {moment.day} {month[1]} {moment.year}"
    day = "1er" if moment.day == 1 else str(moment.day)
    return f"{weekday[0]} {day} {month[0]} {moment.year}"


def _who(entry: dict[str, Any], lang: str) -> str:
    actor = entry.get("actor") or {}
    name = str(actor.get("name") or "")
    if entry.get("mode") == "delegate":
        return f"{name} ({DELEGATE_MARK.get(lang, DELEGATE_MARK['fr'])})"
    labels = actor.get("profession_label") or {}
    label = labels.get(lang) or labels.get("fr")
    return f"{name} ({label.lower() if lang == 'fr' else label})" if label else name


def forms(entry: dict[str, Any]) -> tuple[str, str, str, str]:
    """An entry's four forms (French past, infinitive, English past, infinitive)."""
    params = entry.get("params") or {}
    if entry.get("action") == "document:list" and params.get("search"):
        return SEARCH
    if params.get("summary"):
        return SUMMARY
    action = str(entry.get("action", ""))
    operation = OPERATIONS.get((action, str(params.get("op"))))
    if operation is not None:
        return operation
    return ACTIONS.get(action, (action, action, action, action))


def _yours(text: str, lang: str) -> str:
    """A past form said by the patient of themself ("a présenté sa carte" -> "avez
    présenté votre carte")."""
    if lang == "en":
        return text.replace("their ", "your ")
    text = text.replace(" sa ", " votre ").replace(" son ", " votre ")
    return "avez " + text[2:] if text.startswith("a ") else text


def _yours_infinitive(text: str) -> str:
    return text.replace("sa ", "votre ").replace("son ", "votre ")


def sentence(entry: dict[str, Any], lang: str) -> str:
    """One line's words, without its time."""
    fr_past, fr_inf, en_past, en_inf = forms(entry)
    en = lang == "en"
    params = entry.get("params") or {}
    if entry.get("own") and entry.get("outcome") == "denied":
        # Her card or her codes refused: said to her, and not folded into a visit.
        reason = REASONS.get(str(entry.get("reason")), UNFINISHED)[1 if en else 0]
        if en:
            text = f"You tried to {_yours(en_inf, lang)}: refused ({reason})"
        else:
            text = f"Vous avez tenté {de(_yours_infinitive(fr_inf))} : refusé ({reason})"
    elif entry.get("own"):
        past = _yours(en_past if en else fr_past, lang)
        text = f"You {past}" if en else f"Vous {past}"
    elif entry.get("outcome") == "denied":
        reason = REASONS.get(str(entry.get("reason")), UNFINISHED)[1 if en else 0]
        if en:
            text = f"{_who(entry, lang)} tried to {en_inf}: access refused ({reason})"
        else:
            text = f"{_who(entry, lang)} a tenté {de(fr_inf)} : accès refusé ({reason})"
    else:
        text = f"{_who(entry, lang)} {en_past if en else fr_past}"
        category = CATEGORIES.get(str(entry.get("category")))
        if category:
            text += f" ({category[1]})" if en else f" de la catégorie « {category[0]} »"
        how = MODES.get(str(entry.get("mode")))
        if how and entry.get("action") not in EMERGENCY_ACTIONS:
            text += f" {how[1 if en else 0]}"
    if params.get("reason"):
        text += (
            f", stated reason: “{params['reason']}”"
            if en
            else f", motif déclaré : « {params['reason']} »"
        )
    if "matched" in params:
        n = int(params["matched"])
        text += f", {n} document(s) found" if en else f", {n} document(s) trouvé(s)"
    if "read" in params:
        n = int(params["read"])
        text += f", drawn from {n} document(s)" if en else f", tirée de {n} document(s)"
    repeated = int(entry.get("repeated") or 0)
    if repeated:
        text += f" (and {repeated} more times)" if en else f" (et encore {repeated} fois)"
    return text + "."


def _kind(entry: dict[str, Any]) -> str:
    if entry.get("outcome") == "denied":
        return "denied"
    if entry.get("own"):
        return "own"
    if entry.get("mode") in EMERGENCY_MODES or entry.get("action") in EMERGENCY_ACTIONS:
        return "emergency"
    return "access"


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two consecutive events that read the same (a professional paging through a list)."""
    keys = ("action", "mode", "outcome", "reason", "category")
    return (
        all(a.get(k) == b.get(k) for k in keys)
        and (a.get("actor") or {}).get("name") == (b.get("actor") or {}).get("name")
        and (a.get("params") or {}).get("search") == (b.get("params") or {}).get("search")
        and (a.get("params") or {}).get("summary") == (b.get("params") or {}).get("summary")
        and not (a.get("params") or {}).get("reason")
        and not a.get("repeated")
        and not b.get("repeated")
        and not a.get("review")
        and not b.get("review")
    )


def days(entries: list[dict[str, Any]], lang: str) -> list[Day]:
    """A page of history entries (newest first, as the server answers) as days of lines,
    newest day first, lines newest first within a day. The patient's own actions within
    VISIT_GAP of each other are one visit, one line where its latest action stands, even
    when a professional's lines fall in between (at the counter, both act at once)."""
    visit_of = _visits([e for e in entries if _kind(e) == "own"])
    out: list[Day] = []
    visits: dict[int, Line] = {}
    visit_entries: dict[int, list[dict[str, Any]]] = {}
    previous: dict[str, Any] | None = None
    for entry in entries:
        moment = _local(str(entry["at"]))
        label = day_label(moment, lang)
        receipt_id = entry.get("receipt_id")
        if not out or out[-1].label != label:
            out.append(Day(label, []))
            previous = None
        lines = out[-1].lines
        time = moment.strftime("%H:%M")
        if _kind(entry) == "own":
            number = visit_of[id(entry)]
            visit = visits.get(number)
            if visit is None or not any(line is visit for line in lines):
                visit = visits[number] = Line(time, _visit_text([], lang), "own")
                visit_entries[id(visit)] = []
                lines.append(visit)
            visit_entries[id(visit)].append(entry)
            visit.detail.append(f"{time} {sentence(entry, lang)}")
            visit.receipts += [receipt_id] if isinstance(receipt_id, str) else []
            visit.count = len(visit.detail)
            visit.time = time  # shown at its start
            continue
        if previous is not None and _same(previous, entry) and lines and lines[-1].kind != "own":
            folded = lines[-1]
            folded.count += 1
            folded.receipts += [receipt_id] if isinstance(receipt_id, str) else []
            folded.detail.append(f"{time} {sentence(entry, lang)}")
            folded.time = time
            folded.text = _counted(sentence(previous, lang), folded.count, lang)
            continue
        line = Line(time, sentence(entry, lang), _kind(entry))
        line.receipts += [receipt_id] if isinstance(receipt_id, str) else []
        line.detail.append(f"{time} {line.text}")
        _reviewed(line, entry, lang)
        lines.append(line)
        previous = entry
    for day in out:
        for line in day.lines:
            if len(line.detail) == 1 and line.kind != "own":
                line.detail = []  # nothing folded: the line says it all
            if line.kind == "own":
                own = visit_entries[id(line)]
                line.text = _visit_text(own, lang)
                line.receipt_labels = _receipt_labels(own, lang)
    return out


def _visits(own: list[dict[str, Any]]) -> dict[int, int]:
    """Each own entry's visit number (newest first): a gap over VISIT_GAP starts another."""
    out: dict[int, int] = {}
    number, last = 0, None
    for entry in own:
        moment = _local(str(entry["at"]))
        if last is not None and last - moment > VISIT_GAP:
            number += 1
        out[id(entry)] = number
        last = moment
    return out


def _change(entry: dict[str, Any]) -> str | None:
    """The CHANGES key of an own entry that changed something, None for a reading."""
    action = str(entry.get("action", ""))
    operation = f"{action}:{(entry.get('params') or {}).get('op')}"
    for key in (operation, action):
        if key in CHANGES:
            return key
    return None


def _visit_text(own: list[dict[str, Any]], lang: str) -> str:
    """A visit's line: "Vous avez consulté votre dossier." when she only read, else the
    most significant kinds of change she made ("… et bloqué un professionnel.")."""
    en = lang == "en"
    kinds = [_change(entry) for entry in own]
    counts: dict[str, int] = {}
    for kind in kinds:
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
    order = list(CHANGES)
    changed = sorted(counts, key=order.index)
    words = []
    for kind in changed[:NAMED_CHANGES]:
        once, more, en_once, en_more = CHANGES[kind][0]
        words.append((en_more if en else more) if counts[kind] > 1 else (en_once if en else once))
    if len(changed) > NAMED_CHANGES:
        words.append(OTHER_CHANGES[1 if en else 0])
    if not words or None in kinds:
        words.insert(0, VISIT_READ[1 if en else 0])
    if len(words) > 1:
        words[-2:] = [f"{words[-2]} {'and' if en else 'et'} {words[-1]}"]
    return f"{'You' if en else 'Vous avez'} {', '.join(words)}."


def _receipt_labels(own: list[dict[str, Any]], lang: str) -> list[str]:
    """What each of a visit's receipts proves, in the order of its receipts; the same
    words twice are numbered ("document ajouté (1)", "document ajouté (2)")."""
    en = lang == "en"
    labels: list[str] = []
    for entry in own:
        if not isinstance(entry.get("receipt_id"), str):
            continue
        kind = _change(entry)
        labels.append(CHANGES[kind][1][1 if en else 0] if kind else "")
    out: list[str] = []
    seen: dict[str, int] = {}
    for label in labels:
        if label and labels.count(label) > 1:
            seen[label] = seen.get(label, 0) + 1
            out.append(f"{label} ({seen[label]})")
        else:
            out.append(label)
    return out


def _counted(text: str, count: int, lang: str) -> str:
    base = text[:-1] if text.endswith(".") else text
    return f"{base} ({count} times)." if lang == "en" else f"{base} ({count} fois)."


def flagged(item: dict[str, Any], lang: str) -> str:
    """A flagged access announced on the home page (issue 14): when, who, how, and where
    the privacy officer's review stands."""
    en = lang == "en"
    moment = _local(str(item.get("at")))
    when = f"{day_label(moment, lang)}, {moment.strftime('%H:%M')}"
    mode = MODES.get(str(item.get("mode")))
    how = f", {mode[1 if en else 0]}" if mode else ""
    status = str(item.get("status"))
    review = REVIEWS.get(status, REVIEWS["a_traiter"])[1 if en else 0]
    return (
        f"{when}: {_who(item, lang)}{how}. {review}."
        if en
        else (f"{when} : {_who(item, lang)}{how}. {review}.")
    )


def _reviewed(line: Line, entry: dict[str, Any], lang: str) -> None:
    review = entry.get("review")
    status = review.get("status") if isinstance(review, dict) else None
    if not isinstance(status, str) or status not in REVIEWS:
        return
    line.review = status
    line.review_text = REVIEWS[status][1 if lang == "en" else 0] + "."
