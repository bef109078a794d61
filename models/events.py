"""Scheduled market events known in advance: a small dated table and "is one within h sessions".

A Federal Reserve (FOMC) rate decision is announced at 14:00 New York time on a date the
Fed publishes the year before, so for a call made after session D's close it is known
whether a decision falls on one of the next h sessions. Only scheduled decisions are
listed: an unscheduled one (e.g. 2008-01-22, 2020-03-15) was not known in advance.

Source: the Federal Reserve's meeting calendars
(https://www.federalreserve.gov/monetarypolicy/fomccalendars.htm), the statement day of
each scheduled meeting, 2004 (the offline sample's first year) through 2026. The table ends
with EVENTS_END: past it "no event within h" is not known, and callers say so.

CPI releases (BLS, 08:30 New York time, month M's index in mid M+1) are ESTIMATED, not
listed: the exact past dates are not something the project can cite offline. The rule: the
first weekday on or after the 12th of M+1 (BLS's 2024 dates fell between the 10th and the
15th: the rule is within about three days), with the shutdown-moved releases the project
knows replacing it (CPI_MOVED). Everything that shows a CPI date says "est.".
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

FOMC: tuple[str, ...] = (
    *(
        "2004-01-28 2004-03-16 2004-05-04 2004-06-30 2004-08-10 2004-09-21 2004-11-10 2004-12-14".split()
    ),
    *(
        "2005-02-02 2005-03-22 2005-05-03 2005-06-30 2005-08-09 2005-09-20 2005-11-01 2005-12-13".split()
    ),
    *(
        "2006-01-31 2006-03-28 2006-05-10 2006-06-29 2006-08-08 2006-09-20 2006-10-25 2006-12-12".split()
    ),
    *(
        "2007-01-31 2007-03-21 2007-05-09 2007-06-28 2007-08-07 2007-09-18 2007-10-31 2007-12-11".split()
    ),
    *(
        "2008-01-30 2008-03-18 2008-04-30 2008-06-25 2008-08-05 2008-09-16 2008-10-29 2008-12-16".split()
    ),
    *(
        "2009-01-28 2009-03-18 2009-04-29 2009-06-24 2009-08-12 2009-09-23 2009-11-04 2009-12-16".split()
    ),
    *(
        "2010-01-27 2010-03-16 2010-04-28 2010-06-23 2010-08-10 2010-09-21 2010-11-03 2010-12-14".split()
    ),
    *(
        "2011-01-26 2011-03-15 2011-04-27 2011-06-22 2011-08-09 2011-09-21 2011-11-02 2011-12-13".split()
    ),
    *(
        "2012-01-25 2012-03-13 2012-04-25 2012-06-20 2012-08-01 2012-09-13 2012-10-24 2012-12-12".split()
    ),
    *(
        "2013-01-30 2013-03-20 2013-05-01 2013-06-19 2013-07-31 2013-09-18 2013-10-30 2013-12-18".split()
    ),
    *(
        "2014-01-29 2014-03-19 2014-04-30 2014-06-18 2014-07-30 2014-09-17 2014-10-29 2014-12-17".split()
    ),
    *(
        "2015-01-28 2015-03-18 2015-04-29 2015-06-17 2015-07-29 2015-09-17 2015-10-28 2015-12-16".split()
    ),
    *(
        "2016-01-27 2016-03-16 2016-04-27 2016-06-15 2016-07-27 2016-09-21 2016-11-02 2016-12-14".split()
    ),
    *(
        "2017-02-01 2017-03-15 2017-05-03 2017-06-14 2017-07-26 2017-09-20 2017-11-01 2017-12-13".split()
    ),
    *(
        "2018-01-31 2018-03-21 2018-05-02 2018-06-13 2018-08-01 2018-09-26 2018-11-08 2018-12-19".split()
    ),
    *(
        "2019-01-30 2019-03-20 2019-05-01 2019-06-19 2019-07-31 2019-09-18 2019-10-30 2019-12-11".split()
    ),
    # 2020: the March meeting was replaced by unscheduled decisions (not listed)
    *("2020-01-29 2020-04-29 2020-06-10 2020-07-29 2020-09-16 2020-11-05 2020-12-16".split()),
    *(
        "2021-01-27 2021-03-17 2021-04-28 2021-06-16 2021-07-28 2021-09-22 2021-11-03 2021-12-15".split()
    ),
    *(
        "2022-01-26 2022-03-16 2022-05-04 2022-06-15 2022-07-27 2022-09-21 2022-11-02 2022-12-14".split()
    ),
    *(
        "2023-02-01 2023-03-22 2023-05-03 2023-06-14 2023-07-26 2023-09-20 2023-11-01 2023-12-13".split()
    ),
    *(
        "2024-01-31 2024-03-20 2024-05-01 2024-06-12 2024-07-31 2024-09-18 2024-11-07 2024-12-18".split()
    ),
    *(
        "2025-01-29 2025-03-19 2025-05-07 2025-06-18 2025-07-30 2025-09-17 2025-10-29 2025-12-10".split()
    ),
    *(
        "2026-01-28 2026-03-18 2026-04-29 2026-06-17 2026-07-29 2026-09-16 2026-10-28 2026-12-09".split()
    ),
)
EVENTS_START = "2004-01-01"
EVENTS_END = "2026-12-31"  # the last day the table is complete for
CPI_DAY = 12
# months whose CPI release the rule would place wrongly: the real date, or None (no release)
CPI_MOVED: dict[str, str | None] = {
    "2013-10": "2013-10-30",  # September 2013's CPI, after the October shutdown
    "2025-10": "2025-10-24",  # September 2025's CPI, during the shutdown
    "2025-11": None,  # October 2025's CPI was never collected
    "2025-12": "2025-12-18",  # November 2025's CPI
}


def cpi_estimates(start: str = EVENTS_START, end: str = EVENTS_END) -> tuple[str, ...]:
    """Estimated CPI release dates in [start, end]: per month, the first weekday on or after
    the CPI_DAY-th, or the CPI_MOVED date."""
    out = []
    for month in pd.period_range(start, end, freq="M"):
        key = month.strftime("%Y-%m")
        if key in CPI_MOVED:
            moved = CPI_MOVED[key]
            if moved is not None:
                out.append(moved)
            continue
        day = pd.Timestamp(month.year, month.month, CPI_DAY)
        while day.dayofweek >= 5:
            day += pd.Timedelta(days=1)
        out.append(day.strftime("%Y-%m-%d"))
    return tuple(out)


EVENTS: dict[str, tuple[str, ...]] = {"FOMC": FOMC, "CPI": cpi_estimates()}
ESTIMATED = frozenset({"CPI"})  # kinds whose dates come from a rule, not a published list


def calendar_end(extra_fomc: tuple[str, ...] = ()) -> str:
    """The last day the calendar is complete for: EVENTS_END, or the last day of the latest
    year whose FOMC dates the user added (`[events] fomc` in config.toml)."""
    years = [int(d[:4]) for d in extra_fomc]
    return max(EVENTS_END, f"{max(years)}-12-31") if years else EVENTS_END


@functools.lru_cache(maxsize=8)  # per cycle the same few (kind, added dates) come back
def dates_of(kind: str, extra_fomc: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The `kind` event dates: the table's, with the user's added FOMC dates; the CPI
    estimates run to the calendar's end."""
    if not extra_fomc:
        return EVENTS[kind]
    if kind == "FOMC":
        return tuple(sorted(set(FOMC) | set(extra_fomc)))
    return cpi_estimates(EVENTS_START, calendar_end(extra_fomc))


def sessions_to_next(
    sessions: pd.DatetimeIndex, kind: str = "FOMC", extra_fomc: tuple[str, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Per session t of `sessions` (sorted exchange sessions, which are known in advance and
    may run past the last bar): how many sessions after t the next `kind` event falls (1 =
    the next session) and its date; (NaN, NaT) where the table does not say (before its
    start, or no listed event on the sessions given after t). Event t itself is not "next":
    a call after t's close has seen it."""
    dates = pd.DatetimeIndex(pd.to_datetime(list(dates_of(kind, extra_fomc))))
    pos = np.searchsorted(sessions.to_numpy(), dates.to_numpy(), side="left")  # its session
    on = (pos < len(sessions)) & (pos >= 0)
    pos, dates = pos[on], dates[on]
    i = np.arange(len(sessions))
    k = np.searchsorted(pos, i, side="right")  # first event strictly after session i
    found = k < len(pos)
    dist = np.full(len(sessions), np.nan)
    when = np.full(len(sessions), np.datetime64("NaT"), dtype="datetime64[ns]")
    dist[found] = pos[k[found]] - i[found]
    when[found] = dates.to_numpy()[k[found]]
    before = sessions < pd.Timestamp(EVENTS_START)
    dist[before] = np.nan
    when[before] = np.datetime64("NaT")
    return dist, when


def event_within(sessions: pd.DatetimeIndex, h: int, kind: str = "FOMC") -> np.ndarray:
    """1.0 where a `kind` event falls on one of the h sessions after t, 0.0 where none does,
    NaN where the table cannot say (t + h past EVENTS_END, or t before EVENTS_START)."""
    dist, _ = sessions_to_next(sessions, kind)
    out = np.where(np.isfinite(dist) & (dist <= h), 1.0, 0.0)
    end = pd.Timestamp(EVENTS_END)
    horizon_end = np.full(len(sessions), np.datetime64("NaT"), dtype="datetime64[ns]")
    if len(sessions) > h:
        horizon_end[: len(sessions) - h] = sessions.to_numpy()[h:]
    unknown = (out == 0.0) & (pd.isna(horizon_end) | (horizon_end > end.to_datetime64()))
    out[unknown] = np.nan
    out[sessions < pd.Timestamp(EVENTS_START)] = np.nan
    return out
