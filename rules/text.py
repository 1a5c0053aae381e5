"""Formatting shared by the rules' reasons and ``explain``."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def fmt(at: datetime, tz: ZoneInfo) -> str:
    """``at`` on the debtor's wall clock, e.g. "Tue 2026-06-09 10:00 EDT"."""
    return f"{at.astimezone(tz):%a %Y-%m-%d %H:%M %Z}"


def hm(delta: timedelta) -> str:
    """A duration in hours and minutes, e.g. "2 h" or "0 h 15 min"."""
    minutes = int(delta.total_seconds() // 60)
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d} min" if m else f"{h} h"


def days(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 86400:g} days"
