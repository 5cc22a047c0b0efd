"""`dmp pki ...` and `dmp card ...` (run through click, on the cardreader groups)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cardreader.emulator.cli import card, pki
from cardreader.emulator.demo import PATIENTS, PROFESSIONALS
from cardreader.identity import PROFESSIONS, ins_valid, national_id_valid


@click.group()
def dmp() -> None:
    """Stand-in for the `dmp` root, which registers these two groups."""


dmp.add_command(pki)
dmp.add_command(card)


def _run(*args: str) -> str:
    result = CliRunner().invoke(dmp, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo") / "pki"
    _run("pki", "init", str(directory))
    _run("card", "demo-set", str(directory))
    return directory


def test_demo_set_files_and_index(demo_dir: Path) -> None:
    index = json.loads((demo_dir / "cards" / "index.json").read_text())
    files = sorted(path.name for path in (demo_dir / "cards").glob("*.json"))
    assert sorted(entry["file"] for entry in index["cards"]) == [
        name for name in files if name != "index.json"
    ]
    patients = [e for e in index["cards"] if e["kind"] == "patient"]
    professionals = [e for e in index["cards"] if e["kind"] == "professional"]
    assert all(e["file"].startswith("patient-") and ins_valid(e["ins"]) for e in patients)
    assert all(national_id_valid(e["national_id"]) for e in professionals)
    assert all(e["profession"] in PROFESSIONS for e in professionals)
    assert {
        "medecin_generaliste",
        "pharmacien",
        "infirmier",
        "admissions",
        "urgentiste",
        "regulateur_samu",
    } <= {e["profession"] for e in professionals}
    minors = [e for e in patients if e["minor"]]
    assert minors
    assert all(rep in {p["ins"] for p in patients} for m in minors for rep in m["representatives"])
    assert any(e["birth_place"].startswith(("2A", "2B")) for e in patients)
    gp = next(e for e in professionals if e["profession"] == "medecin_generaliste")
    assert gp["medecin_traitant_of"]
    assert all(
        p["medecin_traitant"] == gp["national_id"]
        for p in patients
        if p["ins"] in gp["medecin_traitant_of"]
    )
    assert len(patients) == len(PATIENTS)
    assert len(professionals) == len(PROFESSIONALS)
    assert (demo_dir / "cards" / "pharmacien-moreau.json").exists()


def test_revoke_card_file_then_openssl_refuses(demo_dir: Path) -> None:
    card_file = demo_dir / "cards" / "pharmacien-moreau.json"
    leaf = demo_dir / "moreau.pem"
    leaf.write_text(json.loads(card_file.read_text())["certificate_pem"])
    command = [
        "openssl",
        "verify",
        "-crl_check",
        "-CAfile",
        str(demo_dir / "root-ca.pem"),
        "-untrusted",
        str(demo_dir / "professional-ca.pem"),
        "-CRLfile",
        str(demo_dir / "professional-ca.crl.pem"),
        str(leaf),
    ]
    assert subprocess.run(command, capture_output=True, check=False, timeout=60).returncode == 0
    assert "revoked serial" in _run("pki", "revoke", str(demo_dir), str(card_file))
    refused = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert refused.returncode != 0
    assert "revoked" in refused.stdout + refused.stderr


def test_show_prints_no_secret(demo_dir: Path) -> None:
    output = _run("card", "show", str(demo_dir / "cards" / "medecin_generaliste-dupont.json"))
    shown = json.loads(output)
    assert shown["identity"]["national_id"] == "810002813839"
    assert shown["pin_tries_remaining"] == 3
    assert "PRIVATE KEY" not in output
    assert "sha256" not in output


def test_issue_card_from_identity_file(demo_dir: Path, tmp_path: Path) -> None:
    identity = {
        "kind": "professional",
        "last_name": "NOEL",
        "first_name": "Ana",
        "national_id": "810007890121",
        "profession": "sage_femme",
        "structure": {"finess": "750100018", "name": "Cabinet"},
    }
    (tmp_path / "id.json").write_text(json.dumps(identity))
    output = _run(
        "pki", "issue-card", str(demo_dir), str(tmp_path / "id.json"), str(tmp_path / "card.json")
    )
    assert "PIN " in output
    assert json.loads((tmp_path / "card.json").read_text())["kind"] == "professional"


def test_issue_kiosk_and_server(demo_dir: Path) -> None:
    _run("pki", "issue-kiosk", str(demo_dir), "borne-01")
    _run(
        "pki", "issue-server", str(demo_dir), "dmp.test", "--dns", "localhost", "--ip", "127.0.0.1"
    )
    for path in (
        "kiosks/borne-01.pem",
        "kiosks/borne-01.key.pem",
        "servers/dmp.test.pem",
        "servers/dmp.test.key.pem",
        "servers/dmp.test.chain.pem",
    ):
        assert (demo_dir / path).exists()
    _run("pki", "crl", str(demo_dir))


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    result = CliRunner().invoke(dmp, ["pki", "issue-kiosk", str(tmp_path / "none"), "k"])
    assert result.exit_code == 1
    assert "dmp pki init" in result.output
