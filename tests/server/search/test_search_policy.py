"""The search obeys the listing's decision, for every kind of caller (issue #11).

The actors of the policy table (tests/server/policy/test_policy_table.py: the patient,
a minor and his representative, another patient, the médecin traitant, an author outside
any relation, care-team members of several professions, a consented pharmacist, the
admissions desk, a blocked professional, bris de glace, centre 15, an unrelated
professional, occupational medicine, the insurer, a mutuelle), through the real API, over
an adult's and a minor's dossiers holding masked, invisible, archived, deleted and
later-masked documents. Every document's text holds one word of its own and one word
they all share. For every actor, dossier and query: the search answers exactly as the
listing (`?all=true`) does when the listing is refused; otherwise it returns exactly the
listed documents that hold the words (so a subset of the listing), its count is their
number, and no answer carries a word of a document the listing does not show.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.server.conftest import PATIENTS, World
from tests.server.test_api_access_rules import _nid, add_pro

SHARED = "commun"


@dataclass(frozen=True)
class Spec:
    author: str
    category: str
    title: str
    word: str  # in this document's text only
    flags: tuple[str, ...] = ()
    then: str | None = None  # "archive", "delete" or "mask" once deposited


ADULT = [
    Spec("gp", "compte_rendu", "cr", "azalee"),
    Spec("gp", "compte_rendu", "masque", "bruyere", ("masked_ps",)),
    Spec("gp", "synthese", "cache", "camelia", ("invisible_patient",)),
    Spec("gp", "compte_rendu", "reserve", "dahlia", ("invisible_rep",)),
    Spec("dentiste", "certificat", "certificat dentaire", "eglantine"),
    Spec("radiologue", "imagerie", "irm", "fuchsia", ("masked_ps",)),
    Spec("pharmacien", "dispensation", "delivrance", "glycine"),
    Spec("admissions", "gestion", "admission", "hortensia"),
    Spec("marie", "depose_patient", "mon document", "jasmin"),
    Spec("gp", "compte_rendu", "ancien", "lilas", then="archive"),
    Spec("gp", "compte_rendu", "erreur", "magnolia", then="delete"),
    Spec("gp", "compte_rendu", "masque ensuite", "narcisse", then="mask"),
]
MINOR = [
    Spec("gp", "compte_rendu", "vaccins", "orchidee"),
    Spec("gp", "compte_rendu", "secret", "pivoine", ("invisible_rep",)),
    Spec("gp", "synthese", "annonce", "tulipe", ("invisible_patient",)),
]
WORDS = {s.word: s for s in ADULT + MINOR}
ACTORS = [
    "marie",  # patient; the representative of her son Léo
    "leo",  # a minor, in his own dossier
    "jean",  # another patient
    "gp",  # médecin traitant of both
    "specialist",  # care team
    "radiologue",  # author of a masked image, no longer in the care team
    "dentiste",  # care team, reads few categories
    "infirmier",  # care team
    "pharmacien",  # explicit consent
    "admissions",  # the desk's structure joined the care team
    "bloque",  # in the care team, then blocked by the patient
    "urgentiste",  # broke the glass on Marie's dossier
    "regulateur",  # centre 15 on Marie's dossier
    "inconnu",  # a professional with no relation at all
    "travail",  # occupational medicine: never any access
    "insurer",
    "mutuelle",
]


def _deposit(
    world: World,
    dossier_id: int,
    spec: Spec,
    content: bytes | None = None,
    mime_type: str = "text/plain",
) -> str:
    if content is None:
        content = f"Texte {SHARED}. Le mot {spec.word} est propre à ce document.".encode()
    flags = dict.fromkeys(spec.flags, True)
    made = world.deposit(
        spec.author,
        dossier_id,
        category=spec.category,
        title=spec.title,
        content=content,
        mime_type=mime_type,
        **flags,
    )
    d = f"/dossiers/{dossier_id}/documents/{made['logical_id']}"
    done = None
    if spec.then == "archive":
        done = world.call("POST", spec.author, d + "/archive")
    elif spec.then == "delete":
        done = world.call("DELETE", spec.author, d)
    elif spec.then == "mask":  # after indexing: the index must not remember the old flags
        done = world.call("PATCH", "marie", d + "/visibility", {"masked_ps": True, "confirm": True})
    assert done is None or done.status_code == 200, done.get_json()
    return str(made["logical_id"])


@pytest.fixture
def dossiers(world: World) -> dict[str, int]:
    return build_dossiers(world, _deposit)


def build_dossiers(world: World, deposit: Callable[[World, int, Spec], str]) -> dict[str, int]:
    """The two dossiers, each document deposited by `deposit` (the IPS summary's tests
    deposit structured documents: tests/server/fhir/test_fhir_summary.py)."""
    for name, profession, finess in (
        ("radiologue", "medecin_specialiste", None),
        ("dentiste", "chirurgien_dentiste", "750000036"),
        ("bloque", "medecin_specialiste", None),
        ("inconnu", "medecin_generaliste", None),
    ):
        add_pro(world, name, profession, finess)
    marie = world.create("admissions", "marie", medecin_traitant=world.nid("gp"))
    d = f"/dossiers/{marie}"
    for name in ("specialist", "radiologue", "dentiste", "infirmier", "bloque"):
        r = world.call("POST", "marie", d + "/care-team", {"national_id": _nid(world, name)})
        assert r.status_code == 201, r.get_json()
    r = world.call("POST", "marie", d + "/consents", {"national_id": world.nid("pharmacien")})
    assert r.status_code in (200, 201), r.get_json()
    assert world.call("POST", "admissions", d + "/care-team/join").status_code in (200, 201)
    for spec in ADULT:
        deposit(world, marie, spec)
    # The radiologist leaves the care team; the patient blocks another specialist.
    members = world.call("GET", "marie", d + "/access").get_json()["care_team"]
    radiologue = next(
        m
        for m in members
        if (m["professional"] or {}).get("national_id") == _nid(world, "radiologue")
    )
    assert world.call("DELETE", "marie", f"{d}/care-team/{radiologue['id']}").status_code == 200
    assert world.call("PUT", "marie", f"{d}/blocks/{_nid(world, 'bloque')}").status_code == 200
    r = world.call(
        "POST", "urgentiste", d + "/emergency-access", {"mode": "bris_de_glace", "reason": "AVC"}
    )
    assert r.status_code in (200, 201), r.get_json()
    r = world.call("POST", "regulateur", d + "/emergency-access", {"mode": "centre_15"})
    assert r.status_code in (200, 201), r.get_json()
    leo = world.create(
        "gp", "leo", representatives=[PATIENTS["marie"][0]], medecin_traitant=world.nid("gp")
    )
    for spec in MINOR:
        deposit(world, leo, spec)
    return {"adult": marie, "minor": leo}


QUERIES: list[dict[str, str]] = [
    {"q": SHARED},
    {"q": SHARED[:4]},  # a prefix, while typing
    {"q": f"{SHARED} mot"},
    {"q": SHARED, "category": "compte_rendu"},
    {"q": SHARED, "status": "archived"},
    {"q": "absent"},
    *({"q": word} for word in WORDS),
    *({"q": word[:3]} for word in WORDS),
]


def _holds(spec: Spec, query: dict[str, str], listed: dict[str, Any]) -> bool:
    """The oracle: whether this listed document answers `query`."""
    q = query["q"]
    words = {SHARED, "mot", spec.word}
    if not all(any(w.startswith(term) for w in words) for term in q.split()):
        return False
    if "category" in query and listed["category"] != query["category"]:
        return False
    return "status" not in query or listed["status"] == query["status"]


@pytest.mark.parametrize("actor", ACTORS)
def test_no_search_reveals_more_than_the_listing(
    world: World, dossiers: dict[str, int], actor: str
) -> None:
    for kind, dossier_id in dossiers.items():
        listing = world.call("GET", actor, f"/dossiers/{dossier_id}/documents?all=true")
        shown = {d["logical_id"]: d for d in listing.get_json().get("documents", [])}
        by_title = {d["title"]: d for d in shown.values()}
        hidden_words = {w for w, s in WORDS.items() if s.title not in by_title}
        for query in QUERIES:
            r = world.call("GET", actor, f"/dossiers/{dossier_id}/search?{urlencode(query)}")
            where = (actor, kind, query)
            if listing.status_code != 200:
                assert (r.status_code, r.get_json()) == (
                    listing.status_code,
                    listing.get_json(),
                ), where
                continue
            assert r.status_code == 200, (where, r.get_json())
            body = r.get_json()
            found = {d["logical_id"] for d in body["documents"]}
            assert found <= set(shown), where
            expected = {
                d["logical_id"]
                for d in shown.values()
                if (spec := _spec(d["title"])) is not None and _holds(spec, query, d)
            }
            assert found == expected, where
            assert body["count"] == len(found), where
            text = json.dumps(body, ensure_ascii=False)
            assert not [w for w in hidden_words if w in text], where


def _spec(title: str) -> Spec | None:
    return next((s for s in ADULT + MINOR if s.title == title), None)


def test_the_proof_covers_every_hiding(world: World, dossiers: dict[str, int]) -> None:
    """The table above is not vacuous: each hiding hides something from someone."""

    def sees(actor: str, kind: str) -> set[str]:
        r = world.call("GET", actor, f"/dossiers/{dossiers[kind]}/search?q={SHARED}")
        return {d["title"] for d in r.get_json().get("documents", [])}

    assert "masque" not in sees("infirmier", "adult")  # MASQUE_PS
    assert "masque" in sees("gp", "adult")  # the médecin traitant sees it
    assert "masque ensuite" not in sees("specialist", "adult")  # masked after indexing
    assert "cache" not in sees("marie", "adult")  # INVISIBLE_PATIENT
    assert "secret" not in sees("marie", "minor")  # INVISIBLE_REP, as his representative
    assert "secret" in sees("leo", "minor")
    assert "annonce" not in sees("leo", "minor")
    assert "erreur" not in sees("gp", "adult")  # deleted
    assert sees("radiologue", "adult") == {"irm"}  # authorship alone
    assert sees("urgentiste", "adult")  # bris de glace
    assert sees("regulateur", "adult")  # centre 15
    assert sees("bloque", "adult") == set()  # refused
    assert sees("marie", "adult") >= {"cr", "mon document", "ancien"}
