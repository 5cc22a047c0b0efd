"""The shape sign-in keeps: typed actions and reasons the patient's history can explain,
one trace row builder, and no loose action strings in the server's sign-in code."""

from __future__ import annotations

import ast
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.policy import Action
from server.services import audit
from server.services.history import REASONS_FR, VERBS
from server.signin.events import SigninAction, SigninReason

ROOT = Path(__file__).resolve().parents[2]


def test_every_signin_action_and_reason_is_explained_in_french() -> None:
    assert {a.value for a in SigninAction} <= set(VERBS)
    assert {r.value for r in SigninReason} <= set(REASONS_FR)


def test_a_trace_entry_builds_exactly_the_hashed_columns() -> None:
    entry = audit.TraceEntry(
        at=datetime(2026, 11, 28, tzinfo=UTC),
        actor_kind="patient",
        actor_id=1,
        actor_name="Marie DURAND",
        action=Action.DOSSIER_READ,
        mode="patient",
        outcome="allowed",
        reason="patient_own_dossier",
        detail={"k": "v"},
    )
    values = entry.values("patient:1", 7)
    assert tuple(values) == audit.HASHED_FIELDS
    assert values["action"] == "dossier:read"
    assert values["detail"] == '{"k":"v"}'
    assert (values["chain"], values["seq"]) == ("patient:1", 7)


def test_a_misspelt_trace_field_is_an_error_not_a_none_in_the_chain() -> None:
    fields = {f.name for f in dataclasses.fields(audit.TraceEntry)}
    assert "actor_name" in fields
    with pytest.raises(TypeError):
        audit.TraceEntry(  # type: ignore[call-arg]
            at=datetime(2026, 11, 28, tzinfo=UTC),
            actor_kind="patient",
            actor_id=1,
            actr_name="Marie DURAND",
            action=Action.DOSSIER_READ,
            mode="patient",
            outcome="allowed",
            reason="patient_own_dossier",
        )


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_sign_in_actions_are_enum_members_not_loose_strings() -> None:
    """Only events.py spells the "auth:..." actions; everything else names the enum."""
    spelt = {a.value for a in SigninAction}
    found = []
    for path in [*ROOT.glob("server/**/*.py")]:
        if path.name == "events.py" or path.name == "history.py":
            continue
        found += [(str(path), line, v) for line, v in _string_constants(path) if v in spelt]
    assert found == []


def test_trace_rows_are_written_only_through_a_trace_entry() -> None:
    """Every call of audit.append / append_after passes a TraceEntry positionally and no
    loose keyword fields."""
    calls = []
    for path in ROOT.glob("server/**/*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "append_after")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "audit"
            ):
                calls.append((str(path), node.lineno, [k.arg for k in node.keywords]))
    assert calls, "no trace writes found: the scan is broken"
    assert [c for c in calls if set(c[2]) - {"head"}] == []
