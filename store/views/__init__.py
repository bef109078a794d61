"""The TUI's read API, one module per screen or panel it serves: short read queries that
return typed dicts (TypedDict) and lists, and only read.

dashboard (the one snapshot the dashboard shows, composed of:) activity (the daemon, its
jobs and the command queue), watchlist, pending, trend, regimes, market_line; symbol (the
symbol screen); calls (a call and its hit rate, as every panel shows them) and read (one
read transaction, typed rows) beneath them.
"""
