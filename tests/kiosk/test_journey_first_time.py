"""A first-time user at the kiosk (issue 14): no half sentences, no stray punctuation, the
server's own words, nothing typed lost, and the person at the screen spoken to."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs

from tests.kiosk.conftest import READER_PATIENT, Kiosk


def test_admissions_desk_reads_whole_sentences_and_posts_a_real_submission(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter("admissions-garcia", "patient-marie-durand")
    main = page.inner_text("main")
    assert "permet de lire" not in main  # no « Votre profession permet de lire : . »
    assert page.locator("[data-testid=matrix]").count() == 0
    with page.expect_request(lambda r: r.method == "POST" and "/admission" in r.url) as sent:
        page.click("[data-testid=admit]")
    posted = parse_qs(sent.value.post_data or "")
    assert str(uuid.UUID(posted["submission"][0])) == posted["submission"][0]
    assert "Admission enregistrée" in page.inner_text("[data-testid=done]")
    assert page.inner_text("h1") == "Admission du patient"


def test_pharmacist_still_reads_what_the_profession_may_read(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter("pharmacien-moreau", "patient-marie-durand")
    matrix = page.inner_text("[data-testid=matrix]")
    assert re.search(r"permet de lire : \S", matrix)
    assert not matrix.endswith(": .")


def test_emergency_banner_ends_one_sentence_with_one_full_stop(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter("urgentiste-roux", "patient-marie-durand")
    page.click("[data-testid=break-glass]")
    page.fill("#reason", "Patiente inconsciente, admise aux urgences.")
    page.click("[data-testid=confirm-emergency]")
    page.wait_for_url("**/pro/dossier")
    banner = page.inner_text("[data-testid=emergency-banner]")
    assert "admise aux urgences. Le patient" in banner
    assert ".." not in banner
    at.pull(READER_PATIENT)
