"""Issue 13 and 14 at the kiosk: the server's signed receipt shown in the page right after
a consent change, « Mes reçus », printing from the page, a pulled card taking it away,
each history line opening its receipt, and "Vérifier mon historique" proving the log
consistent with the checkpoint on the patient's last receipt (a rewritten log caught)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select, update

from server.models import (
    AuditEntry,
    AuditHead,
    LogCheckpoint,
    LogLeaf,
    LogNode,
    Patient,
    Receipt,
)
from server.services import audit, trace_log
from tests.kiosk.conftest import READER_PATIENT, Kiosk
from tests.kiosk.test_touch_targets import _small

MARIE = "patient-marie-durand"
RECEIPT_ID_LENGTH = 22


def _rt(at: Kiosk) -> Any:
    return at.running.server_app.extensions["dmp"]


def _signed_in(at: Kiosk) -> Any:
    page: Any = at.page
    at.sign_in_patient(MARIE)
    page.wait_for_url("**/patient/")
    trace_log.run(_rt(at))  # the demo's worker does it within a second: made certain
    return page


def _withdraw_bris_de_glace(at: Kiosk) -> str:
    page: Any = at.page
    page.goto(at.running.kiosk_url + "/patient/emergency")
    page.uncheck("[data-testid=bris]")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=receipt-ready]")
    return str(page.inner_text("[data-testid=receipt-id]")).strip()


def test_a_consent_change_shows_its_signed_receipt_which_prints_and_leaves_with_the_card(
    at: Kiosk,
) -> None:
    page = _signed_in(at)
    receipt_id = _withdraw_bris_de_glace(at)
    assert len(receipt_id) == RECEIPT_ID_LENGTH
    view = page.inner_text("[data-testid=receipt-view]")
    assert "Reçu signé : Accès en urgence" in view
    assert "Bris de glace (un professionnel en urgence) : refusé" in view
    assert "Régulateur du SAMU (centre 15) : autorisé" in view
    assert "Marie" in view
    assert "DURAND" in view
    assert "par vous-même" in view
    # It is the server's receipt: the very id, content and checkpoint it signed.
    with _rt(at).sessions() as s:
        stored = s.scalars(select(Receipt).where(Receipt.receipt_id == receipt_id)).one()
        content = json.loads(stored.content)
    assert content["action"] == "emergency:settings"
    assert content["log_checkpoint"].split("\n")[1] in page.inner_text(
        "[data-testid=receipt-checkpoint]"
    )
    assert page.locator("[data-testid=receipt-qr]").count() == 1
    at.shot("recus", "apres-changement")

    # Printing happens from the page itself: no new tab, no download.
    page.evaluate(
        "() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }"
    )
    page.click("[data-testid=print]")
    assert page.evaluate("window.__printed") == 1
    assert len(page.context.pages) == 1

    # « Mes reçus »: newest first, each opening inside the page.
    page.click("[data-testid=my-receipts]")
    page.wait_for_url("**/patient/receipts")
    lines = page.locator("[data-testid=receipt-line]")
    assert lines.count() >= 2  # the dossier's opening, and this change
    assert "Accès en urgence" in lines.nth(0).inner_text()
    assert "Ouverture de votre dossier" in lines.nth(lines.count() - 1).inner_text()
    at.shot("recus", "liste")
    lines.nth(0).click()
    page.wait_for_url(f"**/patient/receipts/{receipt_id}")
    assert page.inner_text("[data-testid=receipt-id]").strip() == receipt_id
    assert len(page.context.pages) == 1
    at.shot("recus", "recu")

    # Pulling the card clears it like every other screen.
    at.pull(READER_PATIENT)
    page.wait_for_selector("[data-testid=welcome]", timeout=1000)
    assert page.locator("[data-testid=receipt-view]").count() == 0
    assert "DURAND" not in page.inner_text("body")
    page.goto(at.running.kiosk_url + f"/patient/receipts/{receipt_id}")
    assert page.locator("[data-testid=receipt-view]").count() == 0
    assert "Accès en urgence" not in page.inner_text("body")


def test_in_english_the_receipt_and_the_list_are_english(at: Kiosk) -> None:
    page = _signed_in(at)
    page.click("button[name=lang][value=en]")
    _withdraw_bris_de_glace(at)
    view = page.inner_text("[data-testid=receipt-view]")
    assert "Signed receipt: Emergency access" in view
    assert "Break the glass (a professional in an emergency): refused" in view
    page.click("[data-testid=my-receipts]")
    assert "My receipts" in page.inner_text("h1")
    assert "Your record opened" in page.inner_text("[data-testid=receipts]")


def test_a_history_line_opens_its_receipt_in_the_page(at: Kiosk) -> None:
    page = _signed_in(at)
    receipt_id = _withdraw_bris_de_glace(at)
    page.goto(at.running.kiosk_url + "/patient/history")
    links = page.locator("[data-testid=history-receipt]")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert f"/patient/receipts/{receipt_id}" in hrefs
    assert all(links.nth(i).get_attribute("target") is None for i in range(links.count()))
    button = page.locator(f"[data-testid=history-receipt][href='/patient/receipts/{receipt_id}']")
    # Labelled by what it proves, on a line that says she changed something (review #6).
    assert button.inner_text() == "Voir le reçu : accès en urgence modifiés"
    visit = page.locator("li.own", has=button).inner_text()
    assert "Vous avez consulté votre dossier." not in visit  # she changed things
    assert "Vous avez consulté votre dossier, " in visit or " et modifié " in visit
    button.click()
    page.wait_for_url(f"**/patient/receipts/{receipt_id}")
    assert "Accès en urgence" in page.inner_text("[data-testid=receipt-view]")


def test_someone_elses_or_a_forged_receipt_id_shows_nothing(at: Kiosk) -> None:
    page = _signed_in(at)
    with _rt(at).sessions() as s:
        marie = s.scalars(select(Patient).where(Patient.first_names.like("Marie%"))).first()
        assert marie is not None
        others = s.scalars(select(Receipt.receipt_id)).all()
        mine = s.scalars(
            select(Receipt.receipt_id)
            .join(AuditEntry, AuditEntry.id == Receipt.audit_entry_id)
            .where(AuditEntry.chain == audit.chain_for(marie.id))
        ).all()
    foreign = [r for r in others if r not in mine]
    assert foreign, "the demo has other patients' receipts"
    for bad in (foreign[0], "A" * RECEIPT_ID_LENGTH, "../../log/checkpoint", "é" * 22, "x" * 5000):
        response = page.goto(at.running.kiosk_url + "/patient/receipts/" + bad)
        assert response.status in (404, 414)
        assert page.locator("[data-testid=receipt-view]").count() == 0


def _rewrite_the_log(at: Kiosk, chain: str, receipt_size: int) -> None:
    """What someone holding the database and the server's keys would do: alter one of her
    lines already in the log and re-chain every line after it (so that each line still
    gives its hash from what it shows), then rebuild the whole log and sign every
    checkpoint again (at the receipt's size too), so that each line still proves its
    inclusion."""
    rt = _rt(at)
    signer = trace_log.signer(rt.keyring, rt.settings["LOG_ORIGIN"])
    with rt.sessions() as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
        ).all()
        rows[0].actor_name = "Quelqu'un d'autre"
        prev = audit.GENESIS
        for row in rows:
            values = {name: getattr(row, name) for name in audit.HASHED_FIELDS}
            row.prev_hash, row.hash = prev, audit.link_hash(prev, values)
            prev = row.hash
        s.execute(update(AuditHead).where(AuditHead.chain == chain).values(hash=prev))
        s.flush()
        s.execute(delete(LogCheckpoint))
        s.execute(delete(LogNode))
        s.execute(delete(LogLeaf))
        while True:
            done = trace_log.sequence(s, signer, rt.clock(), batch=receipt_size, catch_up=True)
            if done.added < receipt_size:
                break
        s.commit()


def test_verifying_the_history_proves_the_log_consistent_with_the_last_receipt(
    at: Kiosk,
) -> None:
    page = _signed_in(at)
    _withdraw_bris_de_glace(at)
    rt = _rt(at)
    trace_log.run(rt)
    page.goto(at.running.kiosk_url + "/patient/history")
    page.click("[data-testid=verify]")
    said = page.inner_text("[data-testid=consistency]")
    assert "Votre historique est cohérent avec votre reçu du " in said
    assert "n'a pas été réécrit" in said
    at.shot("recus", "historique-coherent")

    with rt.sessions() as s:
        marie = s.scalars(select(Patient).where(Patient.first_names.like("Marie%"))).first()
        assert marie is not None
        chain = audit.chain_for(marie.id)
        newest = s.scalars(select(Receipt).order_by(Receipt.id.desc())).first()
        assert newest is not None
        signed = json.loads(newest.content)["log_checkpoint"]
    receipt_size = int(signed.split("\n")[1])
    _rewrite_the_log(at, chain, receipt_size)

    page.click("[data-testid=verify]")
    verdict = page.inner_text("[data-testid=verdict]")
    # Each line still proves its inclusion in the rebuilt log: only the receipt shows it.
    assert "Historique vérifié." in verdict
    said = page.inner_text("[data-testid=consistency]")
    assert "Attention : le journal a été réécrit depuis votre reçu du " in said
    assert "CNIL" in said
    at.shot("recus", "historique-reecrit")

    # The same, from the checkpoint typed from a receipt's QR code: its three lines...
    three_lines = "\n".join(signed.split("\n")[:3])
    page.fill("[data-testid=checkpoint]", three_lines)
    page.click("text=Comparer avec ce reçu")
    assert "ne prolonge pas le point de contrôle saisi" in page.inner_text(
        "[data-testid=consistency]"
    )
    # ... and a checkpoint that is no checkpoint of this log.
    page.fill("[data-testid=checkpoint]", "n'importe quoi\n12\nAAAA")
    page.click("text=Comparer avec ce reçu")
    assert "illisible" in page.inner_text("[data-testid=consistency]")


def test_a_pasted_signed_checkpoint_of_the_current_log_is_consistent(at: Kiosk) -> None:
    page = _signed_in(at)
    _withdraw_bris_de_glace(at)
    rt = _rt(at)
    with rt.sessions() as s:
        newest = s.scalars(select(Receipt).order_by(Receipt.id.desc())).first()
        assert newest is not None
        signed = json.loads(newest.content)["log_checkpoint"]
    trace_log.run(rt)
    page.goto(at.running.kiosk_url + "/patient/history")
    page.fill("[data-testid=checkpoint]", signed)  # the whole signed note, as the QR holds
    page.click("text=Comparer avec ce reçu")
    assert "Votre historique est cohérent avec le point de contrôle saisi." in page.inner_text(
        "[data-testid=consistency]"
    )
    # One changed character in its signature: refused, not trusted.
    lines = signed.rstrip("\n").split("\n")
    signature = lines[-1]
    flipped = "B" if signature[-10] == "A" else "A"
    forged = "\n".join([*lines[:-1], signature[:-10] + flipped + signature[-9:]]) + "\n"
    page.fill("[data-testid=checkpoint]", forged)
    page.click("text=Comparer avec ce reçu")
    assert "illisible" in page.inner_text("[data-testid=consistency]")


def test_the_receipt_pages_have_large_targets(at: Kiosk) -> None:
    page = _signed_in(at)
    receipt_id = _withdraw_bris_de_glace(at)
    offenders = _small(page)  # the page right after the change, its receipt shown
    for path in ("/patient/receipts", f"/patient/receipts/{receipt_id}", "/patient/history"):
        page.goto(at.running.kiosk_url + path)
        offenders += _small(page)
    page.click("[data-testid=verify]")
    offenders += _small(page)
    assert not offenders, "targets under 44 px:\n" + "\n".join(offenders)
