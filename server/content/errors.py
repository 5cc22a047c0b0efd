"""Why a content is refused at the door: one reason code and one French message each.

Every refusal is a 422 (`InvalidInput`): the request was well formed, the file it
carries is not one we store. The codes are part of the API (docs/documents.md,
"Formats"); the kiosk shows the message.
"""

from __future__ import annotations

from server.errors import InvalidInput

MESSAGES = {
    "content_type_mismatch": "Le contenu du fichier ne correspond pas au format déclaré.",
    "content_truncated": "Le fichier est incomplet (tronqué) : envoyez-le de nouveau.",
    "content_corrupt": "Le fichier est endommagé et ne peut pas être lu.",
    "pdf_encrypted": (
        "Ce PDF est protégé par un mot de passe ou chiffré : envoyez-le sans protection."
    ),
    "content_bomb": "Le fichier se décompresse en un volume démesuré : il est refusé.",
    "image_too_large": "L'image compte trop de pixels : réduisez sa définition.",
    "too_many_pages": "Le document compte trop de pages.",
    "content_too_complex": "Le document est trop long à lire : il est refusé.",
    "xml_doctype": "Un document XML avec une DTD ou des entités (DOCTYPE) est refusé.",
    "content_too_deep": "Le document est imbriqué trop profondément.",
    "cda_invalid": "Ce document XML n'est pas un document CDA R2 lisible.",
    "cda_body_unsupported": "Le document CDA contient un fichier d'un format non accepté.",
    "fhir_invalid": (
        "Ce JSON n'est pas un document FHIR R4 (Bundle « document », Composition en tête)."
    ),
    "text_not_utf8": "Le texte doit être encodé en UTF-8.",
    "text_binary": "Ce fichier n'est pas du texte lisible.",
    "mime_type_not_allowed": (
        "Un patient peut déposer un PDF, une image (JPEG, PNG, TIFF), du texte ou du RTF."
    ),
}
REASONS = frozenset(MESSAGES)


class ContentRefused(InvalidInput):
    """A content refused at the door; `reason` is one of REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, MESSAGES[reason])
