"""The framework's own refusals (routing, method) and schema refusals speak French, like
every other message of the API: the kiosk shows them as they are (found by an outside
review: "The requested URL was not found on the server" on a French page)."""

from __future__ import annotations

import pytest

from tests.server.conftest import World

FRENCH = {404: "Ressource introuvable.", 405: "Méthode non autorisée pour cette ressource."}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/no/such/route", 404),
        ("GET", "/api/v1/dossiers/0/receipts", 404),
        ("DELETE", "/api/v1/receipts/certificate", 405),
        ("GET", "/fhir/R4/Nothing", 404),
        ("PUT", "/fhir/R4/metadata", 405),
    ],
)
def test_routing_refusals_are_french(world: World, method: str, path: str, status: int) -> None:
    r = world.client.open(path, method=method, headers=world.h("gp"))
    assert r.status_code == status
    body = r.get_json()
    said = body["issue"][0]["details"]["text"] if path.startswith("/fhir/") else body["message"]
    assert said == FRENCH[status]


def test_an_unknown_field_is_named_in_french(world: World, marie_dossier: int) -> None:
    body = {"bris_de_glace": True, "centre_15": True, "surprise": 1, "autre": 2}
    r = world.call("PUT", "marie", f"/dossiers/{marie_dossier}/emergency-settings", body)
    assert r.status_code == 422
    message = r.get_json()["message"]
    assert message == "Champ(s) inconnu(s) : « autre », « surprise »."
