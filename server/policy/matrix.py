"""The profession x category matrix: which professions may read and write what.

domain.md: "keep ours as data (a file under config/), never as code branches". The
engine only asks `rules_for(profession)`; the file is validated strictly at load time so
that a typo in a category or a key fails the server's start, instead of silently
granting or refusing access at run time.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from server.policy.model import Category

PROFESSION_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
REQUIRED_KEYS = frozenset({"label_fr", "label_en", "read", "write", "eligible"})
OPTIONAL_KEYS = frozenset({"physician"})


class MatrixError(ValueError):
    """The matrix file is missing, not TOML, or does not describe a valid matrix."""


@dataclass(frozen=True, slots=True)
class ProfessionRules:
    code: str
    label_fr: str
    label_en: str
    read: frozenset[Category]
    write: frozenset[Category]
    eligible: bool  # false: the law forbids the profession any access (occupational medicine)
    # A physician (médecin) may be designated médecin traitant (domain.md); nobody else.
    physician: bool = False

    @property
    def may_be_medecin_traitant(self) -> bool:
        return self.physician and self.eligible


@dataclass(frozen=True, slots=True)
class Matrix:
    professions: Mapping[str, ProfessionRules]

    def rules_for(self, code: str | None) -> ProfessionRules | None:
        """The profession's rules, or None for an unknown (hence ineligible) profession."""
        if code is None:
            return None
        return self.professions.get(code)

    def eligible(self) -> frozenset[str]:
        """Codes of the professions the law admits to the DMP at all."""
        return frozenset(code for code, rules in self.professions.items() if rules.eligible)

    def may_be_medecin_traitant(self) -> frozenset[str]:
        """Codes of the professions a patient may designate as médecin traitant."""
        return frozenset(
            code for code, rules in self.professions.items() if rules.may_be_medecin_traitant
        )


def default_matrix_path() -> Path:
    """config/access-matrix.toml at the repository root."""
    return Path(__file__).resolve().parents[2] / "config" / "access-matrix.toml"


def load_matrix(path: Path) -> Matrix:
    """Read and validate a matrix file; every problem is a `MatrixError` naming file and key."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise MatrixError(f"{path}: access matrix file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise MatrixError(f"{path}: not valid TOML: {exc}") from exc
    if not raw:
        raise MatrixError(f"{path}: no profession defined")
    professions = {code: _profession(path, code, table) for code, table in raw.items()}
    return Matrix(MappingProxyType(professions))


def _profession(path: Path, code: str, table: Any) -> ProfessionRules:
    where = f"{path}: [{code}]"
    if not isinstance(table, dict):
        raise MatrixError(f"{path}: unknown top-level key {code!r} (expected a profession table)")
    if not PROFESSION_CODE.match(code):
        raise MatrixError(f"{where}: profession code must be lower_snake_case")
    unknown = sorted(set(table) - REQUIRED_KEYS - OPTIONAL_KEYS)
    if unknown:
        raise MatrixError(f"{where}: unknown key {unknown[0]!r}")
    missing = sorted(REQUIRED_KEYS - set(table))
    if missing:
        raise MatrixError(f"{where}: missing key {missing[0]!r}")
    eligible = table["eligible"]
    if not isinstance(eligible, bool):
        raise MatrixError(f"{where}: key 'eligible' must be true or false")
    physician = table.get("physician", False)
    if not isinstance(physician, bool):
        raise MatrixError(f"{where}: key 'physician' must be true or false")
    rules = ProfessionRules(
        code=code,
        label_fr=_label(where, table, "label_fr"),
        label_en=_label(where, table, "label_en"),
        read=_categories(where, table, "read"),
        write=_categories(where, table, "write"),
        eligible=eligible,
        physician=physician,
    )
    # An ineligible profession with categories would be a contradiction in the data:
    # refuse it rather than guess which of the two the author meant.
    if not eligible and (rules.read or rules.write):
        raise MatrixError(f"{where}: an ineligible profession cannot read or write categories")
    return rules


def _label(where: str, table: dict[str, Any], key: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise MatrixError(f"{where}: key {key!r} must be a non-empty string")
    return value


def _categories(where: str, table: dict[str, Any], key: str) -> frozenset[Category]:
    values = table[key]
    if not isinstance(values, list):
        raise MatrixError(f"{where}: key {key!r} must be a list of categories")
    known = {category.value for category in Category}
    seen: set[Category] = set()
    for value in values:
        if not isinstance(value, str) or value not in known:
            raise MatrixError(
                f"{where}: key {key!r}: unknown category {value!r} "
                f"(expected one of {', '.join(sorted(known))})"
            )
        if Category(value) in seen:
            raise MatrixError(f"{where}: key {key!r}: category {value!r} listed twice")
        seen.add(Category(value))
    return frozenset(seen)
