"""Full-text search through FHIR: ITI-67 with `_content` (and `_text`) is the JSON search
(GET /dossiers/{id}/search) on the same decision, with the same privacy (issue #12).

French matching (accents, case, stems, prefixes, quoted words) as the JSON search; GET
and POST `_search`; combined with the other filters and paging; the trace; and, for
every actor of the policy table over the search-policy world, exactly the JSON search's
documents, count and refusals, with no word of a document the caller may not read.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from server.models import AuditEntry
from server.search import indexer
from tests.server.conftest import World
from tests.server.fhir.fhirkit import follow, ids, link, outcome, search, valid
from tests.server.search.test_search_api import LETTER, REPORT
from tests.server.search.test_search_policy import (
    ACTORS,
    ADULT,
    MINOR,
    SHARED,
    WORDS,
    build_dossiers,
)
from tests.server.search.test_search_policy import (
    _deposit as policy_deposit,
)


@pytest.fixture(params=["queued", "indexed"])
def filled(world: World, marie_dossier: int, request: pytest.FixtureRequest) -> dict[str, str]:
    """The JSON search's three documents, by title -> logical id; before and after the
    background indexer made their postings (the answers must not differ)."""
    d = f"/dossiers/{marie_dossier}/care-team"
    r = world.call("POST", "marie", d, {"national_id": world.nid("specialist")})
    assert r.status_code == 201, r.get_json()
    made = [
        world.deposit(
            "gp", marie_dossier, title="Consultation hépatologie", content=REPORT.encode()
        ),
        world.deposit(
            "specialist",
            marie_dossier,
            title="Lettre au cardiologue",
            content=LETTER.encode(),
            created_at="2025-03-10",
        ),
        world.deposit("specialist", marie_dossier, category="imagerie", title="Radio du thorax"),
    ]
    if request.param == "indexed":
        assert indexer.drain(world.rt) == 3
    return {doc["title"]: doc["logical_id"] for doc in made}


def _titles(docs: dict[str, str], bundle: dict[str, Any]) -> list[str]:
    by_id = {v: k for k, v in docs.items()}
    return sorted(by_id[i] for i in ids(bundle))


def _json_search(world: World, who: str, dossier_id: int, q: str) -> Any:
    return world.call("GET", who, f"/dossiers/{dossier_id}/search?{urlencode({'q': q})}")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("hépatite", ["Consultation hépatologie"]),  # the text says HEPATITE
        ("HEPATITE", ["Consultation hépatologie"]),
        ("hepatites", ["Consultation hépatologie"]),  # plural, same stem
        ("allergies", ["Consultation hépatologie"]),  # the text says allergique
        ("hypert", ["Consultation hépatologie", "Lettre au cardiologue"]),  # a prefix
        ("hyperten", ["Consultation hépatologie"]),
        ("hypertension artérielle", ["Consultation hépatologie"]),
        ("hypertension lipidique", []),  # every word, in one document
        ('"allergique"', ["Consultation hépatologie"]),
        ('"allergies"', []),  # quoted: that word only
        ("thorax", ["Radio du thorax"]),  # the title
        ("cancer", []),
    ],
)
def test_content_matches_as_the_json_search_in_french(
    world: World, marie_dossier: int, filled: dict[str, str], q: str, expected: list[str]
) -> None:
    for name in ("_content", "_text"):
        r = search(world, "gp", {"patient": f"Patient/{marie_dossier}", name: q})
        assert r.status_code == 200, r.get_json()
        bundle = valid(r.get_json())
        assert _titles(filled, bundle) == expected
        assert bundle["total"] == len(expected)
        # The JSON search answers the same documents, in the same (the listing's) order.
        found = _json_search(world, "gp", marie_dossier, q).get_json()
        assert ids(bundle) == [d["logical_id"] for d in found["documents"]]


def test_content_is_combined_with_other_filters_paged_and_posted(
    world: World, marie_dossier: int, filled: dict[str, str]
) -> None:
    patient = f"Patient/{marie_dossier}"
    # With a category: the imaging report's words are not in a compte rendu.
    r = search(world, "gp", {"patient": patient, "_content": "hypert", "category": "compte_rendu"})
    assert _titles(filled, valid(r.get_json())) == [
        "Consultation hépatologie",
        "Lettre au cardiologue",
    ]
    r = search(world, "gp", {"patient": patient, "_content": "thorax", "category": "compte_rendu"})
    assert valid(r.get_json())["total"] == 0
    # Two _content parameters AND their words.
    r = search(world, "gp", [("patient", patient), ("_content", "hypert"), ("_content", "lipid")])
    assert _titles(filled, valid(r.get_json())) == ["Lettre au cardiologue"]
    # Paging: one a page, total 2, the next link carries the words, then no next.
    first = valid(
        search(world, "gp", {"patient": patient, "_content": "hypert", "_count": "1"}).get_json()
    )
    assert first["total"] == 2
    assert len(ids(first)) == 1
    url = link(first, "next")
    assert url is not None
    assert "_content=hypert" in url
    second = valid(follow(world, "gp", url).get_json())
    assert second["total"] == 2
    assert link(second, "next") is None
    assert sorted(ids(first) + ids(second)) == sorted(
        filled[t] for t in ("Consultation hépatologie", "Lettre au cardiologue")
    )
    # _count=0: the total only.
    r = search(world, "gp", {"patient": patient, "_content": "hypert", "_count": "0"})
    assert (valid(r.get_json())["total"], ids(r.get_json())) == (2, [])
    # POST _search: the words in the body, not the URL.
    r = world.client.post(
        "/fhir/R4/DocumentReference/_search",
        data={"patient": patient, "_content": "hépatite"},
        headers=world.h("gp"),
    )
    assert _titles(filled, valid(r.get_json())) == ["Consultation hépatologie"]


def test_a_content_search_is_traced_as_the_json_search_without_its_words(
    world: World, marie_dossier: int, filled: dict[str, str]
) -> None:
    before = len(world.trace("marie"))
    params = {"patient": f"Patient/{marie_dossier}", "_content": "hépatite allergies"}
    search(world, "gp", {**params, "category": "compte_rendu"})
    search(world, "urgentiste", params)  # no relation: refused as the listing, traced
    added = world.trace("marie")[before:]
    assert [(e.action, e.outcome) for e in added] == [
        ("document:list", "allowed"),
        ("document:list", "denied"),
    ]
    assert json.loads(added[0].detail) == {
        "all": True,
        "fhir": "ITI-67",
        "search": True,
        "filters": ["_content", "category"],
        "matched": 1,
        "returned": 1,
    }
    for entry in added:
        row = json.dumps({c: str(getattr(entry, c)) for c in AuditEntry.__table__.columns.keys()})
        for word in ("hépatite", "hepatite", "allergies", "allerg"):
            assert word not in row.casefold()
    history = world.call("GET", "marie", f"/dossiers/{marie_dossier}/history").get_json()
    shown = next(e for e in history["entries"] if e["seq"] == added[0].seq)
    assert "a fait une recherche dans les documents" in shown["text"]
    assert "1 document trouvé" in shown["text"]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"_content": ""}, "content_invalid"),  # no word
        ({"_content": "de la"}, "content_invalid"),  # stop words only
        ({"_content": "a1 b2 c3 d4 e5 f6 g7 h8 i9"}, "content_invalid"),  # over 8 words
        ({"_content": "x" * 201}, "content_invalid"),  # over the JSON search's 200
        ({"_content": "hépatite,cancer"}, "content_invalid"),  # OR alternatives
        ({"_content:exact": "hépatite"}, "content_invalid"),  # no modifier
        ({"_text:contains": "hépatite"}, "text_invalid"),
    ],
)
def test_bad_content_values_are_400_before_anything_is_read(
    world: World, marie_dossier: int, params: dict[str, str], reason: str
) -> None:
    before = len(world.trace("marie"))
    r = search(world, "gp", {"patient": f"Patient/{marie_dossier}", **params})
    outcome(r, 400, reason)
    assert len(world.trace("marie")) == before


def test_words_over_two_parameters_count_together(world: World, marie_dossier: int) -> None:
    pairs = [("patient", f"Patient/{marie_dossier}"), ("_content", "a1 b2 c3 d4 e5")]
    pairs.append(("_text", "f6 g7 h8 i9"))
    outcome(search(world, "gp", pairs), 400, "text_invalid")


# --- privacy: every actor, both dossiers of the search-policy world ----------------------


@pytest.fixture
def dossiers(world: World) -> dict[str, int]:
    made = build_dossiers(world, policy_deposit)
    indexer.drain(world.rt)
    return made


QUERIES = [SHARED, SHARED[:4], *WORDS]


@pytest.mark.parametrize("actor", ACTORS)
def test_content_finds_exactly_what_the_json_search_finds(
    world: World, dossiers: dict[str, int], actor: str
) -> None:
    for kind, dossier_id in dossiers.items():
        listing = world.call("GET", actor, f"/dossiers/{dossier_id}/documents?all=true")
        shown = {d["title"] for d in listing.get_json().get("documents", [])}
        hidden_words = {w for w, s in WORDS.items() if s.title not in shown}
        for q in QUERIES:
            where = (actor, kind, q)
            r = search(
                world, actor, {"patient": f"Patient/{dossier_id}", "_content": q, "_count": "5"}
            )
            expected = _json_search(world, actor, dossier_id, q)
            if listing.status_code != 200:
                body = outcome(r, listing.status_code)
                code = body["issue"][0]["details"]["coding"][0]["code"]
                assert code == listing.get_json()["reason"], where
                assert expected.status_code == listing.status_code, where
                continue
            bundle = valid(r.get_json())
            found = [d["logical_id"] for d in expected.get_json()["documents"]]
            assert bundle["total"] == expected.get_json()["count"] == len(found), where
            assert ids(bundle) == found[:5], where
            assert (link(bundle, "next") is not None) == (len(found) > 5), where
            # The links echo the query's own words; nothing else may carry a hidden one.
            text = json.dumps({**bundle, "link": []}, ensure_ascii=False)
            assert not [w for w in hidden_words if w in text], where


def test_a_masked_or_invisible_document_matching_the_words_is_not_there(
    world: World, dossiers: dict[str, int]
) -> None:
    """Named cases: each hiding hides a document that holds the words."""

    def found(actor: str, kind: str, q: str) -> dict[str, Any]:
        params = {"patient": f"Patient/{dossiers[kind]}", "_content": q}
        return valid(search(world, actor, params).get_json())

    masked = WORDS["bruyere"]  # MASQUE_PS, in a compte rendu
    assert masked.flags == ("masked_ps",)
    for actor in ("pharmacien", "infirmier", "specialist", "urgentiste"):
        bundle = found(actor, "adult", "bruyere")
        assert (bundle["total"], ids(bundle), link(bundle, "next")) == (0, [], None), actor
    assert found("gp", "adult", "bruyere")["total"] == 1  # the médecin traitant sees it
    assert found("pharmacien", "adult", "glycine")["total"] == 1  # what a pharmacist reads
    # The pharmacist's total over the shared word counts only what they may read.
    pharmacist = world.call(
        "GET", "pharmacien", f"/dossiers/{dossiers['adult']}/documents?all=true"
    )
    assert found("pharmacien", "adult", SHARED)["total"] == len(pharmacist.get_json()["documents"])
    assert found("marie", "adult", "camelia")["total"] == 0  # INVISIBLE_PATIENT
    assert found("marie", "minor", "pivoine")["total"] == 0  # INVISIBLE_REP, as representative
    assert found("leo", "minor", "pivoine")["total"] == 1
    assert found("gp", "adult", "magnolia")["total"] == 0  # deleted
    assert found("specialist", "adult", "narcisse")["total"] == 0  # masked after indexing
    assert {s.word for s in ADULT + MINOR} == set(WORDS)
