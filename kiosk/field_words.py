"""A refusal about one field, said with the field's label as the page shows it.

The records server names its fields as the API does ("« comment » contient un caractère
interdit.", "« before » doit être un entier positif.", reason `comment_invalid`); the
kiosk's user never saw those names. When the reason is `<field>_invalid` for a field the
kiosk fills, the kiosk words the refusal itself, in the page's language, with the label
of its form; any other refusal keeps the server's message.
"""

from __future__ import annotations

from kiosk.i18n import gettext

# API field -> its label on the kiosk's pages (French; English in messages_en.py).
FIELDS: dict[str, str] = {
    "before": "Page de l'historique",
    "birth_date": "Date de naissance",
    "birth_name": "Nom de naissance",
    "birth_place": "Lieu de naissance",
    "categories": "Catégories de documents",
    "category": "Catégorie de document",
    "comment": "Commentaire",
    "first_names": "Prénoms",
    "ins": "Numéro INS",
    "national_id": "Numéro du professionnel",
    "q": "Recherche",
    "reason": "Motif",
    "replace_reason": "Motif du remplacement",
    "sex": "Sexe",
    "title": "Titre",
    "until": "Jusqu'au",
}
FORBIDDEN_CHARACTER = "caractère interdit"  # the server's words for an unsafe string


def reworded(reason: str, server_message: str) -> str | None:
    """The kiosk's words for a refusal of one of its fields, None for any other."""
    field = reason.removesuffix("_invalid")
    if field == reason or field not in FIELDS:
        return None
    label = gettext(FIELDS[field])
    if FORBIDDEN_CHARACTER in server_message:
        return gettext(
            "« {field} » contient un caractère qui n'est pas accepté : retirez-le.", field=label
        )
    return gettext("« {field} » n'est pas valide : vérifiez la saisie.", field=label)
