"""Host sessions against a scripted card: every byte the host sends is checked.

Each scenario in vectors/host_sessions.json lists calls on a session and, per call, the
exact commands the host must send and what the card answers (python-fido2's shape).
"""

from __future__ import annotations

from typing import Any

import pytest
from card_helpers import load_vectors

from cardreader import errors
from cardreader.emulator.cardfile import identity_to_json
from cardreader.emulator.testing import ScriptedConnection
from cardreader.patient import PatientSession
from cardreader.professional import PinStatus, ProfessionalSession
from cardreader.profile import PATIENT_ATR, PROFESSIONAL_ATR
from cardreader.session import CardSession

SCENARIOS = load_vectors("host_sessions.json")["scenarios"]
ATRS = {"patient": PATIENT_ATR, "professional": PROFESSIONAL_ATR}
SESSIONS: dict[str, type[CardSession]] = {
    "patient": PatientSession,
    "professional": ProfessionalSession,
}


def _result(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, PinStatus):
        return {"verified": value.verified, "tries_remaining": value.tries_remaining}
    if value is None:
        return None
    return identity_to_json(value)


def _call(session: Any, step: dict[str, Any]) -> Any:
    args = list(step.get("args", []))
    if step["call"] in ("authenticate",):
        args = [bytes.fromhex(args[0])]
    return getattr(session, step["call"])(*args)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_host_session(scenario: dict[str, Any]) -> None:
    atr_spec = scenario.get("atr", scenario["session"])
    atr = ATRS.get(atr_spec) or bytes.fromhex(atr_spec)
    script = [
        (bytes.fromhex(command), None if response is None else bytes.fromhex(response))
        for step in scenario["steps"]
        for command, response in step["exchanges"]
    ]
    connection = ScriptedConnection(atr, script)
    session: Any = None
    for step in scenario["steps"]:
        expected_sent = len(connection.sent) + len(step["exchanges"])
        opening = step["call"] == "open"
        session_class = SESSIONS[scenario["session"]]
        if "raises" in step:
            with pytest.raises(getattr(errors, step["raises"])) as caught:
                session_class(connection) if opening else _call(session, step)
            for name, value in step.get("attrs", {}).items():
                assert getattr(caught.value, name) == value
        elif opening:
            session = session_class(connection)
            assert session.serial.hex().upper() == step["serial"]
        else:
            assert _result(_call(session, step)) == step.get("returns")
        assert len(connection.sent) == expected_sent, f"{step['call']} sent the wrong count"
    assert connection.finished
