"""How the kiosk names document categories on screen, in French then English.

The server answers with category codes; naming them is the kiosk's UI text, so the
kiosk owns its labels (the server keeps its own for the texts it writes itself, such as
the access history). A test keeps the codes equal to the server's categories.
"""

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

# The document types the kiosk's deposit form offers, by category (LOINC-like type code,
# French label). Which categories a professional may deposit is the server's answer
# (`may.deposit_categories` of GET /session); the kiosk only knows how to name them.
DOCUMENT_TYPES: dict[str, list[tuple[str, str]]] = {
    "compte_rendu": [
        ("11488-4", "Compte rendu de consultation"),
        ("34112-3", "Compte rendu d'hospitalisation"),
        ("34111-5", "Compte rendu des urgences"),
    ],
    "synthese": [("34133-9", "Synthèse")],
    "prescription": [("57833-6", "Prescription")],
    "dispensation": [("60593-1", "Dispensation de médicaments")],
    "traitement_administre": [("29549-3", "Soins administrés")],
}
