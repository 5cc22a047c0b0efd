"""A bounded schemathesis run against /openapi.json, in-process, as several actors.

Every documented operation gets requests generated from the spec, sent by a patient, a
pharmacist, the médecin traitant or nobody (no session). Valid requests (schemathesis'
positive mode) have half their path ids replaced by ids that exist, so that they reach
the use cases and not only the 404s; invalid ones (negative mode) are sent as generated.
No answer may be a server error or break the spec (status, media type, headers, body
schema), and a valid request may only be refused for a rule that a JSON Schema cannot
state (a check key, the state of the dossier): never as malformed (400, 415).
Derandomized and bounded: the same requests on every run, a few seconds per operation.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.content.errors import REASONS
from tests.server.conftest import World

ACTORS = ["marie", "pharmacien", "gp", None]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}
# Refusals of schema-valid requests by rules beyond JSON Schema: check keys (mod 97,
# Luhn), calendar dates (31 February, years 1-9999 once in UTC), and the state or the
# rules of the dossier at hand.
BEYOND_THE_SCHEMA = {
    "ins_invalid",
    "national_id_invalid",
    "finess_invalid",
    "birth_date_invalid",
    "created_at_invalid",
    "service_start_invalid",
    "service_end_invalid",
    "service_start_after_service_end",
    "identity_mismatch",
    "flags_incompatible",
    "flag_not_allowed",
    "category_mismatch",
    "no_change",
    "code_invalid",
    "totp_not_pending",
    "not_a_card_session",
    "structure_missing",
    "no_contact",
    "index_invalid",  # a leaf index beyond the tree size asked for (log proofs)
    "sizes_invalid",  # log consistency sizes out of order
    # The deposited file itself: its bytes, its format, its content (server/content/).
    *REASONS,
    # Search (issue #11): a query of stop words or punctuation only, more words than a
    # search takes, a calendar date that does not exist, a period that runs backwards.
    "q_empty",
    "q_too_many_words",
    "from_invalid",
    "to_invalid",
    "period_invalid",
    # The professionals directory (issue #14): a name of punctuation only, or whose first
    # word is one letter.
    "q_too_short",
    # The secret connection (issue #13): a professional's, on a minor's dossier only.
    "secret_connection_professional_only",
    "not_a_minor",
}


def refused_only_beyond_the_schema(response: Any) -> None:
    assert response.status_code not in (400, 415), response.text
    if response.status_code == 422:
        reason = response.json()["reason"]
        assert reason in BEYOND_THE_SCHEMA or reason.startswith("password_"), response.text


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda m: m.value)
def test_no_server_error_and_no_answer_outside_the_spec(
    world: World, marie_dossier: int, mode: GenerationMode
) -> None:
    logical_id = world.deposit("gp", marie_dossier)["logical_id"]
    existing = {
        "dossier_id": marie_dossier,
        "logical_id": logical_id,
        "national_id": world.nid("infirmier"),
        "member_id": 1,
    }
    schema = schemathesis.openapi.from_wsgi("/openapi.json", world.app)
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES[mode],
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(generation_mode=mode),
            actor=st.sampled_from(ACTORS),
            real_ids=st.booleans(),
        )
        def run(case: Any, actor: str | None, real_ids: bool) -> None:
            if mode is GenerationMode.POSITIVE and real_ids and case.path_parameters:
                case.path_parameters = {
                    name: existing.get(name, value) for name, value in case.path_parameters.items()
                }
            headers = world.h(actor) if actor else {}
            response = case.call(headers=headers)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)
            if mode is GenerationMode.POSITIVE:
                refused_only_beyond_the_schema(response)

        try:
            run()
        except Unsatisfiable:
            # Negative mode: nothing in this operation can be made invalid (no body, no
            # parameter beyond a row id that the route already bounds).
            assert mode is GenerationMode.NEGATIVE
    assert all(status < 500 for status in statuses)
    wanted = (200, 201) if mode is GenerationMode.POSITIVE else (400, 422)
    # Positive: the run reached the use cases; negative: the boundary refused.
    assert all(statuses[status] for status in wanted), statuses
