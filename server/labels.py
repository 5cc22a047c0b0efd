"""French (then English) labels for what the API returns to people."""

from __future__ import annotations

CATEGORIES: dict[str, tuple[str, str]] = {
    "compte_rendu": ("Compte rendu", "Report"),
    "synthese": ("Synthèse", "Summary"),
    "imagerie": ("Imagerie médicale", "Medical imaging"),
    "prescription": ("Prescription", "Prescription"),
    "dispensation": ("Dispensation", "Dispensing"),
    "plan_soins": ("Plan ou protocole de soins", "Care plan or protocol"),
    "traitement_administre": ("Traitement administré", "Administered treatment"),
    "certificat": ("Certificat, déclaration", "Certificate, declaration"),
    "remboursement": ("Données de remboursement", "Reimbursement data"),
    "depose_patient": ("Document déposé par le patient", "Patient-deposited document"),
    "gestion": ("Document de gestion", "Administrative document"),
}

STATES: dict[str, tuple[str, str]] = {
    "masked_ps": ("Masqué aux professionnels", "Hidden from professionals"),
    "invisible_patient": ("Non visible par le patient", "Not visible to the patient"),
    "invisible_rep": (
        "Non visible par les représentants légaux",
        "Not visible to legal representatives",
    ),
    "archived": ("Archivé", "Archived"),
    "superseded": ("Remplacé par une version plus récente", "Superseded"),
    "deleted": ("Supprimé", "Deleted"),
}

MODES: dict[str, str] = {
    "none": "aucun",
    "patient": "titulaire du dossier",
    "representative": "représentant légal",
    "medecin_traitant": "médecin traitant",
    "author": "auteur du document",
    "care_team": "équipe de soins",
    "consent": "consentement du patient",
    "bris_de_glace": "accès en urgence (bris de glace)",
    "centre_15": "régulation du centre 15",
    "admissions": "bureau des admissions",
    "insurer": "Assurance Maladie",
    "delegate": "délégation du patient",
}
