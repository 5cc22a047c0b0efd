"""A real FHIR client (fhirpy) against the server over HTTP, as a vendor's software would:
search by patient and by INS, follow the `next` links to the end, read, retrieve."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fhirpy import SyncFHIRClient
from werkzeug.serving import make_server

from tests.server.cardkit import CardPki, KioskClient
from tests.server.conftest import PATIENTS, World
from tests.server.fhir.fhirkit import INS_TEST_NIR


@pytest.fixture
def served(world: World) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/fhir/R4"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_fhirpy_searches_pages_reads_and_retrieves(
    world: World, marie_dossier: int, served: str
) -> None:
    made = [world.deposit("gp", marie_dossier, title=f"cr {i}") for i in range(5)]
    masked = world.deposit("gp", marie_dossier, title="masqué", masked_ps=True)
    world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/care-team",
        {"national_id": world.nid("infirmier")},
    )
    client = SyncFHIRClient(served, authorization=f"Bearer {world.tokens['infirmier']}")
    documents = client.resources("DocumentReference")
    # fetch_all follows `next` until the end: three pages of two.
    found = documents.search(patient=f"Patient/{marie_dossier}").limit(2).fetch_all()
    assert {d.id for d in found} == {d["logical_id"] for d in made}
    assert masked["logical_id"] not in {d.id for d in found}
    by_ins = documents.search(**{"patient.identifier": f"{INS_TEST_NIR}|{PATIENTS['marie'][0]}"})
    assert by_ins.count() == 5
    one: Any = documents.search(_id=made[0]["logical_id"], patient=f"Patient/{marie_dossier}").get()
    assert one["content"][0]["attachment"]["title"] == "cr 0"
    read = client.reference("DocumentReference", made[0]["logical_id"]).to_resource()
    assert read["masterIdentifier"]["value"] == made[0]["unique_id"]
    binary = client.reference("Binary", made[0]["logical_id"]).to_resource()
    assert binary["contentType"] == "text/plain"


def test_fhirpy_searches_by_words(world: World, marie_dossier: int, served: str) -> None:
    words = "Patiente suivie pour une HÉPATITE B chronique.".encode()
    found = world.deposit("gp", marie_dossier, title="hépato", content=words)
    world.deposit("gp", marie_dossier, title="masqué", content=words, masked_ps=True)
    world.deposit("gp", marie_dossier, title="autre", content=b"Radio du thorax normale.")
    world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/care-team",
        {"national_id": world.nid("infirmier")},
    )
    client = SyncFHIRClient(served, authorization=f"Bearer {world.tokens['infirmier']}")
    documents = client.resources("DocumentReference")
    # Accents, case and plural ignored; the masked document holding the words is not there.
    hits = documents.search(patient=f"Patient/{marie_dossier}", _content="hépatites").fetch_all()
    assert [d.id for d in hits] == [found["logical_id"]]
    counted = documents.search(patient=f"Patient/{marie_dossier}", _content="hepatite")
    assert counted.count() == 1
    assert documents.search(patient=f"Patient/{marie_dossier}", _content="cancer").count() == 0


GP_CARD = "medecin_generaliste-dupont"  # the card of World's "gp"


def test_a_card_session_reaches_fhir_through_its_kiosk_only(
    world: World, marie_dossier: int, test_pki: CardPki, borne: KioskClient
) -> None:
    made = world.deposit("gp", marie_dossier, title="cr")
    r = borne.sign_in(test_pki.card(GP_CARD))
    assert r.status_code == 201, r.get_json()
    token = r.get_json()["token"]
    target = f"/fhir/R4/DocumentReference?patient=Patient%2F{marie_dossier}"
    headers = {**borne.headers("GET", target, b""), "Authorization": f"Bearer {token}"}
    r = world.client.get(target, headers=headers)
    assert r.status_code == 200, r.get_json()
    assert [e["resource"]["id"] for e in r.get_json()["entry"]] == [made["logical_id"]]
    entry = world.trace("marie")[-1]
    assert (entry.action, entry.kiosk) == ("document:list", "borne-1")
    # The same token from software that is not that kiosk: the generic 401.
    r = world.client.get(target, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.get_json()["resourceType"] == "OperationOutcome"
