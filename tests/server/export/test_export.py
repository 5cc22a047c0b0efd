"""Export of a dossier (issue 13, docs/export.md): what the archive holds for the patient
and for a representative, sealed at rest, handed over once through a link and a code,
every step traced."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import zipfile
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader
from sqlalchemy import select

from server import worker
from server.export import jobs
from server.models import AuditEntry, Dossier, DossierExport, OutboxMessage
from server.services import outbox
from server.signin.sent_codes import open_body
from tests.server.conftest import World
from tests.server.content_samples import FHIR, photo, text_pdf

SECRET_WORDS = "diagnostic-tres-secret-4711"


def _ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.get_json()
    return r.get_json()


def _content(body: bytes) -> str:
    return base64.b64encode(body).decode()


@pytest.fixture
def marie(world: World, marie_dossier: int) -> dict[str, str]:
    """Marie's dossier with a text, a PDF, a photo, a masked and an invisible document."""
    d = marie_dossier
    titles = {}
    titles["text"] = world.deposit(
        "gp", d, title="Compte rendu texte", content=SECRET_WORDS.encode()
    )["logical_id"]
    titles["pdf"] = world.deposit(
        "gp",
        d,
        title="Résultats PDF",
        mime_type="application/pdf",
        content_base64=_content(text_pdf("page un", "page deux")),
    )["logical_id"]
    titles["photo"] = _ok(
        world.call(
            "POST",
            "marie",
            f"/dossiers/{d}/documents",
            {
                "category": "depose_patient",
                "type_code": "11488-4",
                "title": "Ma photo",
                "mime_type": "image/png",
                "content_base64": _content(photo("PNG")),
            },
        ),
        201,
    )["logical_id"]
    titles["masked"] = world.deposit("gp", d, title="Masqué aux pros", masked_ps=True)["logical_id"]
    titles["invisible"] = world.deposit("gp", d, title="Annonce à venir", invisible_patient=True)[
        "logical_id"
    ]
    return titles


def export(world: World, who: str, dossier_id: int) -> dict[str, Any]:
    """Asks, builds (the worker's one pass) and answers the export's final state."""
    asked = _ok(world.call("POST", who, f"/dossiers/{dossier_id}/exports"), 202)
    assert asked["status"] == "queued"
    assert jobs.run_once(world.rt) == "ready"
    done = _ok(world.call("GET", who, f"/exports/{asked['export_id']}"))
    assert (done["status"], done["progress"]) == ("ready", 100)
    return dict(done)


def link_and_code(world: World, who: str, export_id: str) -> tuple[str, str]:
    answer = _ok(world.call("POST", who, f"/exports/{export_id}/link"), 201)
    path = "/" + answer["url"].split("/", 3)[3]
    with world.rt.sessions() as s:
        ctx = world.rt.ctx(s)
        message = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "export_code")
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert message is not None
        text = open_body(ctx, f"outbox:{message.id}", message.body)
        link = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "export_link")
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert link is not None
        said = open_body(ctx, f"outbox:{link.id}", link.body)
        assert answer["url"] in said
        # French, then English: the English half has no French date words in it.
        english = said.split(" / ", 1)[1]
        assert re.search(r"before \d\d/\d\d/\d{4} \d\d:\d\d \(Paris time\)", english)
        assert " à " not in english
    code = re.search(r"\b(\d{8})\b", text)
    assert code is not None
    assert code.group(1) not in json.dumps(answer)  # the code never reaches the kiosk
    return path, code.group(1)


def fetch(world: World, who: str, export_id: str) -> zipfile.ZipFile:
    path, code = link_and_code(world, who, export_id)
    r = world.client.post(path, data={"code": code})
    assert r.status_code == 200, r.data[:300]
    assert r.mimetype == "application/zip"
    assert "no-store" in r.headers["Cache-Control"]
    return zipfile.ZipFile(io.BytesIO(r.data))


def test_the_patients_export_holds_everything_she_may_see(
    world: World, marie_dossier: int, marie: dict[str, str]
) -> None:
    done = export(world, "marie", marie_dossier)
    assert done["documents"] == 4  # the invisible one is not hers to see yet
    z = fetch(world, "marie", done["export_id"])
    names = z.namelist()
    originals = [n for n in names if n.startswith("originals/")]
    assert len(originals) == 4
    assert not any(marie["invisible"][:8] in n for n in names)
    assert any(n.endswith(".pdf") for n in originals)
    assert any(n.endswith(".png") for n in originals)
    text = next(n for n in originals if marie["text"][:8] in n)
    assert z.read(text) == SECRET_WORDS.encode()
    # The readable PDF: cover, contents, the text rendered, the PDF's two pages appended.
    reader = PdfReader(io.BytesIO(z.read("dossier.pdf")))
    whole = "\n".join(page.extract_text() for page in reader.pages)
    assert "Sommaire" in whole
    assert SECRET_WORDS in whole
    assert "page un" in whole
    assert "page deux" in whole
    assert "Annonce à venir" not in whole
    assert "Historique des accès" in whole
    assert {o.title for o in reader.outline if hasattr(o, "title")} >= {"Historique des accès"}
    # The FHIR bundle parses with the R4 models and holds each document and its bytes.
    bundle = Bundle.model_validate_json(z.read("fhir-bundle.json"))
    kinds = [e.resource.__resource_type__ for e in bundle.entry]
    assert kinds.count("DocumentReference") == 4
    assert kinds.count("Binary") == 4
    assert kinds.count("Patient") == 1
    history = json.loads(z.read("history.json"))
    assert any(e["action"] == "dossier:export" for e in history["entries"])
    # The receipts: each one's exact signed bytes and signature, and the chain.
    receipts = [n for n in names if n.startswith("receipts/")]
    assert "receipts/certificate-chain.pem" in receipts
    listed = _ok(world.call("GET", "marie", f"/dossiers/{marie_dossier}/receipts"))["receipts"]
    assert listed  # the dossier's creation consent, at least
    for line in listed:
        rid = line["receipt_id"]
        assert z.read(f"receipts/{rid}.json") == world.call("GET", "marie", f"/receipts/{rid}").data
        signature = world.call("GET", "marie", f"/receipts/{rid}/signature").data
        assert z.read(f"receipts/{rid}.p7s") == signature


def test_a_representative_gets_only_what_representatives_may_see(world: World) -> None:
    leo = world.create(
        "gp", "leo", representatives=["279035121518989"], medecin_traitant=world.nid("gp")
    )
    world.deposit("gp", leo, title="vaccins")
    secret = world.deposit("gp", leo, title="secret", invisible_rep=True)["logical_id"]
    z = fetch(world, "marie", export(world, "marie", leo)["export_id"])  # his mother
    assert not any(secret[:8] in n for n in z.namelist())
    assert len([n for n in z.namelist() if n.startswith("originals/")]) == 1
    assert b"secret" not in z.read("fhir-bundle.json")
    whole = "".join(p.extract_text() for p in PdfReader(io.BytesIO(z.read("dossier.pdf"))).pages)
    assert "représentant légal" in whole
    # Léo himself gets both.
    z = fetch(world, "leo", export(world, "leo", leo)["export_id"])
    assert len([n for n in z.namelist() if n.startswith("originals/")]) == 2


def _summary_of(z: zipfile.ZipFile) -> dict[str, Any]:
    """The IPS document Bundle inside the export's FHIR collection."""
    collection = json.loads(z.read("fhir-bundle.json"))
    Bundle.model_validate(collection)  # the nested document Bundle validates with it
    [ips] = [
        e["resource"]
        for e in collection["entry"]
        if e["resource"]["resourceType"] == "Bundle" and e["resource"]["type"] == "document"
    ]
    composition = ips["entry"][0]["resource"]
    assert composition["type"]["coding"][0]["code"] == "60591-5"  # IPS
    return dict(ips)


def _medications(ips: dict[str, Any]) -> list[str]:
    return [
        e["resource"]["medicationCodeableConcept"]["text"]
        for e in ips["entry"]
        if e["resource"]["resourceType"] == "MedicationStatement"
    ]


def test_the_export_holds_the_patient_summary_of_what_its_requester_may_see(
    world: World,
) -> None:
    # A FHIR document with a medication line, invisible to representatives:
    # Léo's own export summarises it, his mother's export knows nothing of it.
    leo = world.create(
        "gp", "leo", representatives=["279035121518989"], medecin_traitant=world.nid("gp")
    )
    world.deposit(
        "gp",
        leo,
        title="ordonnance",
        category="prescription",
        content=FHIR,
        mime_type="application/fhir+json",
        invisible_rep=True,
    )
    own = _summary_of(fetch(world, "leo", export(world, "leo", leo)["export_id"]))
    assert "DOLIPRANE 1000 mg" in _medications(own)
    mother = _summary_of(fetch(world, "marie", export(world, "marie", leo)["export_id"]))
    assert _medications(mother) == []
    assert "DOLIPRANE" not in json.dumps(mother)


def test_professionals_and_strangers_cannot_export(world: World, marie_dossier: int) -> None:
    for who in ("gp", "jean", "insurer", "mutuelle"):
        r = world.call("POST", who, f"/dossiers/{marie_dossier}/exports")
        assert r.status_code in (403, 404), (who, r.get_json())
    denied = [
        e for e in world.trace("marie") if e.action == "dossier:export" and e.outcome == "denied"
    ]
    assert len(denied) >= 2  # the gp and jean, each traced on her chain


def test_another_persons_export_id_is_unknown(world: World, marie_dossier: int) -> None:
    done = export(world, "marie", marie_dossier)
    for who in ("jean", "gp"):
        r = world.call("GET", who, f"/exports/{done['export_id']}")
        assert r.status_code == 404
        assert world.call("POST", who, f"/exports/{done['export_id']}/link").status_code == 404
    assert world.call("GET", "marie", "/exports/" + "A" * 22).status_code == 404
    assert world.call("GET", "marie", "/exports/%C3%A9t%C3%A9").status_code in (400, 404)


def test_the_archive_is_sealed_at_rest_and_dies_with_the_key(
    world: World, marie_dossier: int
) -> None:
    world.deposit("gp", marie_dossier, title="Texte", content=SECRET_WORDS.encode())
    done = export(world, "marie", marie_dossier)
    with world.rt.sessions() as s:
        row = s.scalars(
            select(DossierExport).where(DossierExport.export_id == done["export_id"])
        ).one()
        assert row.archive is not None
        assert row.nonce is not None
        assert b"PK\x03\x04" not in row.archive[:64]
        assert SECRET_WORDS.encode() not in row.archive
        assert b"originals/" not in row.archive


def test_a_link_serves_once_and_says_so_in_french(world: World, marie_dossier: int) -> None:
    done = export(world, "marie", marie_dossier)
    path, code = link_and_code(world, "marie", done["export_id"])
    page = world.client.get(path)
    assert page.status_code == 200
    assert "code" in page.get_data(as_text=True)
    assert world.client.post(path, data={"code": code}).status_code == 200
    again = world.client.post(path, data={"code": code})
    assert again.status_code == 410
    assert "déjà servi" in again.get_data(as_text=True)
    assert "already been used" in again.get_data(as_text=True)
    assert world.client.get(path).status_code == 410
    downloads = [
        e
        for e in world.trace("marie")
        if e.action == "dossier:export" and json.loads(e.detail or "{}").get("step") == "download"
    ]
    assert [e.outcome for e in downloads] == ["allowed"]


def test_an_expired_link_and_a_wrong_code(world: World, marie_dossier: int) -> None:
    done = export(world, "marie", marie_dossier)
    path, code = link_and_code(world, "marie", done["export_id"])
    wrong = "0" * 8 if code != "0" * 8 else "1" * 8
    r = world.client.post(path, data={"code": wrong})
    assert r.status_code == 400
    assert "pas le bon" in r.get_data(as_text=True)
    for bad in ("", "12", "１２３４５６７８", "x" * 5000):
        assert world.client.post(path, data={"code": bad}).status_code in (400, 410)
    r = world.client.post(path, data={"code": code})  # five wrong tries spent it
    assert r.status_code == 410
    assert "Trop de codes" in r.get_data(as_text=True)
    refused = [e.reason for e in world.trace("marie") if e.reason.startswith("export_")]
    assert "export_code_invalid" in refused
    assert "export_link_spent" in refused
    # A fresh link, left 25 hours: expired.
    path, code = link_and_code(world, "marie", done["export_id"])
    world.clock.advance(hours=25)
    r = world.client.post(path, data={"code": code})
    assert r.status_code == 410
    assert "expiré" in r.get_data(as_text=True)
    assert world.client.get("/export/nimportequoi").status_code == 404


def test_the_worker_deletes_expired_archives(world: World, marie_dossier: int) -> None:
    done = export(world, "marie", marie_dossier)
    world.clock.advance(days=8)
    assert jobs.expire(world.rt) == 1
    with world.rt.sessions() as s:
        row = s.scalars(select(DossierExport)).one()
        assert (row.status, row.archive, row.nonce) == ("expired", None, None)
    world.tokens["marie"] = world.open("marie")  # her session ended meanwhile
    assert _ok(world.call("GET", "marie", f"/exports/{done['export_id']}"))["status"] == "expired"
    assert world.call("POST", "marie", f"/exports/{done['export_id']}/link").status_code == 409


def test_asking_twice_builds_once_and_a_flow_can_wait(world: World, marie_dossier: int) -> None:
    first = _ok(world.call("POST", "marie", f"/dossiers/{marie_dossier}/exports"), 202)
    second = _ok(world.call("POST", "marie", f"/dossiers/{marie_dossier}/exports"), 202)
    assert first["export_id"] == second["export_id"]
    assert jobs.wait(world.rt, first["export_id"], timeout=30, build_here=True) == "ready"


def test_the_outbox_redacts_the_link_and_code_once_sent(world: World, marie_dossier: int) -> None:
    done = export(world, "marie", marie_dossier)
    link_and_code(world, "marie", done["export_id"])
    with world.rt.sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind.like("export_%"))).all()
        assert rows
        assert all(r.body.startswith("sealed:") for r in rows)
    assert outbox.SECRET_KINDS >= {"export_link", "export_code"}


def test_history_lines_of_an_export(world: World, marie_dossier: int) -> None:
    export(world, "marie", marie_dossier)
    steps = [
        json.loads(e.detail or "{}").get("step")
        for e in world.trace("marie")
        if e.action == "dossier:export"
    ]
    assert steps == ["request", "build"]
    assert all(isinstance(e, AuditEntry) for e in world.trace("marie"))


def test_a_destroyed_key_destroys_the_export_and_its_link(world: World, marie_dossier: int) -> None:
    done = export(world, "marie", marie_dossier)
    path, code = link_and_code(world, "marie", done["export_id"])
    queued = _ok(world.call("POST", "marie", f"/dossiers/{marie_dossier}/exports"), 202)
    with world.rt.sessions() as s:
        dossier = s.get(Dossier, marie_dossier)
        assert dossier is not None
        dossier.wrapped_key = None  # what the purge does (crypto-shredding)
        s.commit()
    assert jobs.run_once(world.rt, queued["export_id"]) == "failed"
    r = world.client.post(path, data={"code": code})
    assert r.status_code == 410
    assert "expiré" in r.get_data(as_text=True)


def test_deleted_documents_stay_out_and_a_closed_dossier_still_exports(
    world: World, marie_dossier: int
) -> None:
    kept = world.deposit("gp", marie_dossier, title="gardé")["logical_id"]
    gone = world.deposit("gp", marie_dossier, title="effacé")["logical_id"]
    _ok(world.call("DELETE", "gp", f"/dossiers/{marie_dossier}/documents/{gone}"))
    _ok(world.call("POST", "marie", f"/dossiers/{marie_dossier}/close", {"confirm": True}))
    z = fetch(world, "marie", export(world, "marie", marie_dossier)["export_id"])
    names = z.namelist()
    assert any(kept[:8] in n for n in names)
    assert not any(gone[:8] in n for n in names)
    assert b"effac" not in z.read("fhir-bundle.json")


def test_a_representative_whose_child_came_of_age_gets_nothing(world: World) -> None:
    leo = world.create("gp", "leo", representatives=["279035121518989"])
    asked = _ok(world.call("POST", "marie", f"/dossiers/{leo}/exports"), 202)
    world.clock.advance(days=365 * 12)  # Léo is 23: his mother no longer represents him
    assert jobs.run_once(world.rt) == "failed"
    with world.rt.sessions() as s:
        job = s.scalars(
            select(DossierExport).where(DossierExport.export_id == asked["export_id"])
        ).one()
        assert (job.error, job.archive) == ("refused", None)
    refused = [
        e for e in world.trace("leo") if e.action == "dossier:export" and e.outcome == "denied"
    ]
    assert [e.reason for e in refused] == ["representative_of_adult"]


def test_two_downloads_at_once_get_one_archive(world: World, marie_dossier: int) -> None:
    done = export(world, "marie", marie_dossier)
    path, code = link_and_code(world, "marie", done["export_id"])
    statuses: list[int] = []

    def download() -> None:
        client = world.app.test_client()
        statuses.append(client.post(path, data={"code": code}).status_code)

    threads = [threading.Thread(target=download) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 410, 410, 410]


def test_the_history_says_each_step_of_an_export(world: World, marie_dossier: int) -> None:
    done = export(world, "marie", marie_dossier)
    fetch(world, "marie", done["export_id"])
    lines = _ok(world.call("GET", "marie", f"/dossiers/{marie_dossier}/history"))["entries"]
    texts = [line["text"] for line in lines if line["action"] == "dossier:export"]
    for words in (
        "a demandé l'export du dossier",
        "a fait préparer l'export",
        "a demandé le lien de téléchargement",
        "a téléchargé l'export du dossier",
    ):
        assert any(words in text for text in texts), words


def test_dmp_worker_builds_queued_exports(world: World, marie_dossier: int) -> None:
    asked = _ok(world.call("POST", "marie", f"/dossiers/{marie_dossier}/exports"), 202)
    done = worker.serve(world.rt, {}, poll_seconds=0.1, once=True)
    assert done.exported == 1
    status = _ok(world.call("GET", "marie", f"/exports/{asked['export_id']}"))
    assert (status["status"], status["progress"]) == ("ready", 100)
