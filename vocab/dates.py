"""A trading session's date. Inside the project a session is a `datetime.date`; at the
edges (SQLite rows, JSON, the command line) it is the ISO text 'YYYY-MM-DD'."""

from __future__ import annotations

import re
from datetime import date, datetime


def session_date(value: str | date) -> date:
    """The session a value names: an ISO 'YYYY-MM-DD' text, a date, or a datetime (a pandas
    Timestamp is one) whose time of day is dropped."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)


def session_text(value: str | date) -> str:
    """The session's ISO text, the form stored in SQLite and shown to the user."""
    return session_date(value).isoformat()


def iso_date(text: str) -> date:
    """The date a user typed, in ISO form 'YYYY-MM-DD' only (ValueError otherwise).

    `date.fromisoformat` alone also takes '20130103' and '2013-W01-4'; pandas reads
    '01/03/2013' as January 3rd. A user-typed date is neither guessed nor reordered."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValueError(f"{text!r} is not YYYY-MM-DD")
    return date.fromisoformat(text)
