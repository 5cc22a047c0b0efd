"""The trace's hash chains: tampering is found and named; concurrent writers never fork."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from server.cli import main
from server.models import AuditEntry, AuditHead
from server.policy import Action
from server.services import audit
from tests.server.conftest import World


def chain_of(world: World, patient: str) -> str:
    return f"patient:{world.ids[patient]}"


def breaks(world: World) -> list[audit.Break]:
    with world.rt.sessions() as s:
        return list(audit.verify(s))


@pytest.fixture
def activity(world: World, marie_dossier: int) -> World:
    """Six entries on Marie's chain and a couple on Jean's."""
    for _ in range(5):
        world.call("GET", "gp", f"/dossiers/{marie_dossier}")
    world.create("admissions", "jean")
    assert breaks(world) == []
    return world


def tamper(world: World, change: Callable[[Any], None]) -> None:
    with world.rt.sessions() as s:
        change(s)
        s.commit()


def test_an_edited_entry_is_found(activity: World) -> None:
    chain = chain_of(activity, "marie")
    tamper(
        activity,
        lambda s: s.execute(
            update(AuditEntry)
            .where(AuditEntry.chain == chain, AuditEntry.seq == 3)
            .values(outcome="denied")
        ),
    )
    (found,) = breaks(activity)
    assert (found.chain, found.seq) == (chain, 3)
    assert "edited" in found.problem


def test_an_edited_entry_with_a_recomputed_hash_breaks_the_next_link(activity: World) -> None:
    chain = chain_of(activity, "marie")

    def forge(s: Any) -> None:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == 2)
        ).one()
        entry.actor_name = "Quelqu'un d'autre"
        entry.hash = audit.link_hash(
            entry.prev_hash, {n: getattr(entry, n) for n in audit.HASHED_FIELDS}
        )

    tamper(activity, forge)
    (found,) = breaks(activity)
    assert (found.seq, found.problem) == (
        3,
        "previous-hash link does not match (entry deleted or reordered)",
    )


def test_a_deleted_entry_is_found(activity: World) -> None:
    chain = chain_of(activity, "marie")
    tamper(
        activity,
        lambda s: s.execute(
            AuditEntry.__table__.delete().where(AuditEntry.chain == chain, AuditEntry.seq == 4)
        ),
    )
    (found,) = breaks(activity)
    assert found.seq == 4
    assert "sequence 5 where 4 was expected" in found.problem


def test_reordered_entries_are_found(activity: World) -> None:
    chain = chain_of(activity, "marie")

    def swap(s: Any) -> None:
        a, b = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.chain == chain, AuditEntry.seq.in_([2, 3]))
            .order_by(AuditEntry.seq)
        ).all()
        a.seq, b.seq = -1, -2
        s.flush()
        a.seq, b.seq = 3, 2

    tamper(activity, swap)
    (found,) = breaks(activity)
    assert found.seq == 2


def test_a_cut_off_tail_is_found_through_the_head(activity: World) -> None:
    chain = chain_of(activity, "marie")
    tamper(
        activity,
        lambda s: s.execute(
            AuditEntry.__table__.delete().where(AuditEntry.chain == chain, AuditEntry.seq == 6)
        ),
    )
    (found,) = breaks(activity)
    assert found.problem == "head says 6 entries, found 5"


def test_every_broken_chain_is_named_once(activity: World) -> None:
    for patient in ("marie", "jean"):
        chain = chain_of(activity, patient)
        tamper(
            activity,
            lambda s, c=chain: s.execute(
                update(AuditEntry)
                .where(AuditEntry.chain == c, AuditEntry.seq == 1)
                .values(reason="x")
            ),
        )
    assert sorted(b.chain for b in breaks(activity)) == sorted(
        chain_of(activity, p) for p in ("marie", "jean")
    )


def test_dmp_audit_verify_exits_non_zero_and_names_the_first_broken_link(activity: World) -> None:
    url = activity.rt.settings["DATABASE_URL"]
    ok = CliRunner().invoke(main, ["audit", "verify", "--db", url])
    assert ok.exit_code == 0, ok.output
    assert "all intact" in ok.output
    chain = chain_of(activity, "marie")
    tamper(
        activity,
        lambda s: s.execute(
            update(AuditEntry)
            .where(AuditEntry.chain == chain, AuditEntry.seq == 2)
            .values(actor_id=999)
        ),
    )
    bad = CliRunner().invoke(main, ["audit", "verify", "--db", url])
    assert bad.exit_code == 1
    assert f"BROKEN {chain} at link 2" in bad.output


def test_concurrent_writers_on_one_chain_never_fork_it(world: World, marie_dossier: int) -> None:
    """Four threads, each with its own connection, append to the same chain at once."""
    pid = world.ids["marie"]
    per_thread, errors = 40, []
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(per_thread):
                with world.rt.sessions() as s:
                    audit.append(
                        s,
                        pid,
                        audit.TraceEntry(
                            at=world.clock(),
                            actor_kind="professional",
                            actor_id=n,
                            actor_name=f"writer {n}",
                            action=Action.DOSSIER_READ,
                            mode="care_team",
                            outcome="allowed",
                            reason="care_team_member",
                            detail={"i": i},
                        ),
                    )
                    s.commit()
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with world.rt.sessions() as s:
        seqs = list(
            s.scalars(
                select(AuditEntry.seq)
                .where(AuditEntry.chain == f"patient:{pid}")
                .order_by(AuditEntry.seq)
            )
        )
        head = s.get(AuditHead, f"patient:{pid}")
        assert head is not None
        assert head.seq == len(seqs)
    assert seqs == list(range(1, 4 * per_thread + 2))  # + the creation entry
    assert breaks(world) == []
