"""Legal age on a given day: a minor's dossier may be handled by their representatives.

domain.md: a legal representative acts for a *minor*; once the patient turns 18 the
representative loses every right on the dossier, without anyone having to unlink them.
"""

from __future__ import annotations

from datetime import date, datetime

AGE_OF_MAJORITY = 18  # Code civil, art. 414


def age_on(birth_date: date, today: date) -> int:
    """Completed years on `today`.

    Comparing (month, day) tuples makes someone born on 29 February one year older on
    1 March of a common year, never on 28 February: the anniversary has not happened
    before the day after 28 February.
    """
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)


def is_minor(birth_date: date, now: datetime | date) -> bool:
    """True while the patient is under 18 on the calendar date of `now`.

    `now` is injected (no clock here); a datetime is reduced to its own date, so the
    caller chooses the time zone by the one `now` carries.
    """
    today = now.date() if isinstance(now, datetime) else now
    return age_on(birth_date, today) < AGE_OF_MAJORITY
