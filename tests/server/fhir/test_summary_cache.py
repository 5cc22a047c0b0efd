"""The `$summary` cache (server/fhir/summary_cache.py): one view's row is never served to
another, deposits, replacements and flag changes are never answered from a stale row,
every request is still decided and traced, and the row is sealed under the dossier's
key (unreadable once the dossier is purged, even from a copy taken before).

The summary tests (test_fhir_summary.py) all run through the cache too; these check
the cache itself: what is stored, when it is reused, and that a reused summary is the
one a fresh build gives.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select

from server.fhir import summary_cache
from server.key_vault import KeyDestroyed
from server.models import Dossier, SummaryCache
from server.retention import run
from tests.server.conftest import World
from tests.server.fhir.test_fhir_summary import (
    FHIR_JSON,
    allergy,
    condition,
    document,
    ips,
    medication,
    names,
    sources,
    summary_of,
)
from tests.server.test_api_versions import replaced

MEDS = "10160-0"
ALLERGIES = "48765-2"
PROBLEMS = "11450-4"


def _rows(world: World, dossier_id: int) -> list[SummaryCache]:
    with world.rt.sessions() as s:
        return list(
            s.scalars(
                select(SummaryCache)
                .where(SummaryCache.dossier_id == dossier_id)
                .order_by(SummaryCache.created_at)
            )
        )


def _wrapped(world: World, dossier_id: int) -> bytes:
    with world.rt.sessions() as s:
        key = s.scalar(select(Dossier.wrapped_key).where(Dossier.id == dossier_id))
    assert key is not None
    return key


def _derived(bundle: dict[str, Any]) -> tuple[Any, Any]:
    """What the cache holds, as served: the sections and every entry after the Device
    (the ids, instant and Patient are the request's own)."""
    return bundle["entry"][0]["resource"]["section"], bundle["entry"][3:]


def _clear(world: World) -> None:
    with world.rt.sessions() as s:
        s.query(SummaryCache).delete()
        s.commit()


def _deposit(world: World, who: str, dossier_id: int, title: str, **fields: Any) -> str:
    content = document(
        "marie",
        title,
        [condition(f"probleme {title}"), medication(f"medicament {title}"), allergy(title)],
    )
    found = world.deposit(
        who, dossier_id, title=title, mime_type=FHIR_JSON, content=content, **fields
    )
    logical_id: str = found["logical_id"]
    return logical_id


def _join_care_team(world: World, dossier_id: int, who: str) -> None:
    r = world.call(
        "POST", "marie", f"/dossiers/{dossier_id}/care-team", {"national_id": world.nid(who)}
    )
    assert r.status_code == 201, r.get_json()


def test_a_second_request_is_served_from_the_cache_and_traced_again(
    world: World, marie_dossier: int
) -> None:
    first_id = _deposit(world, "gp", marie_dossier, "tilleul")
    fresh = ips(summary_of(world, "gp", marie_dossier))
    assert len(_rows(world, marie_dossier)) == 1
    again = ips(summary_of(world, "gp", marie_dossier))
    assert len(_rows(world, marie_dossier)) == 1  # the same view: reused, not stored twice
    assert _derived(again) == _derived(fresh)
    # The request's own parts are new each time.
    assert again["identifier"] != fresh["identifier"]
    assert again["entry"][0]["fullUrl"] != fresh["entry"][0]["fullUrl"]
    assert again["entry"][1] == fresh["entry"][1]  # the Patient
    # Decided and traced like the first: a read of the document drawn on.
    reads = [
        e
        for e in world.trace("marie")
        if e.action == "document:read" and json.loads(e.detail or "{}").get("summary") == "ips"
    ]
    assert len(reads) == 2
    for entry in reads:
        detail = json.loads(entry.detail or "{}")
        assert (entry.action, entry.outcome) == ("document:read", "allowed")
        assert detail["documents"] == [first_id]
    # And what was served from the cache is what a build from the structures gives.
    _clear(world)
    rebuilt = ips(summary_of(world, "gp", marie_dossier))
    assert _derived(rebuilt) == _derived(again)


def test_a_view_is_never_served_to_another(world: World, marie_dossier: int) -> None:
    _join_care_team(world, marie_dossier, "infirmier")
    _deposit(world, "gp", marie_dossier, "lilas")
    _deposit(world, "gp", marie_dossier, "secret", masked_ps=True)
    # The médecin traitant sees both (and fills the cache first), the nurse only one.
    gp = ips(summary_of(world, "gp", marie_dossier))
    assert sorted(names(gp, ALLERGIES)) == ["lilas", "secret"]
    nurse = ips(summary_of(world, "infirmier", marie_dossier))
    assert names(nurse, ALLERGIES) == ["lilas"]
    assert "secret" not in json.dumps(nurse, ensure_ascii=False)
    # Two views, two rows; each served back to its own view only.
    assert len(_rows(world, marie_dossier)) == 2
    assert sorted(names(ips(summary_of(world, "gp", marie_dossier)), ALLERGIES)) == [
        "lilas",
        "secret",
    ]
    assert names(ips(summary_of(world, "infirmier", marie_dossier)), ALLERGIES) == ["lilas"]
    assert len(_rows(world, marie_dossier)) == 2


def test_the_same_view_shares_a_row_across_actors(world: World, marie_dossier: int) -> None:
    """Two callers shown exactly the same versions get the same summary: one row."""
    _join_care_team(world, marie_dossier, "infirmier")
    _deposit(world, "gp", marie_dossier, "glycine")
    gp = ips(summary_of(world, "gp", marie_dossier))
    nurse = ips(summary_of(world, "infirmier", marie_dossier))
    assert _derived(gp) == _derived(nurse)
    assert len(_rows(world, marie_dossier)) == 1


def test_deposits_replacements_and_flags_are_never_answered_stale(
    world: World, marie_dossier: int
) -> None:
    _join_care_team(world, marie_dossier, "infirmier")
    first = _deposit(world, "gp", marie_dossier, "aubepine")
    assert names(ips(summary_of(world, "infirmier", marie_dossier)), ALLERGIES) == ["aubepine"]
    # A deposit.
    second = _deposit(world, "gp", marie_dossier, "sureau")
    after_deposit = ips(summary_of(world, "infirmier", marie_dossier))
    assert sorted(names(after_deposit, ALLERGIES)) == ["aubepine", "sureau"]
    assert sources(after_deposit) == {first, second}
    # A flag change: masked to professionals, gone from the nurse's summary...
    r = world.call(
        "PATCH",
        "marie",
        f"/dossiers/{marie_dossier}/documents/{second}/visibility",
        {"masked_ps": True, "confirm": True},
    )
    assert r.status_code == 200, r.get_json()
    masked = ips(summary_of(world, "infirmier", marie_dossier))
    assert names(masked, ALLERGIES) == ["aubepine"]
    # ...and unmasked: back, not the masked view's row.
    r = world.call(
        "PATCH",
        "marie",
        f"/dossiers/{marie_dossier}/documents/{second}/visibility",
        {"masked_ps": False, "confirm": True},
    )
    assert r.status_code == 200, r.get_json()
    assert sorted(names(ips(summary_of(world, "infirmier", marie_dossier)), ALLERGIES)) == [
        "aubepine",
        "sureau",
    ]
    # A replacement: the old version's entries give way to the new one's.
    newer = replaced(
        world,
        "gp",
        marie_dossier,
        first,
        document("marie", "aubepine", [allergy("aubepine corrigee")]),
        mime_type=FHIR_JSON,
        title="aubepine",
        replace_reason="Erreur",
    )
    after_replace = ips(summary_of(world, "infirmier", marie_dossier))
    assert sorted(names(after_replace, ALLERGIES)) == ["aubepine corrigee", "sureau"]
    assert sources(after_replace) == {newer, second}
    # Archiving changes the version's status (it still stands): a new view, same entries.
    r = world.call("POST", "gp", f"/dossiers/{marie_dossier}/documents/{second}/archive")
    assert r.status_code == 200, r.get_json()
    archived = ips(summary_of(world, "infirmier", marie_dossier))
    assert sorted(names(archived, ALLERGIES)) == ["aubepine corrigee", "sureau"]
    # A deletion by its author: its entries go.
    r = world.call("DELETE", "gp", f"/dossiers/{marie_dossier}/documents/{second}")
    assert r.status_code == 200, r.get_json()
    assert names(ips(summary_of(world, "infirmier", marie_dossier)), ALLERGIES) == [
        "aubepine corrigee"
    ]
    # Rows of views that no longer occur are kept to a few per dossier.
    assert len(_rows(world, marie_dossier)) <= summary_cache.MAX_PER_DOSSIER


def test_old_rows_are_dropped_beyond_the_limit(world: World, marie_dossier: int) -> None:
    for i in range(summary_cache.MAX_PER_DOSSIER + 3):
        _deposit(world, "gp", marie_dossier, f"fleur{i}")
        ips(summary_of(world, "gp", marie_dossier))
    rows = _rows(world, marie_dossier)
    assert len(rows) == summary_cache.MAX_PER_DOSSIER
    # The newest view is among those kept: the next request is served from it.
    ips(summary_of(world, "gp", marie_dossier))
    assert {r.view_key for r in _rows(world, marie_dossier)} == {r.view_key for r in rows}


def test_the_row_is_sealed_under_the_dossier_key(world: World, marie_dossier: int) -> None:
    _deposit(world, "gp", marie_dossier, "mimosa")
    ips(summary_of(world, "gp", marie_dossier))
    (row,) = _rows(world, marie_dossier)
    # Nothing of the summary in clear, and the key says nothing without the dossier's key.
    assert b"mimosa" not in row.ciphertext
    assert b"mimosa" not in row.view_key
    assert len(row.view_key) == 32
    wrapped = _wrapped(world, marie_dossier)
    with world.rt.sessions() as s:
        part = summary_cache.get(world.rt.ctx(s), wrapped, marie_dossier, row.view_key)
    assert part is not None
    assert "mimosa" in part.entries
    # Bound to its dossier and its view: moved under another key, it does not open.
    with pytest.raises(InvalidTag):
        world.rt.keyring.decrypt(
            wrapped, row.nonce, row.ciphertext, f"summary:{marie_dossier}:{'00' * 32}"
        )


def test_after_a_purge_the_cached_summary_is_gone_and_no_copy_opens(
    world: World, marie_dossier: int
) -> None:
    _deposit(world, "gp", marie_dossier, "verveine")
    ips(summary_of(world, "gp", marie_dossier))
    (row,) = _rows(world, marie_dossier)
    wrapped = _wrapped(world, marie_dossier)
    aad = f"summary:{marie_dossier}:{row.view_key.hex()}"
    # A copy of the row (a backup's) opens while the dossier lives: the test can fail.
    assert b"verveine" in world.rt.keyring.decrypt(wrapped, row.nonce, row.ciphertext, aad)
    r = world.call(
        "POST", "marie", f"/dossiers/{marie_dossier}/close", {"confirm": True, "delete": True}
    )
    assert r.status_code == 200, r.get_json()
    assert run(world.rt).keys_destroyed == 1
    # The row is erased with the dossier's other sealed rows...
    with world.rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(SummaryCache)) == 0
    # ...and the copy no longer opens, the master key still at hand.
    with pytest.raises(KeyDestroyed):
        world.rt.keyring.decrypt(wrapped, row.nonce, row.ciphertext, aad)


def test_a_view_stored_twice_keeps_the_first_row(world: World, marie_dossier: int) -> None:
    """Two requests of one view that both missed store the same key: the second insert
    does nothing (no error, no duplicate), and the first row is served."""
    _deposit(world, "gp", marie_dossier, "jasmin")
    ips(summary_of(world, "gp", marie_dossier))
    (row,) = _rows(world, marie_dossier)
    wrapped = _wrapped(world, marie_dossier)
    with world.rt.sessions() as s:
        ctx = world.rt.ctx(s)
        other = summary_cache.Part(["x"], "[]", "[]")
        summary_cache.put(ctx, wrapped, marie_dossier, row.view_key, other)
        s.commit()
    (kept,) = _rows(world, marie_dossier)
    assert kept.ciphertext == row.ciphertext
    bundle = ips(summary_of(world, "gp", marie_dossier))
    assert names(bundle, PROBLEMS) == ["probleme jasmin"]
    assert names(bundle, MEDS) == ["medicament jasmin"]
