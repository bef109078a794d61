"""A trading session's date. Inside the project a session is a `datetime.date`; at the
edges (SQLite rows, JSON, the command line) it is the ISO text 'YYYY-MM-DD'."""

from __future__ import annotations

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
