"""Every exchange calendar works from its own first date: a Tokyo symbol (XTKS starts in
1997), calendars whose holidays end in 2026 (XBOM, XSES), and the ones the installed
exchange_calendars cannot build at all (one error line, never a traceback)."""

from __future__ import annotations

import exchange_calendars as xcals
import pandas as pd
import pytest

from assistant import calendar
from assistant.cli import main
from assistant.errors import AssistantError


def _csv(path, start="2024-01-04", n=60):
    days = pd.bdate_range(start, periods=n)
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    for i, day in enumerate(days):
        p = 2500.0 + 3 * i
        lines.append(f"{day.date()},{p},{p + 10},{p - 10},{p + 2},{p + 2},100000")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_tokyo_symbol_leaves_every_later_command_working(home, tmp_path, capsys):
    # XTKS cannot be built from 1990 (its first date is 1997-01-01): every command after
    # `watch add 7203.T` used to end in exchange_calendars' ValueError traceback.
    assert main(["watch", "add", "7203.T"]) == 0
    toyota = _csv(tmp_path / "7203.csv")
    for argv in (
        ["import", str(toyota), "--symbol", "7203.T"],
        ["status"],
        ["watch", "list"],
        ["predict"],
        ["report"],
        ["check"],
    ):
        assert main(argv) == 0, (argv, capsys.readouterr())
        out = capsys.readouterr()
        assert "error" not in out.err, (argv, out.err)
    assert main(["watch", "list", "--json"]) == 0
    assert '"bars": 60' in capsys.readouterr().out


def test_a_calendar_starts_at_its_own_first_date():
    tokyo = calendar.sessions("XTKS", "1990-01-01", "1997-01-10")
    assert list(tokyo.strftime("%Y-%m-%d")) == ["1997-01-06", "1997-01-07", "1997-01-08"] + [
        "1997-01-09",
        "1997-01-10",
    ]
    assert calendar.add_sessions("XTKS", "1996-12-20", 1) == pd.Timestamp("1997-01-06")
    # Sunday to Thursday, from 2021: Jan 3 (a Sunday) to Jan 7
    assert calendar.sessions_between("XSAU", "2019-01-01", "2021-01-07") == 5


def test_past_the_recorded_holidays_sessions_are_the_calendars_weekdays():
    # XBOM records holidays through 2026: a horizon that crosses New Year counts weekdays
    after = calendar.sessions("XBOM", "2026-12-29", "2027-01-06")
    assert list(after.strftime("%m-%d")) == ["12-29", "12-30", "12-31", "01-01", "01-04"] + [
        "01-05",
        "01-06",
    ]
    assert calendar.add_sessions("XBOM", "2026-12-30", 5) == pd.Timestamp("2027-01-06")
    now = pd.Timestamp("2027-01-05 12:00", tz="UTC")
    assert calendar.session_closed("XSES", pd.Timestamp("2027-01-04"), now)
    assert not calendar.session_closed("XSES", pd.Timestamp("2027-01-05"), now)
    assert calendar.session_close("XBOM", "1980-01-02") > pd.Timestamp("1980-01-02", tz="UTC")


def _broken() -> list[str]:
    out = []
    for name in xcals.get_calendar_names(include_aliases=False):
        try:
            xcals.get_calendar(name)  # its own defaults: the last 20 years
        except Exception:
            out.append(name)
    return out


@pytest.mark.slow
def test_every_calendar_exchange_calendars_carries_works_or_says_why_in_one_line():
    broken = set(_broken())  # ASEX, XBEL, XBSE, XCYS, XTAE with exchange_calendars 4.13/pandas 3
    for name in xcals.get_calendar_names(include_aliases=False):
        try:
            days = calendar.sessions(name, "1985-01-01", "2028-06-30")
        except AssistantError as exc:
            assert name in broken, (name, exc)
            assert "\n" not in str(exc) and f"exchange calendar {name} cannot be built" in str(exc)
            continue
        assert len(days) > 200 and days[-1] >= pd.Timestamp("2028-06-26"), name
        assert calendar.add_sessions(name, "2027-12-30", 5) > pd.Timestamp("2027-12-30"), name


@pytest.mark.slow  # over 10 s: a connect timeout / every calendar built / real sockets and daemons
def test_a_calendar_exchange_calendars_cannot_build_is_one_error_line(home, capsys):
    broken = _broken()
    if not broken:
        pytest.skip("the installed exchange_calendars builds every calendar")
    with pytest.raises(AssistantError, match=f"exchange calendar {broken[0]} cannot be built"):
        calendar.sessions(broken[0], "2024-01-01", "2024-02-01")
    # the dashboard's session record skips it: the home stays usable
    home.mkdir()
    (home / "config.toml").write_text(f'[calendar]\nexchange = "{broken[0]}"\n')
    assert main(["watch", "add", "AAPL"]) == 0
    assert main(["status"]) == 0
