"""A professional's software as a registered terminal (issue #12): its vendor's key pinned
by an operator, every request signed like a kiosk's, professionals signed in through it
with their card, sessions bound to it, revocable; and every attack on it refused with the
one generic answer, the detail in the trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from server.cli import main
from server.errors import AUTH_FAILED
from server.models import ApiSession, CardBinding, Kiosk
from server.signin import kiosk_identity
from server.signin.kiosk_identity import RegistrationRefused, TerminalKind
from tests.server.cardkit import CardPki, KioskClient
from tests.server.conftest import World
from tests.server.softwarekit import (
    SoftwareClient,
    detail,
    last_entry,
    new_key,
    public_pem,
    register,
)

GP_CARD = "medecin_generaliste-dupont"  # national id of World's "gp"
SOPHIE_CARD = "patient-sophie-lefebvre"  # INS of World's "marie"
GENERIC = {"error": "unauthenticated", "reason": "authentication_failed", "message": AUTH_FAILED}


@pytest.fixture
def lgc(world: World, kiosks: dict[str, KioskClient]) -> SoftwareClient:
    """Dr gp's record-keeping software, registered (the test PKI serves the cards)."""
    key = new_key()
    register(world.app, "lgc-cabinet", "software", key)
    return SoftwareClient(world.client, world.clock, "lgc-cabinet", key)


def gp_session(lgc: SoftwareClient, test_pki: CardPki) -> str:
    r = lgc.sign_in(test_pki.card(GP_CARD))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["kind"] == "professional"
    return str(r.get_json()["token"])


def refused(world: World, r: Any, action: str, reason: str) -> dict[str, Any]:
    assert r.status_code == 401, r.get_json()
    assert r.get_json() == GENERIC
    entry = last_entry(world.app)
    assert (entry.action, entry.outcome, entry.reason) == (action, "denied", reason)
    return {"entry": entry, "detail": detail(entry)}


def test_a_professional_signs_in_through_the_software_bound_to_it(
    world: World, lgc: SoftwareClient, test_pki: CardPki, marie_dossier: int
) -> None:
    token = gp_session(lgc, test_pki)
    signed_in = last_entry(world.app)
    assert (signed_in.action, signed_in.reason, signed_in.kiosk) == (
        "auth:card",
        "card_signin",
        "lgc-cabinet",
    )
    who = lgc.call("GET", "/session", token=token)
    assert who.status_code == 200
    assert (who.get_json()["kind"], who.get_json()["name"]) == ("professional", "Gp Test")
    with world.rt.sessions() as s:
        row = s.get(ApiSession, _hash(token))
        terminal = s.scalars(select(Kiosk).where(Kiosk.name == "lgc-cabinet")).one()
        binding = s.get(CardBinding, _hash(token))
        assert row is not None
        assert binding is not None
        assert (row.kiosk, binding.kiosk_id, terminal.kind) == (
            "lgc-cabinet",
            terminal.id,
            "software",
        )
    # The FHIR door, through the software, as the professional.
    world.deposit("gp", marie_dossier, title="Compte rendu de consultation")
    query = urlencode({"patient.identifier": "urn:oid:1.2.250.1.213.1.4.10|279035121518989"})
    found = lgc.send("GET", f"/fhir/R4/DocumentReference?{query}", token=token)
    assert found.status_code == 200, found.get_json()
    assert found.get_json()["total"] == 1


def test_the_card_must_sign_again_through_the_software_as_at_a_kiosk(
    world: World, lgc: SoftwareClient, test_pki: CardPki
) -> None:
    token = gp_session(lgc, test_pki)
    world.clock.advance(seconds=world.rt.settings["RESIGN_SECONDS"] + 1)
    r = lgc.call("GET", "/session", token=token)
    assert (r.status_code, r.get_json()["reason"]) == (401, "session_invalid")


def test_no_patient_signs_in_to_her_dossier_through_her_doctor_s_software(
    world: World, lgc: SoftwareClient, test_pki: CardPki
) -> None:
    r = lgc.sign_in(test_pki.card(SOPHIE_CARD))
    found = refused(world, r, "auth:card", "terminal_kind_refused")
    assert found["detail"] == {"kind": "software"}
    assert found["entry"].kiosk == "lgc-cabinet"


# ---- attacks ----------------------------------------------------------------------------


def test_a_key_the_operator_never_registered_is_refused(
    world: World, lgc: SoftwareClient, test_pki: CardPki
) -> None:
    token = gp_session(lgc, test_pki)
    impostor = SoftwareClient(world.client, world.clock, "lgc-cabinet", new_key())
    refused(
        world,
        impostor.call("GET", "/session", token=token),
        "auth:kiosk",
        "kiosk_signature_invalid",
    )
    stranger = SoftwareClient(world.client, world.clock, "lgc-inconnu", new_key())
    found = refused(
        world, stranger.call("POST", "/auth/card/challenge"), "auth:kiosk", "unknown_kiosk"
    )
    assert found["entry"].actor_name == "lgc-inconnu"


def test_a_replayed_signed_request_is_refused(
    world: World, lgc: SoftwareClient, test_pki: CardPki
) -> None:
    token = gp_session(lgc, test_pki)
    headers = lgc.headers("GET", "/api/v1/session", b"")
    sent = {**headers, "Authorization": f"Bearer {token}"}
    assert world.client.get("/api/v1/session", headers=sent).status_code == 200
    again = world.client.get("/api/v1/session", headers=sent)
    refused(world, again, "auth:kiosk", "request_replayed")


def test_a_software_s_session_used_from_another_terminal_is_refused_and_traced(
    world: World, lgc: SoftwareClient, test_pki: CardPki, kiosks: dict[str, KioskClient]
) -> None:
    token = gp_session(lgc, test_pki)
    other_key = new_key()
    register(world.app, "lgc-autre", "software", other_key)
    other = SoftwareClient(world.client, world.clock, "lgc-autre", other_key)
    for thief, where in ((other, "lgc-autre"), (kiosks["borne-1"], "borne-1"), (None, None)):
        if thief is None:  # the bare token, no terminal signature at all
            r = world.client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
        else:
            r = thief.call("GET", "/session", token=token)
        # The answer of every invalid session: whether this token is alive elsewhere is
        # not for the thief to learn.
        assert (r.status_code, r.get_json()["reason"]) == (401, "session_invalid")
        entry = last_entry(world.app)
        assert (entry.action, entry.outcome, entry.reason) == (
            "auth:kiosk",
            "denied",
            "session_other_terminal",
        )
        assert (entry.actor_kind, entry.actor_name, entry.kiosk) == (
            "professional",
            "Gp Test",
            where,
        )
        assert detail(entry) == {"session_terminal": "lgc-cabinet"}
    # The owner's own terminal still works: the attempts ended nothing.
    assert lgc.call("GET", "/session", token=token).status_code == 200


def test_revoking_the_software_refuses_it_and_ends_its_sessions(
    world: World, lgc: SoftwareClient, test_pki: CardPki
) -> None:
    token = gp_session(lgc, test_pki)
    with world.rt.sessions() as s:
        assert kiosk_identity.revoke(world.rt.ctx(s), "lgc-cabinet") == 1
        s.commit()
        row = s.get(ApiSession, _hash(token))
        assert row is not None
        assert row.ended_at is not None
    refused(world, lgc.call("GET", "/session", token=token), "auth:kiosk", "kiosk_revoked")
    # (Its challenges may go on for up to 5 s, KioskDirectory; its sign-ins stop now.)
    refused(world, lgc.sign_in(test_pki.card(GP_CARD)), "auth:kiosk", "kiosk_revoked")


def test_registration_refuses_what_it_must(world: World) -> None:
    rt = world.rt
    p384 = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    cases = [
        ("lgc", TerminalKind.SOFTWARE, p384, None, "P-256"),
        ("lgc", TerminalKind.SOFTWARE, b"not a key", None, "not a PEM public key"),
        ("lgc", TerminalKind.SOFTWARE, public_pem(new_key()), "cnam", "only an insurer"),
        ("cnam", TerminalKind.INSURER, public_pem(new_key()), None, "needs --account"),
        ("cnam", TerminalKind.INSURER, public_pem(new_key()), "mutuelle", "not an insurer"),
        ("lgc\n", TerminalKind.SOFTWARE, public_pem(new_key()), None, "printable"),
        ("x" * 101, TerminalKind.SOFTWARE, public_pem(new_key()), None, "printable"),
        ("borne", TerminalKind.KIOSK, public_pem(new_key()), None, "certificate"),
    ]
    for name, kind, pem, account, message in cases:
        with rt.sessions() as s, pytest.raises(RegistrationRefused, match=message):
            kiosk_identity.register_software(rt.ctx(s), name, kind, pem, account)


def test_a_kiosk_s_key_is_not_registered_again_as_software(
    world: World, kiosks: dict[str, KioskClient]
) -> None:
    kiosk_key = kiosks["borne-1"].key
    with world.rt.sessions() as s, pytest.raises(RegistrationRefused, match="kiosk borne-1"):
        kiosk_identity.register_software(
            world.rt.ctx(s), "cnam", TerminalKind.INSURER, public_pem(kiosk_key), "insurer"
        )


def test_the_operator_commands(settings: dict[str, Any], app: Any, tmp_path: Path) -> None:
    env = {"DMP_MASTER_KEY": settings["MASTER_KEY"]}
    url = settings["DATABASE_URL"]
    key_file = tmp_path / "lgc.pub.pem"
    key_file.write_bytes(public_pem(new_key()))

    def dmp(*args: str) -> Any:
        return CliRunner().invoke(main, ["terminal", *args], env=env)

    done = dmp(
        "register", "--db", url, "--kind", "software", "--public-key", str(key_file), "lgc-1"
    )
    assert done.exit_code == 0, done.output
    assert "software lgc-1 registered" in done.output
    again = dmp(
        "register", "--db", url, "--kind", "software", "--public-key", str(key_file), "lgc-2"
    )
    assert again.exit_code != 0
    assert "already registered" in again.output
    insurer_key = tmp_path / "cnam.pub.pem"
    insurer_key.write_bytes(public_pem(new_key()))
    cnam = dmp(
        "register",
        "--db",
        url,
        "--kind",
        "insurer",
        "--public-key",
        str(insurer_key),
        "--account",
        "Assurance Maladie",
        "cnam",
    )
    assert cnam.exit_code == 0, cnam.output
    listed = dmp("list", "--db", url).output.splitlines()
    assert [line.split("\t")[1:4:2] for line in listed] == [
        ["insurer", "active"],
        ["software", "active"],
    ]
    gone = dmp("revoke", "--db", url, "lgc-1")
    assert gone.exit_code == 0
    assert "0 session(s) ended" in gone.output
    assert "revoked" in dmp("list", "--db", url).output
    assert dmp("revoke", "--db", url, "nope").exit_code != 0


def _hash(token: str) -> str:
    from server.signin.sessions import token_hash

    return token_hash(token)
