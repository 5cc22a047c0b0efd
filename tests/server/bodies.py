"""One valid body per documented route that takes one, every optional field present, so
that tests can replace one field at a time (or the whole body) by something hostile."""

from __future__ import annotations

import base64
import copy
from typing import Any

from tests.server.conftest import doc, identity

PROOF = {
    "challenge": base64.b64encode(bytes(32)).decode(),
    "serial": "00" * 16,
    "certificate": base64.b64encode(b"not a certificate").decode(),
    "signature": base64.b64encode(bytes(64)).decode(),
}
CARD_SIGNATURE = {k: v for k, v in PROOF.items() if k != "challenge"}
COPRESENCE = {
    "draft": base64.b64encode(b'{"format":"dmp-kiosk-copresence/1"}').decode(),
    "tag": base64.b64encode(bytes(32)).decode(),
    "patient_card": CARD_SIGNATURE,
    "professional_card": CARD_SIGNATURE,
}
D = "/api/v1/dossiers/{dossier_id}"
DOC = D + "/documents/{logical_id}"


def valid_bodies() -> dict[tuple[str, str], dict[str, Any]]:
    deposit = doc(
        unique_id="1.2.3",
        created_at="2026-01-01T00:00:00",
        service_start="2026-01-01",
        service_end="2026-01-02T10:00:00+01:00",
        masked_ps=False,
        invisible_patient=False,
        invisible_rep=False,
    )
    creation = {
        "patient": identity(
            "jean",
            ins_oid="1.2.250.1.213.1.4.10",
            phone="+33600000000",
            used_name="R",
            notify_channel="sms",
        ),
        "consent": {"given": True, "terminal": "t"},
        "emergency": {"bris_de_glace": True, "centre_15": False},
        "medecin_traitant": "810002813839",
        "representatives": [],
    }
    # Deep-copied: a test replaces nested fields in place, and the card proofs are shared.
    return copy.deepcopy(
        {
            ("POST", "/api/v1/dossiers"): {
                "patient": identity(
                    "jean",
                    ins_oid="1.2.250.1.213.1.4.10",
                    phone="+33600000000",
                    used_name="R",
                    notify_channel="sms",
                ),
                "consent": {"given": True, "terminal": "t"},
                "emergency": {"bris_de_glace": True, "centre_15": False},
                "medecin_traitant": "810002813839",
                "representatives": [],
            },
            ("POST", "/api/v1/dossiers/lookup"): {"ins": "279035121518989"},
            ("POST", D + "/close"): {"confirm": True, "delete": False},
            ("POST", DOC + "/replace"): {**deposit, "unique_id": "1.2.4"},
            ("PATCH", DOC + "/visibility"): {
                "masked_ps": True,
                "invisible_patient": False,
                "invisible_rep": False,
                "confirm": True,
            },
            ("POST", D + "/consents"): {"national_id": "810002345675"},
            ("POST", D + "/care-team"): {"national_id": "810002345675"},
            ("PUT", D + "/medecin-traitant"): {"national_id": "810002813839"},
            ("PUT", D + "/emergency-settings"): {"bris_de_glace": True, "centre_15": True},
            ("POST", D + "/emergency-access"): {"mode": "bris_de_glace", "reason": "détresse"},
            ("POST", "/api/v1/auth/card/signin"): {"kind": "patient", **PROOF},
            ("POST", "/api/v1/session/card/resign"): dict(PROOF),
            ("POST", "/api/v1/auth/terminal/signin"): {
                "challenge": PROOF["challenge"],
                "signature": PROOF["signature"],
            },
            ("POST", D + "/consents/in-person"): dict(COPRESENCE),
            ("POST", "/api/v1/dossiers/in-person/draft"): creation,
            ("POST", "/api/v1/dossiers/in-person"): {"request": creation, **COPRESENCE},
            ("POST", D + "/representatives/in-person/draft"): {"ins": "187069201234563"},
            ("POST", D + "/representatives/in-person"): dict(COPRESENCE),
            ("POST", D + "/close/in-person/draft"): {"confirm": True, "delete": False},
            ("POST", D + "/close/in-person"): dict(COPRESENCE),
            ("POST", "/api/v1/signin/password"): {"ins": "255081416802538", "password": "secret"},
            ("POST", "/api/v1/signin/code"): {"pending_token": "x" * 40, "channel": "email"},
            ("POST", "/api/v1/signin/otp"): {
                "pending_token": "x" * 40,
                "code": "123456",
                "method": "code",
            },
            ("POST", "/api/v1/me/totp/confirm"): {"code": "123456"},
            ("PUT", "/api/v1/me/password"): {"password": "a long enough passphrase"},
            ("PUT", "/api/v1/reviews/{case_id}/outcome"): {"outcome": "justifiee"},
            ("POST", D + "/documents"): {**deposit, "secret_connection": False},
            ("PUT", D + "/secret-connection"): {"on": True},
            ("POST", D + "/representatives"): {"ins": "187069201234563", "identity_checked": True},
            ("POST", D + "/representatives/remove"): {
                "ins": "187069201234563",
                "identity_checked": True,
            },
            ("POST", D + "/delegations"): {
                "ins": "187069201234563",
                "birth_name": "ROUSSEAU",
                "categories": ["compte_rendu"],
                "until": "2030-01-01",
            },
        }
    )
