"""ITI-67 search parameters: parsed and checked before anything is read.

Each parameter becomes a predicate on a listed document row; the search applies them to
the rows the listing shows the caller (server/fhir/service.py), so a filter can only
narrow the listing, never widen it. Repeating a parameter ANDs, a comma inside one value
ORs (FHIR R4 search 3.1.1.4). Unknown parameters are ignored unless the client sends
`Prefer: handling=strict` (FHIR's lenient default, as MHD asks); an unsupported modifier
or prefix on a known parameter is always refused, since ignoring it would widen the
answer. docs/fhir.md lists the parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from server.errors import InvalidInput, MalformedRequest
from server.fhir import codes
from server.frenchtime import PARIS
from server.identifiers import IdentifierError, parse_ins
from server.search import query as text_search
from server.search.normalise import fold
from server.services.facts import DocumentRow
from server.validation import ID_MAX, ascii_int, safe_text

DEFAULT_COUNT = 20
MAX_COUNT = 100  # a larger _count is served as this many (FHIR lets the server cap it)
MAX_OFFSET = 1_000_000
MAX_PARAMETERS = 40
MAX_VALUE = 256
FORMATS = frozenset({"json", "application/json", "application/fhir+json"})

# FHIR status -> the stored statuses it covers. Archived documents are current ones
# with the PDSm isArchived extension; deleted ones are never listed (entered-in-error
# is a valid value that finds nothing).
STATUSES = {
    "current": frozenset({"current", "archived"}),
    "superseded": frozenset({"superseded"}),
    "entered-in-error": frozenset({"deleted"}),
}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FHIR_ID = re.compile(r"[A-Za-z0-9.\-]{1,64}")
_DATE = re.compile(
    r"(?P<y>[0-9]{4})(?:-(?P<m>[0-9]{2})(?:-(?P<d>[0-9]{2})"
    r"(?:T(?P<H>[0-9]{2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?)?"
    r"(?P<tz>Z|[+\- ][0-9]{2}:[0-9]{2})?)?)?)?"
)
_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")
_UNSUPPORTED_PREFIXES = ("sa", "eb", "ap")

Test = Callable[[DocumentRow], bool]


@dataclass
class Search:
    """A parsed ITI-67 query. `dossier_id` or `ins` (matricule, OID) names the patient."""

    dossier_id: int | None = None
    ins: tuple[str, str] | None = None
    tests: list[Test] = field(default_factory=list)
    used: list[str] = field(default_factory=list)  # parameter names, for the trace
    count: int = DEFAULT_COUNT
    offset: int = 0
    # The filters as received (name with modifier, value), repeated in paging links.
    link_params: list[tuple[str, str]] = field(default_factory=list)
    # Full-text terms (`_content`, `_text`): the JSON search's words, all required.
    terms: dict[tuple[str, bool], text_search.Term] = field(default_factory=dict)

    def matches(self, row: DocumentRow) -> bool:
        return all(test(row) for test in self.tests)


def bad(name: str, message: str) -> MalformedRequest:
    return MalformedRequest(f"{_reason(name)}_invalid", message)


def _reason(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "parameter"


def parse(
    pairs: Iterable[tuple[str, str]],
    *,
    strict: bool,
    base: str,
    handlers: dict[str, Callable[..., None]] | None = None,
) -> Search:
    """The query's (name, value) pairs, from the URL and a POSTed form alike.
    `handlers`: another resource's parameters (List: server/fhir/lists.py)."""
    handlers = _HANDLERS if handlers is None else handlers
    pairs = list(pairs)
    if len(pairs) > MAX_PARAMETERS:
        raise bad("parameters", f"Au plus {MAX_PARAMETERS} paramètres de recherche.")
    search = Search()
    for raw_name, value in pairs:
        if not safe_text(raw_name) or not safe_text(value) or len(value) > MAX_VALUE:
            raise bad("parameter", "Paramètre de recherche illisible ou trop long.")
        name, _, modifier = raw_name.partition(":")
        handler = handlers.get(name)
        if handler is None:
            if strict:
                raise MalformedRequest(
                    "parameter_unknown", f"Paramètre de recherche non pris en charge : {name}"
                )
            continue  # lenient: an unknown parameter is ignored, and not echoed in links
        handler(search, name, modifier, value, base)
    if search.dossier_id is None and search.ins is None:
        raise MalformedRequest(
            "patient_required", "La recherche nomme le patient : patient ou patient.identifier."
        )
    return search


# --- the patient -----------------------------------------------------------------------


def _patient(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    if modifier not in ("", "Patient"):
        raise bad(name, f"Modificateur non pris en charge : {name}:{modifier}")
    _one_patient(search, name)
    for prefix in (f"{base}/Patient/", "Patient/"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    dossier_id = ascii_int(value, high=ID_MAX)
    if dossier_id is None:
        raise bad(name, "« patient » : une référence Patient/<identifiant du dossier>.")
    search.dossier_id = dossier_id


def patient_by_identifier(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    if modifier:
        raise bad(name, f"Modificateur non pris en charge : {name}:{modifier}")
    _one_patient(search, name)
    system, bar, matricule = value.partition("|")
    oid = codes.INS_SYSTEMS.get(system)
    if not bar or oid is None:
        raise bad(name, "« patient.identifier » : <système INS>|<matricule INS>.")
    try:
        ins = parse_ins(matricule, oid)
    except IdentifierError as exc:
        raise bad(name, str(exc)) from None
    search.ins = (ins.matricule, ins.oid)


def _one_patient(search: Search, name: str) -> None:
    # One dossier per search: the listing whose decision it reuses is per dossier.
    if search.dossier_id is not None or search.ins is not None:
        raise bad(name, "Un seul patient par recherche.")


# --- paging and format -----------------------------------------------------------------


def _count(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    number = ascii_int(value, low=0, high=ID_MAX) if not modifier else None
    if number is None:
        raise bad(name, "« _count » : un entier positif ou nul.")
    search.count = min(number, MAX_COUNT)


def _offset(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    number = ascii_int(value, low=0, high=MAX_OFFSET) if not modifier else None
    if number is None:
        raise bad(name, f"« _offset » : un entier de 0 à {MAX_OFFSET}.")
    search.offset = number


def _format(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    from server.fhir.outcome import NotAcceptable  # no cycle at import time

    if value not in FORMATS:
        raise NotAcceptable("format_unsupported", "Seul le format FHIR JSON est servi.")


# --- filters ---------------------------------------------------------------------------


def _add(search: Search, name: str, modifier: str, value: str, test: Test) -> None:
    search.tests.append(test)
    if name not in search.used:
        search.used.append(name)
    search.link_params.append((f"{name}:{modifier}" if modifier else name, value))


def split(value: str, sep: str = ",") -> list[str]:
    """`value` cut at each `sep` not escaped by a backslash (FHIR's `\\,`, `\\|`, `\\$`,
    `\\\\`); the other escapes are kept for a later cut (`unescape` ends them)."""
    parts, current, escaped = [], [], False
    for char in value:
        if escaped:
            current.append(char if char == sep else "\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def unescape(part: str) -> str:
    return re.sub(r"\\([\\,|$])", r"\1", part)


def values(value: str) -> list[str]:
    """The comma-separated values of one parameter (ORed), unescaped."""
    return [unescape(part) for part in split(value)]


def _no_modifier(name: str, modifier: str) -> None:
    if modifier:
        raise bad(name, f"Modificateur non pris en charge : {name}:{modifier}")


Token = tuple[bool, str | None, str | None]  # (system given, system, code)


def tokens(name: str, value: str) -> list[Token]:
    out: list[Token] = []
    for part in split(value):
        pieces = [unescape(piece) for piece in split(part, "|")]
        if len(pieces) == 1:
            if not pieces[0]:
                raise bad(name, f"« {name} » : valeur vide.")
            out.append((False, None, pieces[0]))
        elif len(pieces) == 2 and (pieces[0] or pieces[1]):
            out.append((True, pieces[0] or None, pieces[1] or None))
        else:
            raise bad(name, f"« {name} » : [système|]code attendu.")
    return out


def token_matches(wanted: list[Token], have: list[codes.Coding]) -> bool:
    for has_system, system, code in wanted:
        for got_system, got_code in have:
            if has_system and got_system != system:
                continue
            if code is None or got_code == code:
                return True
    return False


def _token_param(codings: Callable[[DocumentRow], list[codes.Coding]]) -> Callable[..., None]:
    def handler(search: Search, name: str, modifier: str, value: str, base: str) -> None:
        _no_modifier(name, modifier)
        wanted = tokens(name, value)
        _add(search, name, modifier, value, lambda row: token_matches(wanted, codings(row)))

    return handler


def _status(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    _no_modifier(name, modifier)
    stored: set[str] = set()
    for has_system, _, code in tokens(name, value):
        if has_system or code not in STATUSES:
            raise bad(name, "« status » : current, superseded ou entered-in-error.")
        stored |= STATUSES[code]
    _add(search, name, modifier, value, lambda row: row.status in stored)


def _is_archived(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    _no_modifier(name, modifier)
    wanted = set()
    for has_system, _, code in tokens(name, value):
        if has_system or code not in ("true", "false"):
            raise bad(name, "« isArchived » : true ou false.")
        wanted.add(code == "true")
    _add(search, name, modifier, value, lambda row: (row.status == "archived") in wanted)


def _nothing_recorded(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    """A parameter on metadata the server does not record yet (facility, setting,
    event, related): a well-formed value matches no document. Ignoring it instead would
    answer documents the client asked to exclude."""
    _no_modifier(name, modifier)
    tokens(name, value)
    _add(search, name, modifier, value, lambda row: False)


def _content(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    """`_content` (and `_text`, the same: a DocumentReference has no narrative of its
    own, the document's words are its text): the words of the JSON search's `q`, parsed
    by it (case, accents, French stems, prefixes, "quoted" words, stop words). Repeating
    the parameter ANDs its words; a comma's alternatives (OR) are refused rather than
    read as one search, which would answer something else than asked."""
    _no_modifier(name, modifier)
    alternatives = values(value)
    if len(alternatives) != 1:
        raise bad(name, f"« {name} » : une seule alternative (pas de virgule).")
    try:
        parsed = text_search.parse({"q": alternatives[0]})
    except InvalidInput as exc:
        raise bad(name, exc.message) from None
    for term in parsed.terms:
        search.terms.setdefault((term.word, term.exact), term)
    if len(search.terms) > text_search.MAX_TERMS:
        raise bad(name, f"Une recherche compte au plus {text_search.MAX_TERMS} mots.")
    if name not in search.used:
        search.used.append(name)
    search.link_params.append((name, value))


# --- references ------------------------------------------------------------------------


def _document_ids(name: str, value: str, base: str) -> set[str]:
    out = set()
    for part in values(value):
        for prefix in (f"{base}/DocumentReference/", "DocumentReference/"):
            if part.startswith(prefix):
                part = part[len(prefix) :]
                break
        if not _FHIR_ID.fullmatch(part):
            raise bad(name, f"« {name} » : un identifiant de DocumentReference.")
        out.add(part)
    return out


def _id(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    _no_modifier(name, modifier)
    ids = _document_ids(name, value, base)
    _add(search, name, modifier, value, lambda row: row.logical_id in ids)


def _relatesto(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    if modifier not in ("", "DocumentReference"):
        raise bad(name, f"Modificateur non pris en charge : {name}:{modifier}")
    ids = _document_ids(name, value, base)
    _add(search, name, modifier, value, lambda row: row.replaces_logical_id in ids)


def _relation(search: Search, name: str, modifier: str, value: str, base: str) -> None:
    _no_modifier(name, modifier)
    wanted = {code for _, _, code in tokens(name, value)}
    # Replacement is the only relation the server records (relatesTo.code = replaces).
    _add(
        search,
        name,
        modifier,
        value,
        lambda row: "replaces" in wanted and row.replaces_logical_id is not None,
    )


# --- strings: the professional author's name -----------------------------------------


def _author_name(column: str) -> Callable[..., None]:
    def handler(search: Search, name: str, modifier: str, value: str, base: str) -> None:
        if modifier not in ("", "exact", "contains"):
            raise bad(name, f"Modificateur non pris en charge : {name}:{modifier}")
        wanted = [v for v in values(value) if v]
        if not wanted:
            raise bad(name, f"« {name} » : valeur vide.")

        def test(row: DocumentRow) -> bool:
            have = getattr(row, column)
            if have is None:  # not a professional author: no name to match
                return False
            if modifier == "exact":
                return have in wanted
            folded = fold(have)
            if modifier == "contains":
                return any(fold(v) in folded for v in wanted)
            return any(folded.startswith(fold(v)) for v in wanted)

        _add(search, name, modifier, value, test)

    return handler


# --- dates -----------------------------------------------------------------------------

Range = tuple[datetime, datetime | None]  # [low, high), high None: no upper bound


def date_range(name: str, raw: str) -> Range:
    found = _DATE.fullmatch(raw)
    if found is None:
        raise bad(name, f"« {name} » : une date AAAA[-MM[-JJ[Thh:mm[:ss][fuseau]]]].")
    part = found.groupdict()
    try:
        zone = _zone(part["tz"]) if part["tz"] else PARIS
        year = int(part["y"])
        if part["m"] is None:
            low = datetime.combine(date(year, 1, 1), time(), zone)
            return low, (low.replace(year=year + 1) if year < 9999 else None)
        month = int(part["m"])
        if part["d"] is None:
            low = datetime.combine(date(year, month, 1), time(), zone)
            nxt = (year + month // 12, month % 12 + 1)
            return low, (low.replace(year=nxt[0], month=nxt[1]) if nxt[0] <= 9999 else None)
        day = date(year, month, int(part["d"]))
        if part["H"] is None:
            after = day + timedelta(days=1) if day < date.max else None
            return datetime.combine(day, time(), zone), (
                datetime.combine(after, time(), zone) if after else None
            )
        fraction = part["f"] or ""
        low = datetime.combine(
            day,
            time(
                int(part["H"]),
                int(part["M"]),
                int(part["S"] or 0),
                int(fraction.ljust(6, "0")) if fraction else 0,
            ),
            zone,
        )
        if fraction:
            step = timedelta(microseconds=10 ** (6 - len(fraction)))
        elif part["S"] is not None:
            step = timedelta(seconds=1)
        else:
            step = timedelta(minutes=1)
        return low, low + step
    except (ValueError, OverflowError):
        raise bad(name, f"« {name} » : date impossible.") from None


def _zone(raw: str) -> Any:
    if raw == "Z":
        return UTC
    # "+01:00" arrives as " 01:00" when a client left the plus sign unencoded.
    sign = -1 if raw[0] == "-" else 1
    hours, minutes = int(raw[1:3]), int(raw[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def compare(prefix: str, wanted: Range, start: datetime | None, end: datetime | None) -> bool:
    """FHIR R4 date search (3.1.1.4.2) of a value range [start, end] (None: unbounded)
    against the parameter's range; an instant has start == end."""
    low, high = wanted
    if prefix in ("eq", "ne"):
        inside = (
            start is not None and start >= low and end is not None and (high is None or end < high)
        )
        return inside if prefix == "eq" else not inside
    if prefix == "gt":
        return high is not None and (end is None or end >= high)
    if prefix == "lt":
        return start is None or start < low
    if prefix == "ge":
        return end is None or end >= low
    return high is None or start is None or start < high  # le


def _dates(
    instant: Callable[[DocumentRow], tuple[datetime | None, datetime | None] | None],
) -> Callable[..., None]:
    def handler(search: Search, name: str, modifier: str, value: str, base: str) -> None:
        _no_modifier(name, modifier)
        criteria = []
        for part in values(value):
            prefix, raw = part[:2], part
            if prefix in _PREFIXES:
                raw = part[2:]
            elif prefix in _UNSUPPORTED_PREFIXES:
                raise bad(name, f"Préfixe non pris en charge : {prefix}")
            else:
                prefix = "eq"
            criteria.append((prefix, date_range(name, raw)))

        def test(row: DocumentRow) -> bool:
            span = instant(row)
            if span is None:  # no such date on this document: it answers no date filter
                return False
            return any(compare(p, r, *span) for p, r in criteria)

        _add(search, name, modifier, value, test)

    return handler


def _at(column: str) -> Callable[[DocumentRow], tuple[datetime, datetime] | None]:
    def span(row: DocumentRow) -> tuple[datetime, datetime] | None:
        value = getattr(row, column)
        return None if value is None else (value, value)

    return span


def _period(row: DocumentRow) -> tuple[datetime | None, datetime | None] | None:
    if row.service_start is None and row.service_end is None:
        return None
    return row.service_start, row.service_end  # an open end is an ongoing period (FHIR)


_HANDLERS: dict[str, Callable[..., None]] = {
    "patient": _patient,
    "patient.identifier": patient_by_identifier,
    "_count": _count,
    "_offset": _offset,
    "_format": _format,
    "_id": _id,
    "identifier": _token_param(codes.identifier_codings),
    "status": _status,
    "isArchived": _is_archived,
    "category": _token_param(lambda row: codes.category_codings(row.category)),
    "type": _token_param(codes.type_codings),
    "format": _token_param(lambda row: codes.format_codings(row.mime_type)),
    "security-label": _token_param(codes.security_codings),
    "date": _dates(_at("submitted_at")),
    "creation": _dates(_at("created_at")),
    "period": _dates(_period),
    "period-start": _dates(_at("service_start")),
    "period-end": _dates(_at("service_end")),
    "author.given": _author_name("author_first_name"),
    "author.family": _author_name("author_last_name"),
    "relatesto": _relatesto,
    "relation": _relation,
    "related": _nothing_recorded,
    "facility": _nothing_recorded,
    "setting": _nothing_recorded,
    "event": _nothing_recorded,
    "_content": _content,
    "_text": _content,
}
# Parameters that shape the answer, not the set: not repeated as filters in links.
CONTROL = frozenset({"patient", "patient.identifier", "_count", "_offset", "_format"})
SEARCH_PARAMETERS = tuple(name for name in _HANDLERS if name not in CONTROL)
# The patient and paging parameters, for the other resources searched by patient.
COMMON: dict[str, Callable[..., None]] = {name: _HANDLERS[name] for name in CONTROL}


def add(search: Search, name: str, modifier: str, value: str, test: Test) -> None:
    """A filter of another resource's parameter (recorded for the trace and the links)."""
    _add(search, name, modifier, value, test)
