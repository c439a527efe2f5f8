"""Business dates: 'today' is the date in the portal's time zone, not the server's."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def today(timezone: str) -> dt.date:
    """The current date in `timezone` (Europe/Amsterdam by default)."""
    return dt.datetime.now(ZoneInfo(timezone)).date()
