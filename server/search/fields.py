"""What of a document, besides its text, is searchable: the same words at indexing and at
confirmation, from an ORM document or a listing row alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.frenchtime import PARIS
from server.labels import CATEGORIES
from server.policy import Matrix

MONTHS = (
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
).split()


@dataclass(frozen=True, slots=True)
class Described:
    """A document's searchable metadata."""

    title: str
    category: str
    author: str  # "Claire Moreau, Pharmacien", "patient", "Assurance Maladie" or ""
    institution: str | None  # FINESS
    dates: tuple[datetime | None, ...]  # creation, service start and end

    def line(self) -> str:
        """Everything but the title, as one line of text (also a snippet's last resort)."""
        parts = [CATEGORIES[self.category][0], self.author, self.institution or ""]
        parts += [_date_words(d) for d in self.dates if d is not None]
        return " · ".join(p for p in parts if p)


def author_text(
    matrix: Matrix,
    first_name: str | None,
    last_name: str | None,
    profession: str | None,
    *,
    patient: bool,
    insurer: bool,
) -> str:
    if first_name is not None:
        rules = matrix.rules_for(profession)
        label = rules.label_fr if rules is not None else profession or ""
        return f"{first_name} {last_name}, {label}"
    if patient:
        return "patient"
    return "Assurance Maladie" if insurer else ""


def _date_words(value: datetime) -> str:
    # The day as typed (2026-06-15 and 15/06/2026 give the same words) and its month's
    # name, in Paris time like every date a French user reads.
    local = value.astimezone(PARIS)
    return f"{local:%d/%m/%Y} {MONTHS[local.month - 1]} {local.year}"
