"""Touch targets: every control of the three journeys' pages is at least 44 px a side.

A kiosk is used with a finger, often by someone who has never seen it: WCAG 2.5.5 asks
44 CSS px for a target. Each page is measured in Chromium as it is laid out; a failure
lists every offender (element, text, size), so the fix is found without a screenshot.
"""

from __future__ import annotations

from typing import Any

from tests.kiosk.conftest import READER_PATIENT, READER_PRO, Kiosk

MIN_PX = 44

# What a finger can press: links, buttons, fields, summaries, and the label of a check box
# or radio button (the label is the target: the box alone is smaller, by design).
MEASURE = """(min) => {
  const out = [];
  const seen = (el) => {
    const s = getComputedStyle(el);
    return s.display !== 'none' && s.visibility !== 'hidden' && !el.closest('[hidden]');
  };
  const checkable = (el) => el && (el.type === 'checkbox' || el.type === 'radio');
  const all = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, label');
  for (const el of all) {
    if (el.tagName === 'LABEL') {
      const box = el.querySelector('input') || (el.htmlFor && document.getElementById(el.htmlFor));
      if (!checkable(box)) continue;
    }
    if (checkable(el) && el.closest('label')) continue;
    if (!seen(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.height < min || r.width < min) {
      const text = (el.innerText || el.value || el.name || el.id || '')
        .trim().replace(/\\s+/g, ' ');
      out.push(`${location.pathname} ${el.tagName.toLowerCase()} «${text.slice(0, 40)}» `
               + `${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  return out;
}"""


def _small(page: Any) -> list[str]:
    page.wait_for_load_state("load")
    found: list[str] = page.evaluate(MEASURE, MIN_PX)
    return found


def _walk(page: Any, base: str, paths: list[str]) -> list[str]:
    offenders: list[str] = []
    for path in paths:
        page.goto(base + path)
        offenders += _small(page)
    return offenders


def test_patient_pages_have_large_targets(at: Kiosk) -> None:
    page: Any = at.page
    base = at.running.kiosk_url
    offenders = _small(page)  # welcome
    at.insert(READER_PATIENT, "patient-marie-durand")
    page.wait_for_url("**/code")
    offenders += _small(page)
    page.click("[data-testid=send]")
    page.wait_for_selector("[data-testid=sent]")
    page.fill("#code", "000000")
    page.click("form.card-form button[type=submit]")
    page.wait_for_selector("[data-testid=error]")
    offenders += _small(page)
    page.fill("#code", at.last_code())
    page.click("form.card-form button[type=submit]")
    page.wait_for_url("**/patient/")
    offenders += _small(page)
    page.click("[data-testid=tile-documents]")
    offenders += _small(page)
    page.click("[data-testid=doc-1]")
    offenders += _small(page)
    page.click("[data-testid=mask]")
    offenders += _small(page)
    offenders += _walk(
        page,
        base,
        [
            "/patient/documents?all=1",
            "/patient/documents/search?q=consultation",
            "/patient/access",
            "/patient/access/810003123451/block?name=Claire+MOREAU",
            "/patient/emergency",
            "/patient/history",
            "/patient/totp",
            "/patient/close",
        ],
    )
    assert not offenders, "targets under 44 px:\n" + "\n".join(offenders)


def test_patient_opening_a_dossier_has_large_targets(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-camille-nicolas")
    page.wait_for_url("**/patient/create")
    offenders = _small(page)
    page.click("[data-testid=open-dossier]")
    page.wait_for_selector("[data-testid=error]")
    offenders += _small(page)
    assert not offenders, "targets under 44 px:\n" + "\n".join(offenders)


def test_professional_pages_have_large_targets(at: Kiosk) -> None:
    page: Any = at.page
    base = at.running.kiosk_url
    at.insert(READER_PRO, "urgentiste-roux")
    page.wait_for_url("**/pin")
    offenders = _small(page)
    page.fill("#pin", "9999")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=error]")
    offenders += _small(page)
    page.fill("#pin", "1234")
    page.click("button[type=submit]")
    page.wait_for_url("**/pro/")
    offenders += _small(page)
    at.insert(READER_PATIENT, "patient-marie-durand")
    page.wait_for_url("**/pro/dossier")
    offenders += _small(page)
    page.click("[data-testid=break-glass]")
    offenders += _small(page)
    page.fill("#reason", "Patiente inconsciente, admise aux urgences.")
    page.click("[data-testid=confirm-emergency]")
    page.wait_for_url("**/pro/dossier")
    offenders += _small(page)
    page.click("[data-testid=doc-1]")
    offenders += _small(page)
    offenders += _walk(page, base, ["/pro/dossier/search?q=consultation"])
    assert not offenders, "targets under 44 px:\n" + "\n".join(offenders)


def test_pharmacy_and_admissions_pages_have_large_targets(at: Kiosk) -> None:
    page: Any = at.page
    base = at.running.kiosk_url
    at.at_counter("pharmacien-moreau", "patient-marie-durand")
    offenders = _small(page)
    offenders += _walk(
        page, base, ["/pro/dossier/deposit?form=dispensation", "/pro/dossier/deposit?form=text"]
    )
    at.pull(READER_PATIENT)
    at.pull(READER_PRO)
    page.wait_for_selector("[data-testid=welcome]")
    at.at_counter("admissions-garcia", "patient-marie-durand")
    offenders += _small(page)
    page.click("[data-testid=admit]")
    page.wait_for_selector("[data-testid=done]")
    offenders += _small(page)
    at.pull(READER_PATIENT)
    page.wait_for_url("**/pro/")
    at.insert(READER_PATIENT, "patient-camille-nicolas")
    page.wait_for_url("**/pro/open")
    offenders += _small(page)
    page.fill("#email", "camille.nicolas@example.org")
    page.check("[data-testid=consent]")
    page.click("[data-testid=open-dossier]")
    page.wait_for_selector("[data-testid=opened]")
    offenders += _small(page)
    assert not offenders, "targets under 44 px:\n" + "\n".join(offenders)


def test_unblock_page_has_large_targets(at: Kiosk) -> None:
    page: Any = at.page
    at.insert(READER_PRO, "pharmacien-moreau")
    page.wait_for_url("**/pin")
    for _ in range(3):
        page.fill("#pin", "9999")
        page.click("button[type=submit]")
    page.wait_for_url("**/unblock")
    offenders = _small(page)
    assert not offenders, "targets under 44 px:\n" + "\n".join(offenders)
