"""The sign-in side of the trace: every sign-in entry is built here, and here alone a
failure becomes its trace entry inward and the one generic 401 outward.

Entries about a patient (their card, their code, their password) go to that patient's
chain, where their access history shows them; an attempt that names nobody goes to the
system chain, under the kiosk that sent it or as an unidentified person.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.models import Patient
from server.policy import ActorKind
from server.services import audit
from server.services.context import Ctx
from server.signin.events import Holder, SigninAction, SigninFailure, SigninReason

UNIDENTIFIED = "personne non identifiée"


def patient_holder(patient: Patient) -> Holder:
    """A patient as the actor of their own sign-in events, on their own chain."""
    name = f"{patient.first_names.split()[0]} {patient.birth_name}"
    return Holder(ActorKind.PATIENT.value, patient.id, name, patient_id=patient.id)


def record(
    ctx: Ctx,
    action: SigninAction,
    reason: SigninReason,
    *,
    holder: Holder | None,
    kiosk: str | None,
    allowed: bool,
    detail: Mapping[str, Any] | None = None,
) -> None:
    kiosk = _printable(kiosk) if kiosk is not None else None
    if holder is not None:
        kind, actor_id, name = holder.kind, holder.id, holder.name
    elif kiosk is not None:
        kind, actor_id, name = "kiosk", 0, kiosk
    else:
        kind, actor_id, name = "anonymous", 0, UNIDENTIFIED
    audit.append(
        ctx.session,
        holder.patient_id if holder is not None else None,
        audit.TraceEntry(
            at=ctx.now,
            actor_kind=kind,
            actor_id=actor_id,
            actor_name=name,
            actor_profession=holder.profession if holder is not None else None,
            actor_structure=holder.structure if holder is not None else None,
            action=action,
            mode="patient" if kind == "patient" else "none",
            outcome="allowed" if allowed else "denied",
            reason=reason.value,
            detail=detail or {},
            kiosk=kiosk,
        ),
    )


def refuse(ctx: Ctx, failure: SigninFailure, kiosk: str | None = None) -> None:
    """Writes the failure's trace entry (and the lock it caused, after it). The API runner
    (server/api/runtime.py) commits it and answers the one generic 401: the trace and
    the failure counters must outlive the refused request."""
    where = failure.kiosk if failure.kiosk is not None else kiosk
    record(
        ctx,
        failure.action,
        failure.reason,
        holder=failure.holder,
        kiosk=where,
        allowed=False,
        detail=failure.detail,
    )
    if failure.lock is not None:
        record(
            ctx,
            failure.action,
            failure.lock.reason,
            holder=failure.holder,
            kiosk=where,
            allowed=False,
            detail={"locked_until": failure.lock.until.isoformat()},
        )


def _printable(text: str) -> str:
    # A claimed kiosk name comes from the network: keep the trace readable and bounded.
    return "".join(c if c.isprintable() else "?" for c in text)[:100]
