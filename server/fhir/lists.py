"""ITI-65 SubmissionSets kept, and read back as FHIR `List` (MHD ITI-66 Find Document
Lists, submission sets only; `List/{id}`).

`store` keeps the set an ITI-65 Bundle deposited: who submitted it, when, the producer's
uniqueId and sourceId, and its documents in the Bundle's order (server/models/
submission.py). Reading is decided exactly as the document listing
(GET /api/v1/dossiers/{id}/documents?all=true: DOCUMENT_LIST, `listing.decide`) and draws
on the rows `listing.shown` gives the caller: an entry whose document the caller may not
read (masked, invisible, outside their categories, deleted) is left out of the List, and
a List with no entry left is not there at all (its time and submitter would tell of a
deposit the caller may not see). One trace entry per request, as the listing, with
`fhir: "ITI-66"` (search) or `"List"` (read) and how many Lists matched and were
returned. docs/fhir.md, "SubmissionSet".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from server.db import core
from server.errors import NotFound
from server.fhir import codes, mapping, params, service, submit
from server.fhir.outcome import error_response
from server.models import Document, SubmissionSet, SubmissionSetEntry, table_of
from server.policy import Action
from server.services import dossiers, guard, listing
from server.services.context import Ctx, Principal
from server.services.facts import DocumentRow

_SET, _ENTRY = table_of(SubmissionSet), table_of(SubmissionSetEntry)
_SETS = (
    select(
        _SET.c.id,
        _SET.c.logical_id,
        _SET.c.unique_id,
        _SET.c.source_id,
        _SET.c.submitted_at,
        _ENTRY.c.document_id,
    )
    .select_from(_SET.join(_ENTRY, _ENTRY.c.submission_set_id == _SET.c.id))
    .where(_SET.c.dossier_id == bindparam("dossier_id"))
    .order_by(_SET.c.submitted_at.desc(), _SET.c.id.desc(), _ENTRY.c.position)
)
_DOSSIER_OF = select(SubmissionSet.dossier_id).where(
    SubmissionSet.logical_id == bindparam("logical_id")
)
_IDS = select(Document.id, Document.logical_id).where(
    Document.logical_id.in_(bindparam("ids", expanding=True))
)


def store(
    ctx: Ctx,
    who: Principal,
    dossier_id: int,
    logical_ids: list[str],
    *,
    unique_id: str | None,
    source_id: str | None,
) -> SubmissionSet:
    """Keeps the set of an ITI-65 Bundle whose documents were just deposited (in the
    request's transaction: a refused Bundle keeps nothing)."""
    ctx.session.flush()
    found = dict((lid, row_id) for row_id, lid in ctx.session.execute(_IDS, {"ids": logical_ids}))
    kept = SubmissionSet(
        dossier_id=dossier_id,
        logical_id=str(uuid.uuid4()),
        unique_id=unique_id,
        source_id=source_id,
        submitted_at=ctx.now,
        submitted_by=who.ref,
    )
    ctx.session.add(kept)
    ctx.session.flush()
    for position, logical_id in enumerate(logical_ids):
        ctx.session.add(
            SubmissionSetEntry(
                submission_set_id=kept.id, document_id=found[logical_id], position=position
            )
        )
    return kept


@dataclass
class _Kept:
    logical_id: str
    unique_id: str | None
    source_id: str | None
    submitted_at: Any
    rows: list[DocumentRow]  # its documents the caller may read, in the Bundle's order


# --- the search parameters ----------------------------------------------------------


def _code(search: params.Search, name: str, modifier: str, value: str, base: str) -> None:
    if modifier:
        raise params.bad(name, f"Modificateur non pris en charge : {name}:{modifier}")
    wanted = params.tokens(name, value)
    # Only submission sets are kept: a code matches them or nothing.
    ok = params.token_matches(wanted, [(submit.MHD_LIST_TYPES, submit.SUBMISSION_SET)])
    params.add(search, name, modifier, value, lambda row: ok)


def _status(search: params.Search, name: str, modifier: str, value: str, base: str) -> None:
    if modifier:
        raise params.bad(name, f"Modificateur non pris en charge : {name}:{modifier}")
    wanted = set()
    for has_system, _, code in params.tokens(name, value):
        if has_system or code not in ("current", "retired", "entered-in-error"):
            raise params.bad(name, "« status » : current, retired ou entered-in-error.")
        wanted.add(code)
    ok = "current" in wanted  # every kept set is current
    params.add(search, name, modifier, value, lambda row: ok)


HANDLERS = {**params.COMMON, "code": _code, "status": _status}
SEARCH_PARAMS: list[tuple[str, str, str]] = [
    ("patient", "reference", "Patient/<dossier id>; one patient per search"),
    ("patient.identifier", "token", "INS, as for DocumentReference"),
    ("code", "token", f"{submit.MHD_LIST_TYPES}|{submit.SUBMISSION_SET} (the only kind kept)"),
    ("status", "token", "current (every kept set)"),
    ("_count", "number", f"page size, at most {params.MAX_COUNT}"),
    ("_offset", "number", "where the page starts"),
]


def parse(pairs: list[tuple[str, str]], *, strict: bool, base: str) -> params.Search:
    return params.parse(pairs, strict=strict, base=base, handlers=HANDLERS)


# --- reading ------------------------------------------------------------------------


def search(ctx: Ctx, who: Principal, query: params.Search, base: str) -> dict[str, Any]:
    dossier_id = query.dossier_id
    found = None
    if query.ins is not None:
        matricule, oid = query.ins
        found = dossiers.find_subject(ctx, who, matricule, oid)
        dossier_id = found.dossier.id
    if dossier_id is None:  # params.parse requires a patient
        raise RuntimeError("search without a patient")
    detail = {"all": True, "fhir": "ITI-66", "filters": sorted(query.used)}
    decided = listing.decide(ctx, who, dossier_id, detail, found)
    kept = [k for k in _visible(ctx, who, decided.granted, dossier_id) if query.matches(k.rows[0])]
    page = kept[query.offset : query.offset + query.count]
    listing.trace(ctx, who, decided, matched=len(kept), returned=len(page))
    patient_id = decided.subject.patient.id
    entries = [
        {
            "fullUrl": f"{base}/List/{k.logical_id}",
            "resource": _resource(ctx, k, dossier_id, patient_id),
            "search": {"mode": "match"},
        }
        for k in page
    ]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(kept),
        "link": service.paging_links(base, "List", dossier_id, query, len(kept)),
        "entry": entries,
    }


def read(ctx: Ctx, who: Principal, logical_id: str, base: str) -> Any:
    """One List, decided as the listing of its dossier. A List of which the caller may
    read no document answers 404 (traced as a listing that found nothing)."""
    detail = {"all": True, "fhir": "List"}
    dossier_id = ctx.session.scalar(_DOSSIER_OF, {"logical_id": logical_id})
    if dossier_id is None:
        missing = NotFound("list_not_found", "Lot de soumission introuvable.")
        guard.refuse_missing(ctx, who, Action.DOCUMENT_LIST, None, None, missing, detail=detail)
    decided = listing.decide(ctx, who, int(dossier_id), detail)
    one = [k for k in _visible(ctx, who, decided.granted, dossier_id) if k.logical_id == logical_id]
    listing.trace(ctx, who, decided, matched=len(one), returned=len(one))
    if not one:
        return error_response(404, "list_not_found", "Lot de soumission introuvable.")
    return _resource(ctx, one[0], dossier_id, decided.subject.patient.id)


def _visible(ctx: Ctx, who: Principal, granted: guard.Granted, dossier_id: int) -> list[_Kept]:
    """The dossier's sets, newest first, each with the documents the caller may read;
    sets with none are left out."""
    conn = core(ctx.session)
    rows = conn.execute(service.ROWS, {"dossier_id": dossier_id})
    shown = {row.row_id: row for row in listing.shown(ctx, who, granted, rows)}
    out: dict[int, _Kept] = {}
    for found in conn.execute(_SETS, {"dossier_id": dossier_id}):
        row = shown.get(found.document_id)
        if row is None:
            continue
        kept = out.get(found.id)
        if kept is None:
            kept = out[found.id] = _Kept(
                found.logical_id, found.unique_id, found.source_id, found.submitted_at, []
            )
        kept.rows.append(row)
    return list(out.values())


def _resource(ctx: Ctx, kept: _Kept, dossier_id: int, patient_id: int) -> dict[str, Any]:
    """The SubmissionSet as MHD's List: its source is the author of its documents (the
    recorded author of an ITI-65 deposit is always the caller who submitted it)."""
    contained, author = mapping.author_of(kept.rows[0], dossier_id, patient_id, ctx.matrix)
    identifiers = [
        {
            "use": "official",
            "type": {"text": "entryUUID"},
            "system": codes.URI,
            "value": f"urn:uuid:{kept.logical_id}",
        }
    ]
    if kept.unique_id is not None:
        identifiers.append({"use": "usual", "type": {"text": "uniqueId"}, "value": kept.unique_id})
    resource: dict[str, Any] = {"resourceType": "List", "id": kept.logical_id}
    if contained:
        resource["contained"] = contained
    if kept.source_id is not None:
        resource["extension"] = [
            {"url": submit.SOURCE_ID, "valueIdentifier": {"value": kept.source_id}}
        ]
    resource |= {
        "identifier": identifiers,
        "status": "current",
        "mode": "working",
        "code": {"coding": [{"system": submit.MHD_LIST_TYPES, "code": submit.SUBMISSION_SET}]},
        "subject": {"reference": f"Patient/{dossier_id}"},
        "date": mapping.instant(kept.submitted_at),
    }
    if author is not None:
        resource["source"] = author
    resource["entry"] = [
        {"item": {"reference": f"DocumentReference/{row.logical_id}"}} for row in kept.rows
    ]
    return resource
