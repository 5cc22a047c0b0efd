"""The list of common medicines offered while typing a medication line (issue 11).

Shipped as data (kiosk/data/medicines.json): name, strength, form, and a CIS code only
where one is known for certain. The page offers the labels in a <datalist> (the
browser filters as one types, no script needed); anything else is typed freely.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "medicines.json"


@dataclass(frozen=True)
class Medicine:
    name: str
    strength: str
    form: str
    code: str | None = None

    @property
    def label(self) -> str:
        """What the list shows and what the line's medicine field then holds."""
        named = f"{self.name} {self.strength}".strip()
        return f"{named}, {self.form}" if self.form else named


@cache
def medicines() -> dict[str, Medicine]:
    """Label -> medicine, in the file's order."""
    raw = json.loads(DATA.read_text(encoding="utf-8"))["medicines"]
    found = (
        Medicine(m["name"], m.get("strength", ""), m.get("form", ""), m.get("code") or None)
        for m in raw
    )
    return {m.label: m for m in found}


def known(label: str) -> Medicine | None:
    return medicines().get(label.strip())


@cache
def vaccines() -> list[str]:
    """Vaccine names offered in the vaccination form (free entry covers the rest)."""
    return [str(v) for v in json.loads(DATA.read_text(encoding="utf-8"))["vaccines"]]
