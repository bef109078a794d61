"""Monthly and quarterly macro series, point in time: a value enters a feature only from its
release date, never from its reference period.

Each series states its release lag in one table (`SERIES`): a period's value is known from
`known_from(series, period)`, a calendar date no earlier than the real release (the rule is
conservative: it may lose a few weeks of freshness, it never uses a number before it was
published). A call made after session D's close may use a value whose known_from is on or
before D. A stored value keeps its first release; a later different value (a revision) is a
new row with its own known_from, so the picture as of D is the latest row of each period
known by D (`snapshot`), and a revision never reaches back.

Features per series (`features`): the known value of its latest known period, transformed
(an index series as its 12-month % change, a rate as its level), and that number's change
against the period CHANGE_PERIODS_M months before it; NaN when the latest known period is
older than the series' MAX_AGE_DAYS (a series that stopped, e.g. statsmodels' macrodata,
which ends in 2009Q3, carries nothing past it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class MacroSeries:
    name: str
    title: str
    freq: str  # "M" (monthly) | "Q" (quarterly); a period is named by its first day
    transform: str  # "yoy" (12-month % change of an index) | "level"
    months_after: int  # known from day `day` of the month this many months after the
    day: int  # period's LAST month (a quarter's third month)
    lag: str  # the rule in words, with the real release it is conservative against


SERIES: dict[str, MacroSeries] = {
    s.name: s
    for s in (
        MacroSeries(
            "CPIAUCSL",
            "CPI, all items (SA index)",
            "M",
            "yoy",
            2,
            1,
            "BLS releases month M mid-month M+1 (Sep 2013 on 2013-10-30, Sep 2025 on "
            "2025-10-24 in shutdowns); known from the 1st of M+2",
        ),
        MacroSeries(
            "CPILFESL",
            "core CPI, less food and energy (SA index)",
            "M",
            "yoy",
            2,
            1,
            "released with the CPI; known from the 1st of M+2",
        ),
        MacroSeries(
            "UNRATE",
            "unemployment rate (%)",
            "M",
            "level",
            2,
            1,
            "the Employment Situation, usually the first Friday of M+1 (Sep 2013 on "
            "2013-10-22); known from the 1st of M+2 (Sep 2025: 2025-11-20, listed)",
        ),
        MacroSeries(
            "FEDFUNDS",
            "effective federal funds rate, monthly average (%)",
            "M",
            "level",
            1,
            5,
            "the month's average of daily rates, each published the next business day; "
            "known from the 5th of M+1",
        ),
        MacroSeries(
            "A191RL1Q225SBEA",
            "real GDP growth (% annualized q/q)",
            "Q",
            "level",
            3,
            1,
            "BEA's advance estimate about 4 weeks after the quarter (Q4 2018 on 2019-02-28, "
            "Q3 2025 on 2025-12-23, listed, in shutdowns); known from the 1st of the 3rd "
            "month after the quarter",
        ),
        # offline (shipped with statsmodels, final vintage, 1959Q1 … 2009Q3): quarterly
        MacroSeries(
            "SM_GDPGROWTH",
            "real GDP growth, statsmodels macrodata (% annualized q/q)",
            "Q",
            "level",
            3,
            1,
            "as A191RL1Q225SBEA",
        ),
        MacroSeries(
            "SM_UNEMP",
            "unemployment rate, statsmodels macrodata (quarterly average, %)",
            "Q",
            "level",
            2,
            1,
            "as UNRATE for the quarter's last month",
        ),
        MacroSeries(
            "SM_TBILL",
            "3-month Treasury bill rate, statsmodels macrodata (quarterly average, %)",
            "Q",
            "level",
            1,
            5,
            "a quarter's average of daily rates; known from the 5th after the quarter",
        ),
    )
}
# Releases later than their series' rule (found in the agencies' revised schedules).
LATE_RELEASES: dict[tuple[str, date], date] = {
    ("UNRATE", date(2025, 9, 1)): date(
        2025, 11, 20
    ),  # the Sep 2025 Employment Situation (shutdown)
    ("A191RL1Q225SBEA", date(2025, 7, 1)): date(
        2025, 12, 23
    ),  # Q3 2025's first GDP estimate (shutdown)
}
CHANGE_PERIODS_M = 3  # months between the value and the one its change is against
MAX_AGE_DAYS = {"M": 120, "Q": 250}  # period start to the session, beyond which: stale


def known_from(series: str, period: str | pd.Timestamp) -> pd.Timestamp:
    """The first calendar date a call may use `series`' value for `period` (its first day)."""
    spec = SERIES[series]
    start = pd.Timestamp(period).normalize()
    key = (series, start.date())
    if key in LATE_RELEASES:
        return pd.Timestamp(LATE_RELEASES[key])
    last_month = start + pd.DateOffset(months=2 if spec.freq == "Q" else 0)
    return last_month + pd.DateOffset(months=spec.months_after, days=spec.day - 1)


def known_from_many(series: str, periods: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """known_from for many periods at once (the same rule, vectorized)."""
    spec = SERIES[series]
    start = pd.DatetimeIndex(periods).normalize()
    months = spec.months_after + (2 if spec.freq == "Q" else 0)
    out = (start + pd.DateOffset(months=months)) + pd.Timedelta(days=spec.day - 1)
    late = [
        (i, pd.Timestamp(LATE_RELEASES[(series, p.date())]))
        for i, p in enumerate(start)
        if (series, p.date()) in LATE_RELEASES
    ]
    if late:
        values = out.to_numpy().copy()
        for i, when in late:
            values[i] = when.to_datetime64()
        out = pd.DatetimeIndex(values)
    return out


def columns(series: str) -> tuple[str, str]:
    key = series.lower()
    return f"macro_{key}", f"macro_{key}_chg"


def snapshot(rows: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """The series as known on `as_of`: per period, the value of its latest row (first
    release or revision) with known_from on or before `as_of`. `rows` has columns period,
    value, known_from (dates), revision (int)."""
    seen = rows[rows["known_from"] <= as_of]
    if seen.empty:
        return pd.Series(dtype=float)
    last = seen.sort_values(["period", "revision"]).groupby("period")["value"].last()
    return last.sort_index()


def _transformed(values: pd.Series, spec: MacroSeries) -> pd.Series:
    if spec.transform == "yoy":
        earlier = pd.DatetimeIndex(values.index).shift(-12, freq="MS")
        back = values.reindex(earlier).to_numpy(float)
        return pd.Series(100.0 * (values.to_numpy(float) / back - 1.0), index=values.index)
    return values.astype(float)


def _state(
    rows: pd.DataFrame, spec: MacroSeries, as_of: pd.Timestamp
) -> tuple[float, float, pd.Timestamp | None]:
    known = snapshot(rows, as_of)
    if known.empty:
        return np.nan, np.nan, None
    tr = _transformed(known, spec)
    latest = known.index[-1]
    back = latest - pd.DateOffset(months=CHANGE_PERIODS_M)
    change = tr.iloc[-1] - tr.get(back, np.nan)
    return float(tr.iloc[-1]), float(change), latest


def features(rows: pd.DataFrame, series: str, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Per session: the transformed latest known value of `series` and its change (see the
    module docstring). `rows`: that series' stored rows (period, value, known_from,
    revision). The picture only changes on a known_from date, so it is computed once per
    such date and carried to the sessions after it."""
    spec = SERIES[series]
    level_col, chg_col = columns(series)
    out = pd.DataFrame(np.nan, index=sessions, columns=[level_col, chg_col])
    if rows.empty or not len(sessions):
        return out
    rows = rows.assign(
        period=pd.to_datetime(rows["period"]), known_from=pd.to_datetime(rows["known_from"])
    )
    dates = np.sort(rows["known_from"].unique())
    dates = dates[dates <= sessions[-1].to_datetime64()]
    states = [_state(rows, spec, pd.Timestamp(d)) for d in dates]
    if not states:
        return out
    k = np.searchsorted(dates, sessions.to_numpy(), side="right") - 1  # last change <= t
    have = k >= 0
    level = np.array([s[0] for s in states])
    change = np.array([s[1] for s in states])
    period = np.array(
        [np.datetime64("NaT") if s[2] is None else s[2].to_datetime64() for s in states],
        dtype="datetime64[ns]",
    )
    age = (sessions.to_numpy()[have] - period[k[have]]) / np.timedelta64(1, "D")
    fresh = age <= MAX_AGE_DAYS[spec.freq]
    idx = np.flatnonzero(have)[fresh]
    out.iloc[idx, 0] = level[k[idx]]
    out.iloc[idx, 1] = change[k[idx]]
    return out


def first_release_rows(series: str, values: pd.Series) -> pd.DataFrame:
    """Rows (period, value, known_from, revision 0) for a history of `series` given as
    {period start: value}, each known from its release rule (what the store holds after a
    first collection; for tests and benchmarks)."""
    periods = pd.DatetimeIndex(values.index)
    return pd.DataFrame(
        {
            "period": periods,
            "value": values.to_numpy(float),
            "known_from": [known_from(series, p) for p in periods],
            "revision": 0,
        }
    )


def tower(rows: dict[str, pd.DataFrame], sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Every series' two columns side by side, per session (the macro "tower" a model may
    take as extra inputs)."""
    parts = [features(r, name, sessions) for name, r in rows.items()]
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=sessions)
