"""Answering a search: parse, look the tokens up, decide, decrypt, confirm, snip.

The order is the point: the caller is decided (as a listing, DOCUMENT_LIST) before any
index lookup; a candidate is shown only if `policy.listed` shows it in the listing, with
the same engine and facts as `services.documents.list_documents`; only such a document is
decrypted, to confirm that it truly holds every word (truncated tokens collide) and to
cut its snippet. The trace says that a search ran and how many documents it returned,
never what was searched for: the words are health information.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import Connection, Integer, Select, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from server.db import core
from server.errors import InvalidInput
from server.frenchtime import PARIS
from server.labels import CATEGORIES
from server.models import (
    Document,
    DocumentContent,
    DocumentText,
    Dossier,
    SearchPosting,
    table_of,
)
from server.search import fields, normalise, snippet, tokens
from server.services import guard, listing, views
from server.services.context import Ctx, Principal
from server.services.facts import DocumentRow

log = logging.getLogger("dmp.search")

Q_MAX = 200  # characters; also the route's declared maxLength
# Documents answered with their snippet; `count` still counts every match. A frequent
# word can match most of a 500-document dossier: confirming a match is cheap, cutting
# and marking its passage and shaping its metadata is what costs.
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_TERMS = 8
AUTHOR_MAX = 100
STATUSES = ("current", "superseded", "archived")
FINESS = re.compile(r"(?:[0-9]{9}|2[AB][0-9]{7})")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PARTS = re.compile(r'"([^"]*)"|([^"\s]+)')

_DOC, _POST = table_of(Document), table_of(SearchPosting)
_TEXT, _CONTENT = table_of(DocumentText), table_of(DocumentContent)


def _any(column: Any, postgresql: bool) -> Any:
    """`column` among the integers bound as "ids". PostgreSQL takes them as one array
    (`= ANY(%s)`): an expanding IN of hundreds of values is a new statement each time,
    which psycopg and SQLAlchemy spent longer preparing than PostgreSQL answering it."""
    if postgresql:
        return column == any_(bindparam("ids", type_=ARRAY(Integer)))
    return column.in_(bindparam("ids", expanding=True))


def _statements(postgresql: bool) -> dict[str, Select[Any]]:
    return {
        "lookup": select(_POST.c.token, _POST.c.document_id).where(
            _POST.c.dossier_id == bindparam("dossier_id"), _any(_POST.c.token, postgresql)
        ),
        # The listing's own statement (every status but deleted), narrowed to the
        # candidates.
        "rows": listing.LISTINGS[True, False]
        .add_columns(_DOC.c.id.label("row_id"))
        .where(_any(_DOC.c.id, postgresql)),
        "texts": select(_TEXT.c.document_id, _TEXT.c.nonce, _TEXT.c.ciphertext).where(
            _any(_TEXT.c.document_id, postgresql), _TEXT.c.status == "ready"
        ),
        "contents": select(_CONTENT.c.document_id, _CONTENT.c.nonce, _CONTENT.c.ciphertext).where(
            _any(_CONTENT.c.document_id, postgresql)
        ),
    }


_BY_DIALECT = {True: _statements(True), False: _statements(False)}


def _statement(conn: Connection, name: str) -> Select[Any]:
    return _BY_DIALECT[conn.dialect.name == "postgresql"][name]


# Documents the background indexer has not reached yet: candidates whatever their words.
_QUEUED = select(_DOC.c.id).where(
    _DOC.c.dossier_id == bindparam("dossier_id"), _DOC.c.search_queued.is_(True)
)
_KEY = select(Dossier.wrapped_key).where(Dossier.id == bindparam("dossier_id"))


@dataclass(frozen=True, slots=True)
class Term:
    word: str  # folded
    exact: bool  # quoted: this word only, neither stem nor prefix
    stem: str


@dataclass
class Request:
    terms: list[Term]
    category: str | None = None
    author: list[str] = field(default_factory=list)  # folded words
    institution: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    status: str | None = None
    limit: int = DEFAULT_LIMIT

    def filters(self) -> list[str]:
        """Which filters were used (their names, not their values), for the trace."""
        used = {
            "category": self.category,
            "author": self.author,
            "institution": self.institution,
            "from": self.since,
            "to": self.until,
            "status": self.status,
        }
        return sorted(name for name, value in used.items() if value)


def parse(args: Mapping[str, str]) -> Request:
    """The query string, refused (422, nothing read nor written) when unusable."""
    q = args.get("q", "")
    if len(q) > Q_MAX:
        raise InvalidInput("q_too_long", f"La recherche est limitée à {Q_MAX} caractères.")
    found: dict[tuple[str, bool], Term] = {}
    for quoted, plain in _PARTS.findall(q):
        for word in normalise.terms(normalise.words(quoted or plain)):
            exact = bool(quoted)
            found.setdefault((word, exact), Term(word, exact, normalise.stem(word)))
    if not found:
        raise InvalidInput(
            "q_empty",
            "Saisissez au moins un mot à rechercher (les mots courants comme « de » ou "
            "« la » ne comptent pas).",
        )
    if len(found) > MAX_TERMS:
        raise InvalidInput("q_too_many_words", f"Une recherche compte au plus {MAX_TERMS} mots.")
    request = Request(list(found.values()))
    category = args.get("category")
    if category is not None:
        if category not in CATEGORIES:
            raise InvalidInput("category_invalid", "Catégorie inconnue.")
        request.category = category
    author = args.get("author", "")
    if len(author) > AUTHOR_MAX:
        raise InvalidInput("author_invalid", "Le nom d'auteur est trop long.")
    request.author = normalise.words(author)
    institution = args.get("institution")
    if institution is not None:
        if not FINESS.fullmatch(institution):
            raise InvalidInput("institution_invalid", "Établissement : numéro FINESS attendu.")
        request.institution = institution
    since, until = _day(args, "from"), _day(args, "to")
    if since is not None and until is not None and since > until:
        raise InvalidInput("period_invalid", "La date de début suit la date de fin.")
    request.since = _midnight(since) if since else None
    request.until = _midnight(until + timedelta(days=1)) if until else None
    status = args.get("status")
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput("status_invalid", "Statut : current, superseded ou archived.")
        request.status = status
    limit = args.get("limit")
    if limit is not None:
        if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT):
            raise InvalidInput("limit_invalid", f"« limit » : un entier de 1 à {MAX_LIMIT}.")
        request.limit = int(limit)
    return request


def _day(args: Mapping[str, str], name: str) -> date | None:
    raw = args.get(name)
    if raw is None:
        return None
    try:
        if not DAY.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name}_invalid", f"« {name} » : une date AAAA-MM-JJ.") from None


def _midnight(day: date) -> datetime:
    # The days a French user means: from midnight in Paris.
    return datetime.combine(day, time(), tzinfo=PARIS)


# Snowball's French steps only strip or rewrite a word's last letters (at most three of
# the stem: "ic" -> "iqU", "aux" -> "al"...), so a word with stem S begins with all of S
# but its last STEM_TAIL letters: only such words need stemming when confirming.
STEM_TAIL = 3


def _starts(folded: str, letters: str, *, whole: bool = False) -> Iterator[int]:
    """Where words of `folded` begin with `letters` (are `letters`, when `whole`).
    str.find, then a look at the neighbours: several times faster than a regular
    expression with a look-behind, which is tried at every position of the text."""
    at = folded.find(letters)
    while at >= 0:
        end = at + len(letters)
        if (at == 0 or not folded[at - 1].isalnum()) and (
            not whole or end == len(folded) or not folded[end].isalnum()
        ):
            yield at
        at = folded.find(letters, at + 1)


class Matcher:
    """Whether folded text answers the terms: a word with the same stem, a word that
    begins with the term (three letters or more), or, for a quoted term, the very word.
    Only the words that could share a term's stem are stemmed (STEM_TAIL)."""

    def __init__(self, terms: list[Term]) -> None:
        self.terms = terms
        self._stems: dict[str, str] = {}
        self._hits: dict[str, bool] = {}

    def stem_of(self, word: str) -> str:
        found = self._stems.get(word)
        if found is None:
            found = self._stems[word] = normalise.stem(word)
        return found

    def find(self, index: int, folded: str) -> int | None:
        """Where the first word of `folded` answering term `index` begins, or None."""
        term = self.terms[index]
        whole = term.exact or len(term.word) < tokens.PREFIX_MIN
        best = next(_starts(folded, term.word, whole=whole), None)
        if term.exact:
            return best
        head = term.stem[: max(0, len(term.stem) - STEM_TAIL)]
        family: Iterator[re.Match[str] | None] = (
            (normalise.WORD.match(folded, at) for at in _starts(folded, head))
            if head
            else normalise.WORD.finditer(folded)
        )
        for word in family:
            if word is None:  # cannot be: a word begins there
                continue
            if best is not None and word.start() >= best:
                break
            found = word.group()
            if found not in normalise.STOP_WORDS and self.stem_of(found) == term.stem:
                return word.start()
        return best

    def first_word(self, folded: str) -> int | None:
        """The rank of the first word of `folded` answering any term, or None."""
        found = [p for i in range(len(self.terms)) if (p := self.find(i, folded)) is not None]
        if not found:
            return None
        return len(normalise.WORD.findall(folded, 0, min(found)))

    def hit(self, word: str) -> bool:
        """Whether one folded word answers a term (the snippet's highlighting). The
        same words come back in every passage: each is decided once per search."""
        known = self._hits.get(word)
        if known is None:
            known = self._hits[word] = self._hit(word)
        return known

    def _hit(self, word: str) -> bool:
        if word in normalise.STOP_WORDS:
            return False
        for term in self.terms:
            if term.exact:
                if word == term.word:
                    return True
            elif (len(term.word) >= tokens.PREFIX_MIN and word.startswith(term.word)) or (
                self.stem_of(word) == term.stem
            ):
                return True
        return False


def search(ctx: Ctx, who: Principal, dossier_id: int, args: Mapping[str, str]) -> dict[str, Any]:
    request = parse(args)
    decided = listing.decide(ctx, who, dossier_id, {"search": True, "filters": request.filters()})
    granted = decided.granted
    count, found = _matching(ctx, who, granted, dossier_id, request)
    listing.trace(ctx, who, decided, matched=count, returned=len(found))
    out = {"dossier_id": dossier_id, "count": count, "documents": found}
    return views.with_banner(out, granted)


@dataclass
class Found:
    """The listed documents that answer a search's words, in the listing's order. A
    `sure` one holds a sure token of every term and is counted without being decrypted;
    `confirm` reads a page's sure ones and drops those that do not hold the words after
    all (a 32-bit collision, about once in 10^4 searches: docs/documents.md)."""

    rows: list[DocumentRow]
    sure: set[int]
    texts: _Texts | None = None
    matcher: Matcher | None = None
    holds: Callable[[DocumentRow], bool] = field(default=lambda row: False)
    about: Callable[[DocumentRow], fields.Described] | None = None

    def confirm(self, page: list[DocumentRow]) -> list[DocumentRow]:
        if self.texts is not None:
            self.texts.load(page)
        return [row for row in page if row.row_id not in self.sure or self.holds(row)]


def find(
    ctx: Ctx, who: Principal, granted: guard.Granted, dossier_id: int, request: Request
) -> Found:
    """Every listed document (`listing.shown` on the decision `granted`) that answers the
    words and filters of `request`: the JSON search's matching, for every door that
    searches by words (this route, FHIR's `_content`). Decides and traces nothing."""
    conn = core(ctx.session)
    wrapped = conn.execute(_KEY, {"dossier_id": dossier_id}).scalar()
    if wrapped is None:
        return Found([], set())  # a purged dossier: its postings, if any, mean nothing
    keyed = tokens.for_dossier(ctx.keyring, wrapped)
    lookups = [keyed.lookup(t.word, exact=t.exact) for t in request.terms]
    every = sorted(set().union(*(sure | unsure for sure, unsure in lookups)))
    postings: dict[int, set[int]] = {}
    for token, document_id in conn.execute(
        _statement(conn, "lookup"), {"dossier_id": dossier_id, "ids": every}
    ):
        postings.setdefault(token, set()).add(document_id)
    per_term = []
    for term_sure, term_unsure in lookups:
        sure_docs = set().union(*(postings.get(t, set()) for t in term_sure))
        per_term.append(
            (sure_docs, sure_docs.union(*(postings.get(t, set()) for t in term_unsure)))
        )
    candidates = set.intersection(*(docs for _, docs in per_term))
    sure = set.intersection(*(sure_docs for sure_docs, _ in per_term))
    # A queued document's postings are missing or stale (server/search/index.py): it is
    # confirmed against its text like any unsure candidate, so it is found from its
    # deposit on.
    queued = set(conn.execute(_QUEUED, {"dossier_id": dossier_id}).scalars())
    candidates |= queued
    sure -= queued
    if not candidates:
        return Found([], set())
    rows = list(
        conn.execute(
            _filtered(conn, request), {"dossier_id": dossier_id, "ids": sorted(candidates)}
        )
    )
    listed_rows = _listed(ctx, who, granted, rows)
    described: dict[int, fields.Described] = {}

    def about(row: DocumentRow) -> fields.Described:
        found = described.get(row.row_id)
        if found is None:
            found = described[row.row_id] = _described(ctx, row)
        return found

    if request.author:
        listed_rows = [row for row in listed_rows if _by(about(row).author, request.author)]
    texts = _Texts(ctx, conn, wrapped)
    matcher = Matcher(request.terms)

    def holds(row: DocumentRow) -> bool:
        """The decrypted text or the metadata truly answers every term."""
        text = texts.of(row)
        # Most candidates hold a query word as typed: found in the text, or in the text in
        # lower case, at a word's start, it is confirmed without the full fold (accents,
        # stems), which costs more than the rest of the search. The quick look only
        # confirms (lower-casing and folding keep a word's start where it is); what it
        # does not find goes through the Matcher as before.
        missing = [i for i, term in enumerate(request.terms) if not _as_typed(term, text)]
        if missing:
            lowered = text.lower()
            missing = [i for i in missing if not _as_typed(request.terms[i], lowered)]
        if missing:
            # Folding decomposes anyway: no composition needed to confirm, only to cut.
            folded_text = normalise.fold(text)
            missing = [i for i in missing if matcher.find(i, folded_text) is None]
        if missing:
            folded_meta = normalise.fold(f"{about(row).title}\n{about(row).line()}")
            return all(matcher.find(i, folded_meta) is not None for i in missing)
        return True

    # A document holding a sure token of every term matches (tokens.lookup): it is
    # counted without being decrypted. The others are confirmed against their text now.
    unsure = [row for row in listed_rows if row.row_id not in sure]
    texts.load(unsure)
    matched = [row for row in listed_rows if row.row_id in sure or holds(row)]
    return Found(matched, sure, texts, matcher, holds, about)


def _matching(
    ctx: Ctx, who: Principal, granted: guard.Granted, dossier_id: int, request: Request
) -> tuple[int, list[dict[str, Any]]]:
    """How many documents match, and the first `request.limit` of them as listed."""
    found = find(ctx, who, granted, dossier_id, request)
    matched, texts, matcher, about = found.rows, found.texts, found.matcher, found.about
    if texts is None or matcher is None or about is None:
        return 0, []
    # The page: each document answered is read for its snippet, and a sure one that
    # does not hold the words after all (a 32-bit collision) is dropped from the page
    # and the count alike.
    out: list[dict[str, Any]] = []
    count = len(matched)
    at = 0
    while len(out) < request.limit and at < len(matched):
        page = matched[at : at + request.limit - len(out)]
        at += len(page)
        texts.load(page)
        for row in page:
            if row.row_id in found.sure and not found.holds(row):
                count -= 1
                continue
            shown = listing.document(row)
            text = texts.of(row)
            first = matcher.first_word(normalise.fold(text))
            passage = snippet.passage(text, matcher.hit, first) if first is not None else None
            for source in (about(row).title, about(row).line()):
                passage = passage or snippet.passage(source, matcher.hit)
            shown["snippet"] = passage or ""
            out.append(shown)
    return count, out


def _as_typed(term: Term, lowered: str) -> bool:
    """Whether the text (as it is, or lower-cased) holds the term as typed where the
    Matcher would accept it: a word that is the term (quoted or short) or begins with
    it. Terms are folded, so a text holding them unchanged holds them folded too."""
    whole = term.exact or len(term.word) < tokens.PREFIX_MIN
    # A combining mark just before (a decomposed accent) belongs to the previous letter:
    # folded, that letter runs into the word, which then does not begin there.
    return any(
        at == 0 or not unicodedata.combining(lowered[at - 1])
        for at in _starts(lowered, term.word, whole=whole)
    )


def _filtered(conn: Connection, request: Request) -> Select[Any]:
    statement = _statement(conn, "rows")
    if request.category is not None:
        statement = statement.where(_DOC.c.category == request.category)
    if request.institution is not None:
        statement = statement.where(_DOC.c.author_institution == request.institution)
    if request.status is not None:
        statement = statement.where(_DOC.c.status == request.status)
    if request.since is not None:
        statement = statement.where(_DOC.c.created_at >= request.since)
    if request.until is not None:
        statement = statement.where(_DOC.c.created_at < request.until)
    return statement


def _listed(
    ctx: Ctx, who: Principal, granted: guard.Granted, rows: list[DocumentRow]
) -> list[DocumentRow]:
    """Exactly the rows the listing shows this caller: `listing.shown`, the filter of
    `services.documents.list_documents` and of the FHIR search."""
    return listing.shown(ctx, who, granted, rows)


def _described(ctx: Ctx, row: DocumentRow) -> fields.Described:
    return fields.Described(
        row.title,
        row.category,
        fields.author_text(
            ctx.matrix,
            row.author_first_name,
            row.author_last_name,
            row.author_profession,
            patient=row.author_patient_id is not None,
            insurer=row.author_service_id is not None,
        ),
        row.author_institution,
        (row.created_at, row.service_start, row.service_end),
    )


def _by(author: str, wanted: list[str]) -> bool:
    """Every word of the author filter begins a word of the author's name or profession."""
    have = normalise.words(author)
    return all(any(h.startswith(w) for h in have) for w in wanted)


class _Texts:
    """The texts of rows, decrypted on demand and kept for the search: a document's
    ready extracted text, else the content of a text/plain document, else "" (metadata
    alone is searchable). The dossier key is unwrapped once, not per document."""

    def __init__(self, ctx: Ctx, conn: Connection, wrapped: bytes) -> None:
        self._conn = conn
        self._aead = ctx.keyring.opener(wrapped)
        self._known: dict[int, str] = {}

    def of(self, row: DocumentRow) -> str:
        return self._known.get(row.row_id, "")

    def load(self, rows: list[DocumentRow]) -> None:
        wanted = {row.row_id: row for row in rows if row.row_id not in self._known}
        if not wanted:
            return
        ids = sorted(wanted)
        for found in self._conn.execute(_statement(self._conn, "texts"), {"ids": ids}):
            aad = f"{wanted[found.document_id].logical_id}:text".encode()
            self._known[found.document_id] = self._open(
                found.document_id, found.nonce, found.ciphertext, aad
            )
        plain = sorted(
            i for i, r in wanted.items() if r.mime_type == "text/plain" and i not in self._known
        )
        if plain:
            for found in self._conn.execute(_statement(self._conn, "contents"), {"ids": plain}):
                aad = wanted[found.document_id].logical_id.encode()
                self._known[found.document_id] = self._open(
                    found.document_id, found.nonce, found.ciphertext, aad
                )
        for i in ids:
            self._known.setdefault(i, "")

    def _open(self, document_id: int, nonce: bytes, sealed: bytes, aad: bytes) -> str:
        try:
            return self._aead.decrypt(nonce, sealed, aad).decode("utf-8", "replace")
        except InvalidTag:
            # A damaged row: the document stays findable by its metadata, the search
            # answers, and the operator learns which document (never what it says).
            log.error("document %d: its text does not open; searched by its metadata", document_id)
            return ""
