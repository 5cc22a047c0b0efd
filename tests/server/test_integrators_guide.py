"""docs/integrators.md, run as written (issue #12): its Python blocks in one interpreter,
in order, its shell blocks with bash, against a live gunicorn server on the test
database, with a card of the emulator where the guide opens the vendor's reader. If the
guide and the server disagree, this fails."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cardreader.emulator.demo import DEMO_PIN, DEMO_PUK, PROFESSIONALS, professional_file_name
from cardreader.emulator.pki import Pki
from cardreader.emulator.virtual import VirtualCard, VirtualConnection
from server.models import AuditEntry, DenialRepeat, Document, Kiosk
from server.services import audit
from tests.server.procs import ROOT, Gunicorn, live_world, server_env
from tests.server.test_software_terminal import GP_CARD

GUIDE = ROOT / "docs" / "integrators.md"
NOT_RUN = "<!-- integrators-guide: not run"
BLOCK = re.compile(
    r"^(?P<marker><!--[^\n]*-->\n)?```(?P<lang>python|sh)\n(?P<code>.*?)^```$", re.M | re.S
)


def blocks() -> list[tuple[str, str, bool]]:
    """(language, code, run) for every fenced python or sh block, in order."""
    text = GUIDE.read_text(encoding="utf-8")
    found = []
    for match in BLOCK.finditer(text):
        marker = match.group("marker") or ""
        found.append((match.group("lang"), match.group("code"), not marker.startswith(NOT_RUN)))
    return found


def test_the_guide_has_what_the_issue_asks_and_runs_nearly_everything() -> None:
    found = blocks()
    assert [run for _lang, _code, run in found].count(False) == 1  # the reader, only
    text = GUIDE.read_text(encoding="utf-8")
    for step in (
        "Generate the software's key",
        "Get registered",
        "Sign every request",
        "Sign a professional in",
        "Search",
        "Retrieve",
        "Submit, replace, mask",
        "insurer's system",
    ):
        assert f"{step}" in text, step
    assert "dmp terminal register --kind software" in text
    assert "/fhir/R4/DocumentReference" in text


def test_every_example_of_the_guide_runs_against_a_live_server(
    settings: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = Pki.init(tmp_path / "pki")  # dated now: the server reads the real clock
    gp = next(p for p in PROFESSIONALS if professional_file_name(p.identity) == f"{GP_CARD}.json")
    card = pki.issue_card(gp.identity, pin=DEMO_PIN, puk=DEMO_PUK, demo=True)
    with_pki = {**settings, "PKI_DIR": str(tmp_path / "pki")}
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    with live_world(with_pki) as world:
        dossier = world.create("admissions", "marie", medecin_traitant=world.nid("gp"))
        world.deposit("gp", dossier, title="Compte rendu", content=b"Examen normal.")
        server = Gunicorn(settings, tmp_path / "server.log", workers=1)
        server.env["DMP_PKI_DIR"] = with_pki["PKI_DIR"]
        with server:
            monkeypatch.setenv("DMP_SERVER", f"http://127.0.0.1:{server.port}")
            shell_env = server_env(settings, DMP_PKI_DIR=with_pki["PKI_DIR"])  # before cd
            monkeypatch.chdir(vendor)
            shell_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{shell_env['PATH']}"
            namespace: dict[str, Any] = {"__name__": "integrators_guide"}
            for number, (lang, code, run) in enumerate(blocks(), start=1):
                where = f"docs/integrators.md block {number}"
                if not run:
                    namespace["connection"] = VirtualConnection(VirtualCard(card))
                    namespace["PIN"] = DEMO_PIN
                elif lang == "sh":
                    done = subprocess.run(
                        ["bash", "-euo", "pipefail", "-c", code],
                        cwd=vendor,
                        env=shell_env,
                        capture_output=True,
                        text=True,
                        timeout=120,
                        check=False,
                    )
                    assert done.returncode == 0, f"{where}:\n{done.stdout}\n{done.stderr}"
                else:
                    exec(compile(code, where, "exec"), namespace)  # noqa: S102 - the guide's own code
        # What the guide did, seen from the server.
        with world.rt.sessions() as s:
            kinds = {row.name: row.kind for row in s.execute(select(Kiosk.name, Kiosk.kind))}
            deposited = s.scalars(
                select(Document).where(
                    Document.dossier_id == dossier, Document.author_service_id.is_not(None)
                )
            ).all()
            system = s.scalars(
                select(AuditEntry).where(AuditEntry.chain == audit.SYSTEM_CHAIN)
            ).all()
        assert kinds == {"lgc-cabinet-dupont": "software", "cnam-remboursements": "insurer"}
        assert [d.category for d in deposited] == ["remboursement"]
        signins = {(e.action, e.reason, e.kiosk) for e in system if e.outcome == "allowed"}
        assert ("auth:card", "card_signin", "lgc-cabinet-dupont") in signins
        assert ("auth:terminal", "terminal_signin", "cnam-remboursements") in signins
        refusals = [e for e in world.trace("marie") if e.actor_kind == "insurer"]
        denied = [e for e in refusals if e.outcome == "denied"]
        assert [e.reason for e in denied] == ["insurer_reads_nothing"]
        with world.rt.sessions() as s:
            repeat = s.get(DenialRepeat, (denied[0].chain, denied[0].seq))
        # The FHIR search is the same refusal again: folded into the entry's count
        # (services/denials.py), not lost.
        assert repeat is not None
        assert repeat.repeats == 1
