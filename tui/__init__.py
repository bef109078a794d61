"""The Textual dashboard of trading-assistant: attaches to a data home's SQLite store.

It reads through `store.views` (one module per screen or panel) in worker threads and
writes only `commands` rows; it never imports the model code (torch, xgboost), so it
starts in well under a second.
Build the app with `tui.app.make_app(home)`; run it with `python -m tui --home DIR`.
"""
