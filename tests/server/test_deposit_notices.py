"""The insurer's and the patient's deposits are told once a month, not thirty times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from server.alerts.deposits import period_of
from server.frenchtime import PARIS
from server.models import OutboxMessage, Patient
from server.services import outbox
from tests.server.conftest import World


def digests(world: World) -> list[OutboxMessage]:
    with world.rt.sessions() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "deposits_digest")
                .order_by(OutboxMessage.id)
            )
        )


def due(world: World) -> list[int]:
    with world.rt.sessions() as s:
        claimed = outbox.claim(world.rt.ctx(s), {"email"})
        s.rollback()  # only asking what is due
    return [c.id for c in claimed]


def day(world: World, moment: datetime) -> None:
    world.clock.now = moment
    for name in ("insurer", "marie", "gp", "admissions"):
        world.tokens[name] = world.open(name)


def test_a_month_of_reimbursements_is_one_notice(world: World) -> None:
    day(world, datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    dossier = world.create("admissions", "marie")
    for n in range(30):  # June 1st to 30th, one injection a day
        day(world, datetime(2026, 6, 1, 8, 0, tzinfo=UTC) + timedelta(days=n))
        world.deposit("insurer", dossier, category="remboursement", title=f"Remboursement {n}")
    world.deposit("marie", dossier, category="depose_patient", title="Mon ordonnance")
    [notice] = digests(world)
    assert "31 documents" in notice.body
    assert "30 par l'Assurance Maladie" in notice.body
    assert "1 par vous-même" in notice.body
    assert "juin 2026" in notice.body
    for secret in ("Remboursement", "ordonnance", "remboursement"):
        assert secret not in notice.body
    # Held until the month is over, Paris time (July 1st 00:00 = June 30th 22:00 UTC).
    day(world, datetime(2026, 6, 30, 21, 59, tzinfo=UTC))
    assert notice.id not in due(world)
    day(world, datetime(2026, 6, 30, 22, 0, tzinfo=UTC))
    assert notice.id in due(world)
    # July starts another notice; June's is left as it was.
    day(world, datetime(2026, 7, 2, 8, 0, tzinfo=UTC))
    world.deposit("insurer", dossier, category="remboursement")
    june, july = digests(world)
    assert june.body == notice.body
    assert "1 document a été ajouté" in july.body
    assert "juillet 2026" in july.body


def test_a_professional_deposit_is_still_told_at_once(world: World) -> None:
    dossier = world.create("admissions", "marie", medecin_traitant=world.nid("gp"))
    world.deposit("gp", dossier)
    assert digests(world) == []
    with world.rt.sessions() as s:
        kinds = s.scalars(select(OutboxMessage.kind)).all()
    assert "new_document" in kinds


def test_no_contact_no_notice_but_the_deposit_goes_through(world: World) -> None:
    dossier = world.create("admissions", "marie")
    with world.rt.sessions() as s:
        patient = s.get(Patient, world.ids["marie"])
        assert patient is not None
        patient.notify_channel = "none"
        s.commit()
    world.deposit("insurer", dossier, category="remboursement")
    assert digests(world) == []


def test_months_follow_paris_time() -> None:
    assert period_of(datetime(2026, 6, 30, 22, 30, tzinfo=UTC))[0] == "2026-07"
    assert period_of(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == (
        "2027-01",
        datetime(2027, 2, 1, tzinfo=PARIS),
    )
