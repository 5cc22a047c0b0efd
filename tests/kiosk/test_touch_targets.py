"""Touch targets: every control of the three journeys' pages is at least 44 px a side.

A kiosk is used with a finger, often by someone who has never seen it: WCAG 2.5.5 asks
44 CSS px for a target. Each page is measured in Chromium as it is laid out; a failure
lists every offender (element, text, size), so the fix is found without a screenshot.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.kiosk.conftest import Kiosk
from tests.kiosk.page_tour import TOURS

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
    found: list[str] = page.evaluate(MEASURE, MIN_PX)
    return found


@pytest.mark.parametrize("tour", sorted(TOURS))
def test_pages_have_large_targets(at: Kiosk, tour: str) -> None:
    offenders = TOURS[tour](at, _small)
    assert not offenders, "targets under 44 px:\n" + "\n".join(offenders)
