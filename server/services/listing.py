"""The document listing's one statement: documents, their authors and replacement links.

The listing is the most frequent request (issue #2). It reads every column the API shows
and the three things a document row only references (its professional author's name,
the logical ids of the versions it replaces and is replaced by) in one Core statement,
built once per variant; the ORM version took three statements and built a Document
instance per row, several times the cost of the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, select

from server.models import Document, Professional, table_of
from server.policy import Action, DocumentFacts, listed
from server.services import guard, lookup, views
from server.services.context import Ctx, Principal
from server.services.facts import DocumentRow, document_facts
from server.services.guard import Granted

_DOC = table_of(Document)
_PRO = table_of(Professional)
_REPLACES = _DOC.alias("replaces")
_REPLACED_BY = _DOC.alias("replaced_by")
_COLUMNS = (
    "logical_id",
    "unique_id",
    "entry_uuid",
    "version",
    "title",
    "category",
    "type_code",
    "author_professional_id",
    "author_patient_id",
    "author_service_id",
    "author_institution",
    "created_at",
    "service_start",
    "service_end",
    "submitted_at",
    "mime_type",
    "size",
    "status",
    "masked_ps",
    "invisible_patient",
    "invisible_rep",
)


def _statement(everything: bool, one_category: bool) -> Select[Any]:
    """Bound parameters: dossier_id, category when `one_category`, since unless
    `everything`. Which rows are shown is the policy's per-document answer, applied by
    the caller (`policy.listed`): filtering categories here (an IN list of varying
    length, re-rendered into the SQL at every execution) would cost more than the few
    rows it spares, and would drop an author's own documents outside their columns."""
    conditions = [
        _DOC.c.dossier_id == bindparam("dossier_id"),
        _DOC.c.status != "deleted",
    ]
    if one_category:
        conditions.append(_DOC.c.category == bindparam("category"))
    if not everything:
        conditions += [_DOC.c.status == "current", _DOC.c.submitted_at >= bindparam("since")]
    return (
        select(
            *(_DOC.c[name] for name in _COLUMNS),
            _PRO.c.first_name.label("author_first_name"),
            _PRO.c.last_name.label("author_last_name"),
            _PRO.c.profession.label("author_profession"),
            # Not shown by the JSON view; the FHIR mapping embeds the author's national id.
            _PRO.c.national_id.label("author_national_id"),
            _REPLACES.c.logical_id.label("replaces_logical_id"),
            _REPLACED_BY.c.logical_id.label("replaced_by_logical_id"),
        )
        .select_from(_DOC)
        .outerjoin(_PRO, _PRO.c.id == _DOC.c.author_professional_id)
        .outerjoin(_REPLACES, _REPLACES.c.id == _DOC.c.replaces_id)
        .outerjoin(_REPLACED_BY, _REPLACED_BY.c.id == _DOC.c.replaced_by_id)
        .where(and_(*conditions))
        .order_by(_DOC.c.submitted_at.desc(), _DOC.c.id.desc())
    )


# (everything, one category) -> statement
LISTINGS = {(e, c): _statement(e, c) for e in (False, True) for c in (False, True)}


def shown(ctx: Ctx, who: Principal, granted: Granted, rows: Any) -> list[DocumentRow]:
    """Exactly the rows a listing shows this caller (`policy.listed` on the list decision
    `granted`): the same engine and facts as reading each by id, so that a list and a read
    never disagree (an author's own document outside their profession's categories
    included). `decide` is pure and only the document's facts vary here, so documents
    with equal facts share one answer."""
    answers: dict[DocumentFacts, bool] = {}
    out = []
    for row in rows:
        facts = document_facts(row)
        allowed = answers.get(facts)
        if allowed is None:
            allowed = answers[facts] = listed(
                granted.decision, who.actor, granted.facts, facts, granted.context, ctx.matrix
            )
        if allowed:
            out.append(row)
    return out


def document(row: DocumentRow) -> dict[str, Any]:
    """The API's view of one listed document (`views.document_fields`)."""
    author = None
    if row.author_first_name is not None:
        author = views.professional_author(
            row.author_first_name, row.author_last_name, row.author_profession
        )
    return views.document_fields(row, author, row.replaces_logical_id, row.replaced_by_logical_id)


@dataclass(frozen=True, slots=True)
class Decided:
    """A listing decision whose trace waits for what the listing returned."""

    subject: lookup.Subject
    granted: Granted
    detail: dict[str, Any]


def decide(
    ctx: Ctx,
    who: Principal,
    dossier_id: int,
    detail: dict[str, Any],
    subject: lookup.Subject | None = None,
) -> Decided:
    """The listing's decision (the same rule, subject and lookup as the listing itself) for
    a door that answers a part of the listing and traces how much: a search, the FHIR
    search. A refusal is traced at once, as the listing's; `trace` writes an allowed one
    with its counts. `subject`: the dossier as this request already loaded it for a
    decision it traced (`dossiers.find_subject`, `lookup.after`), head included."""
    if subject is None:
        subject = lookup.subject(ctx, who, Action.DOCUMENT_LIST, dossier_id)
    elif subject.dossier.id != dossier_id:
        raise ValueError(f"subject of dossier {subject.dossier.id} given for {dossier_id}")
    granted = guard.authorize(
        ctx,
        who,
        Action.DOCUMENT_LIST,
        subject.dossier,
        subject.patient,
        detail=detail,
        loaded=subject.loaded,
        head=subject.head,
        defer_trace=True,
    )
    return Decided(subject, granted, detail)


def trace(ctx: Ctx, who: Principal, decided: Decided, **counts: int) -> None:
    guard.trace(
        ctx,
        who,
        Action.DOCUMENT_LIST,
        decided.granted.decision,
        decided.subject.patient,
        detail={**decided.detail, **counts},
        head=decided.subject.head,
    )
