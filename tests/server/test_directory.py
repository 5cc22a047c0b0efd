"""The professionals directory (issue 14): the médecin traitant is chosen by name.

The search is accent- and case-insensitive, by word prefix, bounded and paged; it is
decided by the policy (server/policy/directory.py) and traced with its reason in the
system chain, never with the words typed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from server.errors import InvalidInput
from server.models import AuditEntry, DirectoryEntry, Professional
from server.services import directory
from tests.server.conftest import World

EXTRACT = [
    # national id, last name, first name, profession, establishment, town
    ("810020000377", "LEFÈVRE", "Hélène", "medecin_generaliste", "Cabinet des Lices", "Rennes"),
    ("810020000740", "BÉRARD", "Éloïse", "medecin_generaliste", "Maison de santé", "Rennes"),
    ("810020001110", "LE GOFF", "Gaëlle", "medecin_generaliste", None, "Brest"),
    ("810020001482", "LEFEBVRE", "Marc", "infirmier", "Cabinet infirmier", "Lille"),
    ("810020001854", "DENIS", "Françoise", "medecin_travail", "Santé au travail", "Rennes"),
]


def extract(rows: list[tuple[str | None, ...]]) -> str:
    return directory.lines(tuple("" if v is None else v for v in row) for row in rows)


@pytest.fixture
def seeded(world: World) -> World:
    with world.rt.sessions() as s:
        loaded = directory.load(world.rt.ctx(s), extract(EXTRACT))  # type: ignore[arg-type]
        s.commit()
    assert (loaded.added, loaded.updated) == (5, 0)
    assert loaded.known == len(world.ids) - 4 - 2  # PROS (patients, services aside)
    return world


def find(world: World, who: str, **params: Any) -> Any:
    return world.call("GET", who, f"/directory/professionals?{urlencode(params)}")


def names(r: Any) -> list[str]:
    assert r.status_code == 200, r.get_json()
    return [p["name"] for p in r.get_json()["results"]]


def test_accents_and_case_are_ignored_and_words_match_by_their_beginning(seeded: World) -> None:
    assert names(find(seeded, "marie", q="lefe")) == ["Marc LEFEBVRE", "Hélène LEFÈVRE"]
    assert names(find(seeded, "marie", q="LEFÈ hel")) == ["Hélène LEFÈVRE"]
    assert names(find(seeded, "marie", q="eloise")) == ["Éloïse BÉRARD"]
    # Any word of a compound name, first name first or last.
    assert names(find(seeded, "marie", q="goff")) == ["Gaëlle LE GOFF"]
    assert names(find(seeded, "marie", q="gaelle le")) == ["Gaëlle LE GOFF"]
    assert names(find(seeded, "marie", q="zz")) == []


def test_the_purpose_narrows_the_professions(seeded: World) -> None:
    mt = find(seeded, "marie", q="lefe", purpose="medecin_traitant")
    assert names(mt) == ["Hélène LEFÈVRE"]  # the nurse cannot be a médecin traitant
    first = mt.get_json()["results"][0]
    assert first == {
        "national_id": "810020000377",
        "first_name": "Hélène",
        "last_name": "LEFÈVRE",
        "name": "Hélène LEFÈVRE",
        "profession": "medecin_generaliste",
        "profession_label": "Médecin généraliste",
        "profession_label_en": "General practitioner",
        "establishment": "Cabinet des Lices",
        "town": "Rennes",
    }
    # Occupational medicine has no part in the DMP: never offered.
    assert names(find(seeded, "marie", q="denis")) == []


def test_the_professionals_the_server_knows_are_in_it(seeded: World) -> None:
    assert "Gp Test" in names(find(seeded, "marie", q="test gp"))


def test_results_are_bounded_and_paged(world: World) -> None:
    many = [
        (nid, "MARTIN", f"Prénom{i:02d}", "medecin_generaliste", None, "Paris")
        for i, nid in enumerate(_rpps(30))
    ]
    with world.rt.sessions() as s:
        directory.load(world.rt.ctx(s), extract(many))  # type: ignore[arg-type]
        s.commit()
    first = find(world, "gp", q="martin")
    assert len(names(first)) == directory.DEFAULT_LIMIT
    assert first.get_json()["next_page"] == 2
    seen: list[str] = []
    page: int | None = 1
    while page is not None:
        r = find(world, "gp", q="martin", limit=12, page=page)
        seen += names(r)
        page = r.get_json()["next_page"]
    assert seen == [f"Prénom{i:02d} MARTIN" for i in range(30)]
    assert find(world, "gp", q="martin", limit=26).status_code == 422
    assert find(world, "gp", q="martin", page=21).status_code == 422


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"q": "l"}, "q_invalid"),  # the declared minLength, at the door
        ({"q": ""}, "q_invalid"),
        ({"q": "l ab"}, "q_too_short"),  # the first word is one letter
        ({"q": "--"}, "q_too_short"),  # no word at all
        ({}, "q_too_short"),
        ({"q": "ab cd ef gh ij"}, "q_too_many_words"),
        ({"q": "x" * 61}, "q_invalid"),
        ({"q": "lefe", "purpose": "boss"}, "purpose_invalid"),
        ({"q": "lefe", "page": "0"}, "page_invalid"),
        ({"q": "lefe", "limit": "٣"}, "limit_invalid"),
    ],
)
def test_bad_parameters_are_a_clear_4xx(world: World, params: dict[str, str], reason: str) -> None:
    r = find(world, "marie", **params)
    assert 400 <= r.status_code < 500, r.get_json()
    assert r.get_json()["reason"] == reason


@pytest.mark.parametrize(
    ("who", "status", "reason"),
    [
        ("marie", 200, "patient_signed_in"),
        ("gp", 200, "eligible_professional"),
        ("admissions", 200, "eligible_professional"),
        ("travail", 403, "not_an_eligible_profession"),
        ("insurer", 403, "forbidden_actor"),
        ("mutuelle", 403, "forbidden_actor"),
    ],
)
def test_who_may_search_and_every_decision_is_traced(
    seeded: World, who: str, status: int, reason: str
) -> None:
    r = find(seeded, who, q="lefèvre hélène", purpose="medecin_traitant")
    assert r.status_code == status, r.get_json()
    entry = last_directory_entry(seeded)
    assert (entry.reason, entry.outcome) == (reason, "allowed" if status == 200 else "denied")
    assert entry.actor_id == seeded.ids[who]
    detail = json.loads(entry.detail)
    assert detail["purpose"] == "medecin_traitant"
    # Who searched and how many answers; never the name typed.
    assert "lef" not in (entry.detail or "").lower()
    assert "hel" not in (entry.detail or "").lower()


def test_a_kiosk_without_a_session_searches_only_while_opening_a_dossier(
    seeded: World, borne: Any
) -> None:
    path = "/directory/professionals?q=lefe&purpose=medecin_traitant"
    r = borne.call("GET", path + "&during=dossier_opening")
    assert r.status_code == 200, r.get_json()
    assert [p["name"] for p in r.get_json()["results"]] == ["Hélène LEFÈVRE"]
    entry = last_directory_entry(seeded)
    assert (entry.actor_kind, entry.reason, entry.kiosk) == (
        "kiosk",
        "kiosk_dossier_opening",
        "borne-1",
    )
    r = borne.call("GET", path)
    assert (r.status_code, r.get_json()["reason"]) == (403, "kiosk_not_opening")
    assert last_directory_entry(seeded).reason == "kiosk_not_opening"
    # Neither a session nor a kiosk: nobody, answered as every route without a session.
    r = seeded.client.get("/api/v1" + path + "&during=dossier_opening")
    assert (r.status_code, r.get_json()["reason"]) == (401, "session_invalid")
    assert last_directory_entry(seeded).reason == "no_caller"


def test_a_professional_chosen_from_the_directory_can_be_named_medecin_traitant(
    seeded: World, marie_dossier: int
) -> None:
    chosen = find(seeded, "marie", q="helene", purpose="medecin_traitant").get_json()["results"]
    nid = chosen[0]["national_id"]
    r = seeded.call(
        "PUT", "marie", f"/dossiers/{marie_dossier}/medecin-traitant", {"national_id": nid}
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["medecin_traitant"]["name"] == "Hélène LEFÈVRE"
    with seeded.rt.sessions() as s:
        pro = s.scalars(select(Professional).where(Professional.national_id == nid)).one()
        assert (pro.profession, pro.structure_name) == ("medecin_generaliste", "Cabinet des Lices")
        entry = s.scalars(select(DirectoryEntry).where(DirectoryEntry.national_id == nid)).one()
        assert entry.source == "server"
    # And at creation, a dossier opened naming someone from the directory.
    jean = seeded.create("jean", "jean", medecin_traitant="810020000740")
    summary = seeded.call("GET", "jean", f"/dossiers/{jean}").get_json()
    assert "BÉRARD" in json.dumps(summary, ensure_ascii=False)


def test_loading_is_idempotent_and_refuses_a_bad_line(seeded: World) -> None:
    with seeded.rt.sessions() as s:
        again = directory.load(seeded.rt.ctx(s), extract(EXTRACT))  # type: ignore[arg-type]
        s.commit()
    assert (again.added, again.updated) == (0, 5)
    bad = [("810020000377", "X", "Y", "astrologue", "", "")]
    with seeded.rt.sessions() as s, pytest.raises(InvalidInput, match="ligne 2"):
        directory.load(seeded.rt.ctx(s), extract(bad))  # type: ignore[arg-type]
    with seeded.rt.sessions() as s, pytest.raises(InvalidInput, match="ligne 2"):
        directory.load(seeded.rt.ctx(s), extract([("123", "X", "Y", "infirmier", "", "")]))  # type: ignore[arg-type]
    with seeded.rt.sessions() as s, pytest.raises(InvalidInput, match="En-tête"):
        directory.load(seeded.rt.ctx(s), "nom;prenom\nA;B\n")


def test_the_demo_extract_loads(world: World) -> None:
    with world.rt.sessions() as s:
        loaded = directory.load(world.rt.ctx(s), directory.demo_extract())
        s.commit()
    assert loaded.added >= 30
    assert "Hélène LEFÈVRE" in names(find(world, "marie", q="lefevre", purpose="medecin_traitant"))


def last_directory_entry(world: World) -> AuditEntry:
    with world.rt.sessions() as s:
        return s.scalars(
            select(AuditEntry)
            .where(AuditEntry.chain == "system", AuditEntry.action == "directory:search")
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).one()


def _rpps(count: int) -> list[str]:
    from cardreader.identity import luhn_valid

    out = []
    n = 1003000000
    while len(out) < count:
        n += 1
        for key in range(10):
            if luhn_valid(f"{n}{key}"):
                out.append(f"8{n}{key}")
                break
    return out


def test_the_seed_directory_command_loads_an_extract_and_says_what_is_wrong(
    app: Any, settings: dict[str, Any], tmp_path: Any
) -> None:
    from tests.server.test_cli import dmp

    url = settings["DATABASE_URL"]
    extract_file = tmp_path / "annuaire.csv"
    extract_file.write_text(extract(EXTRACT), encoding="utf-8")
    done = dmp(settings, "db", "seed-directory", "--db", url, str(extract_file))
    assert done.exit_code == 0, done.output
    assert "5 added, 0 updated" in done.output
    again = dmp(settings, "db", "seed-directory", "--db", url, str(extract_file))
    assert "0 added, 5 updated" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_text(extract([("810020000377", "X", "Y", "astrologue", "", "")]), encoding="utf-8")
    refused = dmp(settings, "db", "seed-directory", "--db", url, str(bad))
    assert refused.exit_code != 0
    assert "ligne 2" in refused.output
    # Without a file: the demo's extract.
    demo = dmp(settings, "db", "seed-directory", "--db", url)
    assert demo.exit_code == 0, demo.output
    with app.extensions["dmp"].sessions() as s:
        assert s.scalar(select(DirectoryEntry).where(DirectoryEntry.last_name == "MAILLARD"))
