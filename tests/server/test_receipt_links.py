"""Receipts tied to what produced them (issue 13): the change's answer names its receipt,
the receipt carries the log checkpoint it was issued under, the history line links to it,
and the receipt reads as a PDF for people (docs/receipts.md)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from pypdf import PdfReader

from server.services import trace_log
from server.tlog import checkpoint, note
from tests.server.conftest import World, identity
from tests.server.test_receipts import CHANGES, content_of, receipts_of


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.parametrize("name", CHANGES)
def test_each_change_answers_with_the_receipt_it_produced(
    world: World, marie_dossier: int, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    act, action, _check = CHANGES[name]
    answers: list[dict[str, Any]] = []
    call = world.call

    def recording(method: str, who: str, path: str, *args: Any, **kw: Any) -> Any:
        r = call(method, who, path, *args, **kw)
        if method != "GET" and r.is_json:
            answers.append(r.get_json())
        return r

    monkeypatch.setattr(world, "call", recording)
    act(world, marie_dossier)
    monkeypatch.undo()
    newest = receipts_of(world, marie_dossier)[-1]
    # The change under test is the last write (a removal follows an addition).
    assert answers[-1]["receipt_id"] == newest["receipt_id"]
    assert newest["action"] == action


def test_creation_answers_with_its_receipt(world: World) -> None:
    r = world.call(
        "POST",
        "admissions",
        "/dossiers",
        {
            "patient": identity("marie"),
            "consent": {"given": True, "terminal": "t"},
        },
    )
    assert r.status_code == 201, r.get_json()
    (line,) = receipts_of(world, r.get_json()["dossier_id"])
    assert r.get_json()["receipt_id"] == line["receipt_id"]


def test_a_read_or_a_refusal_names_no_receipt(world: World, marie_dossier: int) -> None:
    assert "receipt_id" not in world.call("GET", "marie", f"/dossiers/{marie_dossier}").get_json()
    refused = world.call("PUT", "gp", f"/dossiers/{marie_dossier}/emergency-settings", {})
    assert refused.status_code == 403
    assert "receipt_id" not in refused.get_json()


def test_a_replayed_change_names_the_same_receipt(world: World, marie_dossier: int) -> None:
    path = f"/dossiers/{marie_dossier}/blocks/{world.nid('specialist')}"
    first = world.call("PUT", "marie", path, **{"Idempotency-Key": "k-9"}).get_json()
    again = world.call("PUT", "marie", path, **{"Idempotency-Key": "k-9"}).get_json()
    assert first["receipt_id"] == again["receipt_id"]


def test_the_openapi_document_declares_the_receipt_id(client: Any) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    d = "/api/v1/dossiers/{dossier_id}"
    for path, method, status in [
        (f"{d}/blocks/{{national_id}}", "put", "200"),
        (f"{d}/blocks/{{national_id}}", "delete", "200"),
        (f"{d}/consents", "post", "201"),
        (f"{d}/consents/in-person", "post", "201"),
        (f"{d}/care-team", "post", "201"),
        (f"{d}/care-team/join", "post", "200"),
        (f"{d}/care-team/{{member_id}}", "delete", "200"),
        (f"{d}/medecin-traitant", "put", "200"),
        (f"{d}/emergency-settings", "put", "200"),
        (f"{d}/documents/{{logical_id}}/visibility", "patch", "200"),
        ("/api/v1/dossiers", "post", "201"),
        ("/api/v1/dossiers/in-person", "post", "201"),
        (f"{d}/representatives/in-person", "post", "201"),
        (f"{d}/close", "post", "200"),
        (f"{d}/close/in-person", "post", "200"),
        (f"{d}/reopen", "post", "200"),
    ]:
        schema = paths[path][method]["responses"][status]["content"]["application/json"]["schema"]
        assert "receipt_id" in schema["required"], path
        assert schema["properties"]["receipt_id"]["pattern"] == "^[A-Za-z0-9_-]{22}$"
    pdf = paths["/api/v1/receipts/{receipt_id}/pdf"]["get"]
    assert "application/pdf" in pdf["responses"]["200"]["content"]


def _log_verifier(world: World) -> note.Verifier:
    rt = world.rt
    return trace_log.signer(rt.keyring, rt.settings["LOG_ORIGIN"]).verifier


def test_a_receipt_carries_the_checkpoint_it_was_issued_under(
    world: World, marie_dossier: int
) -> None:
    (creation,) = receipts_of(world, marie_dossier)
    # Before the log's first pass there is no checkpoint yet: said, not invented.
    assert content_of(world, creation["receipt_id"])["log_checkpoint"] is None
    trace_log.run(world.rt)
    with world.rt.sessions() as s:
        latest = trace_log.latest(s)
        assert latest is not None
        signed_then = latest.note
    path = f"/dossiers/{marie_dossier}/emergency-settings"
    receipt_id = world.call("PUT", "marie", path, {"centre_15": False}).get_json()["receipt_id"]
    content = content_of(world, receipt_id)
    assert content["format"] == "dmp-kiosk-receipt/3"
    assert content["log_checkpoint"] == signed_then
    head = checkpoint.verify(
        content["log_checkpoint"], world.rt.settings["LOG_ORIGIN"], [_log_verifier(world)]
    )
    assert head.size >= 1


def test_each_history_line_names_the_receipt_of_its_change(
    world: World, marie_dossier: int
) -> None:
    path = f"/dossiers/{marie_dossier}/blocks/{world.nid('specialist')}"
    receipt_id = world.call("PUT", "marie", path).get_json()["receipt_id"]
    entries = world.call("GET", "marie", f"/dossiers/{marie_dossier}/history").get_json()["entries"]
    linked = {e["action"]: e["receipt_id"] for e in entries if e["receipt_id"]}
    assert linked["access:block"] == receipt_id
    assert linked["dossier:create"] == receipts_of(world, marie_dossier)[0]["receipt_id"]
    # A line with no change (a read) has none.
    assert all(e["receipt_id"] is None for e in entries if e["action"] == "history:read")


def test_the_pdf_says_what_for_whom_by_whom_when_where_and_how_to_verify(
    world: World, marie_dossier: int
) -> None:
    trace_log.run(world.rt)
    path = f"/dossiers/{marie_dossier}/blocks/{world.nid('specialist')}"
    receipt_id = world.call("PUT", "marie", path).get_json()["receipt_id"]
    r = world.call("GET", "marie", f"/receipts/{receipt_id}/pdf")
    assert r.status_code == 200
    assert r.mimetype == "application/pdf"
    assert r.headers["Cache-Control"] == "no-store"
    text = " ".join(_text(r.data).split())
    content = content_of(world, receipt_id)
    assert "Professionnel bloqué" in text
    assert "Specialist Test (médecin spécialiste" in text
    assert "ne peut plus accéder à votre dossier" in text
    assert "Marie" in text
    assert content["dossier"]["patient"]["ins"] in text
    assert "Par qui : Marie DUPONT" in text
    assert "15/06/2026 à 12:00" in text  # 10:00 UTC, said in Paris time
    assert "Borne : aucune (hors borne)" in text  # this API client is at no kiosk
    assert "Mode : par vous-même" in text
    assert receipt_id in text
    assert "openssl cms -verify -binary -inform DER" in text
    # The checkpoint, in words the patient can type back (origin, size, root hash).
    head = checkpoint.parse_text(note.verify(content["log_checkpoint"], [_log_verifier(world)])[0])
    assert head.origin in text
    assert str(head.size) in text
    assert checkpoint.Checkpoint(head.origin, head.size, head.root).text().split("\n")[2] in text


def test_the_pdf_is_read_like_the_receipt_and_traced(world: World, marie_dossier: int) -> None:
    (line,) = receipts_of(world, marie_dossier)
    path = f"/receipts/{line['receipt_id']}/pdf"
    for who in ("gp", "admissions", "jean"):
        r = world.call("GET", who, path)
        assert (r.status_code, r.get_json()["reason"]) == (404, "receipt_not_found")
    assert world.client.get(f"/api/v1{path}").status_code == 401
    assert world.call("GET", "marie", "/receipts/short/pdf").get_json()["reason"] == (
        "receipt_id_invalid"
    )
    assert world.call("GET", "marie", path).status_code == 200
    views = [
        (e.outcome, e.actor_kind)
        for e in world.trace("marie")
        if e.action == "history:read" and json.loads(e.detail).get("view") == "receipt_pdf"
    ]
    # Each refusal and the read, on the patient's chain (identical refusals are grouped).
    assert ("allowed", "patient") in views
    assert ("denied", "professional") in views
