"""Listing, reading, depositing, replacing, archiving, deleting and flagging documents."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from server.alerts import deposits as deposit_notices
from server.content.errors import ContentRefused
from server.content.limits import Limits
from server.content.reading import Reading
from server.content.sniff import DECLARED
from server.content.understand import patient_may_deposit, understand
from server.db import core
from server.errors import Conflict, InvalidInput
from server.labels import CATEGORIES
from server.models import Document, DocumentContent, DocumentEntry, Dossier, Patient
from server.policy import Action, ActorKind, Category, decide
from server.search import index as search_index
from server.services import document_text, guard, listing, lookup, receipts, views
from server.services import secret as secret_connection
from server.services.context import Ctx, Principal
from server.services.facts import document_facts
from server.validation import (
    content,
    flag,
    instant,
    loinc,
    period,
    reject_unknown,
    require_object,
    text,
)

# What the real service accepts from patients, plus CDA (XML) and FHIR (JSON) documents
# for structured reports: each with the format its bytes must have (server/content/).
MIME_TYPES = frozenset(DECLARED)
DEPOSIT_FIELDS = {
    "unique_id",
    "category",
    "type_code",
    "title",
    "mime_type",
    "content_base64",
    "created_at",
    "service_start",
    "service_end",
    "masked_ps",
    "invisible_patient",
    "invisible_rep",
}
# A replacement may say why the old version was replaced (shown in the version history).
REPLACE_FIELDS = {*DEPOSIT_FIELDS, "replace_reason"}
REPLACE_REASON_MAX = 500
FLAG_ACTIONS = {
    "masked_ps": Action.DOCUMENT_MASK,
    "invisible_patient": Action.DOCUMENT_PATIENT_VISIBILITY,
    "invisible_rep": Action.DOCUMENT_REP_VISIBILITY,
}


def list_documents(
    ctx: Ctx,
    who: Principal,
    dossier_id: int,
    *,
    everything: bool = False,
    category: str | None = None,
) -> dict[str, Any]:
    if category is not None and category not in CATEGORIES:
        raise InvalidInput("category_invalid", "Catégorie inconnue.")
    subject = lookup.subject(ctx, who, Action.DOCUMENT_LIST, dossier_id)
    row = subject.dossier
    granted = guard.authorize(
        ctx,
        who,
        Action.DOCUMENT_LIST,
        row,
        subject.patient,
        detail={"all": everything},
        loaded=subject.loaded,
        head=subject.head,
    )
    params: dict[str, Any] = {"dossier_id": row.id, "category": category}
    if not everything:
        # The first fetch shows two years of current documents; `all` lifts both limits.
        days = round(365.25 * ctx.settings["DEFAULT_LIST_YEARS"])
        params["since"] = ctx.now - timedelta(days=days)
    statement = listing.LISTINGS[everything, category is not None]
    # Only the list itself is traced (`listing.shown`: exactly what reading by id allows).
    rows = core(ctx.session).execute(statement, params)
    visible = [listing.document(doc) for doc in listing.shown(ctx, who, granted, rows)]
    out = {"dossier_id": row.id, "all": everything, "documents": visible}
    return views.with_banner(out, granted)


@dataclass(frozen=True, slots=True)
class Readable:
    """A document the caller was allowed to read (decided and traced), with its dossier."""

    dossier: Dossier
    patient: Patient
    document: Document
    granted: guard.Granted


def readable(ctx: Ctx, who: Principal, dossier_id: int, logical_id: str, part: str) -> Readable:
    """The one read decision of every door (JSON API, FHIR): `part` is what is read
    (metadata, content, structure), as the trace says."""
    read, detail = Action.DOCUMENT_READ, {"part": part}
    row, patient = lookup.dossier(ctx, who, read, dossier_id)
    doc = lookup.document(ctx, who, read, row, patient, logical_id, detail)
    granted = guard.authorize(ctx, who, read, row, patient, doc, detail=detail)
    return Readable(row, patient, doc, granted)


def metadata(ctx: Ctx, who: Principal, dossier_id: int, logical_id: str) -> dict[str, Any]:
    found = readable(ctx, who, dossier_id, logical_id, "metadata")
    doc, granted = found.document, found.granted
    out = views.document(ctx, doc)
    # Whether this caller may replace this version, asked of the same `decide` on the
    # same facts (not traced: nothing is done), so that the kiosk offers the replacement
    # only to those the rules let do it (issue 11) and keeps no copy of the rules.
    out["may_replace"] = decide(
        who.actor,
        Action.DOCUMENT_REPLACE,
        granted.facts,
        document_facts(doc),
        granted.context,
        ctx.matrix,
    ).allowed
    return views.with_banner(out, granted)


@dataclass(frozen=True, slots=True)
class Content:
    body: bytes
    mime_type: str

    @property
    def digest(self) -> str:
        """The `Digest` header's value (RFC 3230: base64 of the SHA-256 of the bytes),
        computed from the bytes served: nothing derived from a content is kept in clear."""
        return "sha-256=" + base64.b64encode(hashlib.sha256(self.body).digest()).decode()


def read_content(ctx: Ctx, who: Principal, dossier_id: int, logical_id: str) -> Content:
    found = readable(ctx, who, dossier_id, logical_id, "content")
    row, doc = found.dossier, found.document
    stored = ctx.session.get(DocumentContent, doc.id)
    if stored is None or row.wrapped_key is None:
        raise Conflict("content_unavailable", "Le contenu de ce document n'est plus disponible.")
    body = ctx.keyring.decrypt(row.wrapped_key, stored.nonce, stored.ciphertext, doc.logical_id)
    return Content(body, doc.mime_type)


def structure(ctx: Ctx, who: Principal, dossier_id: int, logical_id: str) -> dict[str, Any]:
    """The text status, sections and entries read from the document: a read of it."""
    found = readable(ctx, who, dossier_id, logical_id, "structure")
    row, doc, granted = found.dossier, found.document, found.granted
    if row.wrapped_key is None:
        raise Conflict("content_unavailable", "Le contenu de ce document n'est plus disponible.")
    return views.with_banner(document_text.structure_view(ctx, row, doc), granted)


def deposit(ctx: Ctx, who: Principal, dossier_id: int, body: Any) -> dict[str, Any]:
    data = _deposit_fields(ctx, who, body, DEPOSIT_FIELDS | {"secret_connection"})
    # Said on the deposit, or the session's own secret connection with this minor
    # (services/secret.py): either way, only a deposit invisible to the representatives.
    secret = _secret_connection(who, body) or secret_connection.is_on(ctx, who, dossier_id)
    row, patient = lookup.dossier(ctx, who, Action.DOCUMENT_DEPOSIT, dossier_id)
    doc = _new_document(ctx, who, row, data)
    detail = {"secret_connection": True} if secret else None
    guard.authorize(
        ctx,
        who,
        Action.DOCUMENT_DEPOSIT,
        row,
        patient,
        doc,
        detail=detail,
        secret_connection=secret,
    )
    # After the decision: whether a unique id is taken is no business of a refused caller,
    # and a refused caller's file is not worth reading.
    _check_unique_id(ctx, doc)
    reading = _understand(ctx, data)
    _store(ctx, who, row, doc, reading)
    # The insurer's and the patient's deposits are told once a month (docs/alerts.md).
    deposit_notices.record(ctx, patient, who)
    return views.document(ctx, doc)


def replace(
    ctx: Ctx, who: Principal, dossier_id: int, logical_id: str, body: Any
) -> dict[str, Any]:
    data = _deposit_fields(ctx, who, body, REPLACE_FIELDS)
    reason = text(
        require_object(body), "replace_reason", max_len=REPLACE_REASON_MAX, required=False
    )
    row, patient = lookup.dossier(ctx, who, Action.DOCUMENT_REPLACE, dossier_id)
    old = lookup.document(ctx, who, Action.DOCUMENT_REPLACE, row, patient, logical_id)
    secret = secret_connection.is_on(ctx, who, dossier_id)
    detail = {"secret_connection": True} if secret else None
    guard.authorize(ctx, who, Action.DOCUMENT_REPLACE, row, patient, old, detail=detail)
    # After the decision: the old version's category is not a refused caller's to learn.
    if data["category"] != old.category:
        raise InvalidInput(
            "category_mismatch", "Une nouvelle version garde la catégorie d'origine."
        )
    doc = _new_document(ctx, who, row, data)
    # In secret connection a new version is deposited like any document of the session:
    # invisible to the representatives, or not at all (services/secret.py).
    if secret and not doc.invisible_rep:
        raise InvalidInput(
            "secret_version_visible",
            "En connexion secrète, la nouvelle version doit rester invisible des "
            "représentants légaux.",
        )
    _check_unique_id(ctx, doc)
    reading = _understand(ctx, data)
    doc.version = old.version + 1
    doc.replaces_id = old.id
    _store(ctx, who, row, doc, reading)
    old.replaced_by_id = doc.id
    if reason and row.wrapped_key is not None:  # _store refused a destroyed key already
        old.replace_reason = seal_replace_reason(ctx, row.wrapped_key, old, reason)
    _new_entry(ctx, who, old, status="superseded")
    return views.document(ctx, doc)


def archive(ctx: Ctx, who: Principal, dossier_id: int, logical_id: str) -> dict[str, Any]:
    return _set_status(ctx, who, dossier_id, logical_id, Action.DOCUMENT_ARCHIVE, "archived")


def unarchive(ctx: Ctx, who: Principal, dossier_id: int, logical_id: str) -> dict[str, Any]:
    """Takes a document out of the archive, back to the state it was archived from:
    superseded when a later version replaced it, else current. Archiving is put away,
    not gone, so undoing it is the archive's own right (DOCUMENT_ARCHIVE: the author and
    the médecin traitant, the patient), decided and traced as that action with
    `op: unarchive` (the history words it "a désarchivé un document")."""
    action, detail = Action.DOCUMENT_ARCHIVE, {"op": "unarchive"}
    row, patient = lookup.dossier(ctx, who, action, dossier_id)
    doc = lookup.document(ctx, who, action, row, patient, logical_id, detail)
    guard.authorize(ctx, who, action, row, patient, doc, detail=detail)
    # After the decision: whether it is archived is not a refused caller's to learn.
    if doc.status != "archived":
        raise Conflict("document_not_archived", "Ce document n'est pas archivé.")
    _new_entry(ctx, who, doc, status="superseded" if doc.replaced_by_id else "current")
    return views.document(ctx, doc)


def delete(ctx: Ctx, who: Principal, dossier_id: int, logical_id: str) -> dict[str, Any]:
    # Logical deletion: the row and its content stay, for the trace and legal retention.
    out = _set_status(ctx, who, dossier_id, logical_id, Action.DOCUMENT_DELETE, "deleted")
    # No search shows a deleted document: its postings would only be leakage.
    search_index.forget_logical(ctx, dossier_id, logical_id)
    return out


def set_visibility(
    ctx: Ctx, who: Principal, dossier_id: int, logical_id: str, body: Any
) -> dict[str, Any]:
    data = require_object(body)
    reject_unknown(data, {*FLAG_ACTIONS, "confirm"})
    changes = {name: flag(data, name, False) for name in FLAG_ACTIONS if name in data}
    if not changes:
        raise InvalidInput("no_change", "Aucun changement de visibilité demandé.")
    # Masking and unmasking are confirmed acts, never a side effect of a stray tap.
    if data.get("confirm") is not True:
        raise InvalidInput(
            "confirmation_required", "Le changement de visibilité doit être confirmé."
        )
    first = FLAG_ACTIONS[next(iter(changes))]
    row, patient = lookup.dossier(ctx, who, first, dossier_id)
    doc = lookup.document(ctx, who, first, row, patient, logical_id)
    result = {name: changes.get(name, getattr(doc, name)) for name in FLAG_ACTIONS}
    # Every flag asked for is decided, changed or not: a request that changes nothing
    # must not hand the document's metadata to a caller who may not touch it.
    for name, value in changes.items():
        guard.authorize(
            ctx, who, FLAG_ACTIONS[name], row, patient, doc, detail={"flag": name, "value": value}
        )
    # After the decisions: the document's other flags are not a refused caller's to learn.
    _check_flags(result)
    _new_entry(ctx, who, doc, **result)
    # The document by its logical id and the flags alone: its title or content is no
    # part of the change and stays out of the receipt.
    receipts.issue(
        ctx,
        who,
        first,
        row,
        patient,
        {"visibility": {"document": doc.logical_id, "flags": changes, "now": result}},
    )
    return views.document(ctx, doc)


def _set_status(
    ctx: Ctx, who: Principal, dossier_id: int, logical_id: str, action: Action, status: str
) -> dict[str, Any]:
    row, patient = lookup.dossier(ctx, who, action, dossier_id)
    doc = lookup.document(ctx, who, action, row, patient, logical_id)
    guard.authorize(ctx, who, action, row, patient, doc)
    _new_entry(ctx, who, doc, status=status)
    return views.document(ctx, doc)


def seal_replace_reason(ctx: Ctx, wrapped_key: bytes, old: Document, reason: str) -> bytes:
    nonce, sealed = ctx.keyring.encrypt(
        wrapped_key, reason.encode(), f"{old.logical_id}:replace_reason"
    )
    return nonce + sealed


def seal_sha1(ctx: Ctx, wrapped_key: bytes, doc: Document, body: bytes) -> bytes:
    """The SHA-1 IHE MHD publishes (attachment.hash), sealed like the content it derives
    from (Document.sha1): the FHIR door opens it instead of decrypting the content."""
    digest = hashlib.sha1(body, usedforsecurity=False).digest()  # an identifier PDSm names
    nonce, sealed = ctx.keyring.encrypt(wrapped_key, digest, f"{doc.logical_id}:sha1")
    return nonce + sealed


def _deposit_fields(
    ctx: Ctx, who: Principal, body: Any, allowed: set[str] = DEPOSIT_FIELDS
) -> dict[str, Any]:
    data = require_object(body)
    reject_unknown(data, allowed)
    category = text(data, "category", max_len=32)
    if category not in CATEGORIES:
        raise InvalidInput("category_invalid", "Catégorie de document inconnue.")
    mime = text(data, "mime_type", max_len=100)
    if mime not in MIME_TYPES:
        raise InvalidInput("mime_type_invalid", "Format de document non accepté.")
    if who.actor.kind is ActorKind.PATIENT and not patient_may_deposit(mime):
        raise ContentRefused("mime_type_not_allowed")
    flags = {name: flag(data, name, False) for name in FLAG_ACTIONS}
    _check_flags(flags)
    if who.actor.kind is not ActorKind.PROFESSIONAL and (
        flags["invisible_patient"] or flags["invisible_rep"]
    ):
        raise InvalidInput(
            "flag_not_allowed", "Seul un professionnel peut rendre un document invisible."
        )
    limit = ctx.settings[
        "MAX_PROFESSIONAL_UPLOAD_BYTES"
        if who.actor.kind is ActorKind.PROFESSIONAL
        else "MAX_PATIENT_UPLOAD_BYTES"
    ]
    return {
        "unique_id": text(data, "unique_id", max_len=128, required=False),
        "category": category,
        "type_code": loinc(data),
        "title": text(data, "title", max_len=300),
        "mime_type": mime,
        "created_at": instant(data, "created_at"),
        **period(data, "service_start", "service_end"),
        "flags": flags,
        "content": content(data, limit),
    }


def _secret_connection(who: Principal, body: Any) -> bool:
    """A professional in "connexion secrète" with a minor (CSP art. L1111-5): the policy
    then refuses any deposit the representatives could see (SECRET_DEPOSIT_VISIBLE)."""
    secret = flag(require_object(body), "secret_connection", False)
    if secret and who.actor.kind is not ActorKind.PROFESSIONAL:
        raise InvalidInput(
            "flag_not_allowed", "Seul un professionnel peut déposer en connexion secrète."
        )
    return secret


def _check_flags(flags: dict[str, bool]) -> None:
    # A document hidden from the patient but masked from professionals would be seen by
    # nobody but its author: domain.md forbids the combination.
    if flags["masked_ps"] and flags["invisible_patient"]:
        raise InvalidInput(
            "flags_incompatible",
            "Un document ne peut être à la fois masqué aux "
            "professionnels et invisible pour le patient.",
        )


def _check_unique_id(ctx: Ctx, doc: Document) -> None:
    taken = select(Document.id).where(Document.unique_id == doc.unique_id)
    if ctx.session.scalar(taken) is not None:
        raise Conflict("unique_id_exists", "Un document porte déjà cet identifiant unique.")


def _new_document(ctx: Ctx, who: Principal, row: Dossier, data: dict[str, Any]) -> Document:
    unique_id = data["unique_id"] or f"urn:uuid:{uuid.uuid4()}"
    kind = who.actor.kind
    return Document(
        dossier_id=row.id,
        unique_id=unique_id,
        logical_id=str(uuid.uuid4()),
        entry_uuid=str(uuid.uuid4()),
        category=Category(data["category"]).value,
        type_code=data["type_code"],
        title=data["title"],
        author_professional_id=who.actor.id if kind is ActorKind.PROFESSIONAL else None,
        author_patient_id=who.actor.id if kind is ActorKind.PATIENT else None,
        author_service_id=who.actor.id if kind is ActorKind.INSURER else None,
        author_institution=who.actor.structure,
        created_at=data["created_at"] or ctx.now,
        service_start=data["service_start"],
        service_end=data["service_end"],
        submitted_at=ctx.now,
        mime_type=data["mime_type"],
        status="current",
        version=1,
        **data["flags"],
    )


def _understand(ctx: Ctx, data: dict[str, Any]) -> Reading:
    """The content checked at the door and read (server/content/), before any write."""
    return understand(data["content"], data["mime_type"], Limits.from_settings(ctx.settings))


def _store(ctx: Ctx, who: Principal, row: Dossier, doc: Document, reading: Reading) -> None:
    if row.wrapped_key is None:
        raise Conflict("dossier_key_destroyed", "Ce dossier n'accepte plus de documents.")
    # What is stored (an image without its metadata) is what size and digest describe.
    doc.size = len(reading.body)
    # Keyed, not a plain SHA-256 in clear: see Keyring.fingerprint.
    doc.sha256 = ctx.keyring.fingerprint(row.wrapped_key, reading.body)
    ctx.session.add(doc)
    ctx.session.flush()
    nonce, sealed = ctx.keyring.encrypt(row.wrapped_key, reading.body, doc.logical_id)
    ctx.session.add(DocumentContent(document_id=doc.id, nonce=nonce, ciphertext=sealed))
    doc.sha1 = seal_sha1(ctx, row.wrapped_key, doc, reading.body)
    ctx.session.add(_entry(ctx, who, doc))
    # The new version is born queued for the background indexer (Document.search_queued):
    # searchable at once, its postings made by `dmp worker` (server/search/index.py).
    document_text.store_understood(ctx, row, doc, reading)


def _new_entry(ctx: Ctx, who: Principal, doc: Document, **changes: Any) -> None:
    """A metadata change is a new entryUUID; the previous versions stay queryable."""
    for name, value in changes.items():
        setattr(doc, name, value)
    doc.entry_uuid = str(uuid.uuid4())
    ctx.session.add(_entry(ctx, who, doc, at=ctx.now))


def _entry(ctx: Ctx, who: Principal, doc: Document, at: Any = None) -> DocumentEntry:
    previous = ctx.session.scalar(
        select(func.count()).select_from(DocumentEntry).where(DocumentEntry.document_id == doc.id)
    )
    return DocumentEntry(
        entry_uuid=doc.entry_uuid,
        document_id=doc.id,
        version=(previous or 0) + 1,
        status=doc.status,
        masked_ps=doc.masked_ps,
        invisible_patient=doc.invisible_patient,
        invisible_rep=doc.invisible_rep,
        created_at=at or doc.submitted_at,
        created_by=who.ref,
    )
