"""A small world for API tests: named actors with sessions, helpers that call the API."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from server.models import AuditEntry, Patient, Professional, ServiceAccount
from server.policy import ActorKind
from server.signin import sessions
from tests.server import cardkit

PROS = {
    # name: (national id, profession, FINESS)
    "gp": ("810002813839", "medecin_generaliste", "750000010"),
    "specialist": ("810001234565", "medecin_specialiste", "920000049"),
    "pharmacien": ("810002345675", "pharmacien", "750000028"),
    "infirmier": ("810003456786", "infirmier", "750000010"),
    "admissions": ("810004567896", "admissions", "920000049"),
    "urgentiste": ("810005678908", "urgentiste", "130000060"),
    "regulateur": ("810006789019", "regulateur_samu", "130000060"),
    "travail": ("810007890121", "medecin_travail", None),
}
PATIENTS = {
    # name: (INS, birth name, first names, birth date, sex, birth place)
    "marie": ("279035121518989", "DUPONT", "Marie Anne", "1979-03-15", "F", "51215"),
    "leo": ("115067505612342", "DUPONT", "Léo", "2015-06-02", "M", "75056"),
    "lucia": ("253072B07300470", "ALBERTINI", "Lucia", "1953-07-12", "F", "2B073"),
    "jean": ("187069201234563", "ROUSSEAU", "Jean", "1987-06-20", "M", "92012"),
}


def identity(name: str, **extra: Any) -> dict[str, Any]:
    ins, birth_name, first, born, sex, place = PATIENTS[name]
    return {
        "ins": ins,
        "birth_name": birth_name,
        "first_names": first,
        "birth_date": born,
        "sex": sex,
        "birth_place": place,
        "email": f"{name}@example.org",
        **extra,
    }


def doc(
    category: str = "compte_rendu", content: bytes = b"contenu", **extra: Any
) -> dict[str, Any]:
    return {
        "category": category,
        "type_code": "11488-4",
        "title": f"Document {category}",
        "mime_type": "text/plain",
        "content_base64": base64.b64encode(content).decode(),
        **extra,
    }


class World:
    def __init__(self, app: Any, client: Any, clock: Any) -> None:
        self.app, self.client, self.clock = app, client, clock
        self.rt = app.extensions["dmp"]
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, int] = {}
        with self.rt.sessions() as s:
            for name, (nid, profession, finess) in PROS.items():
                pro = Professional(
                    national_id=nid,
                    first_name=name.title(),
                    last_name="Test",
                    profession=profession,
                    structure_finess=finess,
                    active=True,
                )
                s.add(pro)
                s.flush()
                self.ids[name] = pro.id
            for name in PATIENTS:
                ins, birth_name, first, born, sex, place = PATIENTS[name]
                patient = Patient(
                    ins=ins,
                    ins_oid="1.2.250.1.213.1.4.10",
                    birth_name=birth_name,
                    first_names=first,
                    birth_date=date.fromisoformat(born),
                    sex=sex,
                    birth_place=place,
                    email=f"{name}@example.org",
                    notify_channel="email",
                    created_at=clock(),
                )
                s.add(patient)
                s.flush()
                self.ids[name] = patient.id
            for name, kind in (("insurer", "insurer"), ("mutuelle", "third_party")):
                account = ServiceAccount(name=name, kind=kind)
                s.add(account)
                s.flush()
                self.ids[name] = account.id
            s.commit()
        for name in [*PROS, *PATIENTS, "insurer", "mutuelle"]:
            self.tokens[name] = self.open(name)

    def kind(self, name: str) -> ActorKind:
        if name in PROS:
            return ActorKind.PROFESSIONAL
        if name in PATIENTS:
            return ActorKind.PATIENT
        return ActorKind.INSURER if name == "insurer" else ActorKind.THIRD_PARTY

    def open(self, name: str, kiosk: str | None = None) -> str:
        with self.rt.sessions() as s:
            token = sessions.open_session(self.rt.ctx(s), self.kind(name), self.ids[name], kiosk)
            s.commit()
        return token

    def h(self, name: str, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}", **headers}

    def nid(self, name: str) -> str:
        return PROS[name][0]

    def call(self, method: str, who: str, path: str, body: Any = None, **headers: str) -> Any:
        return self.client.open(
            f"/api/v1{path}", method=method, json=body, headers=self.h(who, **headers)
        )

    def create(self, who: str, patient: str, **extra: Any) -> int:
        body = {
            "patient": identity(patient),
            "consent": {"given": True, "terminal": "test-kiosk"},
            **extra,
        }
        r = self.call("POST", who, "/dossiers", body)
        assert r.status_code == 201, r.get_json()
        return int(r.get_json()["dossier_id"])

    def deposit(self, who: str, dossier_id: int, **fields: Any) -> dict[str, Any]:
        r = self.call("POST", who, f"/dossiers/{dossier_id}/documents", doc(**fields))
        assert r.status_code == 201, r.get_json()
        result: dict[str, Any] = r.get_json()
        return result

    def titles(self, who: str, dossier_id: int, query: str = "") -> list[str]:
        r = self.call("GET", who, f"/dossiers/{dossier_id}/documents{query}")
        assert r.status_code == 200, r.get_json()
        return [d["title"] for d in r.get_json()["documents"]]

    def trace(self, patient: str) -> list[AuditEntry]:
        with self.rt.sessions() as s:
            return list(
                s.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.chain == f"patient:{self.ids[patient]}")
                    .order_by(AuditEntry.seq)
                )
            )


@pytest.fixture
def world(app: Any, client: Any, clock: Any) -> World:
    return World(app, client, clock)


@pytest.fixture
def marie_dossier(world: World) -> int:
    """Marie's dossier, Dr gp as médecin traitant, created at the admissions desk."""
    return world.create("admissions", "marie", medecin_traitant=world.nid("gp"))


# ---- card sign-in and kiosk identity (issue #4) ---------------------------------------


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> cardkit.CardPki:
    """The TEST PKI with the demo cards and three kiosks, built once per session."""
    return cardkit.build_test_pki(tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture
def kiosks(app: Any, client: Any, clock: Any, test_pki: cardkit.CardPki) -> dict[str, Any]:
    """The app on the test PKI, with borne-1 and borne-2 registered, as signed clients."""
    cardkit.use_pki(app, test_pki.directory)
    for name in ("borne-1", "borne-2"):
        cardkit.register(app, test_pki, name)
    return {
        name: cardkit.KioskClient(client, clock, name, cardkit.load_key(device))
        for name, device in test_pki.kiosks.items()
    }


@pytest.fixture
def borne(kiosks: dict[str, Any]) -> Any:
    """Kiosk borne-1, where the test cards are read (and codes typed) by default."""
    return kiosks["borne-1"]
