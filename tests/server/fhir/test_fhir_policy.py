"""A FHIR search shows exactly what the JSON listing shows, to every kind of caller.

The search-policy world (tests/server/search/test_search_policy.py: masked, invisible,
archived, deleted and later-masked documents in an adult's and a minor's dossier; the
patient, a representative, the médecin traitant, care-team members, a consented
pharmacist, a blocked professional, bris de glace, centre 15, the insurer, a mutuelle...).
For every actor and dossier: where GET .../documents?all=true is refused, ITI-67 answers
the same status and reason as an OperationOutcome; otherwise the same documents, in the
same order, and a `total` that counts exactly them, and a read of each answers 200 while
a read of any other document of the dossier does not.
"""

from __future__ import annotations

import json
from typing import Any

from tests.server.conftest import World
from tests.server.fhir.fhirkit import get, ids, outcome, search, valid
from tests.server.search.test_search_policy import ACTORS, WORDS, dossiers  # noqa: F401


def test_every_actor_gets_exactly_the_listing(world: World, dossiers: dict[str, int]) -> None:  # noqa: F811
    every: dict[str, set[str]] = {}
    for owner in ("marie", "leo"):
        dossier_id = dossiers["adult" if owner == "marie" else "minor"]
        every[owner] = set(_all_ids(world, dossier_id))
    for actor in ACTORS:
        for kind, dossier_id in dossiers.items():
            where = (actor, kind)
            listing = world.call("GET", actor, f"/dossiers/{dossier_id}/documents?all=true")
            r = search(world, actor, {"patient": f"Patient/{dossier_id}", "_count": "100"})
            if listing.status_code != 200:
                outcome(r, listing.status_code, listing.get_json()["reason"])
                continue
            assert r.status_code == 200, (where, r.get_json())
            bundle = valid(r.get_json())
            shown = [d["logical_id"] for d in listing.get_json()["documents"]]
            assert ids(bundle) == shown, where
            assert bundle["total"] == len(shown), where
            owner = "marie" if kind == "adult" else "leo"
            for logical_id in every[owner]:
                read = get(world, actor, f"/DocumentReference/{logical_id}")
                assert (read.status_code == 200) == (logical_id in shown), (where, logical_id)


def test_the_proof_covers_every_hiding(world: World, dossiers: dict[str, int]) -> None:  # noqa: F811
    def titles(actor: str, kind: str) -> set[str]:
        r = search(world, actor, {"patient": f"Patient/{dossiers[kind]}", "_count": "100"})
        bundle: dict[str, Any] = r.get_json()
        return {
            e["resource"]["content"][0]["attachment"]["title"]
            for e in bundle.get("entry", [])
            if e["resource"]["resourceType"] == "DocumentReference"
        }

    assert "masque" not in titles("infirmier", "adult")  # MASQUE_PS
    assert "masque" in titles("gp", "adult")  # the médecin traitant sees it
    assert "masque ensuite" not in titles("specialist", "adult")
    assert "cache" not in titles("marie", "adult")  # INVISIBLE_PATIENT
    assert "secret" not in titles("marie", "minor")  # INVISIBLE_REPRESENTANTS_LEGAUX
    assert "secret" in titles("leo", "minor")
    assert "erreur" not in titles("gp", "adult")  # deleted
    assert titles("radiologue", "adult") == {"irm"}  # authorship alone
    assert titles("urgentiste", "adult")
    assert titles("regulateur", "adult")
    # A hidden document's words are nowhere in the answer, not even in a count.
    hidden = {s.title for s in WORDS.values()} - titles("infirmier", "adult")
    r = search(world, "infirmier", {"patient": f"Patient/{dossiers['adult']}"})
    text = json.dumps(r.get_json(), ensure_ascii=False)
    assert not [t for t in hidden if f'"title":"{t}"' in text.replace(": ", ":")]


def _all_ids(world: World, dossier_id: int) -> list[str]:
    """Every document of the dossier, deleted ones included (from the database)."""
    from sqlalchemy import select

    from server.models import Document

    with world.rt.sessions() as s:
        return list(s.scalars(select(Document.logical_id).where(Document.dossier_id == dossier_id)))
