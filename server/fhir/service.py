"""ITI-67 search, DocumentReference read and ITI-68 retrieve, on the JSON API's services.

A search is the listing of GET /api/v1/dossiers/{id}/documents?all=true: the same
decision (DOCUMENT_LIST, `guard.authorize`), the same rows and the same per-document
answer (`listing.shown`), then the FHIR filters, which can only narrow it; one trace
entry per search says which filters were used and how many documents matched and were
returned, never their values. A search by INS first finds the dossier as POST
/dossiers/lookup does (DOSSIER_LOOKUP, decided and traced). A read is
`documents.readable`, the JSON API's read, with the same trace.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import bindparam, select

from server.crypto import NONCE_BYTES
from server.db import core
from server.fhir import mapping, outcome
from server.fhir.params import Search
from server.models import Document, DocumentContent, Dossier, table_of
from server.policy import Action
from server.search import query as text_search
from server.services import documents, dossiers, guard, listing, lookup
from server.services.context import Ctx, Principal
from server.services.facts import DocumentRow
from server.services.views import EMERGENCY_BANNER

_DOC, _CONTENT = table_of(Document), table_of(DocumentContent)
# The listing's own statement with every status but deleted (`all=true`).
_ROWS = listing.LISTINGS[True, False].add_columns(
    _DOC.c.id.label("row_id"), _DOC.c.sha1.label("sha1_sealed")
)
ROWS = _ROWS  # for the other FHIR resources drawn from the listing (server/fhir/lists.py)
_ONE = _ROWS.where(_DOC.c.id == bindparam("row_id"))
_CONTENTS = select(_CONTENT.c.document_id, _CONTENT.c.nonce, _CONTENT.c.ciphertext).where(
    _CONTENT.c.document_id.in_(bindparam("ids", expanding=True))
)
_KEY = select(Dossier.wrapped_key).where(Dossier.id == bindparam("dossier_id"))
_DOSSIER_OF = select(Document.dossier_id).where(Document.logical_id == bindparam("logical_id"))


def search(ctx: Ctx, who: Principal, query: Search, base: str) -> dict[str, Any]:
    dossier_id = query.dossier_id
    found = None
    if query.ins is not None:
        # Two decisions, two entries (the lookup, then the listing), on one load of the
        # dossier and one lock of its chain's head, the second entry after the first.
        matricule, oid = query.ins
        found = dossiers.find_subject(ctx, who, matricule, oid)
        dossier_id = found.dossier.id
    if dossier_id is None:  # params.parse requires a patient
        raise RuntimeError("search without a patient")
    detail: dict[str, Any] = {"all": True, "fhir": "ITI-67", "filters": sorted(query.used)}
    if query.terms:
        # A search by words, traced as the JSON search is (`search`), never its words.
        detail["search"] = True
    decided = listing.decide(ctx, who, dossier_id, detail, found)
    subject, granted = decided.subject, decided.granted
    rows = core(ctx.session).execute(_ROWS, {"dossier_id": dossier_id})
    matched = [row for row in listing.shown(ctx, who, granted, rows) if query.matches(row)]
    page = matched[query.offset : query.offset + query.count]
    if query.terms:
        matched, page = _by_words(ctx, who, granted, dossier_id, query, matched)
    listing.trace(ctx, who, decided, matched=len(matched), returned=len(page))
    hashes = _sha1s(ctx, dossier_id, page)
    authors: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{base}/DocumentReference/{row.logical_id}",
            "resource": mapping.document_reference(
                row,
                base=base,
                dossier_id=dossier_id,
                patient_id=subject.patient.id,
                sha1=hashes.get(row.row_id),
                matrix=ctx.matrix,
                authors=authors,
            ),
            "search": {"mode": "match"},
        }
        for row in page
    ]
    if granted.emergency is not None:
        # The emergency banner every JSON answer carries (views.with_banner), as FHIR
        # carries notes on a search: an OperationOutcome entry.
        entries.append(_banner(granted.emergency.mode.value))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matched),
        "link": paging_links(base, "DocumentReference", dossier_id, query, len(matched)),
        "entry": entries,
    }


def _by_words(
    ctx: Ctx,
    who: Principal,
    granted: guard.Granted,
    dossier_id: int,
    query: Search,
    matched: list[DocumentRow],
) -> tuple[list[DocumentRow], list[DocumentRow]]:
    """`_content`: of the rows the listing shows and the other filters keep, those the
    JSON search finds by these words (`text_search.find`: the same index, confirmation
    and `listing.shown`, on the same decision), and the page of them. A sure match that
    the page's confirmation drops (a token collision, docs/documents.md) leaves the page
    and the total, as in the JSON search."""
    request = text_search.Request(list(query.terms.values()))
    words = text_search.find(ctx, who, granted, dossier_id, request)
    ids = {row.row_id for row in words.rows}
    matched = [row for row in matched if row.row_id in ids]
    while True:
        page = matched[query.offset : query.offset + query.count]
        kept = words.confirm(page)
        if len(kept) == len(page):
            return matched, page
        dropped = {row.row_id for row in page} - {row.row_id for row in kept}
        matched = [row for row in matched if row.row_id not in dropped]


def read(ctx: Ctx, who: Principal, logical_id: str, base: str) -> dict[str, Any]:
    dossier_id = _dossier_of(ctx, who, logical_id, "metadata")
    found = documents.readable(ctx, who, dossier_id, logical_id, "metadata")
    return resource(ctx, dossier_id, found.patient.id, found.document.id, base)


def resource(ctx: Ctx, dossier_id: int, patient_id: int, row_id: int, base: str) -> dict[str, Any]:
    """The DocumentReference of a stored document, as it is now. Decides nothing: the
    caller decided (and traced) that it may be shown."""
    ctx.session.flush()  # the changes of this request, if any, are what is shown
    row = core(ctx.session).execute(_ONE, {"dossier_id": dossier_id, "row_id": row_id})
    listed = row.first()
    if listed is None:  # deleted: the policy refused it already; kept for the type checker
        raise lookup.no_document()
    return mapping.document_reference(
        listed,
        base=base,
        dossier_id=dossier_id,
        patient_id=patient_id,
        sha1=_sha1s(ctx, dossier_id, [listed]).get(listed.row_id),
        matrix=ctx.matrix,
    )


def retrieve(ctx: Ctx, who: Principal, logical_id: str) -> documents.Content:
    """ITI-68: the stored bytes, read exactly as GET .../documents/{id}/content reads them."""
    dossier_id = _dossier_of(ctx, who, logical_id, "content")
    return documents.read_content(ctx, who, dossier_id, logical_id)


def _dossier_of(ctx: Ctx, who: Principal, logical_id: str, part: str) -> int:
    return dossier_of(ctx, who, logical_id, Action.DOCUMENT_READ, {"part": part})


def dossier_of(
    ctx: Ctx, who: Principal, logical_id: str, action: Action, detail: dict[str, Any] | None
) -> int:
    """The dossier holding the document a FHIR id names. An id that names no document is
    decided and traced like a request on no dossier (`guard.refuse_missing`): the caller
    gets the answer the policy gives there, as for any unknown dossier."""
    dossier_id = ctx.session.scalar(_DOSSIER_OF, {"logical_id": logical_id})
    if dossier_id is None:
        guard.refuse_missing(ctx, who, action, None, None, lookup.no_document(), detail=detail)
    return int(dossier_id)


def paging_links(
    base: str, kind: str, dossier_id: int, query: Search, total: int
) -> list[dict[str, str]]:
    """A searchset's self, next and previous links (DocumentReference, List). They name
    the dossier's Patient, never the INS a search may have used: an INS in a URL ends up
    in proxies' and servers' logs."""

    def url(offset: int) -> str:
        params = [
            ("patient", f"Patient/{dossier_id}"),
            *query.link_params,
            ("_count", str(query.count)),
            ("_offset", str(offset)),
        ]
        return f"{base}/{kind}?{urlencode(params)}"

    links = [{"relation": "self", "url": url(query.offset)}]
    if query.count and query.offset + query.count < total:
        links.append({"relation": "next", "url": url(query.offset + query.count)})
    if query.count and query.offset > 0:
        links.append({"relation": "previous", "url": url(max(0, query.offset - query.count))})
    return links


def _banner(mode: str) -> dict[str, Any]:
    note = outcome.operation_outcome(200, "emergency_access", EMERGENCY_BANNER)
    note["issue"][0] |= {"severity": "warning", "code": "informational"}
    note["issue"][0]["details"]["coding"][0]["code"] = f"emergency_access_{mode}"
    return {"resource": note, "search": {"mode": "outcome"}}


# SHA-1 of the contents of versions stored before their sealed SHA-1 (migration 0016), by
# version (row id and random logical id: a version's bytes never change, and no other
# database's row has both): PDSm wants the SHA-1, which only the bytes give, so such a
# content is decrypted once per process. Served only after the caller's own decision to
# show that row.
_SHA1_BY_ROW: dict[tuple[int, str], str] = {}
_SHA1_MAX = 10_000
_SHA1_LOCK = threading.Lock()


def _sha1s(ctx: Ctx, dossier_id: int, rows: list[DocumentRow]) -> dict[int, str]:
    """base64 SHA-1 of each row's content: opened from its sealed digest (kept at deposit
    since migration 0015), else computed from the content as before (older rows)."""
    if not rows:
        return {}
    conn = core(ctx.session)
    wrapped = conn.execute(_KEY, {"dossier_id": dossier_id}).scalar()
    if wrapped is None:  # a destroyed key: no bytes, no hash
        return {}
    opener = ctx.keyring.opener(wrapped)
    out: dict[int, str] = {}
    missing: dict[int, DocumentRow] = {}
    for row in rows:
        sealed = row.sha1_sealed
        if sealed is not None:
            aad = f"{row.logical_id}:sha1".encode()
            opened = opener.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
            out[row.row_id] = base64.b64encode(opened).decode()
            continue
        known = _SHA1_BY_ROW.get((row.row_id, row.logical_id))
        if known is None:
            missing[row.row_id] = row
        else:
            out[row.row_id] = known
    if not missing:
        return out
    for found in conn.execute(_CONTENTS, {"ids": sorted(missing)}):
        row = missing[found.document_id]
        body = opener.decrypt(found.nonce, found.ciphertext, row.logical_id.encode())
        sha1 = hashlib.sha1(body, usedforsecurity=False)  # an identifier PDSm names
        digest = base64.b64encode(sha1.digest()).decode()
        out[row.row_id] = digest
        with _SHA1_LOCK:
            if len(_SHA1_BY_ROW) >= _SHA1_MAX:
                _SHA1_BY_ROW.clear()
            _SHA1_BY_ROW[row.row_id, row.logical_id] = digest
    return out
