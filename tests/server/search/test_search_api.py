"""GET /dossiers/{id}/search from the user's side: French-aware matching, filters,
snippets, refusals, the trace, the index at rest, deletion and purge (issue #11)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from dmp.cli import main
from server.models import (
    AuditEntry,
    Document,
    DocumentText,
    Dossier,
    SearchPosting,
)
from server.search import indexer, tokens
from tests.server.conftest import World

REPORT = (
    "Compte rendu de consultation. Patiente de 47 ans suivie pour une HEPATITE B "
    "chronique. Terrain allergique connu à la pénicilline. Hypertension artérielle "
    "traitée. Pas de douleur thoracique."
)
LETTER = "Courrier au cardiologue : hypertrophie ventriculaire gauche, bilan lipidique normal."


def search(world: World, who: str, dossier_id: int, q: str, **filters: str) -> Any:
    return world.call("GET", who, f"/dossiers/{dossier_id}/search?{urlencode({'q': q, **filters})}")


def titles(world: World, who: str, dossier_id: int, q: str, **filters: str) -> list[str]:
    r = search(world, who, dossier_id, q, **filters)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["count"] == len(body["documents"])
    return sorted(d["title"] for d in body["documents"])


# Every search test runs twice: right after the deposits, while the documents wait in the
# indexer's queue (confirmed against their text), and once the background indexer has
# turned them into postings. The answers must be the same.
@pytest.fixture(params=["queued", "indexed"])
def filled(world: World, marie_dossier: int, request: pytest.FixtureRequest) -> int:
    d = f"/dossiers/{marie_dossier}/care-team"
    r = world.call("POST", "marie", d, {"national_id": world.nid("specialist")})
    assert r.status_code == 201, r.get_json()
    world.deposit("gp", marie_dossier, title="Consultation hépatologie", content=REPORT.encode())
    world.deposit(
        "specialist",
        marie_dossier,
        title="Lettre au cardiologue",
        content=LETTER.encode(),
        created_at="2025-03-10",
    )
    world.deposit("specialist", marie_dossier, category="imagerie", title="Radio du thorax")
    if request.param == "indexed":
        assert indexer.drain(world.rt) == 3
    return marie_dossier


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("hépatite", ["Consultation hépatologie"]),  # the text says HEPATITE
        ("HEPATITE", ["Consultation hépatologie"]),
        ("hepatites", ["Consultation hépatologie"]),  # plural, same stem
        ("allergies", ["Consultation hépatologie"]),  # the text says allergique
        ("hypert", ["Consultation hépatologie", "Lettre au cardiologue"]),  # while typing
        ("hyperten", ["Consultation hépatologie"]),  # past the indexed prefixes: confirmed
        ("hypertension artérielle", ["Consultation hépatologie"]),
        ("hypertension lipidique", []),  # every word, in one document
        ('"allergique"', ["Consultation hépatologie"]),
        ('"allergies"', []),  # quoted: that word only
        ("thorax", ["Radio du thorax"]),  # the title
        ("imagerie", ["Radio du thorax"]),  # the category label
        ("specialist", ["Lettre au cardiologue", "Radio du thorax"]),  # the author's name
        ("mars 2025", ["Lettre au cardiologue"]),  # the date of the act
        ("cancer", []),
    ],
)
def test_french_aware_matching(world: World, filled: int, q: str, expected: list[str]) -> None:
    assert titles(world, "gp", filled, q) == expected


def test_a_snippet_shows_the_matched_words_in_their_passage(world: World, filled: int) -> None:
    r = search(world, "gp", filled, "hépatite allergies")
    (hit,) = r.get_json()["documents"]
    assert "[[HEPATITE]] B chronique" in hit["snippet"]
    assert "[[allergique]]" in hit["snippet"]
    assert "<" not in hit["snippet"]
    # Metadata alone matched: the title is the passage.
    (hit,) = search(world, "gp", filled, "radio").get_json()["documents"]
    assert hit["snippet"] == "[[Radio]] du thorax"


def test_a_hit_is_a_listed_document_plus_its_snippet(world: World, filled: int) -> None:
    listed = world.call("GET", "gp", f"/dossiers/{filled}/documents?all=true").get_json()
    by_id = {d["logical_id"]: d for d in listed["documents"]}
    for hit in search(world, "gp", filled, "hypert").get_json()["documents"]:
        snippet = hit.pop("snippet")
        assert snippet
        assert hit == by_id[hit["logical_id"]]


def test_limit_bounds_the_documents_not_the_count(world: World, filled: int) -> None:
    everything = search(world, "gp", filled, "hypert").get_json()
    assert everything["count"] == len(everything["documents"]) == 2
    first = search(world, "gp", filled, "hypert", limit="1").get_json()
    assert first["count"] == 2
    assert first["documents"] == everything["documents"][:1]  # the listing's order


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category": "compte_rendu"}, ["Consultation hépatologie", "Lettre au cardiologue"]),
        ({"category": "imagerie"}, []),
        ({"author": "spec"}, ["Lettre au cardiologue"]),
        ({"author": "médecin spécialiste"}, ["Lettre au cardiologue"]),  # the profession
        ({"institution": "920000049"}, ["Lettre au cardiologue"]),
        ({"from": "2026-01-01"}, ["Consultation hépatologie"]),
        ({"to": "2025-03-10"}, ["Lettre au cardiologue"]),
        ({"from": "2025-03-11", "to": "2026-06-14"}, []),
        ({"status": "current"}, ["Consultation hépatologie", "Lettre au cardiologue"]),
        ({"status": "archived"}, []),
    ],
)
def test_filters(world: World, filled: int, filters: dict[str, str], expected: list[str]) -> None:
    assert titles(world, "gp", filled, "hypert", **filters) == expected


def test_a_replaced_version_is_found_by_its_status(world: World, marie_dossier: int) -> None:
    old = world.deposit("gp", marie_dossier, title="v1", content=b"angine blanche")
    body = {
        "category": "compte_rendu",
        "type_code": "11488-4",
        "title": "v2",
        "mime_type": "text/plain",
        "content_base64": "YW5naW5lIHJvdWdl",  # angine rouge
    }
    r = world.call(
        "POST", "gp", f"/dossiers/{marie_dossier}/documents/{old['logical_id']}/replace", body
    )
    assert r.status_code == 201, r.get_json()
    assert titles(world, "gp", marie_dossier, "angine") == ["v1", "v2"]
    assert titles(world, "gp", marie_dossier, "angine", status="current") == ["v2"]
    assert titles(world, "gp", marie_dossier, "blanche", status="superseded") == ["v1"]


def test_a_deleted_document_is_never_found_and_leaves_no_postings(
    world: World, marie_dossier: int
) -> None:
    gone = world.deposit("gp", marie_dossier, title="erreur", content=b"mauvais patient")
    kept = world.deposit("gp", marie_dossier, title="archive", content=b"mauvais souvenir")
    indexer.drain(world.rt)
    # And one deleted while it still waits for the indexer.
    queued = world.deposit("gp", marie_dossier, title="brouillon", content=b"mauvais jour")
    d = f"/dossiers/{marie_dossier}/documents"
    for deleted in (gone, queued):
        assert world.call("DELETE", "gp", f"{d}/{deleted['logical_id']}").status_code == 200
    assert world.call("POST", "gp", f"{d}/{kept['logical_id']}/archive").status_code == 200
    assert titles(world, "gp", marie_dossier, "mauvais") == ["archive"]
    assert indexer.drain(world.rt) == 0  # the deleted one left the queue with its postings
    assert titles(world, "gp", marie_dossier, "mauvais") == ["archive"]
    with world.rt.sessions() as s:
        ids = dict(s.execute(select(Document.title, Document.id)).all())
        counted = s.execute(
            select(SearchPosting.document_id, func.count()).group_by(SearchPosting.document_id)
        ).all()
    assert {doc: n > 0 for doc, n in counted} == {ids["archive"]: True}


def test_a_scan_is_found_by_its_words_once_the_worker_has_read_it(
    world: World, marie_dossier: int
) -> None:
    """Deposit, OCR and search together: a scan is found by its metadata at once, by
    its words once the worker has read it, snipped from the sealed text."""
    from server import ocr_worker
    from tests.server import scans

    lines = ["Compte rendu d'endoscopie", "Gastrite chronique"]
    world.deposit(
        "gp", marie_dossier, title="Scan", mime_type="application/pdf",
        content=scans.scanned_pdf([lines]),
    )  # fmt: skip
    assert titles(world, "gp", marie_dossier, "scan") == ["Scan"]
    assert titles(world, "gp", marie_dossier, "endoscopie") == []
    assert indexer.drain(world.rt) == 1  # indexed by its metadata: no text yet
    assert titles(world, "gp", marie_dossier, "scan") == ["Scan"]
    [outcome] = ocr_worker.run_once(world.rt)
    assert outcome.status == "ready"
    # Its text queues it again: found at once, before the indexer gets there...
    (hit,) = search(world, "gp", marie_dossier, "endoscopies").get_json()["documents"]
    assert hit["title"] == "Scan"
    assert "[[endoscopie]]" in hit["snippet"].lower()
    # ...and after, by its postings alone (the queue is empty).
    assert indexer.drain(world.rt) == 1
    with world.rt.sessions() as s:
        assert not s.scalar(select(func.count()).where(Document.search_queued.is_(True)))
    assert titles(world, "gp", marie_dossier, "endoscopies") == ["Scan"]
    assert titles(world, "gp", marie_dossier, "gastrite") == ["Scan"]


def test_a_truncated_token_collision_is_dropped_by_confirmation(world: World, filled: int) -> None:
    # Make the radio's postings claim "hepatite", as a 32-bit collision would.
    with world.rt.sessions() as s:
        dossier = s.get(Dossier, filled)
        assert dossier is not None
        assert dossier.wrapped_key is not None
        radio = s.scalars(select(Document.id).where(Document.title == "Radio du thorax")).one()
        keyed = tokens.for_dossier(world.rt.keyring, dossier.wrapped_key)
        s.execute(
            insert(SearchPosting),
            [
                {"dossier_id": filled, "token": t, "document_id": radio}
                for t in keyed.for_term("hepatite", exact=False)
            ],
        )
        s.commit()
    r = search(world, "gp", filled, "hepatite")
    assert [d["title"] for d in r.get_json()["documents"]] == ["Consultation hépatologie"]
    assert r.get_json()["count"] == 1


# --- refusals: a 4xx with a reason, nothing written -------------------------------------


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "q_empty"),
        ("?q=", "q_empty"),
        ("?q=%20%20", "q_empty"),
        ("?q=le+la+de", "q_empty"),
        ("?q=" + "+".join(f"mot{i}" for i in range(9)), "q_too_many_words"),
        ("?q=" + "a" * 201, "q_invalid"),
        ("?q=x&from=2026-02-31", "from_invalid"),
        ("?q=x&to=31/12/2026", "to_invalid"),
        ("?q=x&from=2026-02-01&to=2026-01-01", "period_invalid"),
        ("?q=x&status=deleted", "status_invalid"),
        ("?q=x&category=nope", "category_invalid"),
        ("?q=x&institution=12", "institution_invalid"),
        ("?q=x&author=" + "a" * 101, "author_invalid"),
        ("?q=x%00", "q_invalid"),
        ("?q=x&limit=0", "limit_invalid"),
        ("?q=x&limit=501", "limit_invalid"),
    ],
)
def test_bad_queries_are_refused_with_a_reason_and_write_nothing(
    world: World, marie_dossier: int, query: str, reason: str
) -> None:
    before = len(world.trace("marie"))
    r = world.call("GET", "gp", f"/dossiers/{marie_dossier}/search{query}")
    assert (r.status_code, r.get_json()["reason"]) == (422, reason), r.get_json()
    assert r.get_json()["message"]
    assert len(world.trace("marie")) == before


# --- the trace: that a search ran and what it returned, never the words ----------------


def test_every_search_is_traced_with_its_count_and_without_its_words(
    world: World, filled: int
) -> None:
    before = len(world.trace("marie"))
    search(world, "gp", filled, "hépatite allergies", category="compte_rendu")
    search(world, "urgentiste", filled, "hépatite")  # refused: traced too
    added = world.trace("marie")[before:]
    assert [(e.action, e.outcome) for e in added] == [
        ("document:list", "allowed"),
        ("document:list", "denied"),
    ]
    assert json.loads(added[0].detail) == {
        "search": True,
        "matched": 1,
        "returned": 1,
        "filters": ["category"],
    }
    for entry in added:
        row = json.dumps({c: str(getattr(entry, c)) for c in AuditEntry.__table__.columns.keys()})
        for word in ("hépatite", "hepatite", "allergies", "allerg", "HEPATITE"):
            assert word not in row.casefold()
    history = world.call("GET", "marie", f"/dossiers/{filled}/history").get_json()["entries"]
    shown = next(e for e in history if e["seq"] == added[0].seq)
    assert "a fait une recherche dans les documents" in shown["text"]
    assert "1 document trouvé" in shown["text"]
    assert "hépatite" not in json.dumps(history, ensure_ascii=False)


# --- at rest ---------------------------------------------------------------------------


def test_the_index_holds_no_word_in_clear(world: World, filled: int) -> None:
    indexer.drain(world.rt)
    with world.rt.sessions() as s:
        rows = s.execute(select(SearchPosting.__table__)).all()
    assert len(rows) > 50
    stored = b"".join(repr(tuple(r)).encode() for r in rows)
    for word in ("hepatite", "HEPATITE", "allergique", "hypertension", "penicilline", "thorax"):
        for form in (word, word[:4], word.upper()):
            assert form.encode() not in stored
    # Nothing but three integers per row.
    assert all(all(isinstance(v, int) for v in r) for r in rows)


def test_two_dossiers_with_the_same_words_share_no_token(world: World, marie_dossier: int) -> None:
    jean = world.create("admissions", "jean", medecin_traitant=world.nid("gp"))
    for dossier_id in (marie_dossier, jean):
        world.deposit("gp", dossier_id, title="Bilan", content=REPORT.encode())
    assert indexer.drain(world.rt) == 2
    with world.rt.sessions() as s:
        per_dossier = [
            set(s.scalars(select(SearchPosting.token).where(SearchPosting.dossier_id == d)))
            for d in (marie_dossier, jean)
        ]
    assert len(per_dossier[0]) == len(per_dossier[1]) > 50
    assert not per_dossier[0] & per_dossier[1]


def test_purge_deletes_the_postings_and_the_key_that_gave_them_meaning(
    world: World, filled: int, settings: dict[str, Any]
) -> None:
    indexer.drain(world.rt)
    # One more document, still waiting for the indexer when the dossier is purged.
    world.deposit("gp", filled, title="Dernier bilan", content=REPORT.encode())
    with world.rt.sessions() as s:
        kept = s.execute(select(SearchPosting.token, SearchPosting.document_id)).all()
        # The deposits left their texts (ready ones; a scan would leave one pending).
        assert s.scalar(select(func.count()).select_from(DocumentText)) > 0
    assert kept
    world.call("POST", "marie", f"/dossiers/{filled}/close", {"confirm": True, "delete": True})
    out = CliRunner().invoke(
        main,
        ["db", "purge", "--db", settings["DATABASE_URL"]],
        env={"DMP_MASTER_KEY": settings["MASTER_KEY"]},
    )
    assert out.output.strip() == "1 dossier(s) purged"
    with world.rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(SearchPosting)) == 0
        assert not s.scalar(select(func.count()).where(Document.search_queued.is_(True)))
        assert s.scalar(select(func.count()).select_from(DocumentText)) == 0
    r = search(world, "marie", filled, "hépatite")
    assert (r.status_code, r.get_json()["reason"]) == (403, "dossier_purged")
    # Had the postings survived, the dossier's next key would not give their tokens: the
    # same words in the reopened dossier are other tokens.
    assert world.create("admissions", "marie") == filled
    world.deposit("marie", filled, category="depose_patient", title="t", content=REPORT.encode())
    assert indexer.drain(world.rt) == 1
    with world.rt.sessions() as s:
        fresh = set(s.scalars(select(SearchPosting.token)))
    assert fresh
    assert not fresh & {t for t, _ in kept}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=st.dictionaries(
        st.sampled_from(
            ["q", "category", "author", "institution", "from", "to", "status", "limit"]
        ),
        st.text(max_size=30),
        max_size=4,
    )
)
def test_any_search_query_string_is_answered_cleanly(
    world: World, filled: int, query: dict[str, str]
) -> None:
    r = world.client.get(
        f"/api/v1/dossiers/{filled}/search", query_string=query, headers=world.h("marie")
    )
    assert r.status_code in (200, 422), r.get_data(as_text=True)
    body = r.get_json()
    if r.status_code == 422:
        assert set(body) == {"error", "reason", "message"}
    else:
        assert body["count"] == len(body["documents"])


def test_the_answer_is_the_documented_one(world: World, filled: int) -> None:
    spec = world.client.get("/openapi.json").get_json()
    op = spec["paths"]["/api/v1/dossiers/{dossier_id}/search"]["get"]
    assert {p["name"] for p in op["parameters"] if p["in"] == "query"} == {
        "q",
        "category",
        "author",
        "institution",
        "from",
        "to",
        "status",
        "limit",
    }
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    for q in ("hypert", "cancer"):
        jsonschema.validate(search(world, "gp", filled, q).get_json(), schema)


@pytest.mark.parametrize(
    ("text", "q", "found"),
    [
        ("Suivi du traitement.", "traitement", True),  # as typed: the quick confirmation
        ("TRAITEMENT ARRÊTÉ", "traitement", True),
        ("Hépatite B.", "hepatite", True),  # accents: through the fold
        ("Le contre\u0301traitement est noté.", "traitement", False),  # a decomposed accent
        ("pré-traitement", "traitement", True),
    ],
)
def test_a_word_is_confirmed_where_the_fold_would_find_it(
    world: World, marie_dossier: int, text: str, q: str, found: bool
) -> None:
    world.deposit("gp", marie_dossier, title="Note", content=text.encode())
    assert (titles(world, "gp", marie_dossier, q) == ["Note"]) is found


def test_the_demos_photographed_letter_is_read_and_found(world: World, marie_dossier: int) -> None:
    """README's demo promise: the letter Marie photographed is found by a word of it once
    the OCR worker has read it."""
    from server import ocr_worker
    from server.demo import _photographed_letter

    world.deposit(
        "marie", marie_dossier, category="depose_patient", title="Courrier (photo)",
        mime_type="image/png", content=_photographed_letter(),
    )  # fmt: skip
    assert titles(world, "marie", marie_dossier, "tétanos") == []
    [outcome] = ocr_worker.run_once(world.rt)
    assert outcome.status == "ready"
    assert titles(world, "marie", marie_dossier, "tétanos") == ["Courrier (photo)"]
