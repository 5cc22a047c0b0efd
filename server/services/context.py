"""What every use case needs: the DB session, settings, keys, matrix and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from server.crypto import Keyring
from server.errors import DmpError
from server.policy import Actor, Matrix
from server.receipt_signer import ReceiptSigner


@dataclass
class Principal:
    """The authenticated caller of one request, resolved from its server-side session."""

    actor: Actor
    name: str
    session_hash: str
    kiosk: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.actor.kind.value}:{self.actor.id}"


@dataclass
class Ctx:
    session: Session
    settings: dict[str, Any]
    keyring: Keyring
    matrix: Matrix
    clock: Callable[[], datetime]
    # Signs the receipts of consent-bearing changes; None: not configured (503 on them).
    receipts: ReceiptSigner | None = None
    # Set once per request: every decision and row of the request shares one instant.
    _now: datetime | None = field(default=None)
    # Traces the last allowed decision of this request again, as not carried out, should
    # the request fail after it: its own entry is rolled back with the request, and the
    # answer (a 409, a 422) must still be traced (guard.authorize sets it, the API runner
    # calls it).
    unfinished: Callable[[DmpError], None] | None = field(default=None)
    # The receipt a consent-bearing change of this request issued (services/receipts.py):
    # its id rides on the answer, so the caller can show that very receipt.
    receipt_id: str | None = field(default=None)

    @property
    def now(self) -> datetime:
        if self._now is None:
            self._now = self.clock()
        return self._now
