"""The professionals directory (issue 14): search by name, seed, keep in step.

A patient chooses their médecin traitant (or a care-team member) by name, not by typing
an RPPS number. The directory holds the professionals the server knows (a row each,
source "server", written with the professional) and a seedable extract of the national
directory (Annuaire Santé / RPPS, source "annuaire"): public data, no health content.

A search is decided by the policy (server/policy/directory.py) and traced, allowed or
refused, in the system chain: who searched, from which kiosk, for what purpose and how
many answers, never the words typed (they can say whom a patient consults).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import and_, delete, insert, select

from server.errors import AccessDenied, InvalidInput, Unauthenticated
from server.identifiers import IdentifierError, parse_national_id
from server.models import DirectoryEntry, DirectoryWord, Professional
from server.policy import Matrix
from server.policy.directory import (
    DirectoryAction,
    DirectoryCaller,
    DirectoryDecision,
    DirectoryPurpose,
    DirectoryReason,
    decide_directory,
)
from server.search.normalise import WORD, fold
from server.services import audit
from server.services.context import Ctx, Principal
from server.validation import safe_text

Q_MAX = 60
MIN_PREFIX = 2  # one letter matches a twentieth of France: ask for two
MAX_WORDS = 4
DEFAULT_LIMIT = 10
MAX_LIMIT = 25
MAX_PAGE = 20  # past 20 pages of 25, the name typed is not precise enough to page through
SOURCE_SERVER = "server"
SOURCE_ANNUAIRE = "annuaire"
# The columns of a directory extract, in the order of the file (docs/access-rules.md).
CSV_COLUMNS = ("national_id", "last_name", "first_name", "profession", "establishment", "town")


@dataclass(frozen=True, slots=True)
class Query:
    words: tuple[str, ...]
    purpose: DirectoryPurpose
    page: int
    limit: int


def parse(args: Mapping[str, str]) -> Query:
    """The request's parameters, each checked: a bad one is a 400 naming it."""
    q = args.get("q", "")
    if len(q) > Q_MAX or not safe_text(q):
        raise InvalidInput("q_invalid", f"Nom recherché : {Q_MAX} caractères au plus.")
    found = tuple(dict.fromkeys(WORD.findall(fold(q))))
    if not found or len(found[0]) < MIN_PREFIX:
        raise InvalidInput("q_too_short", "Tapez au moins deux lettres du nom.")
    if len(found) > MAX_WORDS:
        raise InvalidInput("q_too_many_words", f"Un nom compte au plus {MAX_WORDS} mots.")
    return Query(
        found,
        _purpose(args),
        _bounded(args, "page", 1, MAX_PAGE, 1),
        _bounded(args, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT),
    )


def _purpose(args: Mapping[str, str]) -> DirectoryPurpose:
    try:
        return DirectoryPurpose(args.get("purpose", DirectoryPurpose.CARE_TEAM.value))
    except ValueError:
        raise InvalidInput(
            "purpose_invalid", "« purpose » : medecin_traitant ou care_team."
        ) from None


def _bounded(args: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        raise InvalidInput(f"{name}_invalid", f"« {name} » : un entier de {low} à {high}.")
    return int(raw)


def search(
    ctx: Ctx,
    who: Principal | None,
    kiosk: str | None,
    args: Mapping[str, str],
) -> dict[str, Any]:
    """Professionals whose name words begin with the words typed (case and accents
    ignored), in the professions the purpose admits, by name, one page at a time."""
    caller = DirectoryCaller(
        who.actor if who is not None else None,
        kiosk=kiosk is not None,
        opening_dossier=args.get("during") == "dossier_opening",
    )
    # Who asks is decided before what is asked: a caller refused learns nothing more.
    purpose = _purpose(args)
    decision = decide_directory(caller, DirectoryAction.SEARCH, purpose, ctx.matrix)
    if not decision.allowed:
        _refuse(ctx, who, kiosk, purpose, decision)
    query = parse(args)
    condition = and_(
        DirectoryEntry.profession.in_(sorted(decision.professions)),
        *(
            DirectoryEntry.id.in_(
                select(DirectoryWord.entry_id).where(DirectoryWord.word.like(f"{word}%"))
            )
            for word in query.words
        ),
    )
    rows = ctx.session.scalars(
        select(DirectoryEntry)
        .where(condition)
        .order_by(DirectoryEntry.last_key, DirectoryEntry.first_key, DirectoryEntry.id)
        .offset((query.page - 1) * query.limit)
        .limit(query.limit + 1)
    ).all()
    more = len(rows) > query.limit
    results = [_view(ctx.matrix, row) for row in rows[: query.limit]]
    _trace(ctx, who, kiosk, query.purpose, query.page, decision, len(results))
    return {
        "results": results,
        "page": query.page,
        "next_page": query.page + 1 if more and query.page < MAX_PAGE else None,
    }


def _view(matrix: Matrix, row: DirectoryEntry) -> dict[str, Any]:
    rules = matrix.rules_for(row.profession)
    return {
        "national_id": row.national_id,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "name": f"{row.first_name} {row.last_name}",
        "profession": row.profession,
        "profession_label": rules.label_fr if rules else row.profession,
        "profession_label_en": rules.label_en if rules else row.profession,
        "establishment": row.establishment,
        "town": row.town,
    }


def _refuse(
    ctx: Ctx,
    who: Principal | None,
    kiosk: str | None,
    purpose: DirectoryPurpose,
    decision: DirectoryDecision,
) -> NoReturn:
    """Traced in a transaction of its own, as every denial (services/guard.py). Neither a
    session nor a kiosk: answered as every route answers a caller without a session."""
    ctx.session.rollback()
    _trace(ctx, who, kiosk, purpose, 1, decision, 0)
    ctx.session.commit()
    if decision.reason is DirectoryReason.NO_CALLER:
        raise Unauthenticated("session_invalid", "Session absente ou expirée.")
    raise AccessDenied(
        decision.reason.value, "Vous ne pouvez pas consulter l'annuaire des professionnels."
    )


def _trace(
    ctx: Ctx,
    who: Principal | None,
    kiosk: str | None,
    purpose: DirectoryPurpose,
    page: int,
    decision: DirectoryDecision,
    returned: int,
) -> None:
    actor = who.actor if who is not None else None
    audit.append(
        ctx.session,
        None,
        audit.TraceEntry(
            at=ctx.now,
            actor_kind=actor.kind.value if actor is not None else "kiosk",
            actor_id=actor.id if actor is not None else 0,
            actor_name=who.name if who is not None else (kiosk or "?"),
            actor_profession=actor.profession if actor is not None else None,
            actor_structure=actor.structure if actor is not None else None,
            action=DirectoryAction.SEARCH,
            mode="directory" if decision.allowed else "none",
            outcome="allowed" if decision.allowed else "denied",
            reason=decision.reason.value,
            detail={"purpose": purpose.value, "page": page, "returned": returned},
            kiosk=who.kiosk if who is not None else kiosk,
        ),
    )


# --- keeping the directory ----------------------------------------------------------------


def _keys(last_name: str, first_name: str) -> dict[str, str]:
    words = WORD.findall(fold(f"{last_name} {first_name}"))
    return {
        "last_key": fold(last_name)[:100],
        "first_key": fold(first_name)[:100],
        "words": (" " + " ".join(words))[:210],
    }


def record_professional(ctx: Ctx, pro: Professional) -> DirectoryEntry:
    """The directory line of a professional the server knows, written or brought up to
    date with their row (same national id: the server's own data wins)."""
    entry = ctx.session.scalars(
        select(DirectoryEntry).where(DirectoryEntry.national_id == pro.national_id)
    ).first()
    if entry is None:
        entry = DirectoryEntry(national_id=pro.national_id)
        ctx.session.add(entry)
    entry.last_name = pro.last_name
    entry.first_name = pro.first_name
    entry.profession = pro.profession
    entry.establishment = pro.structure_name
    entry.source = SOURCE_SERVER
    for key, value in _keys(pro.last_name, pro.first_name).items():
        setattr(entry, key, value)
    _index_words(ctx, [entry])
    return entry


def _index_words(ctx: Ctx, entries: list[DirectoryEntry]) -> None:
    """The word rows of these entries, rewritten from their folded names."""
    if not entries:
        return
    ctx.session.flush()
    ids = [e.id for e in entries]
    ctx.session.execute(delete(DirectoryWord).where(DirectoryWord.entry_id.in_(ids)))
    ctx.session.execute(
        insert(DirectoryWord),
        [
            {"entry_id": e.id, "word": word[:100]}
            for e in entries
            for word in sorted(set(e.words.split()))
        ],
    )


def professional_from_directory(ctx: Ctx, national_id: str) -> Professional | None:
    """A professional chosen from the directory becomes known to the server when first
    named (médecin traitant, care team): their row is made from the public data. None
    when the directory has no such entry."""
    entry = ctx.session.scalars(
        select(DirectoryEntry).where(DirectoryEntry.national_id == national_id)
    ).first()
    if entry is None:
        return None
    pro = Professional(
        national_id=entry.national_id,
        first_name=entry.first_name,
        last_name=entry.last_name,
        profession=entry.profession,
        specialty=None,
        structure_finess=None,
        structure_name=entry.establishment,
        active=True,
    )
    ctx.session.add(pro)
    entry.source = SOURCE_SERVER
    ctx.session.flush()
    return pro


@dataclass(frozen=True, slots=True)
class Loaded:
    added: int
    updated: int
    known: int  # professionals the server knows, brought into the directory


def load(ctx: Ctx, text: str) -> Loaded:
    """Load a directory extract (CSV, `;`-separated, header CSV_COLUMNS), idempotently:
    a national id already there is updated, unless it is a professional the server knows
    (their own row wins). Every known professional is then brought into the directory.
    A bad line stops the load with its line number; nothing is written (one transaction)."""
    reader = csv.DictReader(io.StringIO(text), delimiter=";")
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise InvalidInput("directory_header", f"En-tête attendu : {';'.join(CSV_COLUMNS)}")
    existing = {e.national_id: e for e in ctx.session.scalars(select(DirectoryEntry))}
    added = updated = 0
    changed: list[DirectoryEntry] = []
    for line, raw in enumerate(reader, start=2):
        row = _line(ctx.matrix, line, raw)
        entry = existing.get(row["national_id"])
        if entry is not None and entry.source == SOURCE_SERVER:
            continue
        if entry is None:
            entry = DirectoryEntry(national_id=row["national_id"], source=SOURCE_ANNUAIRE)
            ctx.session.add(entry)
            existing[entry.national_id] = entry
            added += 1
        else:
            updated += 1
        for key, value in row.items():
            setattr(entry, key, value)
        changed.append(entry)
    _index_words(ctx, changed)
    known = sync_known(ctx)
    return Loaded(added, updated, known)


def sync_known(ctx: Ctx) -> int:
    pros = ctx.session.scalars(select(Professional)).all()
    for pro in pros:
        record_professional(ctx, pro)
    return len(pros)


def _line(matrix: Matrix, line: int, raw: Mapping[str, str | None]) -> dict[str, Any]:
    def field(name: str, limit: int, *, required: bool = True) -> str | None:
        value = (raw.get(name) or "").strip()
        if not value:
            if required:
                raise InvalidInput("directory_line", f"ligne {line} : « {name} » manquant")
            return None
        if len(value) > limit or not safe_text(value):
            raise InvalidInput("directory_line", f"ligne {line} : « {name} » invalide")
        return value

    try:
        national_id = parse_national_id(field("national_id", 40) or "")
    except IdentifierError as exc:
        raise InvalidInput("directory_line", f"ligne {line} : {exc}") from None
    profession = field("profession", 40) or ""
    if matrix.rules_for(profession) is None:
        raise InvalidInput("directory_line", f"ligne {line} : profession inconnue {profession!r}")
    last = field("last_name", 100) or ""
    first = field("first_name", 100) or ""
    return {
        "national_id": national_id,
        "last_name": last,
        "first_name": first,
        "profession": profession,
        "establishment": field("establishment", 200, required=False),
        "town": field("town", 100, required=False),
        **_keys(last, first),
    }


def demo_extract() -> str:
    """config/directory-demo.csv: a made-up extract in the national directory's shape."""
    path = Path(__file__).resolve().parents[2] / "config" / "directory-demo.csv"
    return path.read_text(encoding="utf-8")


def lines(entries: Iterable[tuple[str, ...]]) -> str:
    """A directory extract from tuples in CSV_COLUMNS order (tests, the demo)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(entries)
    return out.getvalue()
