"""Accessibility: axe-core finds no serious or critical violation on any kiosk page.

Every page of the journeys' tour (tests/kiosk/page_tour.py) is checked in Chromium with
axe-core (shipped by the axe-playwright-python package, so nothing is fetched from a
CDN) against WCAG 2.1 A and AA. Minor and moderate findings are left to review; serious
and critical ones (a field without a label, text a low-vision user cannot read, a button
without a name) fail the test, each listed with its page, rule and element.
"""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.kiosk.conftest import Kiosk
from tests.kiosk.page_tour import TOURS

FAILING_IMPACTS = {"serious", "critical"}
OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
}

_AXE = Axe()


def _violations(page: Any) -> list[str]:
    found: list[str] = []
    response = _AXE.run(page, options=OPTIONS).response
    path = page.evaluate("location.pathname")
    for violation in response["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        for node in violation["nodes"]:
            found.append(
                f"{path} {violation['id']} ({violation['impact']}): "
                f"{' '.join(map(str, node['target']))} {node['failureSummary'][:160]!r}"
            )
    return found


@pytest.mark.parametrize("tour", sorted(TOURS))
def test_pages_have_no_serious_accessibility_violation(at: Kiosk, tour: str) -> None:
    found = TOURS[tour](at, _violations)
    assert not found, "axe-core violations:\n" + "\n".join(found)


def test_the_check_catches_a_violation(at: Kiosk) -> None:
    # The check itself must be able to fail: a field without a label is a critical
    # violation, so injecting one into the welcome page is reported.
    page: Any = at.page
    page.wait_for_load_state("load")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<input type=\"text\" id=\"x\">')")
    assert any("label" in line for line in _violations(page))
