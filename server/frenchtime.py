"""Dates as French users read them: Paris time, day first."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def fr_datetime(value: datetime) -> str:
    return value.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def fr_date(value: datetime) -> str:
    return value.astimezone(PARIS).strftime("%d/%m/%Y")
