"""Answering a search: parse, look the tokens up, decide, decrypt, confirm, snip.

The order is the point: the caller is decided (as a listing, DOCUMENT_LIST) before any
index lookup; a candidate is shown only if `policy.listed` shows it in the listing, with
the same engine and facts as `services.documents.list_documents`; only such a document is
decrypted, to confirm that it truly holds every word (truncated tokens collide) and to
cut its snippet. The trace says that a search ran and how many documents it returned,
never what was searched for: the words are health information.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, select

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
from server.policy import Action, DocumentFacts, listed
from server.search import fields, normalise, snippet, tokens
from server.services import guard, listing, lookup, views
from server.services.context import Ctx, Principal
from server.services.facts import DocumentRow, document_facts

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
_LOOKUP = select(_POST.c.token, _POST.c.document_id).where(
    _POST.c.dossier_id == bindparam("dossier_id"),
    _POST.c.token.in_(bindparam("tokens", expanding=True)),
)
# The listing's own statement (every status but deleted), narrowed to the candidates.
_ROWS = (
    listing.LISTINGS[True, False]
    .add_columns(_DOC.c.id.label("row_id"))
    .where(_DOC.c.id.in_(bindparam("ids", expanding=True)))
)
_TEXTS = select(_TEXT.c.document_id, _TEXT.c.nonce, _TEXT.c.ciphertext).where(
    _TEXT.c.document_id.in_(bindparam("ids", expanding=True)), _TEXT.c.status == "ready"
)
_CONTENTS = select(_CONTENT.c.document_id, _CONTENT.c.nonce, _CONTENT.c.ciphertext).where(
    _CONTENT.c.document_id.in_(bindparam("ids", expanding=True))
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
    subject = lookup.subject(ctx, who, Action.DOCUMENT_LIST, dossier_id)
    detail: dict[str, Any] = {"search": True, "filters": request.filters()}
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
    count, found = _matching(ctx, who, granted, dossier_id, request)
    guard.trace(
        ctx,
        who,
        Action.DOCUMENT_LIST,
        granted.decision,
        subject.patient,
        detail={**detail, "matched": count, "returned": len(found)},
        head=subject.head,
    )
    out = {"dossier_id": dossier_id, "count": count, "documents": found}
    return views.with_banner(out, granted)


def _matching(
    ctx: Ctx, who: Principal, granted: guard.Granted, dossier_id: int, request: Request
) -> tuple[int, list[dict[str, Any]]]:
    """How many documents match, and the first `request.limit` of them as listed."""
    conn = core(ctx.session)
    wrapped = conn.execute(_KEY, {"dossier_id": dossier_id}).scalar()
    if wrapped is None:
        return 0, []  # a purged dossier: its postings, if any, mean nothing
    keyed = tokens.for_dossier(ctx.keyring, wrapped)
    wanted = [keyed.for_term(t.word, exact=t.exact) for t in request.terms]
    postings: dict[int, set[int]] = {}
    every = sorted(set().union(*wanted))
    for token, document_id in conn.execute(_LOOKUP, {"dossier_id": dossier_id, "tokens": every}):
        postings.setdefault(token, set()).add(document_id)
    candidates: set[int] | None = None
    for term_tokens in wanted:
        docs = set().union(*(postings.get(t, set()) for t in term_tokens))
        candidates = docs if candidates is None else candidates & docs
        if not candidates:
            return 0, []
    assert candidates is not None  # noqa: S101 - a request has at least one term
    params = {"dossier_id": dossier_id, "ids": sorted(candidates)}
    rows = list(conn.execute(_filtered(request), params))
    listed_rows = _listed(ctx, who, granted, rows)
    described: dict[int, fields.Described] = {}

    def about(row: DocumentRow) -> fields.Described:
        found = described.get(row.row_id)
        if found is None:
            found = described[row.row_id] = _described(ctx, row)
        return found

    if request.author:
        listed_rows = [row for row in listed_rows if _by(about(row).author, request.author)]
    texts = _texts(ctx, wrapped, listed_rows)
    matcher = Matcher(request.terms)
    out: list[dict[str, Any]] = []
    count = 0
    for row in listed_rows:
        text = texts.get(row.row_id, "")
        # Most candidates hold a query word as typed: found in the text, or in the text in
        # lower case, at a word's start, it is confirmed without the full fold (accents,
        # stems), which costs more than the rest of the search. The quick look only
        # confirms (lower-casing and folding keep a word's start where it is); what it
        # does not find goes through the Matcher as before.
        missing = [i for i, term in enumerate(request.terms) if not _as_typed(term, text)]
        if missing:
            lowered = text.lower()
            missing = [i for i in missing if not _as_typed(request.terms[i], lowered)]
        folded_text: str | None = None
        if missing:
            # Folding decomposes anyway: no composition needed to confirm, only to cut.
            folded_text = normalise.fold(text)
            missing = [i for i in missing if matcher.find(i, folded_text) is None]
        if missing:
            line = about(row).line()
            folded_meta = normalise.fold(f"{about(row).title}\n{line}")
            if any(matcher.find(i, folded_meta) is None for i in missing):
                continue  # a truncated token's collision, not the words asked for
        count += 1
        if len(out) == request.limit:
            continue
        shown = listing.document(row)
        if folded_text is None:
            folded_text = normalise.fold(text)
        first = matcher.first_word(folded_text)
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


def _filtered(request: Request) -> Select[Any]:
    statement = _ROWS
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
    """Exactly the rows the listing shows this caller: `policy.listed` on the list
    decision, as `services.documents.list_documents` asks it. `decide` is pure and only
    the document's facts vary, so documents with equal facts share one answer."""
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


def _texts(ctx: Ctx, wrapped: bytes, rows: list[DocumentRow]) -> dict[int, str]:
    """The text of each row, decrypted: its ready extracted text, else the content of a
    text/plain document, else nothing (metadata alone is searchable)."""
    if not rows:
        return {}
    conn = core(ctx.session)
    logical = {row.row_id: row.logical_id for row in rows}
    aead = ctx.keyring.opener(wrapped)  # the dossier key unwrapped once, not per document
    out: dict[int, str] = {}
    for found in conn.execute(_TEXTS, {"ids": sorted(logical)}):
        aad = f"{logical[found.document_id]}:text".encode()
        out[found.document_id] = aead.decrypt(found.nonce, found.ciphertext, aad).decode(
            "utf-8", "replace"
        )
    plain = sorted(r.row_id for r in rows if r.mime_type == "text/plain" and r.row_id not in out)
    if plain:
        for found in conn.execute(_CONTENTS, {"ids": plain}):
            aad = logical[found.document_id].encode()
            body = aead.decrypt(found.nonce, found.ciphertext, aad)
            out[found.document_id] = body.decode("utf-8", "replace")
    return out
