"""Issue #14 at the kiosk: "Vérifier mon historique" proves each line the patient sees is
in the verifiable log, against the log key the kiosk was installed with; a line rewritten
in the server's database is reported, in plain French."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from server.models import AuditEntry, LogLeaf, Patient
from server.services import audit, trace_log
from tests.kiosk.conftest import Kiosk

MARIE = "patient-marie-durand"


def _server(at: Kiosk) -> Any:
    return at.running.server_app.extensions["dmp"]


def test_the_patient_verifies_her_history_and_sees_a_rewritten_line(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient(MARIE)
    page.wait_for_url("**/patient/")
    page.goto(at.running.kiosk_url + "/patient/history")
    rt = _server(at)
    trace_log.run(rt)  # what the demo's worker does within a second, made certain
    with rt.sessions() as s:
        marie = s.scalars(select(Patient).where(Patient.first_names.like("Marie%"))).first()
        assert marie is not None
        chain = audit.chain_for(marie.id)
        lines = s.scalar(select(func.count()).where(AuditEntry.chain == chain))
    page.click("[data-testid=verify]")
    verdict = page.inner_text("[data-testid=verdict]")
    assert "Historique vérifié." in verdict
    assert "n'ont pas été modifiées ni retirées" in verdict
    # This very reading of the page is the one line too recent to be in the log yet (the
    # receipt the check then reads is traced after the page was read).
    assert "1 ligne(s) toute(s) récente(s)" in verdict
    assert f"Les {lines} ligne(s) vérifiée(s)" in verdict
    at.shot("patient", "historique-verifie")

    # Someone with the database rewrites who read her dossier on one of her lines already
    # in the log, and leaves its hash alone: the kiosk recomputes each line's hash from
    # the fields it shows, so the line no longer gives the hash the log holds.
    with rt.sessions() as s:
        target = s.scalars(
            select(AuditEntry)
            .join(LogLeaf, LogLeaf.audit_entry_id == AuditEntry.id)
            .where(AuditEntry.chain == chain)
            .order_by(AuditEntry.seq)
        ).first()
        assert target is not None
        s.execute(
            update(AuditEntry)
            .where(AuditEntry.id == target.id)
            .values(actor_name="Quelqu'un d'autre")
        )
        s.commit()
    page.click("[data-testid=verify]")
    verdict = page.inner_text("[data-testid=verdict]")
    assert "Attention : votre historique ne correspond pas au journal public." in verdict
    assert "1 ligne(s) ne figurent pas dans le journal" in verdict
    assert "CNIL" in verdict
    at.shot("patient", "historique-altere")


def test_in_english_the_verdict_is_english(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient(MARIE)
    page.wait_for_url("**/patient/")
    page.goto(at.running.kiosk_url + "/patient/history")
    page.click("button[name=lang][value=en]")
    page.wait_for_url("**/patient/history")
    trace_log.run(_server(at))
    page.click("[data-testid=verify]")
    assert "History verified." in page.inner_text("[data-testid=verdict]")
