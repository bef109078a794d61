"""Every key the TUI answers to, in one list: the bindings and the help screen both read it."""

from __future__ import annotations

# (key, action, short label for the footer, what it does for the help screen)
DASHBOARD_KEYS = [
    ("a", "add", "Add", "add a ticker to the watchlist (validated; queued for the daemon)"),
    ("x", "remove", "Remove", "remove the selected symbol from the watchlist (asks first)"),
    # Models are global: one trained on the selected symbol alone would serve only it.
    ("r", "retrain", "Retrain", "retrain the watchlist's models (they serve this symbol too)"),
    ("R", "retrain_all", "Retrain all", "retrain the watchlist's models (the same as r)"),
    ("p", "predict", "Predict", "run a prediction cycle now"),
    ("c", "collect", "Collect", "collect new market data now"),
    ("enter", "details", "Details", "open the selected symbol: chart, signals, history"),
]
SYMBOL_KEYS = [
    ("escape", "back", "Back", "symbol screen: back to the dashboard"),
    ("r", "retrain", "Retrain", "symbol screen: retrain the watchlist's models (as r above)"),
    ("p", "predict", "Predict", "symbol screen: predict this symbol now"),
]
QUIT = "quit the TUI (the daemon keeps running)"
# In `assistant demo` the dashboard owns its daemon: leaving it stops the replay.
QUIT_DEMO = "quit the demo: the demo daemon stops too (`assistant demo` again resumes the replay)"


def app_keys(demo: bool = False) -> list[tuple[str, str, str, str]]:
    return [
        ("question_mark", "help", "Help", "? shows this help"),
        ("q", "quit", "Quit", QUIT_DEMO if demo else QUIT),
    ]


def help_lines(demo: bool = False) -> list[tuple[str, str]]:
    shown = {"question_mark": "?"}
    keys = DASHBOARD_KEYS + SYMBOL_KEYS + app_keys(demo)
    return [(shown.get(k, k), what) for k, _, _, what in keys]


APP_KEYS = app_keys()
