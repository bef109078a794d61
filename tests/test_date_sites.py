"""Issue 32: a session is a `datetime.date` inside; it becomes ISO text only at the edges.

The test walks the syntax tree of every module of assistant/, models/, store/ and vocab/
and lists each place that formats a session as ISO text outside the edge modules (which
are, and why, in docs/dates.md "The edges"). At most MAX_SITES may remain. Two other
spellings of the same text count apart and may not grow, so that moving a `strftime` into
them does not pass for a fix: an f-string with a `%Y-%m-%d` spec (MAX_FSTRINGS) and
`str(x.date())` (MAX_STR_DATES).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("assistant", "models", "store", "vocab")
ISO = "%Y-%m-%d"

# Where text enters or leaves the process: there a date becomes text (or text a date).
EDGES = (
    "store/",  # SQLite: the store binds a date as its ISO text and reads rows as stored
    "assistant/cli/",  # the command line: options parsed, text, JSON and the CSV printed
    "assistant/config.py",  # config.toml
    "assistant/ingest/sources/",  # the network (Yahoo, FRED) and the CSV files read
    "vocab/dates.py",  # the ISO form itself (parse and format)
    "vocab/commands.py",  # the command rows' JSON (dump and parse)
)

# Times, not sessions: an `.isoformat()` of these receivers is a time of day (an hour
# bar's start, the clock of a verify pass), which stays a timestamp inside and out. Keyed
# by module and the receiver's source text; every other `.isoformat()` counts. (An
# `.isoformat(...)` with arguments, such as timespec=, is always a time: a `date`'s takes
# none; those are not counted either.)
TIMESTAMPS = {
    ("assistant/calendar.py", "local"),  # an hour's local start, in an error message
    ("assistant/cycle/hourly.py", "bar"),  # the start of the hourly bar a call is made at
    ("assistant/cycle/hourly.py", "pd.Timestamp(last['target'])"),  # its target bar's start
    ("assistant/cycle/hourly.py", "when"),  # the time an hourly verify pass runs as of
}

MAX_SITES = 5  # issue 32's bound
# f-strings with a %Y-%m-%d spec outside the edges (24 on main; 14 messages now): no more
MAX_FSTRINGS = 14
MAX_STR_DATES = 19  # str(x.date()) outside the edges (20 on main): no more


def _is_edge(rel: str) -> bool:
    return any(rel == e or (e.endswith("/") and rel.startswith(e)) for e in EDGES)


def sites(rel: str, source: str) -> tuple[list[str], list[str], list[str]]:
    """(formatting sites, f-string sites, str(x.date()) sites) of one module's source, as
    'path:line: code'."""
    calls, fstrings, strs = [], [], []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        where = f"{rel}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            f = node.func
            name = (
                f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            )
            if name == "isoformat" and isinstance(f, ast.Attribute):
                if node.args or node.keywords:
                    continue  # a time's (see TIMESTAMPS)
                if (rel, ast.unparse(f.value)) in TIMESTAMPS:
                    continue
                calls.append(f"{where}: {ast.unparse(node)}")
            elif name == "strftime" and any(
                isinstance(a, ast.Constant) and a.value == ISO for a in node.args
            ):
                calls.append(f"{where}: {ast.unparse(node)}")
            elif name in ("session_text", "day_text"):
                calls.append(f"{where}: {ast.unparse(node)}")
            elif (
                name == "str"
                and len(node.args) == 1
                and isinstance(arg := node.args[0], ast.Call)
                and isinstance(arg.func, ast.Attribute)
                and arg.func.attr == "date"
                and not arg.args
            ):
                strs.append(f"{where}: {ast.unparse(node)}")
        elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = node.format_spec
            if isinstance(spec, ast.JoinedStr) and any(
                isinstance(v, ast.Constant) and v.value == ISO for v in spec.values
            ):
                fstrings.append(f"{where}: {ast.unparse(node.value)}")
    line = lambda site: int(site.split(":")[1])  # noqa: E731
    return sorted(calls, key=line), sorted(fstrings, key=line), sorted(strs, key=line)


def outside_edges(root: Path = ROOT) -> tuple[list[str], list[str], list[str]]:
    calls, fstrings, strs = [], [], []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if _is_edge(rel):
                continue
            c, f, s = sites(rel, path.read_text(encoding="utf-8"))
            calls += c
            fstrings += f
            strs += s
    return calls, fstrings, strs


def test_sessions_become_text_only_at_the_edges():
    calls, _, _ = outside_edges()
    assert len(calls) <= MAX_SITES, (
        f"{len(calls)} ISO formatting sites outside the edges (at most {MAX_SITES}; "
        "docs/dates.md):\n" + "\n".join(calls)
    )


def test_no_new_iso_fstrings_or_str_dates_outside_the_edges():
    _, fstrings, strs = outside_edges()
    assert len(fstrings) <= MAX_FSTRINGS, (
        f"{len(fstrings)} f-strings with a {ISO} spec outside the edges (at most "
        f"{MAX_FSTRINGS}):\n" + "\n".join(fstrings)
    )
    assert len(strs) <= MAX_STR_DATES, (
        f"{len(strs)} str(x.date()) outside the edges (at most {MAX_STR_DATES}):\n"
        + "\n".join(strs)
    )


def test_the_counter_sees_every_form_and_the_rules():
    source = """
import pandas as pd
a = day.isoformat()
b = pd.Timestamp(x).strftime("%Y-%m-%d")
c = session_text(day)
d = store.db.day_text(day)
e = f"{day:%Y-%m-%d}"
f = bar.isoformat()
g = t.isoformat(timespec="seconds")
h = t.strftime("%H:%M")
i = str(pd.Timestamp(x).date())
j = str(x.date(1))
"""
    calls, fstrings, strs = sites("assistant/cycle/hourly.py", source)
    assert [c.split(": ", 1)[1] for c in calls] == [
        "day.isoformat()",
        "pd.Timestamp(x).strftime('%Y-%m-%d')",
        "session_text(day)",
        "store.db.day_text(day)",
    ]
    assert [f.split(": ", 1)[1] for f in fstrings] == ["day"]
    assert [s.split(": ", 1)[1] for s in strs] == ["str(pd.Timestamp(x).date())"]
    # the same receiver elsewhere is no hour bar: it counts
    assert len(sites("assistant/cycle/run.py", "x = bar.isoformat()")[0]) == 1


def test_edges_are_modules_that_exist():
    for edge in EDGES:
        assert (ROOT / edge).exists(), edge
    for rel, _ in TIMESTAMPS:
        assert (ROOT / rel).is_file(), rel
